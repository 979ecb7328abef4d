/* SPDX-License-Identifier: Apache-2.0 */
/* linux.seccomp enforced by vmm-task in host mode, each case run through runc
 * with the same bundle and compared: containerd's RuntimeDefault profile
 * (tests/fixtures), for the init and for an exec, with and without
 * no_new_privs; an unknown syscall name; malformed and notify profiles. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "testutil.h"
#include "util.h"

#define RUNC "/usr/sbin/runc"

static struct agentctl A;
static char *bin, *rootfs, *profile;

/* What the probe prints under containerd's profile (see seccomp_probe.c):
 * clone3 has an errnoRet 38 rule, AF_VSOCK an args rule, 500 and mseal are
 * above the newest syscall the profile names (ENOSYS stub), unshare, keyctl
 * and that personality are not allowed, clone's MASKED_EQ rule refuses
 * CLONE_NEWUSER. */
static const char *const enforced =
    "Seccomp:\t2\n"
    "Seccomp_filters:\t1\n"
    "clone3=38\nsocket_vsock=1\nsocket_unix=0\nunshare0=1\nkeyctl=1\nnr500=38\nmseal=38\n"
    "clone_newuser=1\nfork=0\npersonality_bad=1\npersonality_query=0\n";

static char *read_fixture(const char *name)
{
	const char *top = getenv("KC_TOP") ? getenv("KC_TOP") : ".";
	_cleanup_free_ char *path = xasprintf("%s/tests/fixtures/%s", top, name);
	char *s = NULL;
	kc_err *e = NULL;
	cr_assert_geq(kc_read_file(path, 1 << 20, &s, NULL, &e), 0, "%s", kc_err_msg(e));
	return s;
}

/* The busybox rootfs with the probe as /bin/probe, once per process. */
static const char *probe_rootfs(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	_cleanup_free_ char *probe = NULL, *dst = NULL, *data = NULL;
	size_t len;
	kc_err *e = NULL;

	if (rootfs)
		return rootfs;
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	probe = xasprintf("%s/seccomp-probe", dirname(exe));
	if (access(probe, X_OK) < 0)
		cr_skip_test("skipped: %s not built (make %s)", probe, probe);
	rootfs = tu_tmpdir("scroot");
	cr_assert_eq(agentctl_busybox_rootfs_at(rootfs, &e), 0, "%s", kc_err_msg(e));
	dst = xasprintf("%s/bin/probe", rootfs);
	cr_assert_eq(kc_read_file(probe, 8u << 20, &data, &len, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_write_file(dst, data, len, 0, 0755, &e), 0, "%s", kc_err_msg(e));
	return rootfs;
}

static void setup(void)
{
	kc_err *e = NULL;
	if (!tu_is_root())
		cr_skip_test("skipped: needs root to create namespaces and mounts");
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: %s", kc_err_msg(e));
	bin = getenv("KC_AGENT") ? xstrdup(getenv("KC_AGENT")) : tu_bin("vmm-task");
	if (access(bin, X_OK) < 0)
		cr_skip_test("skipped: %s not built", bin);
	probe_rootfs();
	profile = read_fixture("seccomp-containerd-2.1.9.json");
	const char *extra[] = {"--log-level", "debug", NULL};
	cr_assert_eq(agentctl_start(&A, bin, extra, &e), 0, "start agent: %s", kc_err_msg(e));
}

static void teardown(void)
{
	if (A.dir && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = agentctl_log(&A);
		fprintf(stderr, "--- agent log ---\n%s\n", log);
	}
	agentctl_stop(&A);
	if (rootfs)
		tu_rmtree(rootfs);
	kc_freep(&rootfs);
	kc_freep(&profile);
	kc_freep(&bin);
}

TestSuite(seccomp, .init = setup, .fini = teardown, .timeout = 120);

static const char *const probe_args[] = {"/bin/sh", "-c",
					 "grep Seccomp /proc/self/status; exec /bin/probe", NULL};

static char *linux_seccomp(const char *prof)
{
	return xasprintf("\"seccomp\":%s", prof);
}

/* Create, start, wait, delete through the agent; returns stdout. */
static char *agent_run(const char *id, const struct bundle_opts *o, uint32_t *status)
{
	_cleanup_free_ char *bundle = agentctl_bundle(&A, id, o);
	_cleanup_free_ char *sout = xasprintf("unix://%s/%s.out", A.dir, id);
	kc_err *e = NULL;
	char *out;
	int fo;

	cr_assert_eq(task_create(&A, id, bundle, false, NULL, sout, NULL, NULL, &e), 0,
		     "create %s: %s", id, kc_err_msg(e));
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_start(&A, id, NULL, NULL, &e), 0, "start %s: %s", id, kc_err_msg(e));
	cr_assert_eq(task_wait(&A, id, NULL, status, &e), 0, "wait: %s", kc_err_msg(e));
	out = io_read_all(fo, 5000, NULL);
	close(fo);
	cr_assert_eq(task_delete(&A, id, NULL, NULL, &e), 0, "delete: %s", kc_err_msg(e));
	return out;
}

