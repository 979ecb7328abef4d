/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container engine under attack, in host mode (vmm-task --listen unix://):
 * what a hostile container (or a hostile spec) tries, and what must hold. Where
 * runc defines the behaviour the same bundle also goes through `runc run`, and
 * both must agree: fd inventory, cwd through /proc/self/fd, device cgroup,
 * sysctls, capabilities, masked and read-only paths, no_new_privs, symlinked
 * mount destinations, a pid namespace joined by path. Ours only: the exec
 * cases, NULs in ids, a symlinked rootfs directory, cgroupsPath, time
 * namespaces (runc 1.1 has none).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentctl.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "runcctl.h"
#include "testutil.h"
#include "util.h"

static struct agentctl A;
static char *bin;
static bool have_runc;

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
	const char *extra[] = {"--log-level", "debug", NULL};
	cr_assert_eq(agentctl_start(&A, bin, extra, &e), 0, "start agent: %s", kc_err_msg(e));
	have_runc = runcctl_available();
	if (!have_runc)
		fprintf(stderr, "runc not found: the runc comparisons are skipped\n");
}

static void teardown(void)
{
	if (A.dir && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = agentctl_log(&A);
		fprintf(stderr, "--- agent log ---\n%s\n", log);
	}
	agentctl_stop(&A);
	free(bin);
}

TestSuite(attack, .init = setup, .fini = teardown, .timeout = 120);

struct outcome {
	int status; /* exit status; -1: it never ran */
	char *out, *err;
	char *fail; /* why Create or Start failed (ours), or runc's stderr */
};

static void outcome_clear(struct outcome *r)
{
	free(r->out);
	free(r->err);
	free(r->fail);
	memset(r, 0, sizeof(*r));
}

/* Run id through vmm-task: Create, Start, Wait, Delete. */
static void ours(const char *id, const struct bundle_opts *o, struct outcome *r)
{
	_cleanup_free_ char *bundle = agentctl_bundle(&A, id, o);
	_cleanup_free_ char *sout = xasprintf("unix://%s/%s.out", A.dir, id);
	_cleanup_free_ char *serr = xasprintf("unix://%s/%s.err", A.dir, id);
	kc_err *e = NULL;
	uint32_t st = 0;
	int fo, fe;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (task_create(&A, id, bundle, false, NULL, sout, serr, NULL, &e) < 0) {
		r->fail = xstrdup(e->msg);
		kc_err_free(e);
		return;
	}
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	fe = io_dial(serr, &e);
	cr_assert_geq(fe, 0, "%s", kc_err_msg(e));
	if (task_start(&A, id, NULL, NULL, &e) < 0) {
		r->fail = xstrdup(e->msg);
		kc_err_freep(&e);
	}
	cr_assert_eq(task_wait(&A, id, NULL, &st, &e), 0, "wait: %s", kc_err_msg(e));
	r->out = io_read_all(fo, 5000, NULL);
	r->err = io_read_all(fe, 5000, NULL);
	close(fo);
	close(fe);
	cr_assert_eq(task_delete(&A, id, NULL, NULL, &e), 0, "delete: %s", kc_err_msg(e));
	if (!r->fail)
		r->status = (int)st;
}

/* The same bundle through runc. */
static void theirs(const char *id, const struct bundle_opts *o, struct outcome *r)
{
	_cleanup_free_ char *rid = xasprintf("%s-runc", id);
	_cleanup_free_ char *bundle = agentctl_bundle(&A, rid, o);
	_cleanup_free_ char *state = xasprintf("%s/runc-state", A.dir);

	memset(r, 0, sizeof(*r));
	r->status = runcctl_run(state, bundle, rid, &r->out, &r->err);
	if (r->status != 0)
		r->fail = xstrdup(r->err);
}

