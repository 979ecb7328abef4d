/* SPDX-License-Identifier: Apache-2.0 */
#include "mountopt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "util.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const struct {
	const char *name;
	unsigned long set, clear;
} flag_opts[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"remount", MS_REMOUNT, 0},
    {"mand", MS_MANDLOCK, 0},
    {"nomand", 0, MS_MANDLOCK},
    {"atime", 0, MS_NOATIME},
    {"noatime", MS_NOATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"nostrictatime", 0, MS_STRICTATIME},
    {"nosymfollow", MS_NOSYMFOLLOW, 0},
    {"defaults", 0, 0},
};

static const struct {
	const char *name;
	unsigned long flags;
} prop_opts[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

int kc_mount_opts_parse(char *const *options, size_t n, struct kc_mount_opts *o, kc_err **err)
{
	size_t datalen = 0;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; options && i < n && options[i]; i++) {
		const char *opt = options[i];
		bool known = false;

		if (!strcmp(opt, "bind")) {
			o->bind = true;
			continue;
		}
		if (!strcmp(opt, "rbind")) {
			o->bind = o->rbind = true;
			continue;
		}
		/* crun/containerd extensions that have no kernel meaning here. */
		if (!strcmp(opt, "tmpcopyup") || !strcmp(opt, "idmap") || !strncmp(opt, "x-", 2))
			continue;
		for (size_t k = 0; k < KC_ARRAY_SIZE(flag_opts) && !known; k++)
			if (!strcmp(opt, flag_opts[k].name)) {
				o->flags = (o->flags & ~flag_opts[k].clear) | flag_opts[k].set;
				o->clear = (o->clear & ~flag_opts[k].set) | flag_opts[k].clear;
				known = true;
			}
		for (size_t k = 0; k < KC_ARRAY_SIZE(prop_opts) && !known; k++)
			if (!strcmp(opt, prop_opts[k].name)) {
				o->propagation = prop_opts[k].flags;
				known = true;
			}
		if (known)
			continue;
		if (strchr(opt, '\n')) {
			kc_mount_opts_clear(o);
			return kc_err_set(err, EINVAL, "mount option `%s`: invalid", opt);
		}
		/* Everything else is for the filesystem (size=, mode=, lowerdir=...). */
		{
			size_t olen = strlen(opt);
			o->data = xrealloc(o->data, datalen + olen + 2);
			if (datalen)
				o->data[datalen++] = ',';
			memcpy(o->data + datalen, opt, olen + 1);
			datalen += olen;
		}
	}
	return 0;
}

void kc_mount_opts_clear(struct kc_mount_opts *o)
{
	free(o->data);
	memset(o, 0, sizeof(*o));
}

int kc_do_mount(const char *src, const char *target, const char *shown_target, const char *type,
		unsigned long flags, const char *data, kc_err **err)
{
	if (mount(src, target, type, flags, data) == 0)
		return 0;
	if (flags & MS_REMOUNT)
		return kc_err_sys(err, "remount `%s` (flags %#lx)", shown_target, flags);
	if (flags & MS_BIND)
		return kc_err_sys(err, "bind mount `%s` on `%s`", src ? src : "", shown_target);
	if (!type && (flags & (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)))
		return kc_err_sys(err, "set propagation of `%s`", shown_target);
	return kc_err_sys(err, "mount %s `%s` on `%s`%s%s", type ? type : "", src ? src : "",
			  shown_target, data && *data ? " with " : "", data ? data : "");
}

int kc_mount_pb(const Containerd__Types__Mount *m, const char *target, kc_err **err)
{
	const char *type = m->type, *source = m->source;
	struct kc_mount_opts o;
	int r;

	if (kc_mount_opts_parse(m->options, m->n_options, &o, err) < 0)
		return kc_err_retp(err);
	if (o.bind || (type && !strcmp(type, "bind"))) {
		r = kc_do_mount(source, target, target, NULL, MS_BIND | (o.rbind ? MS_REC : 0),
				NULL, err);
		if (r == 0 && (o.flags & ~MS_REMOUNT))
			r = kc_do_mount(NULL, target, target, NULL,
					MS_BIND | MS_REMOUNT | (o.flags & ~MS_REMOUNT), NULL, err);
	} else {
		r = kc_do_mount(source, target, target, type, o.flags, o.data, err);
	}
	if (r == 0 && o.propagation)
		r = kc_do_mount(NULL, target, target, NULL, o.propagation, NULL, err);
	kc_mount_opts_clear(&o);
	return r;
}

/* Decode mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int kc_umount_tree(const char *base, kc_err **err)
{
	_cleanup_free_ char *info = NULL;
	size_t blen = strlen(base);
	bool again = true;

	/* Deepest first; repeat while anything was unmounted (stacked mounts). */
	for (int round = 0; again && round < 64; round++) {
		_cleanup_free_ char *best = NULL;
		again = false;
		free(info);
		info = NULL;
		if (kc_read_file("/proc/self/mountinfo", 64u << 20, &info, NULL, err) < 0)
			return kc_err_retp(err);
		for (char *line = strtok(info, "\n"); line; line = strtok(NULL, "\n")) {
			char mp[4096];
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
				continue;
			unescape(mp);
			if (strncmp(mp, base, blen) || (mp[blen] != '/' && mp[blen] != '\0'))
				continue;
			if (!best || strlen(mp) > strlen(best)) {
				free(best);
				best = xstrdup(mp);
			}
		}
		if (best) {
			if (umount2(best, MNT_DETACH) < 0)
				return kc_err_sys(err, "umount `%s`", best);
			again = true;
		}
	}
	return 0;
}
