/* SPDX-License-Identifier: Apache-2.0 */
/* linux.seccomp: parse errors name the field; compiled filters are loaded in a
 * forked child, which makes real syscalls under them and reports the errnos. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"
#include "seccomp_stub.h"
#include "spec.h"
#include "testutil.h"
#include "util.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define NR_UNASSIGNED 500 /* no kernel has it (yet) */
#define NR_MSEAL      462 /* Linux 6.10; newer than libseccomp 2.5.4's table */

static struct kc_seccomp *compile(const char *json)
{
	struct kc_seccomp *sc = NULL;
	kc_err *e = NULL;
	int r = kc_seccomp_parse_text(json, strlen(json), &sc, &e);
	cr_assert_geq(r, 0, "%s: %s", json, kc_err_msg(e));
	cr_assert_not_null(sc, "%s: no filter", json);
	return sc;
}

static void expect_error(const char *json, const char *want)
{
	struct kc_seccomp *sc = NULL;
	kc_err *e = NULL;
	cr_assert_lt(kc_seccomp_parse_text(json, strlen(json), &sc, &e), 0, "%s: accepted", json);
	cr_assert_null(sc);
	cr_assert(strstr(kc_err_msg(e), want), "%s: error `%s` does not mention `%s`", json,
		  kc_err_msg(e), want);
	kc_err_free(e);
}

static char *fixture(const char *name)
{
	const char *top = getenv("KC_TOP") ? getenv("KC_TOP") : ".";
	_cleanup_free_ char *path = xasprintf("%s/tests/fixtures/%s", top, name);
	char *s = NULL;
	kc_err *e = NULL;
	cr_assert_geq(kc_read_file(path, 1 << 20, &s, NULL, &e), 0, "%s", kc_err_msg(e));
	return s;
}

/* Each probe returns 0 on success or the errno. */
typedef int (*probe_fn)(long arg);

static int ret_of(long r)
{
	return r < 0 ? errno : 0;
}

static int p_clone3(long a)
{
	return ret_of(syscall(SYS_clone3, NULL, (size_t)a));
}

static int p_socket(long family)
{
	int fd = socket((int)family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
	return ret_of(fd);
}

static int p_unshare(long flags)
{
	return ret_of(unshare((int)flags));
}

static int p_keyctl(long a)
{
	return ret_of(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3L, a));
}

static int p_nr(long nr)
{
	return ret_of(syscall(nr, 0, 0, 0));
}

static int p_clone(long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return ret_of(pid);
}

static int p_personality(long v)
{
	return ret_of(syscall(SYS_personality, v));
}

static int p_close(long fd)
{
	return ret_of(close((int)fd));
}

static int p_dup3_1001(long fd)
{
	return ret_of(syscall(SYS_dup3, fd, 1001L, 0L));
}

static int p_getppid(long a)
{
	(void)a;
	return ret_of(syscall(SYS_getppid));
}

struct probe {
	probe_fn fn;
	long arg;
	int want;
	const char *what;
};

/* Load sc in a child (with no_new_privs, as the spawn code sets it) and run
 * the probes there; compare their errnos with what is expected. */
static void run_under(const struct kc_seccomp *sc, const struct probe *p, size_t n)
{
	int res[32], fds[2];
	pid_t pid;
	int st;

	cr_assert_leq(n, KC_ARRAY_SIZE(res));
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		kc_err *e = NULL;
		close(fds[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || kc_seccomp_load(sc, &e) < 0)
			_exit(100);
		for (size_t i = 0; i < n; i++)
			res[i] = p[i].fn(p[i].arg);
		if (write(fds[1], res, n * sizeof(int)) != (ssize_t)(n * sizeof(int)))
			_exit(101);
		_exit(0);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], res, sizeof(res)), (ssize_t)(n * sizeof(int)),
		     "child under the filter reported nothing");
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(res[i], p[i].want, "%s: got %s, want %s", p[i].what, strerror(res[i]),
			     strerror(p[i].want));
}