/* Both run it to the same exit status and stdout; returns ours'. */
static void both_agree(const char *id, const struct bundle_opts *o, int want_status,
		       const char *want_out)
{
	struct outcome a, b;

	ours(id, o, &a);
	cr_assert_eq(a.status, want_status, "%s: vmm-task: status %d (%s) stderr `%s`", id,
		     a.status, a.fail ? a.fail : "", a.err ? a.err : "");
	if (want_out)
		cr_assert_str_eq(a.out, want_out, "%s: vmm-task printed `%s` (stderr `%s`)", id,
				 a.out, a.err);
	if (have_runc) {
		theirs(id, o, &b);
		cr_assert_eq(b.status, want_status, "%s: runc: status %d, stderr `%s`", id,
			     b.status, b.err);
		cr_assert_str_eq(b.out, a.out, "%s: runc printed `%s`, vmm-task `%s`", id, b.out,
				 a.out);
		outcome_clear(&b);
	}
	outcome_clear(&a);
}

/* Both refuse it; ours' error mentions want. */
static void both_refuse(const char *id, const struct bundle_opts *o, const char *want,
			const char *want_runc)
{
	struct outcome a, b;

	ours(id, o, &a);
	cr_assert(a.fail, "%s: vmm-task ran it (status %d, out `%s`)", id, a.status, a.out);
	cr_assert(strstr(a.fail, want), "%s: `%s` does not mention `%s`", id, a.fail, want);
	if (have_runc) {
		theirs(id, o, &b);
		cr_assert_neq(b.status, 0, "%s: runc ran it: `%s`", id, b.out);
		if (want_runc)
			cr_assert(strstr(b.err, want_runc), "%s: runc: `%s`", id, b.err);
		outcome_clear(&b);
	}
	outcome_clear(&a);
	/* Nothing was left behind, the agent still answers. */
	{
		kc_err *e = NULL;
		cr_assert_lt(task_state(&A, id, NULL, NULL, NULL, &e), 0);
		kc_err_freep(&e);
		cr_assert_eq(sandbox_check(&A, &e), 0, "%s", kc_err_msg(e));
	}
}

#define SH(script) ((const char *const[]){"/bin/sh", "-c", (script), NULL})

Test(attack, only_stdio_is_open_in_the_container)
{
	/* 3 is ls's own directory fd. */
	struct bundle_opts o = {.args = SH("ls /proc/self/fd")};
	both_agree("fds", &o, 0, "0\n1\n2\n3\n");
}

Test(attack, cwd_through_proc_self_fd_never_escapes)
{
	/* Whatever fd N is, the cwd is not a directory outside the root:
	 * the start fails (not a directory, no such fd, or outside the root). */
	for (int n = 0; n <= 64; n++) {
		char id[32], cwd[32];
		struct outcome a, b;
		struct bundle_opts o = {.args = SH("pwd; ls ../../..; cat ../../../etc/passwd"),
					.cwd = cwd};
		snprintf(id, sizeof(id), "cwd%d", n);
		snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", n);
		ours(id, &o, &a);
		cr_assert(a.fail, "cwd %s: vmm-task started it: `%s`", cwd, a.out);
		cr_assert(strstr(a.fail, "cwd"), "%s", a.fail);
		if (have_runc) {
			theirs(id, &o, &b);
			cr_assert_neq(b.status, 0, "cwd %s: runc started it: `%s`", cwd, b.out);
			outcome_clear(&b);
		}
		outcome_clear(&a);
	}
}

/* 10:229 (/dev/fuse) is in no default rule; reading it needs no capability. */
#define DEV_SCRIPT                                                                                 \
	"mknod /dev/xf c 10 229 && echo mknod-ok; "                                                \
	"(exec 3</dev/xf) 2>/dev/null && echo open-ok || echo open-denied; "                       \
	"(exec 3</dev/null) && echo null-ok"

