/* SPDX-License-Identifier: Apache-2.0 */
#include "vm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_client.h"
#include "argv.h"
#include "chapi.h"
#include "endpoint.h"
#include "log.h"
#include "qmp.h"
#include "sockwait.h"
#include "helper_proc.h"
#include "podnet.h"
#include "state.h"
#include "vm_int.h"

/* The start's own expiry comes this long after the deadline every step has. */
#define EXPIRE_SLACK_NS (200 * KC_NSEC_PER_MSEC)

static void proc_exited(struct sandbox *s, enum sbx_proc_kind kind, int status);

/* ------------------------------------------------------------------ helpers */

struct sbx_vm_op *sbx_op_new(struct sandbox *s, enum op_kind kind)
{
	struct sbx_vm_op *op = xcalloc(1, sizeof(*op));
	op->kind = kind;
	s->op = op;
	return op;
}

void sbx_op_cancel_io(struct sbx_vm_op *op)
{
	sbx_sockwait_cancel(op->sw);
	sbx_qmp_free(op->qmp);
	sbx_agent_cancel(op->agent);
	sbx_chapi_cancel(op->api);
	free(op->netcfg);
	op->netcfg = NULL;
	kc_timer_cancel(op->expire);
	kc_timer_cancel(op->phase2);
	kc_timer_cancel(op->kill);
	kc_timer_cancel(op->grace);
	kc_timer_cancel(op->quiet);
	kc_err_freep(&op->suspect);
	op->grace = NULL;
	op->quiet = NULL;
	op->sw = NULL;
	op->qmp = NULL;
	op->agent = NULL;
	op->api = NULL;
	op->expire = op->phase2 = op->kill = NULL;
}

void sbx_op_free(struct sandbox *s)
{
	struct sbx_vm_op *op = s->op;
	if (!op)
		return;
	sbx_op_cancel_io(op);
	kc_err_free(op->err);
	free(op);
	s->op = NULL;
}

bool sbx_all_down(const struct sandbox *s)
{
	for (int i = 0; i < SBX_PROC_MAX; i++)
		if (s->procs[i].running)
			return false;
	return true;
}

void sbx_signal_all(struct sandbox *s, int sig)
{
	for (int i = 0; i < SBX_PROC_MAX; i++)
		if (s->procs[i].running)
			(void)sbx_proc_signal_group(s->procs[i].pidfd, s->procs[i].pid, sig);
}

void sbx_save(struct sandbox *s)
{
	_cleanup_err_ kc_err *e = NULL;
	if (sbx_state_save(s, &e) < 0)
		log_warn("sandbox %s: %s", s->id, kc_err_msg(e));
}

