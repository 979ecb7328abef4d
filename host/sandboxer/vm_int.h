/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by vm.c (processes, failures, start) and vm_stop.c (stop, recovery,
 * release); not for other modules. */
#ifndef SBX_VM_INT_H
#define SBX_VM_INT_H

#include "agent_client.h"
#include "argv.h"
#include "chapi.h"
#include "qmp.h"
#include "sandbox.h"
#include "sockwait.h"

/* A QMP or vsock connection that breaks, or a helper that exits, while
 * starting is most often the VMM dying: its exit (and log) explains more, if
 * it comes this soon. */
#define EXIT_GRACE_NS (2 * KC_NSEC_PER_SEC)
/* After DRIVER_OK: how often vhost-device-vsock's idleness is sampled, and
 * how many idle samples in a row mean it has processed the vring setup. */
#define VSOCKD_IDLE_INTERVAL_NS (10 * KC_NSEC_PER_MSEC)
#define VSOCKD_IDLE_SAMPLES     3
/* Exit status reported when it cannot be known: the VMM was adopted after a
 * restart (not our child), and it died without us asking. */
#define STATUS_UNKNOWN 255

enum op_kind { OP_START, OP_STOP, OP_RECOVER };

struct sbx_vm_op {
	enum op_kind kind;
	uint64_t deadline;
	sbx_done_fn cb;
	void *ud;
	sbx_sockwait *sw;
	sbx_qmp *qmp;
	sbx_agent_op *agent;
	sbx_chapi *api;
	void *netcfg; /* vm_net.c: the guest's network requests in flight */
	kc_timer *expire, *phase2, *kill;
	kc_timer *grace; /* a lost connection waits this long for the VMM's exit */
	kc_timer *quiet; /* vhost-device-vsock idle checks */
	int quiet_seen;
	kc_err *suspect; /* ...with this error */
	kc_err *err;
	enum sbx_state revert_to; /* start/recover without a VM: where it goes */
	bool failing;             /* start/recover: killing what was spawned */
	bool stop_requested;      /* a Stop arrived while starting */
	bool graceful, killed;    /* stop: what we did to the VMM */
	bool grace_used;
};

struct sbx_vm_op *sbx_op_new(struct sandbox *s, enum op_kind kind);
void sbx_op_cancel_io(struct sbx_vm_op *op);
void sbx_op_free(struct sandbox *s);
bool sbx_all_down(const struct sandbox *s);
/* Signal every running process of the sandbox (and its process group). */
void sbx_signal_all(struct sandbox *s, int sig);
/* Write sandbox.json; a failure is logged, the sandbox goes on. */
void sbx_save(struct sandbox *s);
/* Follow a process by its pidfd (taken). */
int sbx_track(struct sandbox *s, enum sbx_proc_kind kind, pid_t pid, int pidfd, uint64_t starttime,
	      bool ours, kc_err **err);
/* Start or recovery failed (err taken): kill what runs, report at the end. */
void sbx_fail(struct sandbox *s, kc_err *err);
/* Everything that ran after a failed start or recovery has exited. */
void sbx_rollback_finish(struct sandbox *s);
/* Everything of a stopping sandbox has exited. */
void sbx_stop_finish(struct sandbox *s);
/* Dial the agent at s->address and Check it; cb gets the outcome. */
void sbx_check_agent(struct sandbox *s, uint64_t deadline, sbx_agent_fn cb);

/* vm_net.c. Scan the pod's netns and attach a tap to each interface (none
 * without a netns or with only lo); s->net is set even on failure, so that
 * the rollback removes what was made. */
int sbx_vm_net_attach(struct sandbox *s, kc_err **err);
/* After the VMM is gone: remove the pod network's qdiscs and taps. */
void sbx_vm_net_release(struct sandbox *s);
/* Append the tap fds (and vhost-net fds, QEMU with /dev/vhost-net, opened
 * into vhost[]: the caller closes those) to the VMM's fds[0..n); fills the
 * spec's numbering. Returns the new count. */
size_t sbx_vm_net_fds(struct sandbox *s, struct sbx_vm_spec *spec, int *fds, size_t n, int *vhost,
		      size_t *n_vhost);
/* Tell the guest its interfaces and routes; cb(err, s) (at once when the pod
 * has no network). */
void sbx_vm_net_configure(struct sandbox *s, sbx_agent_fn cb);

#endif