Test(attack, devices_not_allowed_cannot_be_opened)
{
	struct bundle_opts o = {.args = SH(DEV_SCRIPT)};

	if (access("/dev/fuse", F_OK) < 0)
		cr_skip_test("skipped: no /dev/fuse on this host to stand for a device");
	/* No rules at all, and containerd's "deny everything" first. */
	both_agree("dev-none", &o, 0, "mknod-ok\nopen-denied\nnull-ok\n");
	o.extra_linux = "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}";
	both_agree("dev-deny", &o, 0, "mknod-ok\nopen-denied\nnull-ok\n");
	/* An allow rule for it; a later deny of /dev/null loses to the
	 * defaults, which come last (runc's order). */
	o.extra_linux =
	    "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
	    "{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"rw\"},"
	    "{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"}]}";
	both_agree("dev-allow", &o, 0, "mknod-ok\nopen-ok\nnull-ok\n");
	/* Allow all, then deny reading and writing it again (the last rule
	 * wins; mknod stays allowed by the defaults). */
	o.extra_linux =
	    "\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwm\"},"
	    "{\"allow\":false,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"rw\"}]}";
	both_agree("dev-redeny", &o, 0, "mknod-ok\nopen-denied\nnull-ok\n");
}

Test(attack, only_namespaced_sysctls)
{
	struct bundle_opts o = {.args = SH("cat /proc/sys/kernel/shmmax")};

	o.extra_linux = "\"sysctl\":{\"kernel.core_pattern\":\"|/bin/true\"}";
	both_refuse("sc-core", &o, "\"kernel.core_pattern\" is not in a separate kernel namespace",
		    "kernel.core_pattern");
	o.extra_linux = "\"sysctl\":{\"vm.overcommit_memory\":\"1\"}";
	both_refuse("sc-vm", &o, "not in a separate kernel namespace", "vm.overcommit_memory");
	o.extra_linux = "\"sysctl\":{\"kernel.hostname\":\"x\"}";
	both_refuse("sc-host", &o, "conflicts with the OCI \"hostname\" field", "kernel.hostname");
	/* net.* needs a network namespace of its own. */
	o.extra_linux = "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}";
	both_refuse("sc-net", &o, "not allowed in host network namespace", "net.ipv4.ip_forward");
	/* IPC keys in the container's IPC namespace (the bundles have one). */
	o.extra_linux = "\"sysctl\":{\"kernel.shmmax\":\"12345678\"}";
	both_agree("sc-ipc", &o, 0, "12345678\n");
	o.args = SH("cat /proc/sys/net/ipv4/ip_unprivileged_port_start");
	o.netns = true;
	o.extra_linux = "\"sysctl\":{\"net/ipv4/ip_unprivileged_port_start\":\"1000\"}";
	both_agree("sc-netns", &o, 0, "1000\n");
}

#define CAPS_SCRIPT "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"

Test(attack, no_capabilities_object_means_none)
{
	struct bundle_opts o = {.args = SH(CAPS_SCRIPT), .no_caps = true};
	both_agree("nocaps", &o, 0,
		   "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
		   "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
		   "CapAmb:\t0000000000000000\n");
}

Test(attack, masked_and_readonly_paths_and_no_new_privs)
{
	struct bundle_opts o = {
	    .args = SH("cat /proc/timer_list 2>/dev/null | wc -c; stat -c %t:%T /proc/timer_list;"
		       " ls /sys/firmware | wc -l;"
		       " echo kc > /proc/sys/kernel/domainname 2>/dev/null && echo rw || echo ro;"
		       " grep NoNewPrivs /proc/self/status")};
	both_agree("masks", &o, 0, "0\n1:3\n0\nro\nNoNewPrivs:\t1\n");
}

Test(attack, symlinked_mount_destination_stays_inside)
{
	const char *rootfs = agentctl_busybox_rootfs(NULL);
	_cleanup_free_ char *outside = xasprintf("%s/outside", A.dir);
	_cleanup_free_ char *link = xasprintf("%s/escape", rootfs);
	_cleanup_free_ char *leak = xasprintf("%s/outside/m", A.dir);
	struct bundle_opts o = {.args = SH("echo inside > /escape/m/f && cat /escape/m/f"),
				.extra_mounts = "{\"destination\":\"/escape/m\",\"type\":\"tmpfs\","
						"\"source\":\"tmpfs\",\"options\":[\"size=64k\"]}"};
	struct stat st;

	cr_assert_eq(mkdir(outside, 0755), 0);
	unlink(link);
	/* An absolute link out of the root, as an image could ship it. Inside
	 * the root it means <root><outside>; that directory exists too (runc
	 * would create it, we refuse to create through a link). */
	cr_assert_eq(symlink(outside, link), 0);
	{
		_cleanup_free_ char *in = xasprintf("%s%s", rootfs, outside);
		_cleanup_free_ char *cmd = xasprintf("mkdir -p '%s'", in);
		cr_assert_eq(system(cmd), 0);
	}
	both_agree("symdest", &o, 0, "inside\n");
	cr_assert_lt(stat(leak, &st), 0, "a mount point was made outside the root");
	unlink(link);
}