/* The last line a helper logged: the likeliest reason it died. */
static char *log_tail(const struct sandbox *s, enum sbx_proc_kind kind)
{
	static const char *const logs[] = {SBX_F_VMM_LOG, SBX_F_FS_LOG, SBX_F_VSOCK_LOG};
	_cleanup_free_ char *path = sbx_path(s, logs[kind]);
	_cleanup_free_ char *text = NULL;
	char *end, *line;

	if (kc_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return xstrdup("");
	end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		*--end = '\0';
	line = strrchr(text, '\n');
	line = line ? line + 1 : text;
	if (!*line)
		return xstrdup("");
	return xasprintf(": %.300s", line);
}

char *sbx_vm_task_address(const struct sandbox *s)
{
	if (s->type == SBX_HV_CLH || s->vhost_user)
		return xasprintf("ttrpc+hvsock://%s/" SBX_F_TASK_SOCK ":%d", s->base,
				 SBX_AGENT_PORT);
	return xasprintf("ttrpc+vsock://%u:%d", s->cid, SBX_AGENT_PORT);
}

static void fill_spec(const struct sandbox *s, struct sbx_vm_spec *spec)
{
	*spec = (struct sbx_vm_spec){.cfg = &s->d->cfg,
				     .id = s->id,
				     .base = s->base,
				     .vcpus = s->vcpus,
				     .memory_mb = s->memory_mb,
				     .kvm = s->kvm,
				     .vhost_user = s->vhost_user,
				     .cid = s->cid};
}

/* ------------------------------------------------------------------ processes */

static void on_proc_event(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct sbx_proc *p = ud;
	int status = -1;
	(void)w;
	(void)events;

	if (p->ours && sbx_proc_reap(fd, &status) == -EAGAIN)
		return; /* not exited yet */
	kc_watch_free(p->watch);
	p->watch = NULL;
	close(p->pidfd);
	p->pidfd = -1;
	p->running = false;
	proc_exited(p->s, p->kind, status);
}

void sbx_vm_reap(struct sbx_daemon *d)
{
	pid_t last = 0;

	for (;;) {
		siginfo_t si = {0};
		struct sbx_proc *found = NULL;

		/* Look first: a child we follow by pidfd is collected there. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		if (si.si_pid == last) {
			(void)waitpid(si.si_pid, NULL, WNOHANG);
			continue;
		}
		last = si.si_pid;
		kc_list_for_each (n, &d->sandboxes) {
			struct sandbox *s = kc_container_of(n, struct sandbox, node);
			for (int i = 0; i < SBX_PROC_MAX && !found; i++)
				if (s->procs[i].running && s->procs[i].ours &&
				    s->procs[i].pid == si.si_pid)
					found = &s->procs[i];
		}
		if (found)
			on_proc_event(found->watch, found->pidfd, EPOLLIN, found);
		else
			(void)waitpid(si.si_pid, NULL, WNOHANG);
	}
}

int sbx_track(struct sandbox *s, enum sbx_proc_kind kind, pid_t pid, int pidfd, uint64_t starttime,
	      bool ours, kc_err **err)
{
	struct sbx_proc *p = &s->procs[kind];

	p->pid = pid;
	p->pidfd = pidfd;
	p->starttime = starttime;
	p->ours = ours;
	p->running = true;
	if (kc_loop_watch(s->d->loop, pidfd, EPOLLIN, on_proc_event, p, &p->watch, err) < 0) {
		/* Cannot follow it: do not leave it behind. */
		(void)sbx_proc_signal(pidfd, SIGKILL);
		close(pidfd);
		p->pidfd = -1;
		p->running = false;
		return kc_err_retp(err);
	}
	return 0;
}

static int spawn(struct sandbox *s, enum sbx_proc_kind kind, const struct sbx_argv *argv,
		 const char *log_name, const int *fds, size_t n_fds, kc_err **err)
{
	_cleanup_free_ char *log_path = sbx_path(s, log_name);
	struct sbx_spawn o = {.argv = argv->v,
			      .log_path = log_path,
			      .netns = *s->netns ? s->netns : NULL,
			      .fds = fds,
			      .n_fds = n_fds};
	uint64_t start = 0;
	pid_t pid;
	int pidfd;

	if (sbx_spawn(&o, &pid, &pidfd, &start, err) < 0)
		return kc_err_wrap(err, "%s", sbx_proc_name(kind));
	if (kc_log_get_level() >= KC_LOG_DEBUG) {
		_cleanup_free_ char *line = sbx_argv_join(argv);
		log_debug("sandbox %s: %s pid %d: %s", s->id, sbx_proc_name(kind), pid, line);
	}
	return sbx_track(s, kind, pid, pidfd, start, true, err);
}

/* ------------------------------------------------------------------ failure, completion */

/* Everything that ran has exited after a failed start or recovery. */
void sbx_rollback_finish(struct sandbox *s)
{
	struct sbx_vm_op *op = s->op;
	sbx_done_fn cb = op->cb;
	void *ud = op->ud;
	kc_err *err = steal_pointer(&op->err);
	bool stopped;

	sbx_dir_clean_runtime(s);
	sbx_vm_net_release(s);
	sbx_disk_vm_gone(s);
	if (op->kind == OP_RECOVER && err) {
		/* The caller removes the sandbox: it must be the last thing. */
		sbx_op_free(s);
		cb(s, err, ud);
		kc_err_free(err);
		return;
	}
	stopped = op->stop_requested || op->revert_to == SBX_STOPPED;
	s->state = stopped ? SBX_STOPPED : SBX_CREATED;
	if (op->stop_requested) {
		s->exited_at = kc_realtime_ns();
		s->exit_status = 128 + SIGKILL;
	}
	free(s->address);
	s->address = xstrdup("");
	sbx_save(s);
	sbx_op_free(s);
	cb(s, err, ud);
	kc_err_free(err);
	if (stopped)
		sbx_waiters_fire(s, NULL);
}

/* A process whose exit has not been collected yet: collect it now. */
static bool exited_now(struct sbx_proc *p, int *status)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

	if (!p->running || poll(&pfd, 1, 0) != 1)
		return false;
	*status = -1;
	if (p->ours && sbx_proc_reap(p->pidfd, status) == -EAGAIN)
		return false;
	kc_watch_free(p->watch);
	p->watch = NULL;
	close(p->pidfd);
	p->pidfd = -1;
	p->running = false;
	return true;
}

