/* SPDX-License-Identifier: Apache-2.0 */
/* The container's filesystem view, built inside the new mount namespace by
 * the cloned child: mounts, /dev, read-only and masked paths, pivot_root. */
#ifndef KC_ROOTFS_H
#define KC_ROOTFS_H

#include <stdbool.h>

#include "err.h"
#include "spec.h"

/* Runs in the child (new mount namespace); on return the process is inside
 * the container root. userns: mknod is not allowed, bind devices instead.
 * Read-only and masked paths are done here, before pivot_root, resolved in
 * the root and mounted onto the resolved fds. cgroup: the container's cgroup
 * directory (bound at a cgroup mount when the container has no cgroup
 * namespace of its own), or NULL. */
int kc_rootfs_setup(const struct kc_spec *spec, const char *rootfs, const char *cgroup, bool userns,
		    kc_err **err);

/* After pivot_root: the read-only root. */
int kc_rootfs_finish(const struct kc_spec *spec, kc_err **err);

#endif