Test(attack, symlinked_rootfs_directory_is_refused)
{
	/* The bundle's rootfs is a link elsewhere and Create brings rootfs
	 * mounts: they must not land on the link's target. */
	_cleanup_free_ char *b = xasprintf("%s/symroot", A.dir);
	_cleanup_free_ char *target = xasprintf("%s/elsewhere", A.dir);
	_cleanup_free_ char *link = xasprintf("%s/rootfs", b);
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
	Containerd__Types__Mount *mounts[] = {&m};
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	_cleanup_free_ char *info = NULL;
	struct bundle_opts o = {.args = SH("true")};
	_cleanup_free_ char *ignored = agentctl_bundle(&A, "symroot", &o);
	kc_err *e = NULL;

	cr_assert_eq(mkdir(target, 0755), 0);
	cr_assert_eq(symlink(target, link), 0);
	m.type = "tmpfs";
	m.source = "tmpfs";
	r.id = "symroot";
	r.bundle = b;
	r.rootfs = mounts;
	r.n_rootfs = 1;
	cr_assert_lt(ttrpc_client_call_sync(A.cli, "containerd.task.v2.Task", "Create", &r.base,
					    NULL, 10 * KC_NSEC_PER_SEC, NULL, &e),
		     0);
	cr_assert(strstr(e->msg, "not a symlink"), "%s", e->msg);
	kc_err_free(e);
	cr_assert_eq(kc_read_file("/proc/self/mountinfo", 1 << 22, &info, NULL, NULL), 0);
	cr_assert_null(strstr(info, target), "a mount landed on the link's target");
}

struct raw_answer {
	bool done;
	int code;
	char msg[256];
};

static void on_raw(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	struct raw_answer *res = ud;
	(void)p, (void)len;
	res->done = true;
	res->code = st->code;
	snprintf(res->msg, sizeof(res->msg), "%s", st->message ? st->message : "");
}

/* CreateTaskRequest{id, bundle} by hand: C strings cannot carry a NUL. */
Test(attack, nul_in_an_id_is_invalid_argument)
{
	uint8_t buf[512];
	size_t n = 0;
	const char id[] = "ok\0/../../x";
	struct bundle_opts o = {.args = SH("true")};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "ok", &o);
	struct raw_answer res = {0};
	kc_err *e = NULL;

	buf[n++] = 0x0a;
	buf[n++] = sizeof(id) - 1;
	memcpy(buf + n, id, sizeof(id) - 1);
	n += sizeof(id) - 1;
	buf[n++] = 0x12;
	buf[n++] = (uint8_t)strlen(bundle);
	memcpy(buf + n, bundle, strlen(bundle));
	n += strlen(bundle);
	cr_assert_eq(ttrpc_client_call_raw(A.cli, "containerd.task.v2.Task", "Create", buf, n,
					   10 * KC_NSEC_PER_SEC, on_raw, &res, &e),
		     0);
	while (!res.done)
		kc_loop_iterate(A.loop, kc_now_ns() + 100 * KC_NSEC_PER_MSEC, NULL);
	cr_assert_eq(res.code, TTRPC_INVALID_ARGUMENT, "%d %s", res.code, res.msg);
	cr_assert(strstr(res.msg, "CreateTaskRequest.id: contains a NUL byte"), "%s", res.msg);
	/* Nothing named by the prefix was created. */
	cr_assert_lt(task_state(&A, "ok", NULL, NULL, NULL, &e), 0);
	kc_err_free(e);
}