static void on_grace(kc_timer *t, void *ud)
{
	struct sandbox *s = ud;
	kc_err *e = steal_pointer(&s->op->suspect);
	(void)t;
	s->op->grace = NULL;
	s->op->grace_used = true; /* this time sbx_fail() goes ahead */
	sbx_fail(s, e);
}

/* Start or recovery failed: kill what runs; report once all of it exited. */
void sbx_fail(struct sandbox *s, kc_err *err)
{
	struct sbx_vm_op *op = s->op;
	struct sbx_proc *vmm = &s->procs[SBX_PROC_VMM];
	int status;

	if (op->failing) {
		kc_err_free(err);
		return;
	}
	/* A lost connection or a helper's exit is often the VMM dying: its
	 * exit (and log) says more. */
	if (err->code == ECONNRESET || err->code == EPIPE || err->code == ECHILD) {
		if (exited_now(vmm, &status)) {
			_cleanup_free_ char *tail = log_tail(s, SBX_PROC_VMM);
			kc_err_free(err);
			err = NULL;
			kc_err_set(&err, EIO, "vmm exited with status %d%s", status, tail);
		} else if (op->grace) {
			/* Already waiting for the VMM on an earlier suspect (a helper
			 * or QMP losing it): the VMM's exit, or that suspect, says it. */
			kc_err_free(err);
			return;
		} else if (!op->grace_used && vmm->running) {
			op->suspect = err;
			op->grace = kc_timer_after(s->d->loop, EXIT_GRACE_NS, on_grace, s);
			return;
		}
	}
	op->failing = true;
	op->err = err;
	sbx_op_cancel_io(op);
	sbx_signal_all(s, SIGKILL);
	if (sbx_all_down(s))
		sbx_rollback_finish(s);
}

void sbx_stop_finish(struct sandbox *s)
{
	sbx_dir_clean_runtime(s);
	sbx_vm_net_release(s);
	sbx_disk_vm_gone(s);
	s->state = SBX_STOPPED;
	s->exited_at = kc_realtime_ns();
	sbx_save(s);
	sbx_op_free(s);
	sbx_waiters_fire(s, NULL);
}

