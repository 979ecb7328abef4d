/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.sysctl. Only namespaced keys, by runc's rules: kernel.msg*, sem, shm*
 * and fs.mqueue.* with an IPC namespace, net.* with a network namespace that
 * is not ours, kernel.domainname with a UTS namespace (kernel.hostname
 * conflicts with the spec's hostname); everything else (kernel.core_pattern,
 * vm.*) would change the whole VM and is refused naming the key. In a VM
 * (pod_ns), the agent's own IPC, network and UTS namespaces are the pod's:
 * the VM runs one pod, so a container sharing them sets pod-wide values, as a
 * pod's containers sharing its sandbox namespaces do under runc.
 * Values are written through an fd of a verified procfs, never by a path the
 * container's mounts could redirect.
 */
#ifndef KC_SYSCTL_H
#define KC_SYSCTL_H

#include <stdbool.h>

#include "err.h"
#include "spec.h"

int kc_sysctl_check(const struct kc_spec *spec, bool pod_ns, kc_err **err);
/* /proc/sys of the agent's procfs (fstatfs PROC_SUPER_MAGIC), opened in the
 * child before any container mount. */
int kc_sysctl_open_procsys(kc_err **err);
/* Write every key below procsys (RESOLVE_BENEATH, no symlinks, no mount
 * crossings). Runs in the child, inside the container's namespaces. */
int kc_sysctl_apply(const struct kc_spec *spec, int procsys, kc_err **err);

#endif