Test(seccomp, containerd_default_profile_enforced)
{
	_cleanup_free_ char *json = fixture("seccomp-containerd-2.1.9.json");
	struct kc_seccomp *sc = compile(json);
	const struct probe p[] = {
	    {p_clone3, 88, ENOSYS, "clone3 (errnoRet 38 rule)"},
	    {p_socket, AF_VSOCK, EPERM, "socket(AF_VSOCK) (arg0 != 40 rule)"},
	    {p_socket, AF_UNIX, 0, "socket(AF_UNIX)"},
	    {p_unshare, 0, EPERM, "unshare (not in the profile)"},
	    {p_keyctl, 0, EPERM, "keyctl (not in the profile)"},
	    {p_nr, NR_UNASSIGNED, ENOSYS, "syscall 500 (above the profile: stub)"},
	    {p_nr, NR_MSEAL, ENOSYS, "mseal (name unknown to libseccomp: stub)"},
	    {p_clone, CLONE_NEWUSER, EPERM, "clone(CLONE_NEWUSER) (MASKED_EQ rule)"},
	    {p_clone, 0, 0, "clone (fork)"},
	    {p_personality, 0x0400000, EPERM, "personality(READ_IMPLIES_EXEC)"},
	    {p_personality, 0xffffffffL, 0, "personality(query)"},
	};

	cr_assert_gt(kc_seccomp_insns(sc), 20);
	run_under(sc, p, KC_ARRAY_SIZE(p));
	kc_seccomp_free(sc);
}

Test(seccomp, containerd_16_profile_compiles)
{
	_cleanup_free_ char *json = fixture("seccomp-containerd-1.6.20.json");
	struct kc_seccomp *sc = compile(json);
	const struct probe p[] = {
	    {p_clone3, 88, ENOSYS, "clone3"},
	    {p_keyctl, 0, EPERM, "keyctl"},
	    {p_clone, 0, 0, "fork"},
	};
	run_under(sc, p, KC_ARRAY_SIZE(p));
	kc_seccomp_free(sc);
}

/* Just enough for the child to report and exit (ASan's runtime included),
 * all numbered below exit_group (231), the bound. */
#define MINIMAL_ALLOW                                                                              \
	"{\"names\":[\"write\",\"exit_group\",\"exit\",\"close\",\"getpid\",\"gettid\","           \
	"\"sigaltstack\",\"mmap\",\"munmap\",\"mprotect\",\"madvise\",\"brk\",\"rt_sigaction\","   \
	"\"rt_sigprocmask\",\"futex\"],\"action\":\"SCMP_ACT_ALLOW\"}"

Test(seccomp, enosys_stub_above_the_largest_named_syscall)
{
	struct kc_seccomp *sc = compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":["
					"\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
					"\"syscalls\":[" MINIMAL_ALLOW "]}");
	const struct probe p[] = {
	    {p_getppid, 0, EPERM, "getppid (110, below exit_group's 231)"},
	    {p_clone3, 88, ENOSYS, "clone3 (435, above 231)"},
	    {p_nr, NR_UNASSIGNED, ENOSYS, "syscall 500"},
	};
	run_under(sc, p, KC_ARRAY_SIZE(p));
	kc_seccomp_free(sc);
}

Test(seccomp, default_errno_ret)
{
	struct kc_seccomp *sc = compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\","
					"\"defaultErrnoRet\":18,\"syscalls\":[" MINIMAL_ALLOW "]}");
	const struct probe p[] = {
	    {p_getppid, 0, EXDEV, "getppid"},
	    {p_clone3, 88, ENOSYS, "clone3 (stub)"},
	};
	run_under(sc, p, KC_ARRAY_SIZE(p));
	kc_seccomp_free(sc);
}

/* Default allow; close(fd) fails with EXDEV when the rule matches, EBADF (no
 * such fd) when it does not. */
static void close_rule(const char *args, long fd, int want)
{
	_cleanup_free_ char *json =
	    xasprintf("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"close\"],"
		      "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18,\"args\":[%s]}]}",
		      args);
	struct kc_seccomp *sc = compile(json);
	struct probe p = {p_close, fd, want, json};
	run_under(sc, &p, 1);
	kc_seccomp_free(sc);
}

