/* SPDX-License-Identifier: Apache-2.0 */
/* The bundle the guest sees: the rootfs and host bind sources mounted under
 * the pod's shared dir, and containerd's config.json rewritten for the guest. */
#ifndef KC_TASKAPI_BUNDLE_H
#define KC_TASKAPI_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>

#include "containerd/types/mount.pb-c.h"
#include "err.h"
#include "tpod.h"

/* Decide which of the container's mounts and devices become disks
 * (t->blk, diskplan.h): before bundle_prepare, which then leaves those to the
 * guest. */
int bundle_plan_disks(struct task *t, Containerd__Types__Mount *const *mounts, size_t n_rootfs,
		      kc_err **err);
int bundle_prepare(struct task *t, Containerd__Types__Mount *const *mounts, size_t n_rootfs,
		   kc_err **err);
void bundle_cleanup(struct task *t);
/* An OCI mount object (json) lists opt among its options. */
bool bundle_mount_has_opt(json_t *m, const char *opt);
/* Unmount and remove <shared>/<id>; true if no other container remains
 * (the shim's `delete` verb, with no pod state). */
bool bundle_cleanup_dir(const char *shared, const char *id);
/* The pod's size as containerd's CRI annotates its sandbox container
 * (io.kubernetes.cri.sandbox-cpu-*, -memory): key, value, ... pairs (caller
 * frees with kc_strv_free); returns the number of pairs. */
size_t bundle_vm_annotations(const char *bundle, char ***ret);
/* The network namespace the bundle's spec joins by path (the pod's, which
 * CNI set up; "" if none), malloc'd: the sandboxer carries it into the VM. */
char *bundle_netns(const char *bundle);
/* The pod id of a bundle: its sandbox-id annotation, else the container id. */
char *bundle_group_id(const char *bundle, const char *id);

#endif
