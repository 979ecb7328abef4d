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

struct shim_vm;

/* err == NULL: shim->agent is connected. Called exactly once, from the
 * loop or (when the VM is already ready or dead) before this returns. */
typedef void (*shim_vm_fn)(void *ud, const kc_err *err);

void shim_vm_ensure(shim_vm_fn cb, void *ud);
/* Find the pod's running VM (the `delete` verb, after a shim crash). */
void shim_vm_attach(shim_vm_fn cb, void *ud);
/* Stop and shut the sandbox down (after a pending start finishes). cb may
 * be NULL. */
void shim_vm_stop(shim_vm_fn cb, void *ud);
/* Free everything the VM layer holds (at exit). */
void shim_vm_release(void);

#endif