/* Run runc with argv; stdout and stderr come back, the exit status too. */
static int runc(const char *const *argv, char **out, char **err_out)
{
	int po[2], pe[2], st;
	pid_t pid;

	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int dn = open("/dev/null", O_RDONLY);
		dup2(dn, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(RUNC, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	*out = io_read_all(po[0], 20000, NULL);
	*err_out = io_read_all(pe[0], 20000, NULL);
	close(po[0]);
	close(pe[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *runc_root(void)
{
	return xasprintf("%s/runc-root", A.dir);
}

/* `runc run` of the bundle the agent ran (same config.json). */
static char *runc_run(const char *id, int *status, char **err_out)
{
	_cleanup_free_ char *root = runc_root();
	_cleanup_free_ char *bundle = xasprintf("%s/%s", A.dir, id);
	_cleanup_free_ char *rid = xasprintf("runc-%s", id);
	const char *argv[] = {"runc", "--root", root, "run", "--bundle", bundle, rid, NULL};
	char *out = NULL;
	*status = runc(argv, &out, err_out);
	return out;
}

static void need_runc(void)
{
	if (access(RUNC, X_OK) < 0)
		cr_skip_test("skipped: runc not installed (%s)", RUNC);
}

/* The agent's and runc's outputs of one bundle, which must agree. */
static void compare(const char *id, const struct bundle_opts *o, const char *want)
{
	_cleanup_free_ char *out = NULL, *rout = NULL, *rerr = NULL;
	uint32_t st = 99;
	int rst;

	out = agent_run(id, o, &st);
	cr_assert_eq(st, 0, "%s: exit %u, output:\n%s", id, st, out);
	if (want)
		cr_assert_str_eq(out, want, "%s under vmm-task", id);
	need_runc();
	rout = runc_run(id, &rst, &rerr);
	cr_assert_eq(rst, 0, "%s: runc run exit %d: %s", id, rst, rerr);
	cr_assert_str_eq(out, rout, "%s: vmm-task and runc differ\nvmm-task:\n%s\nrunc:\n%s", id,
			 out, rout);
}

Test(seccomp, runtime_default_profile_like_runc)
{
	_cleanup_free_ char *sc = linux_seccomp(profile);
	_cleanup_free_ char *w = xasprintf("%sNoNewPrivs:\t1\n", enforced);
	const char *const args[] = {"/bin/sh", "-c",
				    "grep Seccomp /proc/self/status; /bin/probe; "
				    "grep NoNewPrivs /proc/self/status",
				    NULL};
	struct bundle_opts o = {.args = args, .rootfs = rootfs, .extra_linux = sc};
	compare("rtdefault", &o, w);
}

/* Without no_new_privs the filter goes in before the capabilities are
 * dropped (it needs CAP_SYS_ADMIN then), as runc does. */
Test(seccomp, without_no_new_privs_like_runc)
{
	_cleanup_free_ char *sc = linux_seccomp(profile);
	_cleanup_free_ char *w = xasprintf("%sNoNewPrivs:\t0\n", enforced);
	const char *const args[] = {"/bin/sh", "-c",
				    "grep Seccomp /proc/self/status; /bin/probe; "
				    "grep NoNewPrivs /proc/self/status",
				    NULL};
	struct bundle_opts o = {
	    .args = args, .rootfs = rootfs, .extra_linux = sc, .new_privs = true};
	compare("newprivs", &o, w);
}

/* Without a profile nothing is filtered: the probe sees the kernel's own
 * answers (the check above cannot pass by accident). */
Test(seccomp, no_profile_no_filter_like_runc)
{
	struct bundle_opts o = {.args = probe_args, .rootfs = rootfs};
	_cleanup_free_ char *out = NULL;
	uint32_t st;

	out = agent_run("nofilter", &o, &st);
	cr_assert_eq(st, 0);
	cr_assert(strstr(out, "Seccomp:\t0\n"), "%s", out);
	cr_assert(strstr(out, "clone3=14\n"), "%s", out); /* EFAULT: NULL clone_args */
	cr_assert(strstr(out, "unshare0=0\n"), "%s", out);
	cr_assert(strstr(out, "nr500=38\n"), "%s", out);
	compare("nofilter2", &o, out);
}

/* A name libseccomp does not know is left out (one log line), and the rest of
 * the profile is enforced. */
Test(seccomp, unknown_syscall_name_still_loads_like_runc)
{
	/* Append a rule to containerd's profile: ...,"syscalls":[ {new}, ... */
	const char *at = strstr(profile, "\"syscalls\": [");
	_cleanup_free_ char *prof = NULL, *sc = NULL, *log = NULL;
	struct bundle_opts o = {.args = probe_args, .rootfs = rootfs};
	size_t off;

	cr_assert_not_null(at, "fixture layout changed");
	off = (size_t)(at - profile) + strlen("\"syscalls\": [");
	prof = xasprintf("%.*s{\"names\":[\"kc_no_such_syscall\",\"getpid\"],"
			 "\"action\":\"SCMP_ACT_ALLOW\"},%s",
			 (int)off, profile, profile + off);
	sc = linux_seccomp(prof);
	o.extra_linux = sc;
	compare("unknownname", &o, enforced);
	log = agentctl_log(&A);
	cr_assert(strstr(log, "unknown to libseccomp 2.5.4 left out: kc_no_such_syscall"), "%s",
		  log);
}

/* Every exec into the container gets the container's filter. */
Test(seccomp, exec_gets_the_filter_like_runc)
{
	_cleanup_free_ char *sc = linux_seccomp(profile);
	const char *const sleep_args[] = {"/bin/sleep", "100", NULL};
	struct bundle_opts o = {.args = sleep_args, .rootfs = rootfs, .extra_linux = sc};
	struct bundle_opts eo = {.args = probe_args};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "execsc", &o);
	_cleanup_free_ char *pj = agentctl_process_json(&eo);
	_cleanup_free_ char *sout = xasprintf("unix://%s/execsc-e.out", A.dir);
	_cleanup_free_ char *out = NULL;
	kc_err *e = NULL;
	uint32_t st = 99;
	int fo;

	cr_assert_eq(task_create(&A, "execsc", bundle, false, NULL, NULL, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "execsc", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_exec(&A, "execsc", "e1", false, NULL, sout, NULL, pj, &e), 0, "%s",
		     kc_err_msg(e));
	/* An exec's stdio sockets exist once it starts. */
	cr_assert_eq(task_start(&A, "execsc", "e1", NULL, &e), 0, "%s", kc_err_msg(e));
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "execsc", "e1", &st, &e), 0, "%s", kc_err_msg(e));
	out = io_read_all(fo, 5000, NULL);
	close(fo);
	cr_assert_eq(st, 0);
	cr_assert_str_eq(out, enforced);
	(void)task_kill(&A, "execsc", NULL, SIGKILL, true, NULL);
	(void)task_wait(&A, "execsc", NULL, NULL, NULL);
	cr_assert_eq(task_delete(&A, "execsc", "e1", NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_delete(&A, "execsc", NULL, NULL, &e), 0, "%s", kc_err_msg(e));

	need_runc();
	{
		_cleanup_free_ char *root = runc_root();
		_cleanup_free_ char *rout = NULL, *rerr = NULL;
		const char *run[] = {"runc",     "--root", root,          "run", "-d",
				     "--bundle", bundle,   "runc-execsc", NULL};
		const char *ex[] = {"runc",    "--root", root,          "exec", "runc-execsc",
				    "/bin/sh", "-c",     probe_args[2], NULL};
		const char *del[] = {"runc", "--root", root, "delete", "-f", "runc-execsc", NULL};
		int rst = runc(run, &rout, &rerr);
		cr_assert_eq(rst, 0, "runc run -d: %s", rerr);
		kc_freep(&rout);
		kc_freep(&rerr);
		rst = runc(ex, &rout, &rerr);
		{
			char *o2 = NULL, *e2 = NULL;
			(void)runc(del, &o2, &e2);
			free(o2);
			free(e2);
		}
		cr_assert_eq(rst, 0, "runc exec: %s", rerr);
		cr_assert_str_eq(out, rout,
				 "exec: vmm-task and runc differ\nvmm-task:\n%s\nrunc:\n%s", out,
				 rout);
	}
}

static void expect_create_error(const char *id, const char *prof, const char *want)
{
	_cleanup_free_ char *sc = linux_seccomp(prof);
	const char *const args[] = {"/bin/true", NULL};
	struct bundle_opts o = {.args = args, .rootfs = rootfs, .extra_linux = sc};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, id, &o);
	kc_err *e = NULL;

	cr_assert_lt(task_create(&A, id, bundle, false, NULL, NULL, NULL, NULL, &e), 0,
		     "%s: create should fail", id);
	cr_assert(strstr(e->msg, want), "%s: error `%s` does not mention `%s`", id, e->msg, want);
	kc_err_freep(&e);
	cr_assert_eq(sandbox_check(&A, &e), 0, "agent broken after %s: %s", id, kc_err_msg(e));
}

/* runc refuses the same bundle too (its message differs). */
static void runc_refuses(const char *id)
{
	_cleanup_free_ char *rout = NULL, *rerr = NULL;
	int rst;
	need_runc();
	rout = runc_run(id, &rst, &rerr);
	cr_assert_neq(rst, 0, "%s: runc ran it: %s", id, rout);
}

Test(seccomp, malformed_profiles_fail_naming_the_field_like_runc)
{
	expect_create_error("badact",
			    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
			    "[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"write\"],"
			    "\"action\":\"SCMP_ACT_FOO\"}]}",
			    "linux.seccomp.syscalls[1].action: unknown action SCMP_ACT_FOO");
	runc_refuses("badact");
	expect_create_error("badop",
			    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
			    "[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
			    "\"value\":1,\"op\":\"SCMP_CMP_FOO\"}]}]}",
			    "linux.seccomp.syscalls[0].args[0].op: unknown operator SCMP_CMP_FOO");
	runc_refuses("badop");
	expect_create_error("badarch",
			    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":"
			    "[\"SCMP_ARCH_FOO\"]}",
			    "linux.seccomp.architectures[0]: unknown architecture SCMP_ARCH_FOO");
	runc_refuses("badarch");
}

/* No seccomp agent exists in the guest: notify is refused, never ignored. */
Test(seccomp, notify_is_refused)
{
	expect_create_error("notify",
			    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":"
			    "\"/run/seccomp-agent.sock\",\"syscalls\":[{\"names\":[\"mkdir\"],"
			    "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
			    "linux.seccomp.listenerPath: seccomp notify agents are not supported");
	expect_create_error("notify2",
			    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			    "[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
			    "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported");
}

/* Flags reach the kernel (runc 1.1 refuses any flag; runc >= 1.2 takes them). */
Test(seccomp, flags_are_applied)
{
	_cleanup_free_ char *prof = NULL, *sc = NULL, *out = NULL;
	const char *at = strrchr(profile, '}');
	struct bundle_opts o = {.args = probe_args, .rootfs = rootfs};
	uint32_t st;

	cr_assert_not_null(at);
	prof = xasprintf("%.*s,\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
			 "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\",\"SECCOMP_FILTER_FLAG_TSYNC\"]}",
			 (int)(at - profile), profile);
	sc = linux_seccomp(prof);
	o.extra_linux = sc;
	out = agent_run("flags", &o, &st);
	cr_assert_eq(st, 0);
	cr_assert_str_eq(out, enforced);
}
