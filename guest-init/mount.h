/* SPDX-License-Identifier: Apache-2.0 */
/* Mount helpers: OCI/fstab option parsing and path resolution that cannot
 * escape a root directory through symlinks (openat2 RESOLVE_IN_ROOT). */
#ifndef KC_MOUNT_H
#define KC_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "mountopt.h"

/* openat2(rootfd, path, RESOLVE_IN_ROOT): path is taken relative to rootfd
 * and symlinks cannot leave it. */
int kc_open_in_root(int rootfd, const char *path, int flags, mode_t mode, kc_err **err);
/* mkdir -p inside root. Returns an O_PATH fd of the final directory. */
int kc_mkdir_in_root(int rootfd, const char *path, mode_t mode, kc_err **err);
/* Create an empty file (and its parent dirs) inside root if missing, return
 * an O_PATH fd of it. */
int kc_touch_in_root(int rootfd, const char *path, kc_err **err);

#endif