Test(seccomp, every_operator)
{
	static const struct {
		const char *op;
		long fd;
		int want;
	} c[] = {
	    {"SCMP_CMP_EQ", 1001, EXDEV}, {"SCMP_CMP_EQ", 1002, EBADF},
	    {"SCMP_CMP_NE", 1002, EXDEV}, {"SCMP_CMP_NE", 1001, EBADF},
	    {"SCMP_CMP_LT", 1000, EXDEV}, {"SCMP_CMP_LT", 1001, EBADF},
	    {"SCMP_CMP_LE", 1001, EXDEV}, {"SCMP_CMP_LE", 1002, EBADF},
	    {"SCMP_CMP_GT", 1002, EXDEV}, {"SCMP_CMP_GT", 1001, EBADF},
	    {"SCMP_CMP_GE", 1001, EXDEV}, {"SCMP_CMP_GE", 1000, EBADF},
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(c); i++) {
		_cleanup_free_ char *a =
		    xasprintf("{\"index\":0,\"value\":1001,\"op\":\"%s\"}", c[i].op);
		close_rule(a, c[i].fd, c[i].want);
	}
}

Test(seccomp, masked_eq_value_is_the_mask_value_two_the_datum)
{
	const char *a =
	    "{\"index\":0,\"value\":65280,\"valueTwo\":4608,\"op\":\"SCMP_CMP_MASKED_EQ\"}";
	close_rule(a, 0x12ab, EXDEV); /* 0x12ab & 0xff00 == 0x1200 */
	close_rule(a, 0x13ab, EBADF);
	/* Without valueTwo the datum is 0, as in containerd's clone rule. */
	close_rule("{\"index\":0,\"value\":65280,\"op\":\"SCMP_CMP_MASKED_EQ\"}", 0x00ab, EXDEV);
}

Test(seccomp, args_and_across_indexes_or_on_a_repeated_index)
{
	close_rule("{\"index\":0,\"value\":1001,\"op\":\"SCMP_CMP_EQ\"},"
		   "{\"index\":0,\"value\":1003,\"op\":\"SCMP_CMP_EQ\"}",
		   1003, EXDEV);
	close_rule("{\"index\":0,\"value\":1001,\"op\":\"SCMP_CMP_EQ\"},"
		   "{\"index\":0,\"value\":1003,\"op\":\"SCMP_CMP_EQ\"}",
		   1001, EXDEV);
	close_rule("{\"index\":0,\"value\":1001,\"op\":\"SCMP_CMP_EQ\"},"
		   "{\"index\":0,\"value\":1003,\"op\":\"SCMP_CMP_EQ\"}",
		   1002, EBADF);
	{
		struct kc_seccomp *sc = compile(
		    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"dup3\"],"
		    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18,\"args\":["
		    "{\"index\":0,\"value\":1000,\"op\":\"SCMP_CMP_EQ\"},"
		    "{\"index\":1,\"value\":1001,\"op\":\"SCMP_CMP_EQ\"}]}]}");
		const struct probe p[] = {
		    {p_dup3_1001, 1000, EXDEV, "dup3(1000, 1001): both args match"},
		    {p_dup3_1001, 1002, EBADF, "dup3(1002, 1001): only arg 1 matches"},
		};
		run_under(sc, p, KC_ARRAY_SIZE(p));
		kc_seccomp_free(sc);
	}
}

Test(seccomp, unknown_names_are_left_out)
{
	struct kc_seccomp *sc = compile(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kc_no_such_call\","
	    "\"close\",\"kc_other\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18}]}");
	struct probe p = {p_close, 1001, EXDEV, "close"};
	cr_assert_eq(kc_seccomp_skipped(sc), 2);
	run_under(sc, &p, 1);
	kc_seccomp_free(sc);
}

