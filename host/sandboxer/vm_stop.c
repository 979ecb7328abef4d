/* SPDX-License-Identifier: Apache-2.0 */
/* A running sandbox's graceful stop, recovery after a daemon restart, and
 * letting go of everything when the daemon exits (see vm.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "endpoint.h"
#include "log.h"
#include "helper_proc.h"
#include "vm.h"
#include "vm_int.h"

/* How long a recovering daemon waits for each guest to answer (Kuasar:
 * 3 s fail-fast); TCG guests on a busy host need more. */
#define RECOVER_TIMEOUT_NS (10 * KC_NSEC_PER_SEC)

/* ------------------------------------------------------------------ stop */

static void on_stop_agent(kc_err *err, void *ud)
{
	struct sandbox *s = ud;
	s->op->agent = NULL;
	/* The guest powers off as it answers (or after): the VMM's exit says
	 * whether it worked. */
	if (err)
		log_debug("sandbox %s: agent shutdown: %s", s->id, kc_err_msg(err));
}

static void on_vmm_shutdown(int status, kc_err *err, void *ud)
{
	struct sandbox *s = ud;
	s->op->api = NULL;
	if (err)
		log_debug("sandbox %s: %s", s->id, kc_err_msg(err));
	(void)status;
}

static void on_vm_shutdown(int status, kc_err *err, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_vm_op *op = s->op;
	_cleanup_free_ char *api = sbx_path(s, SBX_F_API_SOCK);
	(void)status;

	if (err)
		log_debug("sandbox %s: %s", s->id, kc_err_msg(err));
	/* vm.shutdown stops the guest; vmm.shutdown ends the process. */
	op->api = sbx_chapi_put(s->d->loop, api, "vmm.shutdown", op->deadline, on_vmm_shutdown, s);
}

static void on_quit(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	(void)q;
	(void)ret;
	(void)err;
	(void)ud;
}

static void on_phase2(kc_timer *t, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_vm_op *op = s->op;
	struct sbx_proc *vmm = &s->procs[SBX_PROC_VMM];
	_cleanup_free_ char *qmp = sbx_path(s, SBX_F_QMP_SOCK);
	(void)t;

	op->phase2 = NULL;
	sbx_agent_cancel(op->agent);
	op->agent = NULL;
	sbx_chapi_cancel(op->api);
	op->api = NULL;
	if (s->type == SBX_HV_QEMU && sbx_qmp_open(s->d->loop, qmp, &op->qmp, NULL) == 0) {
		sbx_qmp_exec(op->qmp, "quit", NULL, on_quit, NULL);
		return;
	}
	if (vmm->running)
		(void)sbx_proc_signal(vmm->pidfd, SIGTERM);
}

static void on_kill(kc_timer *t, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_proc *vmm = &s->procs[SBX_PROC_VMM];
	(void)t;

	s->op->kill = NULL;
	s->op->killed = true;
	if (vmm->running)
		(void)sbx_proc_signal(vmm->pidfd, SIGKILL);
}

void sbx_vm_stop(struct sandbox *s, uint64_t timeout_ns)
{
	struct sbx_vm_op *op;
	uint64_t now = kc_now_ns();

	switch (s->state) {
	case SBX_CREATED:
		s->state = SBX_STOPPED;
		s->exited_at = kc_realtime_ns();
		s->exit_status = 0;
		sbx_save(s);
		sbx_waiters_fire(s, NULL);
		return;
	case SBX_STARTING:
		if (s->op && s->op->kind == OP_START && !s->op->failing) {
			kc_err *e = NULL;
			s->op->stop_requested = true;
			kc_err_set(&e, ECANCELED, "stopped before it was ready");
			sbx_fail(s, e);
		} else if (s->op) {
			s->op->stop_requested = true;
		}
		return;
	case SBX_STOPPING:
		return;
	case SBX_STOPPED:
		sbx_waiters_fire(s, NULL);
		return;
	case SBX_RUNNING:
		break;
	}
	op = sbx_op_new(s, OP_STOP);
	s->state = SBX_STOPPING;
	op->graceful = true;
	op->deadline = now + timeout_ns / 2;
	if (s->type == SBX_HV_QEMU) {
		struct kc_endpoint ep;
		if (kc_endpoint_parse(s->address, &ep, NULL) == 0)
			op->agent =
			    sbx_agent_shutdown(s->d->loop, &ep, op->deadline, on_stop_agent, s);
	} else {
		_cleanup_free_ char *api = sbx_path(s, SBX_F_API_SOCK);
		op->api =
		    sbx_chapi_put(s->d->loop, api, "vm.shutdown", op->deadline, on_vm_shutdown, s);
	}
	op->phase2 = kc_timer_at(s->d->loop, now + timeout_ns / 2, on_phase2, s);
	op->kill = kc_timer_at(s->d->loop, now + timeout_ns, on_kill, s);
}

