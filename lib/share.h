/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building a pod's share on the host without trusting anything in it.
 *
 * The guest writes to the share (virtio-fs), so a compromised guest could
 * plant symlinks where the host is about to mkdir, mount or write. The
 * sandboxer therefore keeps the tree the host builds (<sandbox>/mounts, never
 * exported) apart from the view the guest gets (<sandbox>/shared: a
 * read-only, slave bind of it). And every step here works relative to a
 * directory fd, resolving with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_XDEV), creating with O_EXCL | O_NOFOLLOW, and attaching bind
 * mounts read-only from the start (open_tree, mount_setattr, move_mount), so
 * even a planted link is never followed.
 */
#ifndef KC_SHARE_H
#define KC_SHARE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Open a directory of the share by its absolute host path (O_PATH). Only
 * the trusted part (the sandbox's mounts dir) is opened by path. */
int kc_share_open_dir(const char *path, kc_err **err);
/* openat2(dfd, name, flags, RESOLVE_BENEATH | NO_SYMLINKS | NO_XDEV |
 * NO_MAGICLINKS). `name` may have several components. */
int kc_share_open(int dfd, const char *name, int flags, kc_err **err);
/* Create directory `name` (one component; it must not exist) and return an
 * O_PATH fd of it. */
int kc_share_mkdir(int dfd, const char *name, kc_err **err);
/* Create an empty file `name` (must not exist), return an O_PATH fd. */
int kc_share_touch(int dfd, const char *name, kc_err **err);
/* Write a new file `name` (must not exist) with data. */
int kc_share_write(int dfd, const char *name, const void *data, size_t len, kc_err **err);
/* Bind the host path src (trusted: from containerd) onto the directory or
 * file open at target_fd, recursively, read-only from the start when ro
 * (every submount too). */
int kc_share_bind(const char *src, int target_fd, bool ro, kc_err **err);

#endif
