/* SPDX-License-Identifier: Apache-2.0 */
/* Mount option strings (OCI / fstab / containerd.types.Mount) to mount(2)
 * arguments, and mounting one containerd Mount; shared by the guest agent
 * (container rootfs) and the shim (host side of a pod's shared directory). */
#ifndef KC_MOUNTOPT_H
#define KC_MOUNTOPT_H

#include <stdbool.h>

#include "containerd/types/mount.pb-c.h"
#include "err.h"

struct kc_mount_opts {
	unsigned long flags;       /* MS_* for mount(2) */
	unsigned long clear;       /* flags explicitly turned off (rw, suid, ...) */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE [| MS_REC] */
	bool bind, rbind;
	char *data; /* the rest, comma separated, for the filesystem */
};

/* options: n entries, or fewer if NULL-terminated (pass kc_strv_len()). */
int kc_mount_opts_parse(char *const *options, size_t n, struct kc_mount_opts *ret, kc_err **err);
void kc_mount_opts_clear(struct kc_mount_opts *o);

/* mount(2) with an error naming what failed ("mount proc on /proc: EPERM"). */
int kc_do_mount(const char *src, const char *target, const char *shown_target, const char *type,
		unsigned long flags, const char *data, kc_err **err);

/* Mount one containerd.types.Mount onto target (the rootfs mounts of
 * CreateTaskRequest). */
int kc_mount_pb(const Containerd__Types__Mount *m, const char *target, kc_err **err);

/* Unmount (lazily) every mount at or below base, deepest first. */
int kc_umount_tree(const char *base, kc_err **err);

#endif