/* A running container to exec into (its init sleeps). */
static void start_sleeper(const char *id, const struct bundle_opts *extra)
{
	struct bundle_opts o = extra ? *extra : (struct bundle_opts){0};
	_cleanup_free_ char *bundle = NULL;
	kc_err *e = NULL;

	o.args = SH("sleep 1000");
	bundle = agentctl_bundle(&A, id, &o);
	cr_assert_eq(task_create(&A, id, bundle, false, NULL, NULL, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, id, NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}

static void stop_sleeper(const char *id)
{
	kc_err *e = NULL;
	uint32_t st;
	cr_assert_eq(task_kill(&A, id, NULL, SIGKILL, true, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, id, NULL, &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_delete(&A, id, NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}

/* Exec o in id: output, or NULL and *fail when Start failed. */
static char *exec_in(const char *id, const char *exec_id, const struct bundle_opts *o, char **fail)
{
	_cleanup_free_ char *pj = agentctl_process_json(o);
	_cleanup_free_ char *xout = xasprintf("unix://%s/%s.out", A.dir, exec_id);
	kc_err *e = NULL;
	uint32_t st;
	char *out = NULL;
	int fd;

	*fail = NULL;
	cr_assert_eq(task_exec(&A, id, exec_id, false, NULL, xout, NULL, pj, &e), 0, "%s",
		     kc_err_msg(e));
	if (task_start(&A, id, exec_id, NULL, &e) < 0) {
		*fail = xstrdup(e->msg);
		kc_err_free(e);
	} else {
		fd = io_dial(xout, &e);
		cr_assert_geq(fd, 0, "%s", kc_err_msg(e));
		cr_assert_eq(task_wait(&A, id, exec_id, &st, &e), 0, "%s", kc_err_msg(e));
		out = io_read_all(fd, 5000, NULL);
		close(fd);
	}
	cr_assert_eq(task_delete(&A, id, exec_id, NULL, &e), 0, "%s", kc_err_msg(e));
	return out;
}

Test(attack, exec_holds_only_stdio_and_its_cwd_stays_inside)
{
	struct bundle_opts x = {.args = SH("ls /proc/self/fd")};
	_cleanup_free_ char *out = NULL;
	char *fail = NULL;

	start_sleeper("xs", NULL);
	out = exec_in("xs", "fds", &x, &fail);
	cr_assert_null(fail, "%s", fail);
	cr_assert_str_eq(out, "0\n1\n2\n3\n");
	for (int n = 0; n <= 64; n++) {
		char xid[16], cwd[32];
		_cleanup_free_ char *o2 = NULL;
		struct bundle_opts c = {.args = SH("pwd; ls ../../.."), .cwd = cwd};
		snprintf(xid, sizeof(xid), "cwd%d", n);
		snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", n);
		o2 = exec_in("xs", xid, &c, &fail);
		cr_assert(fail, "exec with cwd %s started: `%s`", cwd, o2);
		cr_assert(strstr(fail, "cwd"), "%s", fail);
		free(fail);
	}
	stop_sleeper("xs");
}

Test(attack, exec_without_capabilities_gets_the_containers)
{
	/* runc (finalizeNamespace): the exec's own sets, else the container's,
	 * else none. */
	struct bundle_opts x = {.args = SH("grep ^CapEff /proc/self/status"), .no_caps = true};
	struct bundle_opts y = {.args = SH("grep ^CapEff /proc/self/status")};
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	struct bundle_opts none = {.no_caps = true};
	char *fail = NULL;

	start_sleeper("xc", NULL);
	a = exec_in("xc", "nocaps", &x, &fail);
	cr_assert_null(fail, "%s", fail);
	b = exec_in("xc", "caps", &y, &fail);
	cr_assert_null(fail, "%s", fail);
	cr_assert_str_eq(a, b);
	cr_assert_str_neq(a, "CapEff:\t0000000000000000\n");
	stop_sleeper("xc");
	/* A container without capabilities: its execs get none. */
	start_sleeper("xn", &none);
	c = exec_in("xn", "nocaps", &x, &fail);
	cr_assert_null(fail, "%s", fail);
	cr_assert_str_eq(c, "CapEff:\t0000000000000000\n");
	stop_sleeper("xn");
}

Test(attack, cgroups_path_cannot_leave_the_cgroup_fs)
{
	_cleanup_free_ char *mark = xasprintf("%s/cgmark", A.dir);
	_cleanup_free_ char *lin = xasprintf("\"cgroupsPath\":\"/../../../../../..%s/x\"", mark);
	_cleanup_free_ char *want = xasprintf("0::%s/x\n", mark);
	struct bundle_opts o = {.args = SH("grep ^0:: /proc/self/cgroup"), .extra_linux = lin};
	struct outcome r;
	struct stat st;

	ours("cgesc", &o, &r);
	cr_assert_eq(r.status, 0, "%s", r.fail ? r.fail : r.err);
	/* Cleaned like runc: the same path, below the cgroup root. */
	cr_assert_str_eq(r.out, want);
	cr_assert_lt(stat(mark, &st), 0, "%s was created outside the cgroup fs", mark);
	outcome_clear(&r);
	o.extra_linux = "\"cgroupsPath\":\"/..\"";
	ours("cgroot", &o, &r);
	cr_assert(r.fail && strstr(r.fail, "names the cgroup root"), "%s", r.fail);
	outcome_clear(&r);
}

static char *agent_ns(const char *ns)
{
	char buf[64];
	_cleanup_free_ char *p = xasprintf("/proc/%d/ns/%s", (int)A.pid, ns);
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	return xasprintf("%s\n", buf);
}

Test(attack, time_namespace_is_created_with_its_offsets)
{
	_cleanup_free_ char *ours_ns = agent_ns("time");
	struct bundle_opts o = {
	    .args = SH("readlink /proc/$$/ns/time; cut -d. -f1 /proc/uptime"),
	    .extra_linux = "\"timeOffsets\":{\"boottime\":{\"secs\":86400000,\"nanosecs\":0}}"};
	struct outcome r;
	long up;
	char *nl;

	/* Offsets without a time namespace are refused, as runc does. */
	ours("tno", &o, &r);
	cr_assert(r.fail && strstr(r.fail, "timeOffsets"), "%s", r.fail);
	outcome_clear(&r);
	o.extra_ns = "{\"type\":\"time\"}";
	ours("tns", &o, &r);
	cr_assert_eq(r.status, 0, "%s", r.fail ? r.fail : r.err);
	nl = strchr(r.out, '\n');
	cr_assert(nl);
	cr_assert(strncmp(r.out, ours_ns, (size_t)(nl - r.out)), "no new time namespace: %s",
		  r.out);
	up = atol(nl + 1);
	cr_assert_geq(up, 86400000, "boottime offset not applied: uptime %ld", up);
	outcome_clear(&r);
}

Test(attack, pid_namespace_joined_by_path)
{
	_cleanup_free_ char *path = NULL, *ns = NULL;
	/* exec: the init itself reads its namespace (a forked child would be
	 * in the joined one even if the init were not). */
	struct bundle_opts o = {.args = SH("echo $$; exec readlink /proc/self/ns/pid"),
				.no_pidns = true};
	uint32_t pid = 0;
	int s;
	kc_err *e = NULL;
	char buf[64];
	ssize_t n;

	start_sleeper("pa", NULL);
	cr_assert_eq(task_state(&A, "pa", NULL, &s, &pid, &e), 0, "%s", kc_err_msg(e));
	path = xasprintf("/proc/%u/ns/pid", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	ns = xasprintf("{\"type\":\"pid\",\"path\":\"%s\"}", path);
	o.extra_ns = ns;
	/* Joined, not PID 1 of it: the sleeper is. */
	{
		struct outcome a;
		ours("pb", &o, &a);
		cr_assert_eq(a.status, 0, "%s", a.fail ? a.fail : a.err);
		cr_assert(strstr(a.out, buf), "not in %s: %s", buf, a.out);
		cr_assert_neq(atoi(a.out), 1, "%s", a.out);
		outcome_clear(&a);
	}
	if (have_runc) {
		struct outcome b;
		theirs("pb", &o, &b);
		cr_assert_eq(b.status, 0, "runc: %s", b.err);
		cr_assert(strstr(b.out, buf), "runc: not in %s: %s", buf, b.out);
		outcome_clear(&b);
	}
	stop_sleeper("pa");
}
