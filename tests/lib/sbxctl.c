/* SPDX-License-Identifier: Apache-2.0 */
#include "sbxctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "endpoint.h"
#include "kuasar/sandbox.pb-c.h"
#include "testutil.h"
#include "util.h"
#include "agent_dial.h"
#include "mountopt.h"
#include "rpc_call.h"

#define CALL_MS      30000
#define START_MS     180000
#define STOP_MS      120000
#define DAEMON_UP_MS 90000

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ config */

/* A value from $KC_CACHE/env.mk (written by scripts/setup-deps.sh). */
static char *envmk(const char *key)
{
	const char *cache = getenv("KC_CACHE");
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_free_ char *prefix = xasprintf("%s := ", key);

	if (getenv(key) && *getenv(key))
		return xstrdup(getenv(key));
	if (cache)
		path = xasprintf("%s/env.mk", cache);
	else if (getenv("XDG_CACHE_HOME"))
		path = xasprintf("%s/kuasar-c/env.mk", getenv("XDG_CACHE_HOME"));
	else
		path = xasprintf("%s/.cache/kuasar-c/env.mk",
				 getenv("HOME") ? getenv("HOME") : "/root");
	if (kc_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return NULL;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (kc_has_prefix(line, prefix) && line[strlen(prefix)])
			return xstrdup(line + strlen(prefix));
	return NULL;
}

static char *which(const char *name)
{
	const char *dirs[] = {"/usr/bin", "/usr/local/bin", "/bin", NULL};
	for (int i = 0; dirs[i]; i++) {
		char *p = xasprintf("%s/%s", dirs[i], name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

char *sbxd_qemu_config(const char *machine, const char *extra, char **why)
{
	const char *build = getenv("KC_BUILD") ? getenv("KC_BUILD") : "build";
	bool mvm = !strcmp(machine, "microvm");
	_cleanup_free_ char *qemu = which("qemu-system-x86_64");
	_cleanup_free_ char *vsockd = envmk("VHOST_DEVICE_VSOCK");
	_cleanup_free_ char *vfs = envmk("VIRTIOFSD");
	_cleanup_free_ char *kernel = NULL, *initrd = NULL;
	char rk[4096], ri[4096];

	*why = NULL;
	kernel = xasprintf("%s/kernel/%s", build, mvm ? "vmlinux" : "bzImage");
	initrd = xasprintf("%s/initramfs.cpio.gz", build);
	if (!vfs && access("/usr/lib/qemu/virtiofsd", X_OK) == 0)
		vfs = xstrdup("/usr/lib/qemu/virtiofsd");
	if (!tu_is_root())
		*why = xstrdup("needs root (virtiofsd)");
	else if (!qemu)
		*why = xstrdup("no qemu-system-x86_64 (scripts/setup-deps.sh vm)");
	else if (!vsockd || access(vsockd, X_OK) < 0)
		*why = xstrdup("no vhost-device-vsock (scripts/setup-deps.sh vm)");
	else if (!vfs || access(vfs, X_OK) < 0)
		*why = xstrdup("no virtiofsd (scripts/setup-deps.sh vm)");
	else if (!realpath(kernel, rk))
		*why = xasprintf("no kernel %s (make kernel)", kernel);
	else if (!realpath(initrd, ri))
		*why = xasprintf("no initramfs %s (make initramfs)", initrd);
	if (*why)
		return NULL;
	return xasprintf("# written by tests/lib/sbxctl.c\n"
			 "[sandbox]\nlog_level = \"debug\"\nstart_timeout_secs = 150\n"
			 "stop_timeout_secs = 20\n\n"
			 "[hypervisor]\ntype = \"qemu\"\npath = \"%s\"\nvcpus = 1\n"
			 "memory_in_mb = 256\nkernel_path = \"%s\"\ninitrd_path = \"%s\"\n\n"
			 "[hypervisor.virtiofsd]\nflavour = \"c\"\npath = \"%s\"\n\n"
			 "[hypervisor.qemu]\nmachine = \"%s\"\naccel = \"auto\"\n"
			 "vhost_device_vsock = \"%s\"\n%s",
			 qemu, rk, ri, vfs, machine, vsockd, extra ? extra : "");
}

/* ------------------------------------------------------------------ daemon */

void sbxd_init(struct sbxd *d, const char *tag)
{
	memset(d, 0, sizeof(*d));
	d->bin = getenv("KC_SANDBOXER") ? xstrdup(getenv("KC_SANDBOXER")) : tu_bin("vmm-sandboxer");
	d->root = tu_tmpdir(tag);
	d->dir = xasprintf("%s/run", d->root);
	d->sock = xasprintf("%s/sbx.sock", d->root);
	d->config = xasprintf("%s/config.toml", d->root);
	d->log = xasprintf("%s/sandboxer.log", d->root);
}

static pid_t spawn_daemon(struct sbxd *d)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (d->events_addr)
			execl(d->bin, d->bin, "--listen", d->sock, "--dir", d->dir, "--config",
			      d->config, "--log-level", "debug", "--events-address", d->events_addr,
			      (char *)NULL);
		else
			execl(d->bin, d->bin, "--listen", d->sock, "--dir", d->dir, "--config",
			      d->config, "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	return pid;
}

char *sbxd_log(const struct sbxd *d)
{
	char *text = NULL;
	if (kc_read_file(d->log, 16 << 20, &text, NULL, NULL) < 0)
		return xstrdup("(no log)");
	return text;
}

static int connect_daemon(struct sbxd *d, kc_err **err)
{
	uint64_t deadline = kc_now_ns() + (uint64_t)DAEMON_UP_MS * KC_NSEC_PER_MSEC;
	_cleanup_free_ char *addr = xasprintf("unix://%s", d->sock);
	struct kc_endpoint ep;
	int fd = -1;

	if (kc_endpoint_parse(addr, &ep, err) < 0)
		return kc_err_retp(err);
	for (;;) {
		int st;
		kc_err_freep(err);
		fd = kc_dial_once(&ep, deadline, err);
		if (fd >= 0)
			break;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			_cleanup_free_ char *log = sbxd_log(d);
			d->pid = 0;
			return kc_err_set(err, ECHILD, "vmm-sandboxer exited (status %d):\n%s", st,
					  log);
		}
		if (kc_now_ns() >= deadline) {
			_cleanup_free_ char *log = sbxd_log(d);
			return kc_err_set(err, ETIMEDOUT, "vmm-sandboxer not serving:\n%s", log);
		}
		sleep_ms(10);
	}
	kc_err_freep(err);
	if (!d->loop && kc_loop_new(&d->loop, err) < 0)
		return kc_err_retp(err);
	return ttrpc_client_new(d->loop, fd, &d->cli, err);
}

int sbxd_start(struct sbxd *d, const char *config_text, kc_err **err)
{
	if (kc_write_file(d->config, config_text, strlen(config_text), 0, 0644, err) < 0)
		return kc_err_retp(err);
	return sbxd_restart(d, err);
}

int sbxd_restart(struct sbxd *d, kc_err **err)
{
	if (d->cli) {
		ttrpc_client_free(d->cli);
		d->cli = NULL;
	}
	d->pid = spawn_daemon(d);
	if (d->pid < 0)
		return kc_err_sys(err, "fork");
	return connect_daemon(d, err);
}

int sbxd_reconnect(struct sbxd *d, kc_err **err)
{
	if (d->cli) {
		ttrpc_client_free(d->cli);
		d->cli = NULL;
	}
	return connect_daemon(d, err);
}

int sbxd_run_expect_exit(struct sbxd *d, const char *config_text, int timeout_ms, char **log)
{
	kc_err *e = NULL;
	uint64_t deadline = kc_now_ns() + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC;
	int st = -1;

	if (kc_write_file(d->config, config_text, strlen(config_text), 0, 0644, &e) < 0) {
		kc_err_free(e);
		return -1;
	}
	d->pid = spawn_daemon(d);
	while (kc_now_ns() < deadline) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			break;
		}
		sleep_ms(10);
	}
	*log = sbxd_log(d);
	if (d->pid) {
		sbxd_kill(d, SIGKILL);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void sbxd_kill(struct sbxd *d, int sig)
{
	if (d->cli) {
		ttrpc_client_free(d->cli);
		d->cli = NULL;
	}
	if (d->pid > 0) {
		kill(d->pid, sig);
		while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
			;
		d->pid = 0;
	}
}

void sbxd_cleanup(struct sbxd *d)
{
	if (!d->root)
		return;
	/* A clean exit first (sanitizer builds report leaks at exit). */
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 500 && waitpid(d->pid, NULL, WNOHANG) == 0; i++)
			sleep_ms(10);
		if (kill(d->pid, 0) < 0 && errno == ESRCH)
			d->pid = 0;
	}
	sbxd_kill(d, SIGKILL);
	/* The VMs and daemons of every sandbox it left. */
	for (int round = 0; round < 100; round++) {
		pid_t pids[64];
		size_t n = sbx_procs_mentioning(d->root, pids, 64);
		sbx_reap();
		if (!n)
			break;
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		sleep_ms(20);
	}
	sbx_reap();
	if (!getenv("KC_TEST_KEEP")) {
		/* A failed test can leave a sandbox's share mounts (shared/ is a
		 * read-only bind): unmount before removing. */
		(void)kc_umount_tree(d->root, NULL);
		tu_rmtree(d->root);
	}
	kc_loop_free(d->loop);
	free(d->bin);
	free(d->root);
	free(d->dir);
	free(d->sock);
	free(d->config);
	free(d->log);
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------ calls */

/* The product's typed client (lib/rpc_call.h), as the shim uses it. */
#define CTRL (&containerd__services__sandbox__v1__controller__descriptor)
#define CALL(d, method, req, resp, ms, err)                                                        \
	kc_rpc_call_sync((d)->cli, CTRL, method, &(req)->base, (uint64_t)(ms)*KC_NSEC_PER_MSEC,    \
			 (ProtobufCMessage **)(resp), err)

int sbx_create(struct sbxd *d, const char *id, const char *const *annotations, kc_err **err)
{
	return sbx_create_netns(d, id, annotations, "", err);
}

int sbx_create_netns(struct sbxd *d, const char *id, const char *const *annotations,
		     const char *netns, kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerCreateRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_CREATE_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerCreateRequest__AnnotationsEntry e[8], *pe[8];
	size_t n = 0;

	req.sandbox_id = (char *)id;
	for (; annotations && annotations[2 * n] && n < 8; n++) {
		containerd__services__sandbox__v1__controller_create_request__annotations_entry__init(
		    &e[n]);
		e[n].key = (char *)annotations[2 * n];
		e[n].value = (char *)annotations[2 * n + 1];
		pe[n] = &e[n];
	}
	req.n_annotations = n;
	req.annotations = pe;
	req.netns_path = (char *)netns;
	return CALL(d, "Create", &req, NULL, CALL_MS, err);
}

void sbx_started_clear(struct sbx_started *s)
{
	free(s->address);
	memset(s, 0, sizeof(*s));
}

static void take_started(struct sbx_started *ret,
			 const Containerd__Services__Sandbox__V1__ControllerStartResponse *r)
{
	ret->pid = r->pid;
	ret->address = xstrdup(r->address);
	ret->version = r->version;
}

int sbx_start(struct sbxd *d, const char *id, struct sbx_started *ret, kc_err **err)
{
	return sbx_start_as(d, id, "", ret, err);
}

int sbx_start_as(struct sbxd *d, const char *id, const char *sandboxer, struct sbx_started *ret,
		 kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerStartRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerStartResponse *resp = NULL;
	int r;

	req.sandbox_id = (char *)id;
	req.sandboxer = (char *)sandboxer;
	r = CALL(d, "Start", &req, &resp, START_MS, err);
	if (r < 0)
		return r;
	if (ret)
		take_started(ret, resp);
	containerd__services__sandbox__v1__controller_start_response__free_unpacked(resp, NULL);
	return 0;
}

void sbx_status_clear(struct sbx_status *s)
{
	free(s->state);
	free(s->address);
	memset(s, 0, sizeof(*s));
}

int sbx_status(struct sbxd *d, const char *id, struct sbx_status *ret, kc_err **err)
{
	return sbx_status_as(d, id, "", ret, err);
}

int sbx_status_as(struct sbxd *d, const char *id, const char *sandboxer, struct sbx_status *ret,
		  kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerStatusRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerStatusResponse *resp = NULL;
	int r;

	req.sandbox_id = (char *)id;
	req.sandboxer = (char *)sandboxer;
	req.verbose = true;
	r = CALL(d, "Status", &req, &resp, CALL_MS, err);
	if (r < 0)
		return r;
	ret->state = xstrdup(resp->state);
	ret->pid = resp->pid;
	ret->address = xstrdup(resp->address);
	ret->version = resp->version;
	ret->exited = resp->exited_at != NULL;
	containerd__services__sandbox__v1__controller_status_response__free_unpacked(resp, NULL);
	return 0;
}

int sbx_stop(struct sbxd *d, const char *id, uint32_t timeout_secs, kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerStopRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STOP_REQUEST__INIT;
	req.sandbox_id = (char *)id;
	req.timeout_secs = timeout_secs;
	return CALL(d, "Stop", &req, NULL, STOP_MS, err);
}

int sbx_shutdown(struct sbxd *d, const char *id, kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerShutdownRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_SHUTDOWN_REQUEST__INIT;
	req.sandbox_id = (char *)id;
	return CALL(d, "Shutdown", &req, NULL, STOP_MS, err);
}

int sbx_platform(struct sbxd *d, char **os, char **arch, kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerPlatformRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_PLATFORM_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerPlatformResponse *resp = NULL;
	int r = CALL(d, "Platform", &req, &resp, CALL_MS, err);
	if (r < 0)
		return r;
	*os = xstrdup(resp->platform ? resp->platform->os : "");
	*arch = xstrdup(resp->platform ? resp->platform->architecture : "");
	containerd__services__sandbox__v1__controller_platform_response__free_unpacked(resp, NULL);
	return 0;
}

static void on_wait(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct sbx_wait *w = ud;
	Containerd__Services__Sandbox__V1__ControllerWaitResponse *r = (void *)*resp;
	w->done = true;
	w->code = err ? ttrpc_code_from_errno(err->code) : TTRPC_OK;
	if (r) {
		w->exit_status = r->exit_status;
		w->exited_at_s = r->exited_at ? (uint64_t)r->exited_at->seconds : 0;
	}
}

int sbx_wait_begin(struct sbxd *d, const char *id, struct sbx_wait *w, kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerWaitRequest req =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_WAIT_REQUEST__INIT;
	memset(w, 0, sizeof(*w));
	req.sandbox_id = (char *)id;
	return kc_rpc_call(d->cli, CTRL, "Wait", &req.base, 0, on_wait, w, err);
}

bool sbx_wait_end(struct sbxd *d, struct sbx_wait *w, int timeout_ms)
{
	return tu_loop_until(d->loop, &w->done, timeout_ms);
}

struct many {
	struct sbx_started *out;
	size_t left;
	int code;
	char *msg;
};
struct one {
	struct many *m;
	size_t i;
};

static void on_start_one(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct one *o = ud;
	struct many *m = o->m;

	m->left--;
	if (err) {
		if (!m->msg) {
			m->code = err->code;
			m->msg = xstrdup(err->msg);
		}
	} else {
		take_started(&m->out[o->i], (void *)*resp);
	}
	free(o);
}

int sbx_start_many(struct sbxd *d, const char *const *ids, size_t n, struct sbx_started *ret,
		   kc_err **err)
{
	struct many m = {.out = ret, .left = n};
	uint64_t deadline = kc_now_ns() + (uint64_t)START_MS * KC_NSEC_PER_MSEC;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		Containerd__Services__Sandbox__V1__ControllerStartRequest req =
		    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_REQUEST__INIT;
		struct one *o = xcalloc(1, sizeof(*o));
		o->m = &m;
		o->i = i;
		req.sandbox_id = (char *)ids[i];
		if (kc_rpc_call(d->cli, CTRL, "Start", &req.base,
				(uint64_t)START_MS * KC_NSEC_PER_MSEC, on_start_one, o, err) < 0)
			return kc_err_retp(err);
	}
	while (m.left && kc_now_ns() < deadline)
		if (kc_loop_iterate(d->loop, deadline, err) < 0)
			return kc_err_retp(err);
	if (m.left)
		r = kc_err_set(err, ETIMEDOUT, "Start: %zu of %zu unanswered", m.left, n);
	else if (m.msg)
		r = kc_err_set(err, m.code, "%s", m.msg);
	free(m.msg);
	return r;
}

struct checked {
	bool done;
	kc_err *err;
};

static void on_checked(void *ud, ttrpc_client *cli, const kc_err *err)
{
	struct checked *c = ud;
	c->done = true;
	if (err)
		kc_err_set(&c->err, err->code, "%s", err->msg);
	ttrpc_client_free(cli);
}

/* The product's dialer and readiness check (lib/agent_dial.h). */
int sbx_agent_check(const char *address, int timeout_ms, kc_err **err)
{
	uint64_t deadline = kc_now_ns() + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC;
	struct checked c = {0};
	struct kc_endpoint ep;
	kc_loop *loop = NULL;
	kc_agent_dial *d;
	int r = 0;

	if (kc_endpoint_parse(address, &ep, err) < 0 || kc_loop_new(&loop, err) < 0)
		return kc_err_retp(err);
	d = kc_agent_dial_start(loop, &ep, deadline, true, on_checked, &c);
	while (!c.done && r == 0)
		r = kc_loop_iterate(loop, UINT64_MAX, err) < 0 ? -1 : 0;
	if (!c.done)
		kc_agent_dial_cancel(d);
	if (r == 0 && c.err) {
		r = -1;
		if (err)
			*err = c.err;
		else
			kc_err_free(c.err);
	}
	kc_loop_free(loop);
	return r;
}

/* ------------------------------------------------------------------ leftovers */

static bool is_zombie(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", pid);
	_cleanup_free_ char *text = NULL;
	char *p;

	if (kc_read_file(path, 4096, &text, NULL, NULL) < 0)
		return true;
	p = strrchr(text, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

size_t sbx_procs_mentioning(const char *s, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		_cleanup_free_ char *path = NULL, *cmd = NULL;
		size_t len;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		path = xasprintf("/proc/%d/cmdline", pid);
		if (kc_read_file(path, 1 << 20, &cmd, &len, NULL) < 0 || !len)
			continue;
		for (size_t i = 0; i < len; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		if (strstr(cmd, s) && !is_zombie(pid))
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

bool sbx_mounted_below(const char *path)
{
	_cleanup_free_ char *info = NULL;
	size_t plen = strlen(path);

	if (kc_read_file("/proc/self/mountinfo", 64 << 20, &info, NULL, NULL) < 0)
		return false;
	for (char *line = strtok(info, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strncmp(mp, path, plen) &&
		    (mp[plen] == '/' || mp[plen] == '\0'))
			return true;
	}
	return false;
}

void sbx_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static long rollup(pid_t pid, const char *const *keys)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/smaps_rollup", pid);
	_cleanup_free_ char *text = NULL;
	long sum = 0;

	if (kc_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return -1;
	for (int i = 0; keys[i]; i++) {
		_cleanup_free_ char *k = xasprintf("\n%s:", keys[i]);
		char *p = strstr(text, k);
		if (!p)
			return -1;
		sum += strtol(p + strlen(k), NULL, 10);
	}
	return sum;
}

long sbx_pss_kib(pid_t pid)
{
	static const char *const keys[] = {"Pss", NULL};
	return rollup(pid, keys);
}

long sbx_uss_kib(pid_t pid)
{
	static const char *const keys[] = {"Private_Clean", "Private_Dirty", NULL};
	return rollup(pid, keys);
}
