/* SPDX-License-Identifier: Apache-2.0 */
/* Containers' disks: the decision, the guest's view, attach and detach
 * through the pod's owner (see diskplan.h). */
#include "diskplan.h"

#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

#define UEVENT_MAX 4096

static bool opt_in(char *const *opts, size_t n, const char *opt)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i] && !strcmp(opts[i], opt))
			return true;
	return false;
}

/* What the path is, without following a link: 'f' regular file, 'b' block
 * device, 0 anything else (or missing). */
static char node_kind(const char *path, dev_t *rdev)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!path || path[0] != '/')
		return 0;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	if (rdev)
		*rdev = st.st_rdev;
	return S_ISREG(st.st_mode) ? 'f' : S_ISBLK(st.st_mode) ? 'b' : 0;
}

/* Filesystem types that are never a disk's. */
static bool not_a_disk_type(const char *type)
{
	static const char *const no[] = {"",     "bind",  "rbind",  "overlay", "tmpfs",  "none",
					 "proc", "sysfs", "devpts", "mqueue",  "cgroup", "cgroup2"};
	for (size_t i = 0; i < KC_ARRAY_SIZE(no); i++)
		if (!type || !strcmp(type, no[i]))
			return true;
	return false;
}

/* An image file (with `loop`, or an erofs image, which the kernel mounts
 * file-backed), or a block device. */
static bool is_disk(const char *type, const char *src, bool loop)
{
	char k;

	if (not_a_disk_type(type))
		return false;
	k = node_kind(src, NULL);
	return k == 'b' || (k == 'f' && (loop || !strcmp(type, "erofs")));
}

static int add(struct blk_plan *p, enum blk_kind kind, size_t index, const char *path, bool ro,
	       kc_err **err)
{
	struct blk_disk *d;

	if (p->n == BLK_MAX_DISKS)
		return kc_err_set(err, ENOSPC, "more than %d disks for one container",
				  BLK_MAX_DISKS);
	d = &p->d[p->n++];
	d->kind = kind;
	d->index = index;
	d->path = xstrdup(path);
	d->read_only = ro;
	return 0;
}

static int plan_rootfs(struct blk_plan *p, Containerd__Types__Mount *const *rootfs, size_t n,
		       kc_err **err)
{
	const Containerd__Types__Mount *m = n == 1 ? rootfs[0] : NULL;

	if (!m || !is_disk(m->type, m->source, opt_in(m->options, m->n_options, "loop")))
		return 0;
	if (add(p, BLK_ROOTFS, 0, m->source, opt_in(m->options, m->n_options, "ro"), err) < 0)
		return kc_err_retp(err);
	p->rootfs_type = xstrdup(m->type);
	p->rootfs_opts = xcalloc(m->n_options + 1, sizeof(char *));
	/* `loop` is how the host would have mounted it; the rest is the
	 * filesystem's (nouuid, ro, ...): kept. */
	for (size_t i = 0; i < m->n_options; i++)
		if (m->options[i] && strcmp(m->options[i], "loop"))
			p->rootfs_opts[p->n_rootfs_opts++] = xstrdup(m->options[i]);
	return 0;
}

static bool is_bind_mount(json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	return (type && (!strcmp(type, "bind") || !strcmp(type, "rbind"))) ||
	       bundle_mount_has_opt(m, "bind") || bundle_mount_has_opt(m, "rbind");
}

static int plan_volumes(struct blk_plan *p, json_t *doc, kc_err **err)
{
	json_t *mounts = json_object_get(doc, "mounts"), *m;
	size_t i;

	json_array_foreach(mounts, i, m)
	{
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));

		if (is_bind_mount(m) || !is_disk(type, src, bundle_mount_has_opt(m, "loop")))
			continue;
		if (add(p, BLK_VOLUME, i, src, bundle_mount_has_opt(m, "ro"), err) < 0)
			return kc_err_retp(err);
	}
	return 0;
}

/* Privileged containers allow every device: they are given all of the
 * host's nodes, which are not theirs to take into the VM. */