/* ------------------------------------------------------------------ recovery */

static void on_recovered(kc_err *err, void *ud)
{
	struct sandbox *s = ud;
	struct sbx_vm_op *op = s->op;
	sbx_done_fn cb = op->cb;
	void *cb_ud = op->ud;

	op->agent = NULL;
	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "guest agent does not answer: %s", kc_err_msg(err));
		return sbx_fail(s, e);
	}
	sbx_op_free(s);
	s->state = SBX_RUNNING;
	sbx_save(s);
	sbx_disk_recover(s);
	cb(s, NULL, cb_ud);
}

static void on_recover_expire(kc_timer *t, void *ud)
{
	struct sandbox *s = ud;
	kc_err *e = NULL;
	(void)t;
	s->op->expire = NULL;
	kc_err_set(&e, ETIMEDOUT, "guest agent does not answer");
	sbx_fail(s, e);
}

void sbx_vm_recover(struct sandbox *s, sbx_done_fn cb, void *ud)
{
	struct sbx_vm_op *op = sbx_op_new(s, OP_RECOVER);
	kc_err *e = NULL;

	op->cb = cb;
	op->ud = ud;
	op->deadline = kc_now_ns() + RECOVER_TIMEOUT_NS;
	for (int i = 0; i < SBX_PROC_MAX; i++) {
		struct sbx_proc *p = &s->procs[i];
		int pidfd;

		if (p->pid <= 0)
			continue;
		if (sbx_proc_adopt(p->pid, p->starttime, &pidfd, NULL) < 0 ||
		    sbx_track(s, p->kind, p->pid, pidfd, p->starttime, false, NULL) < 0)
			p->pid = 0;
	}
	switch (s->state) {
	case SBX_CREATED:
	case SBX_STARTING:
	case SBX_STOPPED:
		/* Nothing should run: a half-started VM goes, the sandbox stays. */
		op->revert_to = s->state == SBX_STOPPED ? SBX_STOPPED : SBX_CREATED;
		op->failing = true;
		sbx_signal_all(s, SIGKILL);
		if (sbx_all_down(s))
			sbx_rollback_finish(s);
		return;
	case SBX_RUNNING:
	case SBX_STOPPING:
		break;
	}
	if (!s->procs[SBX_PROC_VMM].running) {
		kc_err_set(&e, ESRCH, "its VMM (pid %d) is gone", (int)s->procs[SBX_PROC_VMM].pid);
		return sbx_fail(s, e);
	}
	s->state = SBX_RUNNING;
	op->expire = kc_timer_at(s->d->loop, op->deadline, on_recover_expire, s);
	sbx_check_agent(s, op->deadline, on_recovered);
}

void sbx_vm_release(struct sandbox *s)
{
	if (s->op) {
		sbx_op_cancel_io(s->op);
		kc_err_free(s->op->err);
		free(s->op);
		s->op = NULL;
	}
	for (int i = 0; i < SBX_PROC_MAX; i++) {
		kc_watch_free(s->procs[i].watch);
		s->procs[i].watch = NULL;
		if (s->procs[i].pidfd >= 0)
			close(s->procs[i].pidfd);
		s->procs[i].pidfd = -1;
	}
}
