/* SPDX-License-Identifier: Apache-2.0 */
#include "rootfs.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mount.h"
#include "util.h"

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static const struct {
	const char *target, *link;
} default_links[] = {
    {"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
    {"pts/ptmx", "/dev/ptmx"},
};

/* Flags a bind mount inherits and must keep on remount (locked in userns). */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	return f;
}

static int mount_bind(int rootfd, const struct kc_mount *m, const struct kc_mount_opts *o,
		      kc_err **err)
{
	struct stat st;
	_cleanup_close_ int tfd = -1;
	char p[32];

	if (!m->source || stat(m->source, &st) < 0)
		return kc_err_sys(err, "bind mount source `%s` for `%s`",
				  m->source ? m->source : "", m->destination);
	if (S_ISDIR(st.st_mode))
		tfd = kc_mkdir_in_root(rootfd, m->destination, 0755, err);
	else
		tfd = kc_touch_in_root(rootfd, m->destination, err);
	if (tfd < 0)
		return kc_err_retp(err);
	kc_fd_path(tfd, p);
	if (kc_do_mount(m->source, p, m->destination, NULL, MS_BIND | (o->rbind ? MS_REC : 0), NULL,
			err) < 0)
		return kc_err_retp(err);
	if (o->flags & ~(MS_REMOUNT | MS_REC)) {
		/* Remount the new mount (re-resolve: tfd is the covered inode). */
		_cleanup_close_ int nfd = kc_open_in_root(rootfd, m->destination, O_PATH, 0, err);
		char np[32];
		if (nfd < 0)
			return kc_err_retp(err);
		kc_fd_path(nfd, np);
		if (kc_do_mount(NULL, np, m->destination, NULL,
				MS_BIND | MS_REMOUNT | o->flags | locked_flags(np), NULL, err) < 0)
			return kc_err_retp(err);
	}
	return 0;
}

/* What a mount needs to know about the container beyond the mount itself. */
struct mount_ctx {
	const char *cgroup; /* the container's cgroup directory, or NULL */
	bool cgroupns;      /* it has a cgroup namespace of its own */
};

static int mount_fs(int rootfd, const struct kc_mount *m, const struct kc_mount_opts *o,
		    const struct mount_ctx *ctx, kc_err **err)
{
	const char *type = m->type;
	const char *src = m->source && *m->source ? m->source : type;
	_cleanup_close_ int tfd = kc_mkdir_in_root(rootfd, m->destination, 0755, err);
	char p[32];
	int r;

	if (tfd < 0)
		return kc_err_retp(err);
	kc_fd_path(tfd, p);
	/* cgroup v1 does not exist in our guests: give the container the v2
	 * hierarchy of its cgroup namespace instead, as runc does on v2 hosts. */
	if (!strcmp(type, "cgroup")) {
		type = "cgroup2";
		src = "cgroup2";
	}
	if (!strcmp(type, "cgroup2") && !ctx->cgroupns && ctx->cgroup) {
		/* Without a cgroup namespace a fresh cgroup2 would show the VM's
		 * root: bind the container's own cgroup instead, as runc does,
		 * so its limits (memory.max, cpu.max) read as its own. */
		struct kc_mount b = {.destination = m->destination, .source = (char *)ctx->cgroup};
		struct kc_mount_opts bo = *o;
		bo.rbind = true;
		return mount_bind(rootfd, &b, &bo, err);
	}
	r = kc_do_mount(src, p, m->destination, type, o->flags, o->data, NULL);
	if (r == 0)
		return 0;
	/* Without a private network namespace (or inside a user namespace) the
	 * kernel refuses a fresh sysfs/cgroup2: bind the parent's instead. */
	if ((errno == EPERM || errno == EBUSY) &&
	    (!strcmp(type, "sysfs") || !strcmp(type, "cgroup2") || !strcmp(type, "mqueue"))) {
		const char *from = !strcmp(type, "sysfs")     ? "/sys"
				   : !strcmp(type, "cgroup2") ? "/sys/fs/cgroup"
							      : "/dev/mqueue";
		struct kc_mount b = {.destination = m->destination, .source = (char *)from};
		struct kc_mount_opts bo = *o;
		bo.rbind = true;
		return mount_bind(rootfd, &b, &bo, err);
	}
	return kc_do_mount(src, p, m->destination, type, o->flags, o->data, err);
}