static bool allows_all_devices(json_t *doc)
{
	json_t *r =
	    json_object_get(json_object_get(json_object_get(doc, "linux"), "resources"), "devices");
	json_t *rule;
	size_t i;

	json_array_foreach(r, i, rule)
	{
		const char *type = json_string_value(json_object_get(rule, "type"));
		if (json_is_true(json_object_get(rule, "allow")) && (!type || !strcmp(type, "a")) &&
		    !json_is_integer(json_object_get(rule, "major")) &&
		    !json_is_integer(json_object_get(rule, "minor")))
			return true;
	}
	return false;
}

/* The host node of a block device by its numbers: /sys/dev/block/M:m's
 * DEVNAME, checked to be that device. */
static char *host_node(json_int_t major, json_int_t minor)
{
	_cleanup_free_ char *ue = NULL, *text = NULL;
	char *name, *end, *node;
	dev_t rdev = 0;

	if (major < 0 || minor < 0 || major > 0xfff || minor > 0xfffff)
		return NULL;
	ue = xasprintf("/sys/dev/block/%lld:%lld/uevent", (long long)major, (long long)minor);
	if (kc_read_file(ue, UEVENT_MAX, &text, NULL, NULL) < 0)
		return NULL;
	name = strstr(text, "DEVNAME=");
	if (!name || (name != text && name[-1] != '\n'))
		return NULL;
	name += strlen("DEVNAME=");
	end = strchr(name, '\n');
	if (end)
		*end = '\0';
	if (!*name || strstr(name, ".."))
		return NULL;
	node = xasprintf("/dev/%s", name);
	if (node_kind(node, &rdev) != 'b' || major(rdev) != (unsigned)major ||
	    minor(rdev) != (unsigned)minor) {
		free(node);
		return NULL;
	}
	return node;
}

static int plan_devices(struct blk_plan *p, json_t *doc, kc_err **err)
{
	json_t *devs = json_object_get(json_object_get(doc, "linux"), "devices"), *v;
	size_t i;

	if (!json_array_size(devs))
		return 0;
	if (allows_all_devices(doc)) {
		log_debug("a privileged container: its block devices stay the VM's own");
		return 0;
	}
	json_array_foreach(devs, i, v)
	{
		const char *type = json_string_value(json_object_get(v, "type"));
		const char *path = json_string_value(json_object_get(v, "path"));
		json_t *ma = json_object_get(v, "major"), *mi = json_object_get(v, "minor");
		_cleanup_free_ char *node = NULL;

		if (!type || strcmp(type, "b") || !path || !json_is_integer(ma) ||
		    !json_is_integer(mi))
			continue;
		node = host_node(json_integer_value(ma), json_integer_value(mi));
		if (!node) {
			log_warn("block device %s (%lld:%lld): no host node found; not passed",
				 path, (long long)json_integer_value(ma),
				 (long long)json_integer_value(mi));
			continue;
		}
		if (add(p, BLK_DEVICE, i, node, false, err) < 0)
			return kc_err_retp(err);
	}
	return 0;
}

int blk_plan_make(json_t *doc, Containerd__Types__Mount *const *rootfs, size_t n_rootfs,
		  struct blk_plan **ret, kc_err **err)
{
	struct blk_plan *p = xcalloc(1, sizeof(*p));

	*ret = NULL;
	if (plan_rootfs(p, rootfs, n_rootfs, err) < 0 || plan_volumes(p, doc, err) < 0 ||
	    plan_devices(p, doc, err) < 0) {
		blk_plan_free(p);
		return kc_err_retp(err);
	}
	if (!p->n) {
		blk_plan_free(p);
		return 0;
	}
	*ret = p;
	return 0;
}

void blk_plan_free(struct blk_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->d[i].path);
		free(p->d[i].id);
		free(p->d[i].addr);
	}
	for (size_t i = 0; i < p->n_rootfs_opts; i++)
		free(p->rootfs_opts[i]);
	free(p->rootfs_opts);
	free(p->rootfs_type);
	free(p);
}

