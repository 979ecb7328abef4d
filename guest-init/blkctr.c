/* SPDX-License-Identifier: Apache-2.0 */
#include "blkctr.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "spec.h"
#include "util.h"

struct kc_blk_set {
	char *dir;            /* <state>/blk/<id> */
	struct kc_mount root; /* the disk rootfs Mount (copied), if has_root */
	bool has_root;
	char (*bdfs)[KC_BLK_BDF_LEN + 1]; /* every disk named, to wait for */
	char **labels;                    /* where each is named ("rootfs", ...) */
	size_t n_bdfs;
	kc_blk_waiter *waiter;
	kc_blk_ctr_ready_fn fn;
	void *ud;
	char **mounted; /* staging dirs with a disk on them, in mount order */
	size_t n_mounted;
	char **dirs; /* staging dirs we created (rmdir on release) */
	size_t n_dirs;
};

void kc_blk_maps_free(struct kc_blk_map *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		free(m[i].path);
	free(m);
}

int kc_blk_annotation_parse(const char *text, struct kc_blk_map **ret, size_t *n, kc_err **err)
{
	json_error_t je;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	struct kc_blk_map *m = NULL;
	size_t k = 0;
	const char *key;
	json_t *v;

	*ret = NULL;
	*n = 0;
	if (!doc)
		return kc_err_set(err, EINVAL, "annotation %s: invalid JSON: %s", KC_BLK_ANNOTATION,
				  je.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return kc_err_set(err, EINVAL, "annotation %s: expected a JSON object",
				  KC_BLK_ANNOTATION);
	}
	if (json_object_size(doc) > KC_BLK_MAX_DEVICES) {
		json_decref(doc);
		return kc_err_set(err, E2BIG, "annotation %s: more than %d devices",
				  KC_BLK_ANNOTATION, KC_BLK_MAX_DEVICES);
	}
	m = xcalloc(json_object_size(doc) + 1, sizeof(*m));
	json_object_foreach(doc, key, v)
	{
		if (key[0] != '/' || !json_is_string(v) ||
		    kc_blk_parse_pci(json_string_value(v), m[k].bdf, err) < 0) {
			if (key[0] != '/')
				kc_err_set(err, EINVAL, "not an absolute path");
			else if (!json_is_string(v))
				kc_err_set(err, EINVAL, "expected a string pci:<BDF>");
			kc_err_wrap(err, "annotation %s: `%.128s`", KC_BLK_ANNOTATION, key);
			kc_blk_maps_free(m, k);
			json_decref(doc);
			return kc_err_retp(err);
		}
		m[k++].path = xstrdup(key);
	}
	json_decref(doc);
	*ret = m;
	*n = k;
	return 0;
}

int kc_blk_devices_rewrite(struct kc_spec *spec, const struct kc_blk_map *map, const dev_t *guest,
			   size_t n, kc_err **err)
{
	int64_t hmaj[KC_BLK_MAX_DEVICES], hmin[KC_BLK_MAX_DEVICES];
	struct kc_device *dev[KC_BLK_MAX_DEVICES];
	struct kc_resources *res = &spec->resources;

	if (n > KC_BLK_MAX_DEVICES)
		return kc_err_set(err, E2BIG, "more than %d block devices", KC_BLK_MAX_DEVICES);
	for (size_t i = 0; i < n; i++) {
		dev[i] = NULL;
		for (size_t j = 0; j < spec->n_devices && !dev[i]; j++)
			if (!strcmp(spec->devices[j].path, map[i].path))
				dev[i] = &spec->devices[j];
		if (!dev[i])
			return kc_err_set(err, ENOENT,
					  "annotation %s: `%s` is not in linux.devices",
					  KC_BLK_ANNOTATION, map[i].path);
		if (dev[i]->type != 'b')
			return kc_err_set(err, EINVAL,
					  "annotation %s: linux.devices `%s` is not a block device",
					  KC_BLK_ANNOTATION, map[i].path);
		hmaj[i] = dev[i]->major;
		hmin[i] = dev[i]->minor;
	}
	/* Rules are matched against the host numbers as given, all at once: a
	 * guest number equal to another entry's host number is not rewritten
	 * twice. Only rules naming the exact device are its own; a wildcard
	 * (b 8:* ...) stays what it says. */
	for (size_t r = 0; r < res->n_devices; r++) {
		struct kc_dev_rule *rule = &res->devices[r];
		if (rule->type != 'b' && rule->type != 'a')
			continue;
		for (size_t i = 0; i < n; i++)
			if (rule->major == hmaj[i] && rule->minor == hmin[i]) {
				rule->major = major(guest[i]);
				rule->minor = minor(guest[i]);
				break;
			}
	}
	for (size_t i = 0; i < n; i++) {
		log_debug("linux.devices %s: %lld:%lld -> %u:%u", map[i].path,
			  (long long)dev[i]->major, (long long)dev[i]->minor, major(guest[i]),
			  minor(guest[i]));
		dev[i]->major = major(guest[i]);
		dev[i]->minor = minor(guest[i]);
	}
	return 0;
}