Test(seccomp, flags)
{
	errno = 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, NULL) ==
		-1 &&
	    errno != EFAULT)
		cr_skip_test("skipped: kernel without SECCOMP_FILTER_FLAG_SPEC_ALLOW (< 4.17)");
	static const struct {
		const char *flags;
		unsigned want;
	} c[] = {
	    {",\"flags\":[]", 0},
	    {",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"]", 0},
	    {",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"]", SECCOMP_FILTER_FLAG_LOG},
	    {",\"flags\":[\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\",\"SECCOMP_FILTER_FLAG_LOG\"]",
	     SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_LOG},
	    {",\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]", 0},
	    /* No "flags" at all: SPEC_ALLOW, as runc >= 1.2 (kernels >= 4.17). */
	    {"", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(c); i++) {
		_cleanup_free_ char *json =
		    xasprintf("{\"defaultAction\":\"SCMP_ACT_ALLOW\"%s}", c[i].flags);
		struct kc_seccomp *sc = compile(json);
		struct probe p = {p_getppid, 0, 0, json};
		cr_expect_eq(kc_seccomp_flags(sc), c[i].want, "%s: flags %#x", json,
			     kc_seccomp_flags(sc));
		run_under(sc, &p, 1); /* the kernel takes them */
		kc_seccomp_free(sc);
	}
}

Test(seccomp, no_filter_when_runc_has_none)
{
	struct kc_seccomp *sc = (struct kc_seccomp *)1;
	KC_OK(kc_seccomp_parse_text("null", 4, &sc, err_));
	cr_assert_null(sc);
	sc = (struct kc_seccomp *)1;
	KC_OK(kc_seccomp_parse_text("{}", 2, &sc, err_));
	cr_assert_null(sc);
	sc = (struct kc_seccomp *)1;
	KC_OK(kc_seccomp_parse_text("{\"syscalls\":[]}", 15, &sc, err_));
	cr_assert_null(sc);
}

Test(seccomp, malformed_profiles_name_the_field)
{
	static const struct {
		const char *json, *want;
	} c[] = {
	    {"[]", "linux.seccomp: expected an object"},
	    {"{\"defaultAction\":\"SCMP_ACT_FOO\"}",
	     "linux.seccomp.defaultAction: unknown action SCMP_ACT_FOO"},
	    {"{\"defaultAction\":1}", "linux.seccomp.defaultAction: expected a string"},
	    {"{\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
	     "linux.seccomp.defaultAction: required"},
	    {"{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}",
	     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/agent.sock\"}",
	     "linux.seccomp.listenerPath: seccomp notify agents are not supported"},
	    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}",
	     "linux.seccomp.defaultErrnoRet: -1 out of range"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_Z80\"]}",
	     "linux.seccomp.architectures[0]: unknown architecture SCMP_ARCH_Z80"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_FOO\"]}",
	     "linux.seccomp.flags[0]: unknown flag SECCOMP_FILTER_FLAG_FOO"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}",
	     "linux.seccomp.syscalls: expected an array"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\"},{},{\"names\":[\"a\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	     "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_FOO\"}]}",
	     "linux.seccomp.syscalls[1].names: required"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\"},{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"},{},"
	     "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_FOO\"}]}",
	     "linux.seccomp.syscalls[2].names: required"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\"},{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"},"
	     "{\"names\":[],\"action\":\"SCMP_ACT_LOG\"},"
	     "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_FOO\"}]}",
	     "linux.seccomp.syscalls[3].action: unknown action SCMP_ACT_FOO"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}",
	     "linux.seccomp.syscalls[0].action: required"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	     "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\",7],"
	     "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	     "linux.seccomp.syscalls[0].names[1]: expected a string"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	     "linux.seccomp.syscalls[0].names[0]: syscall name `` is empty"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":65536}]}",
	     "linux.seccomp.syscalls[0].errnoRet: 65536 out of range"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":"
	     "\"SCMP_CMP_EQ\"}]}]}",
	     "linux.seccomp.syscalls[0].args[0].index: 6 out of range"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":"
	     "\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_XOR\"}]}]}",
	     "linux.seccomp.syscalls[0].args[1].op: unknown operator SCMP_CMP_XOR"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	     "linux.seccomp.syscalls[0].args[0].value: required"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":-2,\"op\":"
	     "\"SCMP_CMP_EQ\"}]}]}",
	     "linux.seccomp.syscalls[0].args[0].value: -2 out of range"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	     "linux.seccomp.syscalls[0].args[0].index: required"},
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(c); i++)
		expect_error(c[i].json, c[i].want);
}

