/* SPDX-License-Identifier: Apache-2.0 */
#include "blkdev.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "mountopt.h"
#include "util.h"

bool kc_blk_is_pci(const char *source)
{
	return source && kc_has_prefix(source, KC_BLK_PCI_PREFIX);
}

static bool hexdigits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int kc_blk_parse_pci(const char *source, char bdf[KC_BLK_BDF_LEN + 1], kc_err **err)
{
	const char *s;

	if (!kc_blk_is_pci(source))
		return kc_err_set(err, EINVAL, "block source `%.64s`: not pci:<BDF>",
				  source ? source : "");
	s = source + strlen(KC_BLK_PCI_PREFIX);
	/* dddd:bb:ss.f: the only form sysfs uses, so the only one we accept (it
	 * also keeps the name a single path component). */
	if (strlen(s) != KC_BLK_BDF_LEN || !hexdigits(s, 4) || s[4] != ':' ||
	    !hexdigits(s + 5, 2) || s[7] != ':' || !hexdigits(s + 8, 2) || s[10] != '.' ||
	    s[11] < '0' || s[11] > '7')
		return kc_err_set(
		    err, EINVAL, "block source `%.64s`: expected pci:dddd:bb:ss.f (lower-case hex)",
		    source);
	/* A PCI slot number has 5 bits. */
	if (strtoul((char[3]){s[8], s[9], 0}, NULL, 16) > 0x1f)
		return kc_err_set(err, EINVAL, "block source `%.64s`: slot above 1f", source);
	memcpy(bdf, s, KC_BLK_BDF_LEN + 1);
	return 0;
}

/* Read a small sysfs attribute (one line). */
static int read_attr(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* <pcidir>/virtio<N>/block/<name>: the one whole disk of a virtio-blk device
 * (partitions are below <name>, not beside it). */
static int find_disk(int pcifd, struct kc_blk_dev *ret)
{
	_cleanup_close_ int dupfd = dup(pcifd);
	DIR *d;
	struct dirent *e;
	int r = -ENOENT;

	if (dupfd < 0)
		return -errno;
	d = fdopendir(dupfd);
	if (!d)
		return -errno;
	dupfd = -1;
	while (r == -ENOENT && (e = readdir(d))) {
		_cleanup_close_ int bfd = -1;
		DIR *bd;
		struct dirent *be;
		if (strncmp(e->d_name, "virtio", 6) || !e->d_name[6])
			continue;
		bfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (bfd >= 0) {
			int t = openat(bfd, "block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			close(bfd);
			bfd = t;
		}
		if (bfd < 0)
			continue;
		bd = fdopendir(bfd);
		if (!bd)
			continue;
		bfd = -1;
		while ((be = readdir(bd))) {
			char devno[32];
			unsigned maj, min;
			_cleanup_close_ int nfd = -1;
			if (be->d_name[0] == '.' || strlen(be->d_name) >= sizeof(ret->name))
				continue;
			nfd = openat(dirfd(bd), be->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			/* `dev` appears with the disk: without it the disk is not ready. */
			if (nfd < 0 || read_attr(nfd, "dev", devno, sizeof(devno)) < 0 ||
			    sscanf(devno, "%u:%u", &maj, &min) != 2)
				continue;
			memcpy(ret->name, be->d_name, strlen(be->d_name) + 1);
			ret->dev = makedev(maj, min);
			r = 0;
			break;
		}
		closedir(bd);
	}
	closedir(d);
	return r;
}

int kc_blk_lookup(const char *sysfs, const char *bdf, struct kc_blk_dev *ret, kc_err **err)
{
	_cleanup_free_ char *p = xasprintf("%s/bus/pci/devices/%s", sysfs, bdf);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		if (errno == ENOENT)
			return kc_err_set(err, ENOENT, "no PCI device %s", bdf);
		return kc_err_sys(err, "open `%s`", p);
	}
	r = find_disk(fd, ret);
	if (r == -ENOENT)
		return kc_err_set(err, ENOENT, "PCI device %s has no virtio block disk", bdf);
	if (r < 0) {
		errno = -r;
		return kc_err_sys(err, "read `%s`", p);
	}
	return 0;
}

int kc_blk_find(const char *sysfs, const char *devdir, const char *bdf, struct kc_blk_dev *ret,
		char **node, kc_err **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (kc_blk_lookup(sysfs, bdf, ret, err) < 0)
		return kc_err_retp(err);
	if (!devdir)
		return 0;
	if (kc_blk_node(devdir, ret, &path, err) < 0)
		return kc_err_retp(err);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && (errno == ENXIO || errno == ENODEV))
		return kc_err_set(err, ENOENT, "`%s` is not live yet (%s)", path, strerror(errno));
	if (fd < 0)
		return kc_err_sys(err, "open `%s`", path);
	*node = steal_pointer(&path);
	return 0;
}

int kc_blk_node(const char *devdir, const struct kc_blk_dev *d, char **path, kc_err **err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", devdir, d->name);
	struct stat st;

	if (lstat(p, &st) == 0) {
		if (!S_ISBLK(st.st_mode) || st.st_rdev != d->dev)
			return kc_err_set(err, EEXIST, "`%s` is not block device %u:%u", p,
					  major(d->dev), minor(d->dev));
	} else if (errno != ENOENT) {
		return kc_err_sys(err, "stat `%s`", p);
	} else if (mknod(p, S_IFBLK | 0600, d->dev) < 0 && errno != EEXIST) {
		return kc_err_sys(err, "mknod `%s` (%u:%u)", p, major(d->dev), minor(d->dev));
	}
	*path = steal_pointer(&p);
	return 0;
}

int kc_blk_probe(const char *devpath, char **type, kc_err **err)
{
	blkid_probe pr = blkid_new_probe_from_filename(devpath);
	const char *t = NULL;
	int r;

	if (!pr)
		return kc_err_sys(err, "blkid: open `%s`", devpath);
	/* Superblocks only, TYPE only: no partition tables, no cache. */
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	r = blkid_do_safeprobe(pr);
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &t, NULL) == 0 && t && *t) {
		*type = xstrdup(t);
		blkid_free_probe(pr);
		return 0;
	}
	blkid_free_probe(pr);
	if (r == 1 || r == 0)
		return kc_err_set(err, ENOMEDIUM, "blkid: no filesystem found on `%s`", devpath);
	if (r == -2)
		return kc_err_set(
		    err, EINVAL, "blkid: `%s` has signatures of more than one filesystem", devpath);
	return kc_err_set(err, EIO, "blkid: probing `%s` failed", devpath);
}