static int mount_one(int rootfd, const struct kc_mount *m, const struct mount_ctx *ctx,
		     kc_err **err)
{
	struct kc_mount_opts o;
	int r;

	if (kc_mount_opts_parse(m->options, kc_strv_len(m->options), &o, err) < 0)
		return kc_err_retp(err);
	if (o.bind || (m->type && !strcmp(m->type, "bind")))
		r = mount_bind(rootfd, m, &o, err);
	else if (!m->type || !*m->type)
		r = kc_err_set(err, EINVAL, "mount `%s`: no type and not a bind mount",
			       m->destination);
	else
		r = mount_fs(rootfd, m, &o, ctx, err);
	if (r == 0 && o.propagation) {
		_cleanup_close_ int fd = kc_open_in_root(rootfd, m->destination, O_PATH, 0, err);
		char p[32];
		if (fd < 0)
			r = kc_err_retp(err);
		else {
			kc_fd_path(fd, p);
			r = kc_do_mount(NULL, p, m->destination, NULL, o.propagation, NULL, err);
		}
	}
	kc_mount_opts_clear(&o);
	return r;
}

static int make_device(int rootfd, const char *path, char type, unsigned major, unsigned minor,
		       mode_t mode, uid_t uid, gid_t gid, bool userns, kc_err **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	_cleanup_close_ int dfd = -1;
	const char *name = strrchr(path, '/') + 1;
	mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;

	*slash = '\0';
	dfd = kc_mkdir_in_root(rootfd, *dir ? dir : "/", 0755, err);
	if (dfd < 0)
		return kc_err_retp(err);
	{
		/* O_PATH fds do not take *at() creation calls on old kernels; get
		 * a real directory fd. */
		char p[32];
		kc_fd_path(dfd, p);
		int real = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (real < 0)
			return kc_err_sys(err, "open parent of `%s`", path);
		close(dfd);
		dfd = real;
	}
	if (!userns || type == 'p') {
		(void)unlinkat(dfd, name, 0);
		if (mknodat(dfd, name, fmt | (mode & 07777), makedev(major, minor)) < 0)
			return kc_err_sys(err, "mknod `%s`", path);
		if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return kc_err_sys(err, "chown `%s`", path);
		if (fchmodat(dfd, name, mode & 07777, 0) < 0)
			return kc_err_sys(err, "chmod `%s`", path);
		return 0;
	}
	/* In a user namespace mknod is refused: bind the parent's node. */
	{
		_cleanup_close_ int f =
		    openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		char p[32];
		if (f < 0)
			return kc_err_sys(err, "create `%s`", path);
		close(f);
		f = openat(dfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
		if (f < 0)
			return kc_err_sys(err, "open `%s`", path);
		kc_fd_path(f, p);
		return kc_do_mount(path, p, path, NULL, MS_BIND, NULL, err);
	}
}

static int setup_dev(int rootfd, const struct kc_spec *spec, bool userns, kc_err **err)
{
	bool dev_is_tmpfs = false;

	for (size_t i = 0; i < spec->n_mounts; i++)
		if (!strcmp(spec->mounts[i].destination, "/dev"))
			dev_is_tmpfs =
			    spec->mounts[i].type && strcmp(spec->mounts[i].type, "bind") != 0;
	if (dev_is_tmpfs) {
		for (size_t i = 0; i < KC_ARRAY_SIZE(default_devices); i++)
			if (make_device(rootfd, default_devices[i].path, 'c',
					default_devices[i].major, default_devices[i].minor, 0666, 0,
					0, userns, err) < 0)
				return kc_err_retp(err);
		for (size_t i = 0; i < KC_ARRAY_SIZE(default_links); i++) {
			_cleanup_close_ int d =
			    kc_open_in_root(rootfd, "/dev", O_DIRECTORY, 0, err);
			if (d < 0)
				return kc_err_retp(err);
			if (symlinkat(default_links[i].target, d, default_links[i].link + 5) < 0 &&
			    errno != EEXIST)
				return kc_err_sys(err, "symlink `%s`", default_links[i].link);
		}
		{
			/* Mount point for a terminal's /dev/console. */
			int fd = kc_touch_in_root(rootfd, "/dev/console", err);
			if (fd < 0)
				return kc_err_retp(err);
			close(fd);
		}
	}
	for (size_t i = 0; i < spec->n_devices; i++) {
		const struct kc_device *d = &spec->devices[i];
		if (make_device(rootfd, d->path, d->type == 'u' ? 'c' : d->type, (unsigned)d->major,
				(unsigned)d->minor, d->has_mode ? d->mode : 0666,
				d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0, userns, err) < 0)
			return kc_err_wrap(err, "linux.devices[%zu]", i);
	}
	return 0;
}

static bool is_null_device(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
	       minor(st.st_rdev) == 3;
}

/* The agent's /dev/null, checked to be the null device. Masks are bound from
 * a verified fd, never from a path inside the container: its image could
 * make /dev/null a link to something it wants writable (runc's CVE-2025-31133). */
static int open_null(kc_err **err)
{
	_cleanup_close_ int fd = open("/dev/null", O_PATH | O_CLOEXEC);

	if (fd < 0)
		return kc_err_sys(err, "open /dev/null");
	if (!is_null_device(fd))
		return kc_err_set(err, EINVAL, "/dev/null is not the null device (1:3)");
	return steal_fd(&fd);
}

/* readonlyPaths then maskedPaths (runc's order), resolved in the root once
 * and mounted onto the resolved fd: no stat-then-mount-by-path race. */
static int restrict_paths(int rootfd, int nullfd, const struct kc_spec *spec, kc_err **err)
{
	/* The container's own /dev/null when it is the null device (what runc
	 * binds, so a mask looks the same), else the agent's. */
	_cleanup_close_ int own =
	    kc_open_in_root(rootfd, "/dev/null", O_PATH | O_NOFOLLOW, 0, NULL);
	char np[32];

	kc_fd_path(own >= 0 && is_null_device(own) ? own : nullfd, np);
	for (size_t i = 0; spec->readonly_paths && spec->readonly_paths[i]; i++) {
		const char *p = spec->readonly_paths[i];
		_cleanup_close_ int fd = kc_open_in_root(rootfd, p, O_PATH, 0, NULL);
		_cleanup_close_ int top = -1;
		char fp[32];

		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return kc_err_sys(err, "read-only path `%s`", p);
		}
		kc_fd_path(fd, fp);
		if (kc_do_mount(fp, fp, p, NULL, MS_BIND | MS_REC, NULL, err) < 0)
			return kc_err_wrap(err, "read-only path");
		/* Remount the new mount: re-resolve, fd is the covered inode. */
		top = kc_open_in_root(rootfd, p, O_PATH, 0, err);
		if (top < 0)
			return kc_err_retp(err);
		kc_fd_path(top, fp);
		if (kc_do_mount(NULL, fp, p, NULL,
				MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(fp), NULL, err) < 0)
			return kc_err_wrap(err, "remount read-only");
	}
	for (size_t i = 0; spec->masked_paths && spec->masked_paths[i]; i++) {
		const char *p = spec->masked_paths[i];
		_cleanup_close_ int fd = kc_open_in_root(rootfd, p, O_PATH, 0, NULL);
		struct stat st;
		char fp[32];

		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return kc_err_sys(err, "masked path `%s`", p);
		}
		if (fstat(fd, &st) < 0)
			return kc_err_sys(err, "masked path `%s`", p);
		kc_fd_path(fd, fp);
		if (S_ISDIR(st.st_mode)) {
			if (kc_do_mount("tmpfs", fp, p, "tmpfs", MS_RDONLY, "size=0k", err) < 0)
				return kc_err_wrap(err, "mask");
		} else if (kc_do_mount(np, fp, p, NULL, MS_BIND, NULL, err) < 0) {
			return kc_err_wrap(err, "mask");
		}
	}
	return 0;
}