bool blk_plan_rootfs(const struct blk_plan *p)
{
	return p && p->n > 0 && p->d[0].kind == BLK_ROOTFS;
}

void blk_plan_rootfs_mount(const struct blk_plan *p, Containerd__Types__Mount *out)
{
	containerd__types__mount__init(out);
	out->type = p->rootfs_type;
	out->source = p->d[0].addr;
	out->target = "";
	out->options = p->rootfs_opts;
	out->n_options = p->n_rootfs_opts;
}

static json_t *without_loop(json_t *opts)
{
	json_t *a = json_array(), *v;
	size_t i;
	json_array_foreach(opts, i, v)
	{
		if (!json_is_string(v) || strcmp(json_string_value(v), "loop"))
			json_array_append(a, v);
	}
	return a;
}

int blk_plan_apply(const struct blk_plan *p, json_t *doc, kc_err **err)
{
	json_t *mounts = json_object_get(doc, "mounts");
	json_t *map = json_object();
	char *text;

	for (size_t i = 0; p && i < p->n; i++) {
		const struct blk_disk *d = &p->d[i];
		json_t *m;

		if (!d->addr) {
			json_decref(map);
			return kc_err_set(err, EINVAL, "disk %s: not attached", d->path);
		}
		if (d->kind == BLK_VOLUME) {
			m = json_array_get(mounts, d->index);
			json_object_set_new(m, "source", json_string(d->addr));
			if (json_object_get(m, "options"))
				json_object_set_new(m, "options",
						    without_loop(json_object_get(m, "options")));
		} else if (d->kind == BLK_DEVICE) {
			json_t *dev = json_array_get(
			    json_object_get(json_object_get(doc, "linux"), "devices"), d->index);
			json_object_set_new(map, json_string_value(json_object_get(dev, "path")),
					    json_string(d->addr));
		}
	}
	if (!json_object_size(map)) {
		json_decref(map);
		return 0;
	}
	text = json_dumps(map, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(map);
	if (!text)
		return kc_err_set(err, ENOMEM, "annotations");
	if (!json_is_object(json_object_get(doc, "annotations")))
		json_object_set_new(doc, "annotations", json_object());
	json_object_set_new(json_object_get(doc, "annotations"), BLK_DEVICE_ANNOTATION,
			    json_string(text));
	free(text);
	return 0;
}

json_t *blk_plan_encode(const struct blk_plan *p)
{
	json_t *a = json_array();
	for (size_t i = 0; p && i < p->n; i++)
		if (p->d[i].id && p->d[i].addr)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "path", p->d[i].path,
							   "id", p->d[i].id, "addr", p->d[i].addr));
	return a;
}

struct blk_plan *blk_plan_decode(json_t *a)
{
	struct blk_plan *p;
	json_t *e;
	size_t i;