bool kc_blk_rootfs_is_disk(Containerd__Types__Mount *const *rootfs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kc_blk_is_pci(rootfs[i]->source))
			return true;
	return false;
}

/* mkdir <set dir>/<name> (recorded for rmdir) and mount the disk there. */
static int stage(struct kc_blk_set *s, const char *name, const char *source, const char *type,
		 char *const *options, size_t n_options, char **ret, kc_err **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", s->dir, name);

	/* 0711 as a bundle's rootfs: a user-namespaced child must get through. */
	if (kc_mkdir_p(s->dir, 0711, err) < 0)
		return kc_err_retp(err);
	if (mkdir(dir, 0711) < 0)
		return kc_err_sys(err, "mkdir `%s`", dir);
	s->dirs = xrealloc(s->dirs, (s->n_dirs + 1) * sizeof(char *));
	s->dirs[s->n_dirs++] = xstrdup(dir);
	if (kc_blk_mount(source, type, options, n_options, dir, err) < 0)
		return kc_err_retp(err);
	s->mounted = xrealloc(s->mounted, (s->n_mounted + 1) * sizeof(char *));
	s->mounted[s->n_mounted++] = xstrdup(dir);
	*ret = steal_pointer(&dir);
	return 0;
}

/* A spec mount on a disk becomes a bind of its staging dir; its flags (ro,
 * nosuid, ...) apply to the bind as well, its data options (nouuid) only
 * to the disk's mount. */
static int prepare_mount(struct kc_blk_set *s, struct kc_mount *m, size_t idx, kc_err **err)
{
	_cleanup_free_ char *name = xasprintf("mount-%zu", idx);
	size_t n = kc_strv_len(m->options);
	const char *type = m->type && strcmp(m->type, "bind") ? m->type : "";
	char *dir = NULL;

	if (stage(s, name, m->source, type, m->options, n, &dir, err) < 0)
		return kc_err_wrap(err, "mount `%s`", m->destination);
	free(m->source);
	m->source = dir;
	free(m->type);
	m->type = xstrdup("bind");
	m->options = xrealloc(m->options, (n + 2) * sizeof(char *));
	m->options[n] = xstrdup("bind");
	m->options[n + 1] = NULL;
	return 0;
}

static int prepare_devices(struct kc_spec *spec, kc_err **err)
{
	const char *ann = kc_spec_annotation(spec, KC_BLK_ANNOTATION);
	struct kc_blk_map *map = NULL;
	dev_t guest[KC_BLK_MAX_DEVICES];
	size_t n = 0;
	int r = 0;

	if (!ann)
		return 0;
	if (kc_blk_annotation_parse(ann, &map, &n, err) < 0)
		return kc_err_retp(err);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct kc_blk_dev d;
		_cleanup_free_ char *node = NULL;
		r = kc_blk_find("/sys", "/dev", map[i].bdf, &d, &node, err);
		if (r < 0)
			kc_err_wrap(err, "linux.devices `%s` (pci:%s)", map[i].path, map[i].bdf);
		guest[i] = d.dev;
	}
	if (r == 0)
		r = kc_blk_devices_rewrite(spec, map, guest, n, err);
	kc_blk_maps_free(map, n);
	return r;
}

static void add_bdf(struct kc_blk_set *s, const char bdf[KC_BLK_BDF_LEN + 1], char *label)
{
	s->bdfs = xrealloc(s->bdfs, (s->n_bdfs + 1) * sizeof(*s->bdfs));
	s->labels = xrealloc(s->labels, (s->n_bdfs + 1) * sizeof(char *));
	memcpy(s->bdfs[s->n_bdfs], bdf, KC_BLK_BDF_LEN + 1);
	s->labels[s->n_bdfs++] = label;
}

/* Each address the container names, checked now (before any waiting). */
static int collect(struct kc_blk_set *s, Containerd__Types__Mount *const *rootfs, size_t n_rootfs,
		   const struct kc_spec *spec, kc_err **err)
{
	const char *ann = kc_spec_annotation(spec, KC_BLK_ANNOTATION);
	char bdf[KC_BLK_BDF_LEN + 1];

	if (kc_blk_rootfs_is_disk(rootfs, n_rootfs)) {
		const Containerd__Types__Mount *m = rootfs[0];
		if (n_rootfs != 1)
			return kc_err_set(err, EINVAL,
					  "rootfs: a disk (pci:) rootfs must be the only rootfs "
					  "mount, got %zu",
					  n_rootfs);
		if (!m->type || !*m->type || kc_has_prefix(m->type, "bind"))
			return kc_err_set(err, EINVAL,
					  "rootfs %.64s: needs a filesystem type, not `%.64s`",
					  m->source, m->type ? m->type : "");
		if (kc_blk_parse_pci(m->source, bdf, err) < 0)
			return kc_err_wrap(err, "rootfs");
		add_bdf(s, bdf, xstrdup("rootfs"));
		s->has_root = true;
		s->root.type = xstrdup(m->type);
		s->root.source = xstrdup(m->source);
		s->root.options = xcalloc(m->n_options + 1, sizeof(char *));
		for (size_t i = 0; i < m->n_options; i++)
			s->root.options[i] = xstrdup(m->options[i]);
	}
	for (size_t i = 0; i < spec->n_mounts; i++) {
		if (!kc_blk_is_pci(spec->mounts[i].source))
			continue;
		if (kc_blk_parse_pci(spec->mounts[i].source, bdf, err) < 0)
			return kc_err_wrap(err, "mount `%s`", spec->mounts[i].destination);
		add_bdf(s, bdf, xasprintf("mount `%.128s`", spec->mounts[i].destination));
	}
	if (ann) {
		struct kc_blk_map *map = NULL;
		size_t n = 0;
		if (kc_blk_annotation_parse(ann, &map, &n, err) < 0)
			return kc_err_retp(err);
		for (size_t i = 0; i < n; i++)
			add_bdf(s, map[i].bdf, xasprintf("linux.devices `%.128s`", map[i].path));
		kc_blk_maps_free(map, n);
	}
	return 0;
}

