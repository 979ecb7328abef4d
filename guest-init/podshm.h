/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's /dev/shm, shared by its containers as on runc: CRI gives every
 * container of a pod the sandbox's shm; in the VM that is one tmpfs per pod,
 * made when the sandbox (pause) container is created, bound into each of the
 * pod's containers, removed with the sandbox container. Pods are told apart
 * by CRI's annotations (io.kubernetes.cri.container-type, sandbox-id).
 */
#ifndef KC_PODSHM_H
#define KC_PODSHM_H

#include "err.h"
#include "spec.h"

/* Rewrite spec's /dev/shm mount to the pod's shm (creating it for a
 * sandbox container). No-op for containers that are not CRI's. */
int kc_podshm_prepare(const char *state_dir, const char *id, struct kc_spec *spec, kc_err **err);
/* A sandbox container is gone: unmount and remove its pod's shm. */
void kc_podshm_release(const char *state_dir, const char *id, const struct kc_spec *spec);

#endif