	if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > BLK_MAX_DISKS)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	json_array_foreach(a, i, e)
	{
		const char *path = json_string_value(json_object_get(e, "path"));
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *addr = json_string_value(json_object_get(e, "addr"));
		struct blk_disk *d = &p->d[p->n];
		if (!path || !id || !addr || strlen(id) > 64 || strlen(addr) > 64)
			continue;
		d->kind = BLK_VOLUME; /* only detached from now on */
		d->path = xstrdup(path);
		d->id = xstrdup(id);
		d->addr = xstrdup(addr);
		p->n++;
	}
	if (!p->n) {
		blk_plan_free(p);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------ attach */

struct attach {
	struct tpod *pod;
	char *tid;
	uint64_t gen;
	size_t i;
	tpod_vm_fn cb;
	void *ud;
};

static void next(struct attach *a);

static void on_orphan(void *ud, const char *id, const char *addr, const kc_err *err)
{
	char *what = ud;
	(void)id;
	(void)addr;
	if (err)
		log_warn("detach %s: %s", what, err->msg);
	free(what);
}

/* blk_detach_all's answers still to come. */
struct detaching {
	size_t left;
	tpod_vm_fn done;
	void *ud;
};

struct detach_one {
	struct detaching *all;
	char *what;
};

static void detaching_put(struct detaching *all)
{
	if (--all->left > 0)
		return;
	if (all->done)
		all->done(all->ud, NULL);
	free(all);
}

static void on_detached(void *ud, const char *id, const char *addr, const kc_err *err)
{
	struct detach_one *one = ud;
	struct detaching *all = one->all;
	(void)id;
	(void)addr;

	if (err)
		log_warn("detach %s: %s", one->what, err->msg);
	free(one->what);
	free(one);
	detaching_put(all);
}

static void attach_done(struct attach *a, const kc_err *err)
{
	a->cb(a->ud, err);
	free(a->tid);
	free(a);
}

static void on_attached(void *ud, const char *id, const char *addr, const kc_err *err)
{
	struct attach *a = ud;
	struct task *t = find_task(a->pod, a->tid);
	kc_err *e = NULL;

	if (!t || t->gen != a->gen || !t->blk) {
		/* Deleted meanwhile: what it had is detached already, but not
		 * this one. */
		if (!err)
			a->pod->ops->disk_detach(a->pod, id, on_orphan, xstrdup(id));
		kc_err_set(&e, ECANCELED, "container %s: deleted meanwhile", a->tid);
		attach_done(a, e);
		kc_err_free(e);
		return;
	}
	if (err) {
		kc_err_set(&e, err->code, "disk %s: %s", t->blk->d[a->i].path, err->msg);
		blk_detach_all(t, NULL, NULL);
		attach_done(a, e);
		kc_err_free(e);
		return;
	}
	t->blk->d[a->i].id = xstrdup(id);
	t->blk->d[a->i].addr = xstrdup(addr);
	log_debug("container %s: %s is %s in the VM", t->id, t->blk->d[a->i].path, addr);
	a->i++;
	next(a);
}

static void next(struct attach *a)
{
	struct task *t = find_task(a->pod, a->tid);
	struct blk_disk *d;

	if (a->i == t->blk->n)
		return attach_done(a, NULL);
	d = &t->blk->d[a->i];
	a->pod->ops->disk_attach(a->pod, d->path, d->read_only, on_attached, a);
}

void blk_attach_all(struct task *t, tpod_vm_fn cb, void *ud)
{
	struct attach *a;
	kc_err *e = NULL;

	if (!t->blk || !t->blk->n)
		return cb(ud, NULL);
	if (!t->pod->ops->disk_attach) {
		kc_err_set(&e, ENOTSUP, "container %s: this runtime cannot hot-plug disks", t->id);
		cb(ud, e);
		kc_err_free(e);
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->pod = t->pod;
	a->tid = xstrdup(t->id);
	a->gen = t->gen;
	a->cb = cb;
	a->ud = ud;
	next(a);
}

void blk_detach_all(struct task *t, tpod_vm_fn done, void *ud)
{
	struct tpod *pod = t->pod;
	struct detaching *all = xcalloc(1, sizeof(*all));

	all->done = done;
	all->ud = ud;
	/* One extra: nothing finishes before every detach is asked. */
	all->left = 1;
	for (size_t i = 0; t->blk && i < t->blk->n; i++) {
		struct blk_disk *d = &t->blk->d[i];
		if (!d->id)
			continue;
		/* A VM that is gone took its disks along (the sandboxer forgets
		 * them when it stops). */
		if (pod->ops->disk_detach && pod->vm_state == TPOD_VM_READY) {
			struct detach_one *one = xcalloc(1, sizeof(*one));
			one->all = all;
			one->what = xasprintf("%s (%s)", d->path, d->addr);
			all->left++;
			pod->ops->disk_detach(pod, d->id, on_detached, one);
		}
		free(d->id);
		free(d->addr);
		d->id = d->addr = NULL;
	}
	detaching_put(all);
}
