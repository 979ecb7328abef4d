/* SPDX-License-Identifier: Apache-2.0 */
#include "boot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "util.h"

#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994
#define NEWROOT      "/.kc-root"

static char *errors;
static int n_errors;
static struct rlimit nofile_default;
static bool nofile_raised;

static void record(kc_err *err, const char *step)
{
	char *line;
	log_error("init: %s: %s", step, kc_err_msg(err));
	line = errors ? xasprintf("%s; %s: %s", errors, step, kc_err_msg(err))
		      : xasprintf("%s: %s", step, kc_err_msg(err));
	free(errors);
	errors = line;
	n_errors++;
	kc_err_free(err);
}

/* ------------------------------------------------ leave the initramfs root */

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st, kc_err **err)
{
	_cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_close_ int out = -1;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return kc_err_sys(err, "open %s", name);
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
	if (out < 0)
		return kc_err_sys(err, "create %s", name);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (kc_write_all(out, buf, (size_t)n) < 0)
			return kc_err_sys(err, "write %s", name);
	if (n < 0)
		return kc_err_sys(err, "read %s", name);
	return 0;
}

/* Copy a directory tree, staying on one filesystem, removing each source
 * entry once copied so the initramfs memory is released as we go. */
static int move_tree(int sdir, int ddir, dev_t dev, kc_err **err)
{
	DIR *d = fdopendir(fcntl(sdir, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;
	int r = 0;

	if (!d)
		return kc_err_sys(err, "opendir");
	while ((de = readdir(d)) && r == 0) {
		const char *name = de->d_name;
		struct stat st;

		if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, NEWROOT + 1))
			continue;
		if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = kc_err_sys(err, "stat %s", name);
			break;
		}
		if (st.st_dev != dev)
			continue; /* a mount point: not ours to copy */
		if (S_ISDIR(st.st_mode)) {
			int s2, d2;
			if (mkdirat(ddir, name, st.st_mode & 07777) < 0 && errno != EEXIST) {
				r = kc_err_sys(err, "mkdir %s", name);
				break;
			}
			s2 = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			d2 = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (s2 < 0 || d2 < 0)
				r = kc_err_sys(err, "open %s", name);
			else
				r = move_tree(s2, d2, dev, err);
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
			if (r == 0)
				(void)unlinkat(sdir, name, AT_REMOVEDIR);
		} else if (S_ISREG(st.st_mode)) {
			r = copy_file(sdir, ddir, name, &st, err);
			if (r == 0)
				(void)unlinkat(sdir, name, 0);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
			if (n < 0) {
				r = kc_err_sys(err, "readlink %s", name);
				break;
			}
			target[n] = '\0';
			if (symlinkat(target, ddir, name) < 0)
				r = kc_err_sys(err, "symlink %s", name);
			else
				(void)unlinkat(sdir, name, 0);
		} else {
			if (mknodat(ddir, name, st.st_mode, st.st_rdev) < 0)
				r = kc_err_sys(err, "mknod %s", name);
			else
				(void)unlinkat(sdir, name, 0);
		}
		if (r == 0)
			(void)fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
	}
	closedir(d);
	return r;
}

/* pivot_root(2) refuses the initramfs root ("rootfs" has no parent mount), and
 * every container needs it; so PID 1 first moves onto a tmpfs root. */
