/* SPDX-License-Identifier: Apache-2.0 */
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS)

int kc_share_open_dir(const char *path, kc_err **err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_err_sys(err, "open share dir `%s`", path);
	return fd;
}

int kc_share_open(int dfd, const char *name, int flags, kc_err **err)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = BENEATH};
	int fd;

	do
		fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	if (fd < 0)
		return kc_err_sys(err, "open `%s` in the share%s", name,
				  errno == ELOOP || errno == EXDEV ? " (a link or mount planted?)"
								   : "");
	return fd;
}

static int one_component(const char *name, kc_err **err)
{
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return kc_err_set(err, EINVAL, "`%s` is not a single path component", name);
	return 0;
}

int kc_share_mkdir(int dfd, const char *name, kc_err **err)
{
	if (one_component(name, err) < 0)
		return -1;
	/* mkdirat never follows a final symlink: an existing link is EEXIST. */
	if (mkdirat(dfd, name, 0755) < 0)
		return kc_err_sys(err, "mkdir `%s` in the share", name);
	return kc_share_open(dfd, name, O_PATH | O_DIRECTORY, err);
}

int kc_share_touch(int dfd, const char *name, kc_err **err)
{
	int fd;

	if (one_component(name, err) < 0)
		return -1;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return kc_err_sys(err, "create `%s` in the share", name);
	close(fd);
	return kc_share_open(dfd, name, O_PATH, err);
}

int kc_share_write(int dfd, const char *name, const void *data, size_t len, kc_err **err)
{
	_cleanup_close_ int fd = -1;

	if (one_component(name, err) < 0)
		return -1;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return kc_err_sys(err, "create `%s` in the share", name);
	if (kc_write_all(fd, data, len) < 0)
		return kc_err_sys(err, "write `%s` in the share", name);
	return 0;
}

int kc_share_bind(const char *src, int target_fd, bool ro, kc_err **err)
{
	_cleanup_close_ int tree = -1;

	/* Raw syscalls: musl has no wrappers for the new mount API. */
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, src,
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return kc_err_sys(err, "bind source `%s`", src);
	if (ro) {
		struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
		/* Before it is attached anywhere: never writable, submounts too. */
		if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a,
			    sizeof(a)) < 0)
			return kc_err_sys(err, "make the bind of `%s` read-only", src);
	}
	if (syscall(SYS_move_mount, tree, "", target_fd, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return kc_err_sys(err, "attach the bind of `%s`", src);
	return 0;
}
