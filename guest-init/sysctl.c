/* SPDX-License-Identifier: Apache-2.0 */
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#define PROC_SUPER_MAGIC_ 0x9fa0

/* runc's list of IPC-namespaced keys (plus fs.mqueue.*). */
static const char *const ipc_keys[] = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
};

/* "a/b.c/d" (slash form: the first separator is '/') <-> "a.b/c.d": swap the
 * separators, as sysctl(8) does. */
static char *swap_form(const char *key)
{
	char *s = xstrdup(key);
	for (char *c = s; *c; c++)
		*c = *c == '.' ? '/' : *c == '/' ? '.' : *c;
	return s;
}

static bool slash_form(const char *key)
{
	size_t i = strcspn(key, "./");
	return key[i] == '/';
}

/* The dotted name (for the rules and messages). */
static char *dot_name(const char *key)
{
	return slash_form(key) ? swap_form(key) : xstrdup(key);
}

/* The path below /proc/sys. */
static char *proc_path(const char *key)
{
	return slash_form(key) ? xstrdup(key) : swap_form(key);
}

/* Every path component non-empty and neither "." nor "..". */
static bool valid_path(const char *p)
{
	const char *c = p;
	if (!*p)
		return false;
	for (;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!c[n])
			return true;
		c += n + 1;
	}
}

/* A joined network namespace that is in fact ours counts as none (runc). */
static int is_own_netns(const char *path, bool *own, kc_err **err)
{
	struct stat a, b;
	if (stat("/proc/self/ns/net", &a) < 0)
		return kc_err_sys(err, "stat /proc/self/ns/net");
	if (stat(path, &b) < 0)
		return kc_err_sys(err, "invalid netns path `%s`", path);
	*own = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return 0;
}

static int check_one(const struct kc_spec *spec, const char *key, bool pod_ns, kc_err **err)
{
	_cleanup_free_ char *name = dot_name(key);
	_cleanup_free_ char *path = proc_path(key);
	const struct kc_namespace *ns;

	if (!valid_path(path))
		return kc_err_set(err, EINVAL, "linux.sysctl: invalid key `%s`", key);
	for (size_t i = 0; i < KC_ARRAY_SIZE(ipc_keys); i++)
		if (!strcmp(name, ipc_keys[i]))
			goto ipc;
	if (kc_has_prefix(name, "fs.mqueue."))
		goto ipc;
	if (kc_has_prefix(name, "net.")) {
		bool own = false;
		ns = kc_spec_namespace(spec, CLONE_NEWNET);
		if (ns && ns->path && is_own_netns(ns->path, &own, err) < 0)
			return kc_err_retp(err);
		if ((ns && !own) || pod_ns)
			return 0;
		return kc_err_set(err, EPERM, "sysctl \"%s\" not allowed in host network namespace",
				  name);
	}
	if (kc_spec_namespace(spec, CLONE_NEWUTS) || pod_ns) {
		if (!strcmp(name, "kernel.domainname"))
			return 0;
		if (!strcmp(name, "kernel.hostname"))
			return kc_err_set(
			    err, EINVAL,
			    "sysctl \"%s\" is not allowed as it conflicts with the OCI "
			    "\"hostname\" field",
			    name);
	}
	return kc_err_set(err, EPERM, "sysctl \"%s\" is not in a separate kernel namespace", name);
ipc:
	if (kc_spec_namespace(spec, CLONE_NEWIPC) || pod_ns)
		return 0;
	return kc_err_set(err, EPERM, "sysctl \"%s\" is not allowed in the hosts ipc namespace",
			  name);
}

int kc_sysctl_check(const struct kc_spec *spec, bool pod_ns, kc_err **err)
{
	for (size_t i = 0; i < spec->n_sysctl; i++)
		if (check_one(spec, spec->sysctl_keys[i], pod_ns, err) < 0)
			return kc_err_wrap(err, "linux.sysctl");
	return 0;
}

int kc_sysctl_open_procsys(kc_err **err)
{
	_cleanup_close_ int fd = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct statfs sf;

	if (fd < 0)
		return kc_err_sys(err, "open /proc/sys");
	if (fstatfs(fd, &sf) < 0)
		return kc_err_sys(err, "fstatfs /proc/sys");
	if (sf.f_type != PROC_SUPER_MAGIC_)
		return kc_err_set(err, EXDEV, "/proc/sys is not on procfs (type %#lx)",
				  (unsigned long)sf.f_type);
	return steal_fd(&fd);
}

int kc_sysctl_apply(const struct kc_spec *spec, int procsys, kc_err **err)
{
	for (size_t i = 0; i < spec->n_sysctl; i++) {
		_cleanup_free_ char *path = proc_path(spec->sysctl_keys[i]);
		struct open_how how = {
		    .flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
		    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			       RESOLVE_NO_XDEV,
		};
		const char *val = spec->sysctl_vals[i];
		_cleanup_close_ int fd = -1;

		do
			fd = (int)syscall(SYS_openat2, procsys, path, &how, sizeof(how));
		while (fd < 0 && errno == EAGAIN);
		if (fd < 0)
			return kc_err_sys(err, "sysctl %s: open /proc/sys/%s", spec->sysctl_keys[i],
					  path);
		int r = kc_write_all(fd, val, strlen(val));
		if (r < 0) {
			errno = -r;
			return kc_err_sys(err, "sysctl %s: write `%s`", spec->sysctl_keys[i], val);
		}
	}
	return 0;
}
