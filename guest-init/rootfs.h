/* SPDX-License-Identifier: Apache-2.0 */
/* The container's filesystem view, built inside the new mount namespace by
 * the cloned child: mounts, /dev, pivot_root, masked and read-only paths. */
#ifndef KC_ROOTFS_H
#define KC_ROOTFS_H

#include <stdbool.h>

#include "err.h"
#include "spec.h"

/* Runs in the child (new mount namespace); on return the process is inside
 * the container root. userns: mknod is not allowed, bind devices instead. */
/* cgroup: the container's cgroup directory (bound at a cgroup mount when the
 * container has no cgroup namespace of its own), or NULL. */
int kc_rootfs_setup(const struct kc_spec *spec, const char *rootfs, const char *cgroup, bool userns,
		    kc_err **err);

/* After pivot_root: read-only root, masked and read-only paths. */
int kc_rootfs_finish(const struct kc_spec *spec, kc_err **err);

/* Write linux.sysctl values under /proc/sys (inside the container). */
int kc_apply_sysctl(const struct kc_spec *spec, kc_err **err);

#endif
