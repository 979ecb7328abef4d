/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-sandboxer end to end, as a black box: the real daemon binary, its
 * Controller API over its socket (ttrpc), real guests under QEMU (TCG on our
 * machines: microvm with build/kernel/vmlinux, pc with bzImage, both with
 * build/initramfs.cpio.gz), vhost-device-vsock and virtiofsd.
 *
 *   lifecycle (pc)      Create/Start -> Check at the returned address ->
 *                       Status ready -> Stop -> Wait returns -> Shutdown:
 *                       no file, mount or process left
 *   vmm_killed          kill -9 of the VMM: Wait returns 137, Stop and
 *                       Shutdown succeed, nothing lingers
 *   daemon_restart      kill -9 of the daemon with three running sandboxes,
 *                       one VMM killed meanwhile: after a restart two are
 *                       recovered and usable, the dead one is cleaned up;
 *                       then a clean exit (SIGTERM) and a second restart
 *   three_at_once       three Starts in flight together
 *   stop_while_starting Stop cancels a Start in flight; nothing is left
 *   client_gone         the client hangs up during Start: the start goes on
 *   bad_config          the daemon refuses it, naming file, line and key
 *   missing_kernel      Start fails clearly; nothing is left behind
 *   vmm_fails           QEMU exits at once: Start fails with its message,
 *                       the spawned daemons are gone
 *
 * Skips, with the reason, only when something is missing (root, QEMU,
 * vhost-device-vsock, virtiofsd, kernel, initramfs). KC_TEST_KEEP=1 keeps the
 * temp dirs; the daemon's log is printed when a test fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

#define WAIT_MS  120000
#define CHECK_MS 30000

static struct sbxd D;

static void setup(void)
{
	/* A killed daemon's VMs are re-parented to us: we reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "sbx");
}

static void teardown(void)
{
	if (D.root && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = sbxd_log(&D);
		fprintf(stderr, "--- vmm-sandboxer log ---\n%s\n", log);
	}
	sbxd_cleanup(&D);
}

TestSuite(sandboxer, .init = setup, .fini = teardown, .timeout = 240);

/* Start the daemon with a QEMU config, or skip saying what is missing. */
static void start_daemon(const char *machine, const char *extra)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *cfg = sbxd_qemu_config(machine, extra, &why);
	kc_err *e = NULL;

	if (!cfg)
		cr_skip_test("skipped: %s", why);
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));
}

#define OK(expr) SBXD_OK(&D, expr)

static char *sandbox_dir(const char *id)
{
	return xasprintf("%s/%s", D.dir, id);
}

/* Nothing of the sandbox is left: directory, mounts, processes. */
static void assert_gone(const char *id)
{
	_cleanup_free_ char *base = sandbox_dir(id);
	pid_t pids[16];
	size_t n;

	sbx_reap();
	cr_assert(access(base, F_OK) < 0 && errno == ENOENT, "%s still exists", base);
	cr_assert(!sbx_mounted_below(base), "something is still mounted below %s", base);
	n = sbx_procs_mentioning(base, pids, 16);
	cr_assert_eq(n, 0, "%zu process(es) still mention %s (first: pid %d)", n, base,
		     n ? pids[0] : 0);
}

static void assert_ready(const char *id, const char *address)
{
	struct sbx_status st = {0};
	OK(sbx_status(&D, id, &st, err));
	cr_assert_str_eq(st.state, "SANDBOX_READY");
	cr_assert_gt(st.pid, 0);
	cr_assert_str_eq(st.address, address);
	cr_assert_eq(st.version, 2);
	sbx_status_clear(&st);
	OK(sbx_agent_check(address, CHECK_MS, err));
}

static void start_one(const char *id, struct sbx_started *st)
{
	_cleanup_free_ char *want = NULL, *base = sandbox_dir(id);
	const char *ann[] = {"io.kuasar.vm.memory_mb", "256", NULL};

	OK(sbx_create(&D, id, ann, err));
	OK(sbx_start(&D, id, st, err));
	want = xasprintf("ttrpc+hvsock://%s/task.vsock:1024", base);
	cr_assert_str_eq(st->address, want);
	cr_assert_eq(st->version, 2);
	cr_assert_gt(st->pid, 0);
}

