/* SPDX-License-Identifier: Apache-2.0 */
/* Mount helpers: OCI/fstab option parsing and path resolution that cannot
 * escape a root directory through symlinks (openat2 RESOLVE_IN_ROOT). */
#ifndef KC_MOUNT_H
#define KC_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

struct kc_mount_opts {
	unsigned long flags;       /* MS_* for mount(2) */
	unsigned long clear;       /* flags explicitly turned off (rw, suid, ...) */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE [| MS_REC] */
	bool bind, rbind;
	char *data; /* the rest, comma separated, for the filesystem */
};

int kc_mount_opts_parse(char *const *options, struct kc_mount_opts *ret, kc_err **err);
void kc_mount_opts_clear(struct kc_mount_opts *o);

/* openat2(rootfd, path, RESOLVE_IN_ROOT): path is taken relative to rootfd
 * and symlinks cannot leave it. */
int kc_open_in_root(int rootfd, const char *path, int flags, mode_t mode, kc_err **err);
/* mkdir -p inside root. Returns an O_PATH fd of the final directory. */
int kc_mkdir_in_root(int rootfd, const char *path, mode_t mode, kc_err **err);
/* Create an empty file (and its parent dirs) inside root if missing, return
 * an O_PATH fd of it. */
int kc_touch_in_root(int rootfd, const char *path, kc_err **err);
/* "/proc/self/fd/N" for mounting onto a resolved fd. */
void kc_fd_path(int fd, char buf[32]);

/* mount(2) with an error naming what failed ("mount proc on /proc: EPERM"). */
int kc_do_mount(const char *src, const char *target, const char *shown_target, const char *type,
		unsigned long flags, const char *data, kc_err **err);

/* Mount a containerd.types.Mount-like description onto target (used for the
 * rootfs mounts of CreateTaskRequest). */
int kc_mount_rootfs_entry(const char *type, const char *source, char *const *options,
			  const char *target, kc_err **err);

bool kc_is_mountpoint(const char *path);

#endif
