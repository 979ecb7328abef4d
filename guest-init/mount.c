/* SPDX-License-Identifier: Apache-2.0 */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

int kc_open_in_root(int rootfd, const char *path, int flags, mode_t mode, kc_err **err)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = path;
	int fd;

	while (*p == '/')
		p++;
	if (!*p)
		p = ".";
	do
		fd = (int)syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	if (fd < 0)
		return kc_err_sys(err, "open `%s` in container root", path);
	return fd;
}

int kc_mkdir_in_root(int rootfd, const char *path, mode_t mode, kc_err **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *s = p;

	/* Create one component at a time; each prefix is re-resolved from the
	 * root so a symlink planted in the image stays inside it. */
	for (;;) {
		char *slash;
		while (*s == '/')
			s++;
		if (!*s)
			break;
		slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		{
			_cleanup_close_ int dfd = -1;
			char *last = strrchr(p, '/');
			const char *name = last ? last + 1 : p;
			if (last) {
				*last = '\0';
				dfd = kc_open_in_root(rootfd, *p ? p : "/", O_PATH | O_DIRECTORY, 0,
						      err);
				*last = '/';
			} else {
				dfd = kc_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0, err);
			}
			if (dfd < 0)
				return kc_err_retp(err);
			if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
				return kc_err_sys(err, "mkdir `%s` in container root", p);
		}
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	return kc_open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 0, err);
}

int kc_touch_in_root(int rootfd, const char *path, kc_err **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *last = strrchr(dir, '/');
	const char *name = last ? last + 1 : dir;
	_cleanup_close_ int fd = -1, dfd = -1;

	fd = kc_open_in_root(rootfd, path, O_PATH, 0, NULL);
	if (fd >= 0)
		return steal_fd(&fd);
	if (last)
		*last = '\0';
	dfd = kc_mkdir_in_root(rootfd, last && last != dir ? dir : "/", 0755, err);
	if (dfd < 0)
		return kc_err_retp(err);
	if (!*name)
		return kc_err_set(err, EINVAL, "`%s`: not a file name", path);
	/* mknodat, not open(O_CREAT): on virtio-fs, binding onto a file just
	 * made with O_CREAT fails with ENOENT (seen with QEMU 7.2's virtiofsd);
	 * one made by mknodat can be mounted on at once. */
	if (mknodat(dfd, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
		return kc_err_sys(err, "create `%s` in container root", path);
	return kc_open_in_root(rootfd, path, O_PATH, 0, err);
}