static void proc_exited(struct sandbox *s, enum sbx_proc_kind kind, int status)
{
	struct sbx_vm_op *op = s->op;
	_cleanup_free_ char *tail = NULL;

	if (!op) {
		tail = log_tail(s, kind);
		if (kind != SBX_PROC_VMM) {
			log_warn("sandbox %s: %s exited with status %d%s; the VM keeps running",
				 s->id, sbx_proc_name(kind), status, tail);
			sbx_save(s);
			return;
		}
		log_warn("sandbox %s: the VMM exited unexpectedly with status %d%s", s->id, status,
			 tail);
		s->exit_status = status >= 0 ? (uint32_t)status : STATUS_UNKNOWN;
		sbx_op_new(s, OP_STOP);
		s->state = SBX_STOPPING;
		sbx_signal_all(s, SIGKILL);
		if (sbx_all_down(s))
			sbx_stop_finish(s);
		return;
	}
	switch (op->kind) {
	case OP_START:
	case OP_RECOVER:
		if (op->failing) {
			if (sbx_all_down(s))
				sbx_rollback_finish(s);
			return;
		}
		tail = log_tail(s, kind);
		{
			/* ECHILD: a helper's exit, which may follow the VMM's. */
			int code = kind == SBX_PROC_VMM ? EIO : ECHILD;
			kc_err *e = NULL;
			if (status >= 0)
				kc_err_set(&e, code, "%s exited with status %d%s",
					   sbx_proc_name(kind), status, tail);
			else
				kc_err_set(&e, code, "%s exited%s", sbx_proc_name(kind), tail);
			sbx_fail(s, e);
		}
		return;
	case OP_STOP:
		if (kind == SBX_PROC_VMM) {
			if (status >= 0)
				s->exit_status = (uint32_t)status;
			else
				s->exit_status = op->killed     ? 128 + SIGKILL
						 : op->graceful ? 0
								: STATUS_UNKNOWN;
			sbx_op_cancel_io(op);
			/* Their frontend is gone: nothing of theirs is worth a
			 * graceful exit. */
			sbx_signal_all(s, SIGKILL);
		}
		if (sbx_all_down(s))
			sbx_stop_finish(s);
		return;
	}
}

/* ------------------------------------------------------------------ start */

static void on_net_ready(kc_err *err, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_vm_op *op = s->op;
	sbx_done_fn cb = op->cb;
	void *cb_ud = op->ud;

	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		sbx_fail(s, e);
		return;
	}
	sbx_op_free(s);
	s->state = SBX_RUNNING;
	s->started_at = kc_realtime_ns();
	sbx_save(s);
	cb(s, NULL, cb_ud);
}

static void on_started(kc_err *err, void *ud)
{
	struct sandbox *s = ud;

	s->op->agent = NULL;
	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "guest agent: %s", kc_err_msg(err));
		sbx_fail(s, e);
		return;
	}
	sbx_vm_net_configure(s, on_net_ready);
}

void sbx_check_agent(struct sandbox *s, uint64_t deadline, sbx_agent_fn cb)
{
	struct kc_endpoint ep;
	kc_err *e = NULL;

	if (kc_endpoint_parse(s->address, &ep, &e) < 0)
		return sbx_fail(s, e);
	s->op->agent = sbx_agent_check(s->d->loop, &ep, deadline, cb, s);
}

/*
 * The second half of the vsock gate. When QMP shows DRIVER_OK, QEMU has sent
 * vhost-device-vsock the whole vring setup (the status write that starts the
 * vhost device completes under QEMU's big lock, before QMP runs). But the
 * daemon may not have processed it yet: on a loaded host its handler thread
 * can lag well past the 50 ms settle time, and a CONNECT handled before the
 * RX vring is enabled ends its vring worker thread for good (seen with three
 * guests booting at once on two cores). So wait until every thread of it is
 * asleep, a few samples in a row: then it has taken in all that was sent.
 */
static void on_quiet_check(kc_timer *t, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_vm_op *op = s->op;
	int r = sbx_proc_idle(s->procs[SBX_PROC_VSOCK].pid, NULL);
	(void)t;

	op->quiet = NULL;
	op->quiet_seen = r == 1 ? op->quiet_seen + 1 : 0;
	if (r < 0 || op->quiet_seen >= VSOCKD_IDLE_SAMPLES) {
		/* Gone: its pidfd reports that. */
		if (r >= 0) {
			log_debug("sandbox %s: vsock ready (DRIVER_OK, vhost-device-vsock idle), "
				  "dialing the agent",
				  s->id);
			sbx_check_agent(s, op->deadline, on_started);
		}
		return;
	}
	op->quiet = kc_timer_after(s->d->loop, VSOCKD_IDLE_INTERVAL_NS, on_quiet_check, s);
}

