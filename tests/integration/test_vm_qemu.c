/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest end to end under QEMU (TCG on our machines), once with our kernel
 * (build/kernel/bzImage + build/initramfs.cpio.gz) and once with Debian's
 * cloud kernel (+ build/initramfs-cloud.cpio.gz, which carries its modules):
 *
 *   scripts/boot-qemu.sh --background --share SHARE   SHARE = guest /run/kuasar/state
 *   QMP: wait for the vsock device's DRIVER_OK         (tests/lib/qmpsync.h)
 *   dial DIR/agent.addr (hybrid vsock), Check
 *   busybox containers whose rootfs and bundles are in SHARE, stdio on vsock
 *   ports the host dials: exact output, exit codes 0 and 42, cgroup limits as
 *   the container sees them, exec into a running container, SIGKILL -> 137
 *   attacks from inside a container (see attacks()): vsock to CID 1 and to
 *   the VM's own CID (the API, another process's stdio port) fails, the
 *   debug console is off, and the engine's defences hold in the guest kernel
 *   Shutdown(now=true): the guest powers off, QEMU exits 0, and no process
 *   naming DIR (QEMU, its supervisor, vhost-device-vsock, virtiofsd) is left.
 *
 * Skips, with the reason, only when something is missing: root, QEMU, the
 * vsock or virtio-fs daemon, a kernel or initramfs (make kernel or make
 * initramfs-cloud failed), static busybox. A watchdog child stops the VM if
 * this process dies early (a failed assertion, Criterion's timeout).
 *
 * KC_TOP: the source tree (default: the current directory). KC_BUILD: where
 * the images are (default: boot-qemu.sh's, build/). KC_VM_KEEP=1 keeps DIR
 * and SHARE. The console log is printed when a test fails.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "qmpsync.h"
#include "testutil.h"
#include "util.h"
#include "vm.h"

#define BOOT_TIMEOUT_S 90
#define STOP_TIMEOUT_S 30
#define FIRST_IO_PORT  2000
#define MAX_PROCS      16

struct vm V = {.watch_fd = -1};

static double since(uint64_t t)
{
	return (double)(kc_now_ns() - t) / 1e9;
}

/* Run argv with stdout and stderr in *out (NUL-terminated, malloc'd). Returns
 * the exit status, or -1 if it did not exit normally. */
static int run_capture(const char *const *argv, char **out)
{
	int p[2], st;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	*out = io_read_all(p[0], 120000, NULL);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool executable(const char *cmd)
{
	_cleanup_free_ char *path = NULL;
	const char *dirs;

	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	dirs = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
	path = xstrdup(dirs);
	for (char *save = NULL, *d = strtok_r(path, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *f = xasprintf("%s/%s", d, cmd);
		if (access(f, X_OK) == 0)
			return true;
	}
	return false;
}

/* Complete boot-qemu.sh's argv from argv[n] on: the kernel and initramfs of
 * $KC_BUILD (make's BUILD), else the script's defaults (build/). */
static void image_args(const char **argv, size_t n, bool cloud)
{
	const char *build = getenv("KC_BUILD");

	kc_freep(&V.kernel);
	kc_freep(&V.initrd);
	if (cloud)
		argv[n++] = "--cloud-kernel";
	if (build || V.loopback) {
		if (!cloud) {
			argv[n++] = "--kernel";
			argv[n++] = V.kernel = xasprintf("%s/kernel/bzImage", build);
		}
		argv[n++] = "--initrd";
		argv[n++] = V.initrd = xasprintf("%s/initramfs%s.cpio.gz", build ? build : "build",
						 V.loopback ? "-cloud-vsockloop"
						 : cloud    ? "-cloud"
							    : "");
	}
	argv[n] = NULL;
}

/* Skip unless everything boot-qemu.sh would run exists: its --dry-run prints
 * each command (one argument per line, an empty line between commands). */
static void check_prerequisites(bool cloud)
{
	/* Placeholders: a dry run creates nothing. */
	const char *argv[16] = {"bash",    V.script,    "--dir",    "/kc-dir",
				"--share", "/kc-share", "--dry-run"};
	const char *busybox = getenv("BUSYBOX_STATIC") ? getenv("BUSYBOX_STATIC") : "/bin/busybox";
	_cleanup_free_ char *out = NULL;
	const char *hint = cloud ? "make initramfs-cloud" : "make kernel or make initramfs";
	const char *prev = "";
	char *next;
	int rc;

	image_args(argv, 7, cloud);
	rc = run_capture(argv, &out);

	if (rc != 0 && strstr(out, "no Debian cloud kernel"))
		cr_skip_test("skipped: %s", out);
	cr_assert_eq(rc, 0, "boot-qemu.sh --dry-run: %s", out);
	for (char *l = out; l; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		if (!*prev && *l && !executable(l))
			cr_skip_test("skipped: `%s` is missing (scripts/setup-deps.sh vm)", l);
		if ((!strcmp(prev, "-kernel") || !strcmp(prev, "-initrd")) && access(l, R_OK) < 0)
			cr_skip_test("skipped: no %s (%s failed?)", l, hint);
		prev = l;
	}
	if (access(busybox, X_OK) < 0)
		cr_skip_test("skipped: no static busybox %s (package busybox-static)", busybox);
}

/* A child that runs `boot-qemu.sh --stop DIR` once this process closes
 * watch_fd or dies, however it dies. */
static void start_watchdog(void)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	V.watchdog = fork();
	cr_assert_geq(V.watchdog, 0);
	if (V.watchdog == 0) {
		char c;
		int null = open("/dev/null", O_RDWR);
		close(p[1]);
		dup2(null, 0);
		dup2(null, 1);
		while (read(p[0], &c, 1) != 0 && errno == EINTR)
			;
		execlp("bash", "bash", V.script, "--stop", V.dir, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	V.watch_fd = p[1];
}

static void stop_vm(void)
{
	if (V.watch_fd >= 0) {
		close(V.watch_fd);
		V.watch_fd = -1;
	}
	if (V.watchdog > 0) {
		while (waitpid(V.watchdog, NULL, 0) < 0 && errno == EINTR)
			;
		V.watchdog = 0;
	}
}

static void dump_file(const char *dir, const char *name, size_t tail)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *s = NULL;
	size_t len = 0;

	if (kc_read_file(p, 4 << 20, &s, &len, NULL) < 0)
		return;
	fprintf(stderr, "--- %s (last %zu bytes) ---\n%s\n", p, tail,
		len > tail ? s + len - tail : s);
}

static void teardown(void)
{
	ttrpc_client_free(V.a.cli);
	kc_loop_free(V.a.loop);
	free(V.a.addr);
	memset(&V.a, 0, sizeof(V.a));
	kc_qmp_close(V.qmp);
	V.qmp = NULL;
	stop_vm();
	if (!V.passed && V.dir) {
		dump_file(V.dir, "console.log", 6000);
		dump_file(V.dir, "supervisor.log", 2000);
	}
	if (getenv("KC_VM_KEEP")) {
		fprintf(stderr, "kept %s and %s\n", V.dir, V.share);
	} else {
		if (V.dir)
			tu_rmtree(V.dir);
		if (V.share)
			tu_rmtree(V.share);
	}
	free(V.script);
	free(V.dir);
	free(V.share);
	free(V.io_base);
	free(V.kernel);
	free(V.initrd);
	V = (struct vm){.watch_fd = -1};
}

TestSuite(vm, .fini = teardown, .timeout = 240);

static char *read_line_file(const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", V.dir, name);
	char *s = NULL;
	kc_err *e = NULL;

	cr_assert_eq(kc_read_file(p, 4096, &s, NULL, &e), 0, "%s", kc_err_msg(e));
	s[strcspn(s, "\n")] = '\0';
	return s;
}

/* want_err: Check must fail with this text (an init step that failed). */
static void boot(bool cloud, const char *extra_append, const char *want_err)
{
	const char *argv[16] = {"bash",
				V.script,
				"--background",
				"--dir",
				V.dir,
				"--share",
				V.share,
				"--extra-append",
				extra_append ? extra_append : "task.log_level=debug"};
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *qmp_sock = xasprintf("%s/qmp.sock", V.dir);
	_cleanup_free_ char *addr = NULL;
	uint64_t deadline;
	kc_err *e = NULL;
	char *colon;
	int rc;

	image_args(argv, 9, cloud);
	start_watchdog();
	V.t0 = kc_now_ns();
	deadline = V.t0 + BOOT_TIMEOUT_S * KC_NSEC_PER_SEC;
	rc = run_capture(argv, &out);
	cr_assert_eq(rc, 0, "boot-qemu.sh --background: %s", out);
	cr_assert_eq(kc_qmp_connect(qmp_sock, deadline, &V.qmp, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_qmp_wait_vsock(V.qmp, deadline, &e), 0, "%s", kc_err_msg(e));
	fprintf(stderr, "vm[%s]: vsock driver ready after %.2f s\n", V.name, since(V.t0));

	addr = read_line_file("agent.addr");
	V.hybrid = kc_has_prefix(addr, "hvsock://");
	colon = strrchr(addr, ':');
	cr_assert(colon && !strcmp(colon, ":1024"), "agent.addr %s", addr);
	V.io_base = xstrndup(addr, (size_t)(colon + 1 - addr));
	cr_assert_eq(agentctl_connect_until(&V.a, addr, deadline, &e), 0, "dial %s: %s", addr,
		     kc_err_msg(e));
	/* agentctl_bundle writes <dir>/<id>/config.json: the share. */
	V.a.dir = V.share;
	if (want_err) {
		/* PID 1 kept serving after the failed step and says what it was. */
		cr_assert_lt(sandbox_check(&V.a, &e), 0, "Check should report the init error");
		cr_assert(strstr(e->msg, "FailedPrecondition") && strstr(e->msg, want_err),
			  "Check: %s", e->msg);
		kc_err_free(e);
		return;
	}
	cr_assert_eq(sandbox_check(&V.a, &e), 0, "Check: %s", kc_err_msg(e));
	fprintf(stderr, "vm[%s]: Check answered after %.2f s\n", V.name, since(V.t0));
}

char *io_uri(void)
{
	return xasprintf("%s%u", V.io_base, V.next_port++);
}

const struct bundle_opts *with_rootfs(struct bundle_opts *o)
{
	o->rootfs = GUEST_SHARE "/rootfs";
	return o;
}

/* Create id in the guest (bundle in the share) with stdout/stderr on fresh
 * vsock ports, dial both, start it. */
static void create_start(const char *id, struct bundle_opts *o, int *fo, int *fe)
{
	_cleanup_free_ char *host_bundle = agentctl_bundle(&V.a, id, with_rootfs(o));
	_cleanup_free_ char *bundle = xasprintf(GUEST_SHARE "/%s", id);
	_cleanup_free_ char *sout = io_uri();
	_cleanup_free_ char *serr = io_uri();
	kc_err *e = NULL;
	uint32_t pid = 0;

	cr_assert_eq(task_create(&V.a, id, bundle, false, NULL, sout, serr, &pid, &e), 0,
		     "create %s: %s", id, kc_err_msg(e));
	cr_assert_gt(pid, 0);
	*fo = io_dial(sout, &e);
	cr_assert_geq(*fo, 0, "dial %s: %s", sout, kc_err_msg(e));
	*fe = io_dial(serr, &e);
	cr_assert_geq(*fe, 0, "dial %s: %s", serr, kc_err_msg(e));
	cr_assert_eq(task_start(&V.a, id, NULL, NULL, &e), 0, "start %s: %s", id, kc_err_msg(e));
}

/* Run a container to completion: exit status, stdout, stderr. */
uint32_t run(const char *id, struct bundle_opts *o, char **out, char **err_out)
{
	kc_err *e = NULL;
	uint32_t status = 999, dstatus = 999;
	int fo, fe;

	create_start(id, o, &fo, &fe);
	cr_assert_eq(task_wait(&V.a, id, NULL, &status, &e), 0, "wait %s: %s", id, kc_err_msg(e));
	*out = io_read_all(fo, IO_TIMEOUT_MS, NULL);
	*err_out = io_read_all(fe, IO_TIMEOUT_MS, NULL);
	close(fo);
	close(fe);
	cr_assert_eq(task_delete(&V.a, id, NULL, &dstatus, &e), 0, "delete %s: %s", id,
		     kc_err_msg(e));
	cr_assert_eq(dstatus, status);
	return status;
}

static void containers(void)
{
	kc_err *e = NULL;

	{
		const char *args[] = {"/bin/sh", "-c",
				      "echo hello; echo oops >&2; printf 'no newline'", NULL};
		struct bundle_opts o = {.args = args};
		_cleanup_free_ char *out = NULL, *err = NULL;
		cr_assert_eq(run("c-out", &o, &out, &err), 0);
		cr_assert_str_eq(out, "hello\nno newline");
		cr_assert_str_eq(err, "oops\n");
	}
	{
		const char *args[] = {"/bin/sh", "-c", "echo bye; exit 42", NULL};
		struct bundle_opts o = {.args = args};
		_cleanup_free_ char *out = NULL, *err = NULL;
		cr_assert_eq(run("c42", &o, &out, &err), 42);
		cr_assert_str_eq(out, "bye\n");
		cr_assert_str_eq(err, "");
	}
	{
		/* The limits as the container itself sees them, through its own
		 * cgroup namespace (the host cannot look: it is not the guest). */
		const char *args[] = {"/bin/cat", "/sys/fs/cgroup/memory.max",
				      "/sys/fs/cgroup/pids.max", NULL};
		struct bundle_opts o = {
		    .args = args,
		    .cgroupns = true,
		    .extra_mounts = "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\","
				    "\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\","
				    "\"nodev\",\"relatime\",\"ro\"]}",
		    .extra_linux = "\"resources\":{\"memory\":{\"limit\":67108864},"
				   "\"pids\":{\"limit\":20}}",
		};
		_cleanup_free_ char *out = NULL, *err = NULL;
		cr_assert_eq(run("c-cgroup", &o, &out, &err), 0, "stderr: %s", err);
		cr_assert_str_eq(out, "67108864\n20\n");
	}
	{
		const char *args[] = {"/bin/sh", "-c", "echo started; exec sleep 1000", NULL};
		const char *xargs[] = {
		    "/bin/sh", "-c", "echo from-exec $(hostname) $(cat /run-marker); exit 3", NULL};
		struct bundle_opts o = {.args = args, .hostname = "vm-exec"};
		struct bundle_opts xo = {.args = xargs};
		_cleanup_free_ char *pj = NULL;
		_cleanup_free_ char *xout = io_uri();
		_cleanup_free_ char *marker = xasprintf("%s/rootfs/run-marker", V.share);
		_cleanup_free_ char *out = NULL, *xo_text = NULL, *rest = NULL;
		uint32_t st = 999, xpid = 0;
		int fo, fe, fx;
		char line[32];
		ssize_t n;

		/* Written on the host after boot: the guest reads it live over
		 * virtio-fs. */
		cr_assert_eq(kc_write_file(marker, "shared\n", 7, 0, 0644, &e), 0, "%s",
			     kc_err_msg(e));
		pj = agentctl_process_json(&xo);
		create_start("c-exec", &o, &fo, &fe);
		/* It is running once it has said so. */
		for (size_t got = 0; got < strlen("started\n"); got += (size_t)n) {
			struct pollfd p = {.fd = fo, .events = POLLIN};
			cr_assert_eq(poll(&p, 1, IO_TIMEOUT_MS), 1, "no output from c-exec");
			n = read(fo, line + got, strlen("started\n") - got);
			cr_assert_gt(n, 0, "c-exec's stdout: %s", n ? strerror(errno) : "EOF");
		}
		cr_assert(!memcmp(line, "started\n", strlen("started\n")));
		cr_assert_eq(task_exec(&V.a, "c-exec", "x1", false, NULL, xout, NULL, pj, &e), 0,
			     "exec: %s", kc_err_msg(e));
		/* An exec's stdio listens from its Start (as in Kuasar's vmm-task);
		 * the pipe holds the output until the host connects. */
		cr_assert_eq(task_start(&V.a, "c-exec", "x1", &xpid, &e), 0, "start exec: %s",
			     kc_err_msg(e));
		cr_assert_gt(xpid, 0);
		fx = io_dial(xout, &e);
		cr_assert_geq(fx, 0, "dial %s: %s", xout, kc_err_msg(e));
		cr_assert_eq(task_wait(&V.a, "c-exec", "x1", &st, &e), 0, "%s", kc_err_msg(e));
		cr_assert_eq(st, 3);
		xo_text = io_read_all(fx, IO_TIMEOUT_MS, NULL);
		close(fx);
		cr_assert_str_eq(xo_text, "from-exec vm-exec shared\n");
		cr_assert_eq(task_delete(&V.a, "c-exec", "x1", &st, &e), 0, "%s", kc_err_msg(e));
		cr_assert_eq(st, 3);

		cr_assert_eq(task_kill(&V.a, "c-exec", NULL, SIGKILL, false, &e), 0, "kill: %s",
			     kc_err_msg(e));
		cr_assert_eq(task_wait(&V.a, "c-exec", NULL, &st, &e), 0, "%s", kc_err_msg(e));
		cr_assert_eq(st, 137);
		rest = io_read_all(fo, IO_TIMEOUT_MS, NULL);
		cr_assert_str_eq(rest, "");
		out = io_read_all(fe, IO_TIMEOUT_MS, NULL);
		cr_assert_str_eq(out, "");
		close(fo);
		close(fe);
		cr_assert_eq(task_delete(&V.a, "c-exec", NULL, &st, &e), 0, "delete: %s",
			     kc_err_msg(e));
		cr_assert_eq(st, 137);
	}
}

/* Processes whose command line mentions needle (not this one). */
static size_t procs_naming(const char *needle, pid_t *pids, char (*names)[64], size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	cr_assert(d);
	while ((de = readdir(d)) && n < max) {
		_cleanup_free_ char *p = NULL;
		_cleanup_free_ char *cmd = NULL;
		size_t len = 0;
		int64_t pid;

		if (kc_parse_i64(de->d_name, 1, INT32_MAX, &pid) < 0 || pid == getpid())
			continue;
		p = xasprintf("/proc/%s/cmdline", de->d_name);
		if (kc_read_file(p, 1 << 16, &cmd, &len, NULL) < 0 || len == 0)
			continue;
		for (size_t i = 0; i + 1 < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		if (!strstr(cmd, needle))
			continue;
		pids[n] = (pid_t)pid;
		cmd[strcspn(cmd, " ")] = '\0';
		snprintf(names[n], sizeof(names[n]), "%s",
			 strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd);
		n++;
	}
	closedir(d);
	return n;
}

static bool has_name(char (*names)[64], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

static bool has_pid(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Wait for a process that is not our child to end. */
static bool wait_gone(pid_t pid, uint64_t deadline)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool gone;

	if (fd < 0)
		return errno == ESRCH;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = kc_now_ns();
		if (now >= deadline)
			break;
		if (poll(&p, 1, (int)((deadline - now) / KC_NSEC_PER_MSEC) + 1) > 0)
			break;
	}
	gone = poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 0) > 0;
	close(fd);
	return gone;
}

static void shutdown_vm(void)
{
	_cleanup_free_ char *qpid_s = read_line_file("qemu.pid");
	_cleanup_free_ char *code = NULL;
	pid_t pids[MAX_PROCS];
	char names[MAX_PROCS][64];
	/* QEMU, the supervisor, vhost-device-vsock, virtiofsd (twice: its
	 * sandbox child). */
	size_t n = procs_naming(V.dir, pids, names, MAX_PROCS);
	uint64_t deadline = kc_now_ns() + STOP_TIMEOUT_S * KC_NSEC_PER_SEC;
	const char *reason, *dangling = NULL;
	int64_t qpid = 0;
	kc_err *e = NULL;
	json_t *ev;

	cr_assert_eq(kc_parse_i64(qpid_s, 1, INT32_MAX, &qpid), 0, "qemu.pid: %s", qpid_s);
	cr_assert(has_pid(pids, n, (pid_t)qpid), "QEMU (%lld) not found", (long long)qpid);
	cr_assert(has_name(names, n, "virtiofsd"), "no virtiofsd naming %s", V.dir);
	if (V.hybrid)
		cr_assert(has_name(names, n, "vhost-device-vsock"), "no vhost-device-vsock");

	cr_assert_eq(task_shutdown(&V.a, true, &e), 0, "Shutdown: %s", kc_err_msg(e));
	/* The guest powered itself off (not a kill, not a panic: panic=-1 and
	 * -no-reboot would end QEMU too, with reason guest-reset). */
	ev = kc_qmp_wait_event(V.qmp, "SHUTDOWN", deadline, &e);
	cr_assert(ev, "%s", kc_err_msg(e));
	reason = json_string_value(json_object_get(json_object_get(ev, "data"), "reason"));
	cr_assert(json_is_true(json_object_get(json_object_get(ev, "data"), "guest")));
	cr_assert_str_eq(reason ? reason : "", "guest-shutdown");
	json_decref(ev);
	cr_assert(wait_gone((pid_t)qpid, deadline), "QEMU (%lld) still running", (long long)qpid);
	for (size_t i = 0; i < n; i++)
		if (!wait_gone(pids[i], deadline))
			dangling = names[i];
	cr_assert_null(dangling, "%s still running after QEMU exited", dangling);
	code = read_line_file("qemu.exit");
	cr_assert_str_eq(code, "0", "QEMU's exit status");
	fprintf(stderr, "vm[%s]: powered off, %zu processes gone (", V.name, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i ? " " : "", names[i]);
	fprintf(stderr, ") after %.2f s\n", since(V.t0));
}

static void run_vm(const char *name, bool cloud, const char *extra_append, const char *want_err)
{
	kc_err *e = NULL;
	_cleanup_free_ char *rootfs = NULL;
	const char *top = getenv("KC_TOP") ? getenv("KC_TOP") : ".";

	V.name = name;
	V.next_port = FIRST_IO_PORT;
	V.script = xasprintf("%s/scripts/boot-qemu.sh", top);
	cr_assert_eq(access(V.script, R_OK), 0, "%s: %s (set KC_TOP)", V.script, strerror(errno));
	/* Before anything is created: a skip does not run the .fini. */
	if (!tu_is_root())
		cr_skip_test("skipped: needs root (virtiofsd, containers in the guest as root)");
	check_prerequisites(cloud);
	V.dir = tu_tmpdir("vm");
	V.share = tu_tmpdir("vmshare");
	rootfs = xasprintf("%s/rootfs", V.share);
	cr_assert_eq(agentctl_busybox_rootfs_at(rootfs, &e), 0, "%s", kc_err_msg(e));

	boot(cloud, extra_append, want_err);
	if (V.body) {
		V.body();
	} else if (!want_err) {
		if (!V.loopback)
			containers();
		vm_attacks(!cloud);
		if (!cloud)
			vm_load();
	}
	shutdown_vm();
	V.passed = true;
}

Test(vm, our_kernel)
{
	run_vm("ours", false, NULL, NULL);
}

/* A failed PID-1 init step does not take the agent down: Check names it. */
Test(vm, init_error_reported_by_check)
{
	run_vm("init-error", false, "task.sharefs_type=bogus", "task.sharefs_type=bogus");
}

/* Debian's cloud kernel with vsock_loopback loaded (a test-only initramfs):
 * containers reach the agent's sockets, and the agent itself refuses them. */
Test(vm, agent_refuses_container_peers)
{
	V.loopback = true;
	run_vm("loopback", true, NULL, NULL);
}

/* Disks hot-plugged over QMP (vm_block.c). */
Test(vm, block_devices)
{
	const char *tool = vm_block_missing_tool();
	if (tool)
		cr_skip_test("skipped: `%s` is missing (scripts/setup-deps.sh test: e2fsprogs, "
			     "xfsprogs, erofs-utils)",
			     tool);
	V.body = vm_block;
	run_vm("block", false, NULL, NULL);
}

Test(vm, debian_cloud_kernel)
{
	run_vm("cloud", true, NULL, NULL);
}