/* Every count is bounded before libseccomp sees it. */
Test(seccomp, bounds)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fputs("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[", f);
	for (int i = 0; i < 1025; i++)
		fprintf(f, "%s{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\"}", i ? "," : "");
	fputs("]}", f);
	fclose(f);
	expect_error(buf, "linux.seccomp.syscalls: 1025 entries, at most 1024");
	free(buf);

	f = open_memstream(&buf, &len);
	fputs("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[", f);
	for (int i = 0; i < 4097; i++)
		fprintf(f, "%s\"read\"", i ? "," : "");
	fputs("],\"action\":\"SCMP_ACT_ERRNO\"}]}", f);
	fclose(f);
	expect_error(buf, "linux.seccomp.syscalls[0].names: more than 4096");
	free(buf);

	f = open_memstream(&buf, &len);
	fputs("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	      "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[",
	      f);
	for (int i = 0; i < 17; i++)
		fprintf(f, "%s{\"index\":0,\"value\":%d,\"op\":\"SCMP_CMP_EQ\"}", i ? "," : "", i);
	fputs("]}]}", f);
	fclose(f);
	expect_error(buf, "linux.seccomp.syscalls[0].args: 17 entries, at most 16");
	free(buf);
}

/* The spec parser hands linux.seccomp to this module and frees it. */
Test(seccomp, through_the_spec_parser)
{
	const char *ok = "{\"ociVersion\":\"1.1.0\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
			 "\"args\":[\"/bin/true\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
			 "\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
			 "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]}}}";
	const char *bad = "{\"ociVersion\":\"1.1.0\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
			  "\"args\":[\"/bin/true\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
			  "\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
			  "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_FOO\"}]}}}";
	struct kc_spec *s = NULL;
	kc_err *e = NULL;

	KC_OK(kc_spec_parse(ok, strlen(ok), &s, err_));
	cr_assert_not_null(s->seccomp);
	kc_spec_free(s);
	s = NULL;
	cr_assert_lt(kc_spec_parse(bad, strlen(bad), &s, &e), 0);
	cr_assert(
	    strstr(kc_err_msg(e), "linux.seccomp.syscalls[0].action: unknown action SCMP_ACT_FOO"),
	    "%s", kc_err_msg(e));
	kc_err_free(e);
}

/* A classic BPF interpreter, enough for what libseccomp and the stub emit. */
static uint32_t bpf_run(const struct sock_filter *f, size_t n, const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];
		uint32_t v = BPF_SRC(i->code) == BPF_X ? X : i->k;
		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS) {
				cr_assert(BPF_SIZE(i->code) == BPF_W && i->k + 4 <= sizeof(*d));
				memcpy(&A, (const char *)d + i->k, 4);
			} else if (BPF_MODE(i->code) == BPF_IMM) {
				A = i->k;
			} else {
				cr_assert_eq(BPF_MODE(i->code), BPF_MEM);
				A = M[i->k % BPF_MEMWORDS];
			}
			break;
		case BPF_LDX:
			X = BPF_MODE(i->code) == BPF_IMM ? i->k : M[i->k % BPF_MEMWORDS];
			break;
		case BPF_ST:
			M[i->k % BPF_MEMWORDS] = A;
			break;
		case BPF_STX:
			M[i->k % BPF_MEMWORDS] = X;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_ADD:
				A += v;
				break;
			case BPF_SUB:
				A -= v;
				break;
			case BPF_MUL:
				A *= v;
				break;
			case BPF_DIV:
				A = v ? A / v : 0;
				break;
			case BPF_OR:
				A |= v;
				break;
			case BPF_AND:
				A &= v;
				break;
			case BPF_LSH:
				A <<= v;
				break;
			case BPF_RSH:
				A >>= v;
				break;
			case BPF_NEG:
				A = -A;
				break;
			case BPF_XOR:
				A ^= v;
				break;
			default:
				cr_assert_fail("alu op %#x", i->code);
			}
			break;
		case BPF_JMP: {
			bool c = false;
			if (BPF_OP(i->code) == BPF_JA) {
				pc += i->k;
				break;
			}
			switch (BPF_OP(i->code)) {
			case BPF_JEQ:
				c = A == v;
				break;
			case BPF_JGT:
				c = A > v;
				break;
			case BPF_JGE:
				c = A >= v;
				break;
			case BPF_JSET:
				c = (A & v) != 0;
				break;
			default:
				cr_assert_fail("jmp op %#x", i->code);
			}
			pc += c ? i->jt : i->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? A : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				X = A;
			else
				A = X;
			break;
		default:
			cr_assert_fail("class %#x", i->code);
		}
	}
	cr_assert_fail("ran off the end of the program");
	return 0;
}