int kc_blk_ctr_new(const char *state_dir, const char *id, Containerd__Types__Mount *const *rootfs,
		   size_t n_rootfs, const struct kc_spec *spec, bool host_mode,
		   struct kc_blk_set **ret, kc_err **err)
{
	struct kc_blk_set *s = xcalloc(1, sizeof(*s));

	*ret = s;
	s->dir = xasprintf("%s/blk/%s", state_dir, id);
	if (collect(s, rootfs, n_rootfs, spec, err) < 0)
		return kc_err_retp(err);
	if (s->n_bdfs > 0 && host_mode)
		return kc_err_set(err, EPERM,
				  "%s: disks (pci: sources) are only for vmm-task as a VM's PID 1",
				  s->labels[0]);
	return 0;
}

bool kc_blk_ctr_has_root(const struct kc_blk_set *s)
{
	return s && s->has_root;
}

static void on_ready(kc_blk_waiter *w, const kc_err *err, size_t which, void *ud)
{
	struct kc_blk_set *s = ud;
	kc_err *e = NULL;

	(void)w;
	/* The waiter is done: free it before the owner may free us. */
	kc_blk_waiter_free(s->waiter);
	s->waiter = NULL;
	if (err)
		kc_err_set(&e, err->code, "%s: %s", which < s->n_bdfs ? s->labels[which] : "disk",
			   err->msg);
	s->fn(e, s->ud);
	kc_err_free(e);
}

int kc_blk_ctr_wait(struct kc_blk_set *s, kc_loop *loop, kc_blk_ctr_ready_fn fn, void *ud,
		    kc_err **err)
{
	if (s->n_bdfs == 0)
		return 1;
	s->fn = fn;
	s->ud = ud;
	return kc_blk_wait_async(loop, "/sys", "/dev", s->bdfs, s->n_bdfs, KC_BLK_WAIT_NS, on_ready,
				 s, &s->waiter, err);
}

int kc_blk_ctr_mount(struct kc_blk_set *s, struct kc_spec *spec, char **root, kc_err **err)
{
	*root = NULL;
	if (s->has_root && stage(s, "rootfs", s->root.source, s->root.type, s->root.options,
				 kc_strv_len(s->root.options), root, err) < 0)
		return kc_err_wrap(err, "rootfs");
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (kc_blk_is_pci(spec->mounts[i].source) &&
		    prepare_mount(s, &spec->mounts[i], i, err) < 0)
			return kc_err_retp(err);
	return prepare_devices(spec, err);
}

void kc_blk_ctr_release(struct kc_blk_set *s)
{
	if (!s)
		return;
	/* The container is gone by now; a lazy unmount covers a straggler (an
	 * exec helper, a process of another namespace still holding it). */
	while (s->n_mounted > 0) {
		char *dir = s->mounted[--s->n_mounted];
		if (umount2(dir, 0) < 0 && (errno != EBUSY || umount2(dir, MNT_DETACH) < 0))
			log_warn("unmount `%s`: %s", dir, strerror(errno));
		free(dir);
	}
	while (s->n_dirs > 0) {
		char *dir = s->dirs[--s->n_dirs];
		if (rmdir(dir) < 0 && errno != ENOENT)
			log_warn("rmdir `%s`: %s", dir, strerror(errno));
		free(dir);
	}
	if (rmdir(s->dir) < 0 && errno != ENOENT)
		log_warn("rmdir `%s`: %s", s->dir, strerror(errno));
	kc_blk_waiter_free(s->waiter);
	free(s->mounted);
	free(s->dirs);
	free(s->dir);
	free(s->bdfs);
	for (size_t i = 0; i < s->n_bdfs; i++)
		free(s->labels[i]);
	free(s->labels);
	free(s->root.type);
	free(s->root.source);
	kc_strv_free(s->root.options);
	free(s);
}