Test(sandboxer, lifecycle)
{
	struct sbx_started st = {0};
	struct sbx_status status = {0};
	struct sbx_wait w;
	_cleanup_free_ char *os = NULL, *arch = NULL, *base = NULL, *console = NULL;
	kc_err *e = NULL;

	start_daemon("pc", NULL);
	OK(sbx_platform(&D, &os, &arch, err));
	cr_assert_str_eq(os, "linux");
	cr_assert_str_eq(arch, "amd64");
	start_one("pod-a", &st);
	assert_ready("pod-a", st.address);
	base = sandbox_dir("pod-a");
	console = xasprintf("%s/console.log", base);
	cr_assert_eq(access(console, R_OK), 0, "no console log in the sandbox dir");

	/* Create of an existing id, Start of a running one: refused. */
	cr_assert_lt(sbx_create(&D, "pod-a", NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "AlreadyExists"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	cr_assert_lt(sbx_start(&D, "pod-a", NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "FailedPrecondition"), "%s", kc_err_msg(e));
	kc_err_freep(&e);

	OK(sbx_wait_begin(&D, "pod-a", &w, err));
	OK(sbx_stop(&D, "pod-a", 0, err));
	cr_assert(sbx_wait_end(&D, &w, WAIT_MS), "Wait did not return after Stop");
	cr_assert_eq(w.code, 0);
	/* A graceful stop: the agent powered the guest off, QEMU exited 0. */
	cr_assert_eq(w.exit_status, 0);
	cr_assert_gt(w.exited_at_s, 0);
	OK(sbx_status(&D, "pod-a", &status, err));
	cr_assert_str_eq(status.state, "SANDBOX_NOTREADY");
	cr_assert(status.exited);
	sbx_status_clear(&status);
	OK(sbx_stop(&D, "pod-a", 0, err)); /* idempotent */

	OK(sbx_shutdown(&D, "pod-a", err));
	assert_gone("pod-a");
	OK(sbx_stop(&D, "pod-a", 0, err)); /* NotFound is success */
	OK(sbx_shutdown(&D, "pod-a", err));
	cr_assert_lt(sbx_status(&D, "pod-a", &status, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "NotFound"), "%s", kc_err_msg(e));
	kc_err_free(e);
	sbx_started_clear(&st);
}

Test(sandboxer, vmm_killed)
{
	struct sbx_started st = {0};
	struct sbx_status status = {0};
	struct sbx_wait w;

	start_daemon("microvm", NULL);
	start_one("pod-k", &st);
	OK(sbx_wait_begin(&D, "pod-k", &w, err));
	cr_assert_eq(kill((pid_t)st.pid, SIGKILL), 0);
	cr_assert(sbx_wait_end(&D, &w, WAIT_MS), "Wait did not return after kill -9 of the VMM");
	cr_assert_eq(w.code, 0);
	cr_assert_eq(w.exit_status, 137);
	OK(sbx_status(&D, "pod-k", &status, err));
	cr_assert_str_eq(status.state, "SANDBOX_NOTREADY");
	sbx_status_clear(&status);
	OK(sbx_stop(&D, "pod-k", 0, err));
	OK(sbx_shutdown(&D, "pod-k", err));
	assert_gone("pod-k");
	sbx_started_clear(&st);
}

Test(sandboxer, daemon_restart)
{
	const char *ids[] = {"pod-r1", "pod-r2", "pod-r3"};
	struct sbx_started st[3] = {{0}};
	struct sbx_status status = {0};
	kc_err *e = NULL;

	start_daemon("microvm", NULL);
	for (int i = 0; i < 3; i++)
		start_one(ids[i], &st[i]);
	sbxd_kill(&D, SIGKILL);
	/* The VMs outlive the daemon... */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(kill((pid_t)st[i].pid, 0), 0, "%s's VMM died with the daemon", ids[i]);
	/* ...except one that dies while it is away. */
	cr_assert_eq(kill((pid_t)st[2].pid, SIGKILL), 0);
	sbx_reap();
	OK(sbxd_restart(&D, err));

	for (int i = 0; i < 2; i++)
		assert_ready(ids[i], st[i].address);
	cr_assert_lt(sbx_status(&D, ids[2], &status, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "NotFound"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	assert_gone(ids[2]);

	/* A clean exit (SIGTERM, as systemd stops it) leaves them running too. */
	sbxd_kill(&D, SIGTERM);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(kill((pid_t)st[i].pid, 0), 0, "%s's VMM died with the daemon", ids[i]);
	OK(sbxd_restart(&D, err));
	for (int i = 0; i < 2; i++)
		assert_ready(ids[i], st[i].address);

	/* The adopted VMs (no longer our children) stop and go like others. */
	for (int i = 0; i < 2; i++) {
		struct sbx_wait w;
		OK(sbx_wait_begin(&D, ids[i], &w, err));
		OK(sbx_stop(&D, ids[i], 0, err));
		cr_assert(sbx_wait_end(&D, &w, WAIT_MS), "Wait of a recovered sandbox");
		OK(sbx_shutdown(&D, ids[i], err));
		assert_gone(ids[i]);
		sbx_started_clear(&st[i]);
	}
	sbx_started_clear(&st[2]);
}

Test(sandboxer, three_at_once)
{
	const char *ids[] = {"pod-m1", "pod-m2", "pod-m3"};
	struct sbx_started st[3] = {{0}};

	start_daemon("microvm", NULL);
	for (int i = 0; i < 3; i++)
		OK(sbx_create(&D, ids[i], NULL, err));
	OK(sbx_start_many(&D, ids, 3, st, err));
	for (int i = 0; i < 3; i++)
		assert_ready(ids[i], st[i].address);
	/* Shutdown stops a running sandbox by itself. */
	for (int i = 0; i < 3; i++) {
		OK(sbx_shutdown(&D, ids[i], err));
		assert_gone(ids[i]);
		sbx_started_clear(&st[i]);
	}
}

Test(sandboxer, bad_config)
{
	_cleanup_free_ char *why = NULL, *log = NULL, *log2 = NULL;
	_cleanup_free_ char *cfg = sbxd_qemu_config("microvm", "bogus_key = 1\n", &why);
	struct stat sb;

	if (!cfg)
		cfg = xstrdup("[hypervisor]\ntype = \"qemu\"\nbogus_key = 1\n");
	cr_assert_eq(sbxd_run_expect_exit(&D, cfg, 10000, &log), 1, "%s", log);
	cr_assert(strstr(log, "config.toml:") && strstr(log, "bogus_key: unknown key"), "%s", log);
	/* Nothing was created: no socket, no sandbox directory. */
	cr_assert(stat(D.sock, &sb) < 0);
	cr_assert(stat(D.dir, &sb) < 0);

	free(cfg);
	cfg = xstrdup("[hypervisor]\nvcpus = \"two\"\n");
	cr_assert_eq(sbxd_run_expect_exit(&D, cfg, 10000, &log2), 1, "%s", log2);
	cr_assert(
	    strstr(log2, "config.toml:2: [hypervisor] vcpus: must be an integer, not a string"),
	    "%s", log2);
}

Test(sandboxer, missing_kernel)
{
	_cleanup_free_ char *why = NULL, *cfg = sbxd_qemu_config("microvm", NULL, &why);
	_cleanup_free_ char *bad = NULL, *base = NULL;
	struct sbx_status status = {0};
	kc_err *e = NULL;
	char *p;

	if (!cfg)
		cr_skip_test("skipped: %s", why);
	/* The same config with a kernel that does not exist. */
	p = strstr(cfg, "kernel_path = \"");
	cr_assert(p);
	bad = xasprintf("%.*skernel_path = \"/nonexistent/vmlinux\"%s", (int)(p - cfg), cfg,
			strchr(p + strlen("kernel_path = \""), '"') + 1);
	{
		kc_err *se = NULL;
		cr_assert_eq(sbxd_start(&D, bad, &se), 0, "%s", kc_err_msg(se));
	}
	OK(sbx_create(&D, "pod-nk", NULL, err));
	cr_assert_lt(sbx_start(&D, "pod-nk", NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "FailedPrecondition") &&
		      strstr(kc_err_msg(e), "/nonexistent/vmlinux") &&
		      strstr(kc_err_msg(e), "kernel_path") &&
		      strstr(kc_err_msg(e), "No such file or directory"),
		  "%s", kc_err_msg(e));
	kc_err_freep(&e);
	OK(sbx_status(&D, "pod-nk", &status, err));
	cr_assert_str_eq(status.state, "SANDBOX_NOTREADY");
	sbx_status_clear(&status);
	base = sandbox_dir("pod-nk");
	cr_assert_eq(sbx_procs_mentioning(base, (pid_t[4]){0}, 4), 0);
	OK(sbx_shutdown(&D, "pod-nk", err));
	assert_gone("pod-nk");
}

Test(sandboxer, vmm_fails)
{
	_cleanup_free_ char *why = NULL, *cfg = NULL, *base = NULL, *path = NULL;
	kc_err *e = NULL;
	pid_t pids[8];

	/* A "kernel" QEMU cannot load: it exits right away. */
	path = xasprintf("%s/not-a-kernel", D.root);
	cr_assert_eq(kc_write_file(path, "garbage\n", 8, 0, 0644, NULL), 0);
	cfg = sbxd_qemu_config("microvm", NULL, &why);
	if (!cfg)
		cr_skip_test("skipped: %s", why);
	{
		char *p = strstr(cfg, "kernel_path = \"");
		char *bad = xasprintf("%.*skernel_path = \"%s\"%s", (int)(p - cfg), cfg, path,
				      strchr(p + strlen("kernel_path = \""), '"') + 1);
		free(cfg);
		cfg = bad;
	}
	{
		kc_err *se = NULL;
		cr_assert_eq(sbxd_start(&D, cfg, &se), 0, "%s", kc_err_msg(se));
	}
	OK(sbx_create(&D, "pod-f", NULL, err));
	cr_assert_lt(sbx_start(&D, "pod-f", NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "vmm exited with status"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	/* Rolled back: virtiofsd and vhost-device-vsock are gone, sockets too. */
	base = sandbox_dir("pod-f");
	sbx_reap();
	cr_assert_eq(sbx_procs_mentioning(base, pids, 8), 0);
	{
		_cleanup_free_ char *s1 = xasprintf("%s/virtiofs.sock", base);
		_cleanup_free_ char *s2 = xasprintf("%s/vhu.sock", base);
		_cleanup_free_ char *s3 = xasprintf("%s/task.vsock", base);
		cr_assert(access(s1, F_OK) < 0 && access(s2, F_OK) < 0 && access(s3, F_OK) < 0);
	}
	OK(sbx_shutdown(&D, "pod-f", err));
	assert_gone("pod-f");
}

static void on_start_reply(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	int *code = ud;
	(void)p;
	(void)len;
	*code = st->code;
}

Test(sandboxer, stop_while_starting)
{
	Containerd__Services__Sandbox__V1__ControllerStartRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_REQUEST__INIT;
	struct sbx_status status = {0};
	struct sbx_wait w;
	int code = -1;
	kc_err *e = NULL;

	start_daemon("microvm", NULL);
	OK(sbx_create(&D, "pod-s", NULL, err));
	req.sandbox_id = "pod-s";
	cr_assert_eq(ttrpc_client_call(D.cli, "containerd.services.sandbox.v1.Controller", "Start",
				       &req.base, 0, on_start_reply, &code, &e),
		     0, "%s", kc_err_msg(e));
	OK(sbx_wait_begin(&D, "pod-s", &w, err));
	OK(sbx_stop(&D, "pod-s", 0, err));
	cr_assert(sbx_wait_end(&D, &w, WAIT_MS));
	cr_assert_eq(w.exit_status, 137);
	{
		bool done = false;
		for (int i = 0; i < 1000 && code < 0; i++)
			tu_loop_until(D.loop, &done, 10);
	}
	cr_assert_eq(code, TTRPC_CANCELLED, "Start answered %d", code);
	OK(sbx_status(&D, "pod-s", &status, err));
	cr_assert_str_eq(status.state, "SANDBOX_NOTREADY");
	sbx_status_clear(&status);
	OK(sbx_shutdown(&D, "pod-s", err));
	assert_gone("pod-s");
}

Test(sandboxer, client_gone)
{
	Containerd__Services__Sandbox__V1__ControllerStartRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_REQUEST__INIT;
	struct sbx_status status = {0};
	struct sbx_wait w;
	int code = -1;
	kc_err *e = NULL;

	start_daemon("microvm", NULL);
	OK(sbx_create(&D, "pod-g", NULL, err));
	req.sandbox_id = "pod-g";
	cr_assert_eq(ttrpc_client_call(D.cli, "containerd.services.sandbox.v1.Controller", "Start",
				       &req.base, 0, on_start_reply, &code, &e),
		     0, "%s", kc_err_msg(e));
	OK(sbx_wait_begin(&D, "pod-g", &w, err));
	{
		bool never = false;
		tu_loop_until(D.loop, &never, 20); /* the requests are on their way */
	}
	/* Reconnect: the old connection (with Start and Wait pending) is gone. */
	OK(sbxd_reconnect(&D, err));
	for (int i = 0; i < 600; i++) {
		OK(sbx_status(&D, "pod-g", &status, err));
		if (!strcmp(status.state, "SANDBOX_READY"))
			break;
		sbx_status_clear(&status);
		usleep(100 * 1000);
	}
	cr_assert_str_eq(status.state, "SANDBOX_READY");
	OK(sbx_agent_check(status.address, CHECK_MS, err));
	sbx_status_clear(&status);
	OK(sbx_shutdown(&D, "pod-g", err));
	assert_gone("pod-g");
}
