/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod's VM, asked of vmm-sandboxer (Controller Create + Start) on the
 * pod's first task, then the agent connection over hybrid vsock. All
 * asynchronous: callers that need the VM while it boots are parked and
 * called back, in order, once it is ready or has failed.
 */
#ifndef KC_SHIM_VM_H
#define KC_SHIM_VM_H

#include "err.h"
#include "tpod.h"

/* The shim's tpod_ops: vm_ensure, vm_stop, first_create, quit. */
extern const struct tpod_ops shim_pod_ops;

/* err == NULL: shim->pod.agent is connected. Called exactly once, from the
 * loop or (when the VM is already ready or dead) before this returns. */
void shim_vm_ensure(tpod_vm_fn cb, void *ud);
/* Find the pod's running VM (the `delete` verb, after a shim crash). */
void shim_vm_attach(tpod_vm_fn cb, void *ud);
/* Stop and shut the sandbox down (after a pending start finishes). cb may
 * be NULL. */
void shim_vm_stop(tpod_vm_fn cb, void *ud);
/* Free everything the VM layer holds (at exit). */
void shim_vm_release(void);

#endif