int kc_blk_mount(const char *source, const char *declared, char *const *options, size_t n_options,
		 const char *target, kc_err **err)
{
	char bdf[KC_BLK_BDF_LEN + 1];
	struct kc_blk_dev d;
	_cleanup_free_ char *node = NULL, *type = NULL;
	_cleanup_free_ char **opts = xcalloc(n_options + 1, sizeof(char *));
	struct kc_mount_opts o;
	size_t k = 0;
	int r;

	if (kc_blk_parse_pci(source, bdf, err) < 0)
		return kc_err_retp(err);
	if (kc_blk_find("/sys", "/dev", bdf, &d, &node, err) < 0)
		return kc_err_wrap(err, "block device %s", source);
	if (kc_blk_probe(node, &type, err) < 0)
		return kc_err_wrap(err, "block device %s", source);
	if (declared && *declared && strcmp(declared, type))
		return kc_err_set(err, EINVAL,
				  "block device %s (%s): declared filesystem %s, but it holds %s",
				  source, node, declared, type);
	/* `loop` is the host's business (an image file there, a disk here). */
	for (size_t i = 0; i < n_options && options[i]; i++)
		if (strcmp(options[i], "loop"))
			opts[k++] = options[i];
	if (kc_mount_opts_parse(opts, k, &o, err) < 0)
		return kc_err_wrap(err, "block device %s", source);
	if (o.bind || o.propagation || (o.flags & MS_REMOUNT)) {
		kc_mount_opts_clear(&o);
		return kc_err_set(err, EINVAL,
				  "block device %s: bind, remount and propagation options do not "
				  "apply to a disk",
				  source);
	}
	r = kc_do_mount(node, target, target, type, o.flags, o.data, err);
	kc_mount_opts_clear(&o);
	if (r < 0)
		return kc_err_wrap(err, "block device %s", source);
	log_info("%s: %s %s mounted on %s", source, node, type, target);
	return 0;
}