static int leave_initramfs(kc_err **err)
{
	struct statfs sf;
	struct stat st;
	_cleanup_close_ int src = -1, dst = -1;

	if (statfs("/", &sf) < 0)
		return kc_err_sys(err, "statfs /");
	if ((uint32_t)sf.f_type != RAMFS_MAGIC_ && (uint32_t)sf.f_type != TMPFS_MAGIC_)
		return 0; /* booted from a disk image */
	if (stat("/", &st) < 0)
		return kc_err_sys(err, "stat /");
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST)
		return kc_err_sys(err, "mkdir %s", NEWROOT);
	if (mount("rootfs", NEWROOT, "tmpfs", 0, "mode=0755") < 0)
		return kc_err_sys(err, "mount tmpfs on %s", NEWROOT);
	src = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dst = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || dst < 0)
		return kc_err_sys(err, "open roots");
	if (move_tree(src, dst, st.st_dev, err) < 0)
		return kc_err_wrap(err, "copy initramfs to tmpfs");
	if (chdir(NEWROOT) < 0 || mount(NEWROOT, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		return kc_err_sys(err, "switch to tmpfs root");
	return 0;
}

/* --------------------------------------------------------- filesystems */

struct early_mount {
	const char *src, *target, *type;
	unsigned long flags;
	const char *data;
};

static const struct early_mount early_mounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
    {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate"},
};

static int mount_early(const struct early_mount *m, kc_err **err)
{
	if (mkdir(m->target, 0755) < 0 && errno != EEXIST)
		return kc_err_sys(err, "mkdir %s", m->target);
	if (mount(m->src, m->target, m->type, m->flags, m->data) < 0 && errno != EBUSY)
		return kc_err_sys(err, "mount %s on %s", m->type, m->target);
	return 0;
}

static int enable_cgroup_controllers(kc_err **err)
{
	_cleanup_free_ char *avail = NULL;
	char buf[256];
	size_t n = 0;
	char *save = NULL;

	if (kc_read_file("/sys/fs/cgroup/cgroup.controllers", 4096, &avail, NULL, err) < 0)
		return kc_err_retp(err);
	for (char *t = strtok_r(avail, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s+%s", n ? " " : "", t);
	if (!n)
		return 0;
	return kc_write_file("/sys/fs/cgroup/cgroup.subtree_control", buf, n, O_WRONLY, 0, err);
}

/* ------------------------------------------------------------- modules */

static int load_modules(kc_err **err)
{
	_cleanup_free_ char *list = NULL;
	char *save = NULL;
	int loaded = 0;

	if (access("/lib/modules/load.list", F_OK) < 0)
		return 0; /* a kernel with everything built in */
	if (kc_read_file("/lib/modules/load.list", 1 << 20, &list, NULL, err) < 0)
		return kc_err_retp(err);
	for (char *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *path = xasprintf("/lib/modules/%s", l);
		_cleanup_close_ int fd = -1;
		if (!*l || *l == '#')
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kc_err_sys(err, "module %s", l);
		/* EEXIST: built in or already loaded; that is what we wanted. */
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			return kc_err_sys(err, "load module %s", l);
		loaded++;
	}
	log_debug("init: %d kernel modules loaded", loaded);
	return 0;
}

/* ---------------------------------------------------- shared filesystem */

static int mount_sharefs(enum kc_sharefs type, kc_err **err)
{
	if (type == KC_SHAREFS_NONE)
		return 0;
	if (kc_mkdir_p(KC_SHARED_DIR, 0755, err) < 0)
		return kc_err_retp(err);
	if (type == KC_SHAREFS_VIRTIOFS) {
		if (mount("kuasar", KC_SHARED_DIR, "virtiofs", MS_NODEV, NULL) < 0)
			return kc_err_sys(err, "mount virtiofs tag `kuasar` on %s", KC_SHARED_DIR);
	} else if (mount("kuasar", KC_SHARED_DIR, "9p", MS_NODEV, "trans=virtio,version=9p2000.L") <
		   0) {
		return kc_err_sys(err, "mount 9p tag `kuasar` on %s", KC_SHARED_DIR);
	}
	return 0;
}

static int set_hostname(const char *name, kc_err **err)
{
	_cleanup_free_ char *from_share = NULL;

	if (!name && kc_read_file(KC_SHARED_DIR "/hostname", 256, &from_share, NULL, NULL) == 0) {
		from_share[strcspn(from_share, "\n")] = '\0';
		if (*from_share)
			name = from_share;
	}
	if (!name)
		name = "kuasar";
	if (sethostname(name, strlen(name)) < 0)
		return kc_err_sys(err, "sethostname `%s`", name);
	return 0;
}

/* PID 1 holds an fd per connection, stdio stream, pidfd and cgroup: the
 * kernel's 1024 is reachable by a busy pod. Raise both limits to nr_open (as
 * systemd does for itself); containers start from the kernel's default again
 * (kc_boot_nofile_default), as before. */
static int raise_nofile(kc_err **err)
{
	_cleanup_free_ char *text = NULL;
	int64_t nr_open = 1 << 20;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &nofile_default) < 0)
		return kc_err_sys(err, "getrlimit RLIMIT_NOFILE");
	if (kc_read_file("/proc/sys/fs/nr_open", 64, &text, NULL, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		(void)kc_parse_i64(text, 1024, INT32_MAX, &nr_open);
	}
	rl.rlim_cur = rl.rlim_max = (rlim_t)nr_open;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return kc_err_sys(err, "raise RLIMIT_NOFILE to %lld", (long long)nr_open);
	nofile_raised = true;
	return 0;
}

bool kc_boot_nofile_default(struct rlimit *ret)
{
	if (nofile_raised)
		*ret = nofile_default;
	return nofile_raised;
}

int kc_boot_init(struct kc_cmdline *cmdline, char **ret_errors)
{
	kc_err *err = NULL;
	_cleanup_free_ char *text = NULL;

	if (leave_initramfs(&err) < 0)
		record(err, "root"), err = NULL;
	for (size_t i = 0; i < KC_ARRAY_SIZE(early_mounts); i++)
		if (mount_early(&early_mounts[i], &err) < 0)
			record(err, "mount"), err = NULL;
	/* Kernel consoles give PID 1 no stdio when /dev/console is missing. */
	if (fcntl(STDERR_FILENO, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	(void)unlink("/dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0 && errno != EEXIST)
		log_warn("init: symlink /dev/ptmx: %s", strerror(errno));
	if (enable_cgroup_controllers(&err) < 0)
		record(err, "cgroup controllers"), err = NULL;
	if (raise_nofile(&err) < 0)
		record(err, "fd limit"), err = NULL;
	if (kc_read_file("/proc/cmdline", 1 << 16, &text, NULL, &err) < 0)
		record(err, "cmdline"), err = NULL;
	else if (kc_cmdline_parse(text, cmdline, &err) < 0)
		record(err, "cmdline"), err = NULL;
	if (cmdline->log_level >= 0)
		kc_log_set_level((enum kc_log_level)cmdline->log_level);
	if (cmdline->unknown)
		log_warn("init: ignoring unknown options: %s", cmdline->unknown);
	if (load_modules(&err) < 0)
		record(err, "modules"), err = NULL;
	if (kc_nl_link_set_up("lo", true, &err) < 0)
		record(err, "network"), err = NULL;
	if (mount_sharefs(cmdline->sharefs, &err) < 0)
		record(err, "shared filesystem"), err = NULL;
	if (set_hostname(cmdline->hostname, &err) < 0)
		record(err, "hostname"), err = NULL;
	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	*ret_errors = errors;
	return n_errors;
}

void kc_boot_poweroff(void)
{
	log_info("powering off");
	kill(-1, SIGKILL);
	sync();
	reboot(RB_POWER_OFF);
	/* reboot(2) does not return for PID 1 unless it failed. */
	for (;;)
		pause();
}