static void on_gate(kc_err *err, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_vm_op *op = s->op;

	sbx_qmp_free(op->qmp);
	op->qmp = NULL;
	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "vsock readiness (QMP): %s", kc_err_msg(err));
		return sbx_fail(s, e);
	}
	op->quiet_seen = 0;
	op->quiet = kc_timer_after(s->d->loop, 0, on_quiet_check, s);
}

static void spawn_vmm(struct sandbox *s)
{
	struct sbx_vm_op *op = s->op;
	struct sbx_vm_spec spec;
	struct sbx_argv argv = {0};
	kc_err *e = NULL;
	int qmp_fd = -1, r;
	int fds[SBX_SPAWN_MAX_FDS], vhost[SBX_SPAWN_MAX_FDS];
	size_t n_fds = 0, n_vhost = 0;

	fill_spec(s, &spec);
	if (s->type == SBX_HV_QEMU) {
		struct kc_endpoint ep = {.kind = KC_EP_UNIX};
		_cleanup_free_ char *qmp = sbx_path(s, SBX_F_QMP_SOCK);
		/* Ours, listening before QEMU runs: nothing to wait for, and it
		 * stays where a restarted daemon looks for it. */
		snprintf(ep.path, sizeof(ep.path), "%s", qmp);
		qmp_fd = kc_listen(&ep, &e);
		if (qmp_fd < 0)
			return sbx_fail(s, e);
		kc_set_nonblock(qmp_fd, false);
		fds[n_fds++] = qmp_fd; /* SBX_QMP_FD */
	}
	n_fds = sbx_vm_net_fds(s, &spec, fds, n_fds, vhost, &n_vhost);
	if (s->type == SBX_HV_QEMU)
		sbx_qemu_argv(&spec, &argv);
	else
		sbx_ch_argv(&spec, &argv);
	r = spawn(s, SBX_PROC_VMM, &argv, SBX_F_VMM_LOG, fds, n_fds, &e);
	sbx_argv_free(&argv);
	/* The VMM holds its copies now: a tap lives as long as the VMM. */
	if (qmp_fd >= 0)
		close(qmp_fd);
	for (size_t i = 0; i < n_vhost; i++)
		close(vhost[i]);
	if (s->net)
		sbx_net_close_fds(s->net);
	if (r < 0)
		return sbx_fail(s, e);
	sbx_save(s);
	if (s->type == SBX_HV_QEMU && s->vhost_user) {
		_cleanup_free_ char *qmp = sbx_path(s, SBX_F_QMP_SOCK);
		if (sbx_qmp_open(s->d->loop, qmp, &op->qmp, &e) < 0)
			return sbx_fail(s, e);
		sbx_qmp_wait_driver_ok(op->qmp, "vsock", op->deadline, on_gate, s);
		return;
	}
	sbx_check_agent(s, op->deadline, on_started);
}

static void on_sockets(kc_err *err, void *ud)
{
	struct sandbox *s = ud;

	s->op->sw = NULL;
	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		return sbx_fail(s, e);
	}
	spawn_vmm(s);
}

static void on_expire(kc_timer *t, void *ud)
{
	struct sandbox *s = ud;
	kc_err *e = NULL;
	(void)t;

	s->op->expire = NULL;
	kc_err_set(&e, ETIMEDOUT, "not ready within %lld s (see %s/" SBX_F_CONSOLE ")",
		   (long long)s->d->cfg.start_timeout_secs, s->base);
	sbx_fail(s, e);
}

static int need_file(const char *path, const char *key, int mode, kc_err **err)
{
	if (access(path, mode) < 0)
		return kc_err_sys(err, "%s `%s` (%s)", mode == X_OK ? "binary" : "file", path, key);
	return 0;
}

