/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sandbox VM's lifecycle on the daemon's loop, every step event-driven:
 *
 *   start:    virtiofsd (+ vhost-device-vsock) -> their sockets listen
 *             (inotify) -> VMM -> [QEMU + vhost-user vsock: QMP DRIVER_OK
 *             gate] -> dial the agent (hybrid vsock, deadline) -> Check
 *   stop:     graceful request (QEMU: agent Shutdown(now); cloud-hypervisor:
 *             PUT vm.shutdown + vmm.shutdown), at half the timeout QMP quit /
 *             SIGTERM, at the timeout SIGKILL; then the helpers are killed
 *   exit:     a VMM that dies (pidfd) takes the sandbox to STOPPED
 *   recover:  after a daemon restart, adopt the recorded processes (pid +
 *             start time) and check the agent again
 *
 * Any failure while starting kills whatever was spawned, waits for it to
 * exit and removes its sockets before reporting.
 */
#ifndef SBX_VM_H
#define SBX_VM_H

#include "sandbox.h"

/* Start a CREATED sandbox. < 0: refused right away (wrong state, a missing
 * kernel or binary), nothing changed. Otherwise cb runs once (possibly before
 * this returns): err == NULL, it runs; else everything spawned is gone again
 * and the sandbox is CREATED (STOPPED if a stop came in meanwhile). */
int sbx_vm_start(struct sandbox *s, sbx_done_fn cb, void *ud, kc_err **err);

/* Begin stopping (idempotent; nothing to do when not running). The
 * sandbox's waiters fire once it is STOPPED. */
void sbx_vm_stop(struct sandbox *s, uint64_t timeout_ns);

/* After a daemon restart, for a sandbox loaded from its state file. cb runs
 * once: err == NULL, the sandbox is usable as recorded (a half-started one
 * is CREATED again); else its VM was gone or did not answer, its processes
 * are stopped, and the caller should remove it. */
void sbx_vm_recover(struct sandbox *s, sbx_done_fn cb, void *ud);

/* The daemon exits: drop fds and timers; the processes keep running. */
void sbx_vm_release(struct sandbox *s);

/* SIGCHLD: collect the exits of processes nobody follows by pidfd (the
 * daemon is a child subreaper: helpers' own children that lose their parent
 * land here). Followed children are handled as their pidfd would. */
void sbx_vm_reap(struct sbx_daemon *d);

/* The agent's address for a started sandbox. */
char *sbx_vm_task_address(const struct sandbox *s);

#endif