/* One libseccomp context per arch plus our dispatch must decide every call
 * exactly as one context for all arches (libseccomp's own multi-arch filter)
 * plus the ENOSYS stub: every number below 600 of every listed ABI, an arch
 * not listed, and argument values the profiles' rules test. */
static void split_equals_combined(const char *profile_json, const uint32_t *audits, size_t n_audits)
{
	static const uint64_t argv0[] = {0,          1,          8,          40,
					 0x10000000, 0x7e020000, 0xffffffff, 0x100000000ULL};
	json_error_t je;
	json_t *prof = json_loads(profile_json, 0, &je);
	struct kc_seccomp *split = NULL, *comb = NULL;
	kc_err *e = NULL;
	size_t checked = 0;

	cr_assert_not_null(prof, "%s", je.text);
	cr_assert_eq(kc_seccomp_compile(prof, true, &split, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_seccomp_compile(prof, false, &comb, &e), 0, "%s", kc_err_msg(e));
	for (size_t a = 0; a < n_audits; a++)
		for (uint32_t x32 = 0; x32 <= (audits[a] == AUDIT_ARCH_X86_64 ? 1u : 0u); x32++)
			for (uint32_t nr = 0; nr < 600; nr++)
				for (size_t k = 0; k < KC_ARRAY_SIZE(argv0); k++) {
					struct seccomp_data d = {
					    .nr = (int)(nr | (x32 ? 0x40000000U : 0)),
					    .arch = audits[a],
					    .args = {argv0[k], 1, 0, 0, 0, 0}};
					uint32_t r1 = bpf_run(kc_seccomp_prog(split),
							      kc_seccomp_insns(split), &d);
					uint32_t r2 = bpf_run(kc_seccomp_prog(comb),
							      kc_seccomp_insns(comb), &d);
					cr_assert_eq(r1, r2,
						     "arch %#x nr %#x arg0 %#llx: split %#x, "
						     "combined %#x",
						     d.arch, (unsigned)d.nr,
						     (unsigned long long)argv0[k], r1, r2);
					checked++;
				}
	cr_assert_gt(checked, 1000);
	kc_seccomp_free(split);
	kc_seccomp_free(comb);
	json_decref(prof);
}

Test(seccomp, per_arch_programs_decide_like_one_filter)
{
	_cleanup_free_ char *json = fixture("seccomp-containerd-2.1.9.json");
	static const uint32_t audits[] = {AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64};
	split_equals_combined(json, audits, KC_ARRAY_SIZE(audits));
	/* Only the native ABI listed (x32 calls must be refused), and foreign
	 * arches. */
	split_equals_combined("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":["
			      "\"read\",\"write\",\"socket\",\"clone\",\"personality\"],"
			      "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":40,"
			      "\"op\":\"SCMP_CMP_NE\"}]}]}",
			      audits, KC_ARRAY_SIZE(audits));
	{
		static const uint32_t foreign[] = {AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64,
						   AUDIT_ARCH_ARM, AUDIT_ARCH_S390X,
						   AUDIT_ARCH_I386};
		split_equals_combined(
		    "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"architectures\":["
		    "\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_ARM\",\"SCMP_ARCH_RISCV64\",\"SCMP_ARCH_"
		    "X32\"]"
		    ","
		    "\"syscalls\":[{\"names\":[\"read\",\"openat\",\"clone3\",\"futex_waitv\"],"
		    "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"close\"],\"action\":"
		    "\"SCMP_ACT_ERRNO\",\"errnoRet\":9,\"args\":[{\"index\":0,\"value\":65280,"
		    "\"valueTwo\":256,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
		    foreign, KC_ARRAY_SIZE(foreign));
	}
}