static int preflight(const struct sandbox *s, kc_err **err)
{
	const struct sbx_config *c = &s->d->cfg;

	if (s->type != c->type)
		return kc_err_set(err, EINVAL,
				  "created for %s, but the daemon now runs %s (config changed)",
				  sbx_hv_name(s->type), sbx_hv_name(c->type));
	if (need_file(c->kernel_path, "[hypervisor] kernel_path", R_OK, err) < 0 ||
	    (*c->initrd_path &&
	     need_file(c->initrd_path, "[hypervisor] initrd_path", R_OK, err) < 0) ||
	    (*c->image_path &&
	     need_file(c->image_path, "[hypervisor] image_path", R_OK, err) < 0) ||
	    need_file(c->path, "[hypervisor] path", X_OK, err) < 0 ||
	    need_file(c->vfs_path, "[hypervisor.virtiofsd] path", X_OK, err) < 0)
		return kc_err_retp(err);
	if (c->type == SBX_HV_QEMU && s->d->vhost_user &&
	    need_file(c->vhost_device_vsock, "[hypervisor.qemu] vhost_device_vsock", X_OK, err) < 0)
		return kc_err_retp(err);
	return 0;
}

/* Kernel vhost-vsock: CIDs are host-wide, one per running VM. */
static uint32_t pick_cid(const struct sandbox *s)
{
	for (uint32_t cid = SBX_GUEST_CID;; cid++) {
		bool used = false;
		kc_list_for_each (n, &s->d->sandboxes) {
			const struct sandbox *o = kc_container_of(n, struct sandbox, node);
			used |= o != s && o->state != SBX_CREATED && o->state != SBX_STOPPED &&
				o->cid == cid;
		}
		if (!used)
			return cid;
	}
}

int sbx_vm_start(struct sandbox *s, sbx_done_fn cb, void *ud, kc_err **err)
{
	struct sbx_daemon *d = s->d;
	struct sbx_vm_op *op;
	struct sbx_vm_spec spec;
	struct sbx_argv argv = {0};
	const char *names[2];
	pid_t owners[2];
	size_t n = 0;
	kc_err *e = NULL;
	int r;

	if (s->state != SBX_CREATED)
		return kc_err_set(err, EBUSY, "sandbox is %s, not created",
				  sbx_state_name(s->state));
	if (preflight(s, err) < 0)
		return kc_err_retp(err);
	s->kvm = s->type == SBX_HV_QEMU && d->kvm;
	s->vhost_user = s->type == SBX_HV_CLH || d->vhost_user;
	s->cid = s->vhost_user ? SBX_GUEST_CID : pick_cid(s);
	free(s->address);
	s->address = sbx_vm_task_address(s);
	op = sbx_op_new(s, OP_START);
	op->cb = cb;
	op->ud = ud;
	op->deadline = kc_now_ns() + (uint64_t)d->cfg.start_timeout_secs * KC_NSEC_PER_SEC;
	/* A backstop: each step has this deadline too, and says more. */
	op->expire = kc_timer_at(d->loop, op->deadline + EXPIRE_SLACK_NS, on_expire, s);
	s->state = SBX_STARTING;
	sbx_dir_clean_runtime(s);
	if (sbx_vm_net_attach(s, &e) < 0)
		goto fail;

	/* virtiofsd first: the VMM connects to it while creating the VM. */
	fill_spec(s, &spec);
	sbx_virtiofsd_argv(&spec, &argv);
	r = spawn(s, SBX_PROC_FS, &argv, SBX_F_FS_LOG, NULL, 0, &e);
	sbx_argv_free(&argv);
	if (r < 0)
		goto fail;
	names[n] = SBX_F_FS_SOCK;
	owners[n++] = s->procs[SBX_PROC_FS].pid;
	if (s->type == SBX_HV_QEMU && s->vhost_user) {
		sbx_vsockd_argv(&spec, &argv);
		r = spawn(s, SBX_PROC_VSOCK, &argv, SBX_F_VSOCK_LOG, NULL, 0, &e);
		sbx_argv_free(&argv);
		if (r < 0)
			goto fail;
		names[n] = SBX_F_VHU_SOCK;
		owners[n++] = s->procs[SBX_PROC_VSOCK].pid;
	}
	if (sbx_state_save(s, &e) < 0)
		goto fail;
	if (sbx_sockwait_start(d->loop, s->base, names, owners, n, op->deadline, on_sockets, s,
			       &op->sw, &e) < 0)
		goto fail;
	return 0;
fail:
	sbx_fail(s, e);
	return 0;
}