int kc_rootfs_setup(const struct kc_spec *spec, const char *rootfs, const char *cgroup, bool userns,
		    kc_err **err)
{
	_cleanup_close_ int rootfd = -1, nullfd = -1;
	const struct kc_namespace *cns = kc_spec_namespace(spec, CLONE_NEWCGROUP);
	struct mount_ctx ctx = {.cgroup = cgroup, .cgroupns = cns && !cns->path};

	nullfd = open_null(err);
	if (nullfd < 0)
		return kc_err_retp(err);
	/* Nothing we mount may propagate back to the agent's namespace. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return kc_err_sys(err, "make / rslave");
	/* pivot_root needs the new root to be a mount point. */
	if (kc_do_mount(rootfs, rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL, err) < 0)
		return kc_err_retp(err);
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kc_err_sys(err, "open rootfs `%s`", rootfs);
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (mount_one(rootfd, &spec->mounts[i], &ctx, err) < 0)
			return kc_err_retp(err);
	if (setup_dev(rootfd, spec, userns, err) < 0)
		return kc_err_retp(err);
	if (restrict_paths(rootfd, nullfd, spec, err) < 0)
		return kc_err_retp(err);
	if (chdir(rootfs) < 0)
		return kc_err_sys(err, "chdir `%s`", rootfs);
	/* pivot_root(".", "."): stack the old root under the new one, then
	 * detach it; no directory for the old root is needed (runc, crun). */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return kc_err_sys(err, "pivot_root `%s`", rootfs);
	if (umount2(".", MNT_DETACH) < 0)
		return kc_err_sys(err, "detach old root");
	if (chdir("/") < 0)
		return kc_err_sys(err, "chdir /");
	if (spec->rootfs_propagation && mount(NULL, "/", NULL, spec->rootfs_propagation, NULL) < 0)
		return kc_err_sys(err, "set rootfs propagation");
	return 0;
}

int kc_rootfs_finish(const struct kc_spec *spec, kc_err **err)
{
	if (spec->root_readonly &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), NULL) < 0)
		return kc_err_sys(err, "remount / read-only");
	return 0;
}
