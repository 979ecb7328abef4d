/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which mounts become hot-plugged disks (taskapi/diskplan.c) and what the
 * guest is told (block-contract.md): the rootfs Mounts containerd 2.1.9's
 * blockfile snapshotter ({ext4, <snapshots>/<id>, [loop, rw|ro]}), its erofs
 * snapshotter's single-layer view ({erofs, <layer.erofs>, [ro, loop]}) and
 * devmapper ({xfs, /dev/mapper/..., [nouuid]}) send; spec block volumes;
 * linux.devices of type b; the rewrite of the spec; attach/detach through
 * the pod's ops, undone on failure. The block device used is /dev/loop0
 * (only stat'ed; skipped where it is missing).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "diskplan.h"
#include "bundle.h"
#include "proc.h"
#include "testutil.h"
#include "tpod.h"
#include "util.h"

#define BLKDEV "/dev/loop0"

static char *tmp, *img, *lnk;

static void setup(void)
{
	tmp = tu_tmpdir("blkdev");
	img = xasprintf("%s/snapshots/7", tmp);
	lnk = xasprintf("%s/link", tmp);
	{
		_cleanup_free_ char *d = xasprintf("%s/snapshots", tmp);
		cr_assert_eq(mkdir(d, 0755), 0);
	}
	close(open(img, O_CREAT | O_WRONLY, 0600));
	cr_assert_eq(symlink(img, lnk), 0);
}

static void teardown(void)
{
	tu_rmtree(tmp);
	free(tmp);
	free(img);
	free(lnk);
}

TestSuite(blkdev, .init = setup, .fini = teardown);

static bool have_blkdev(void)
{
	struct stat st;
	return stat(BLKDEV, &st) == 0 && S_ISBLK(st.st_mode);
}

static Containerd__Types__Mount mnt(const char *type, const char *src, char **opts, size_t n)
{
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
	m.type = (char *)type;
	m.source = (char *)src;
	m.options = opts;
	m.n_options = n;
	return m;
}

static struct blk_plan *plan(json_t *doc, Containerd__Types__Mount *m, size_t n)
{
	Containerd__Types__Mount *pm[2] = {m, m};
	struct blk_plan *p = NULL;
	kc_err *e = NULL;
	json_t *empty = json_object();
	cr_assert_eq(blk_plan_make(doc ? doc : empty, pm, n, &p, &e), 0, "%s", kc_err_msg(e));
	json_decref(empty);
	return p;
}

static char *opts_str(const Containerd__Types__Mount *m)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < m->n_options; i++) {
		char *n = xasprintf("%s%s%s", s, i ? "," : "", m->options[i]);
		free(s);
		s = n;
	}
	return s;
}

Test(blkdev, blockfile_active_rw)
{
	char *o[] = {"loop", "rw"};
	Containerd__Types__Mount m = mnt("ext4", img, o, 2), fwd;
	struct blk_plan *p = plan(NULL, &m, 1);
	_cleanup_free_ char *os = NULL;

	cr_assert_not_null(p);
	cr_assert_eq(p->n, 1);
	cr_assert(blk_plan_rootfs(p));
	cr_assert_str_eq(p->d[0].path, img);
	cr_assert(!p->d[0].read_only);
	p->d[0].addr = xstrdup("pci:0000:00:10.0");
	blk_plan_rootfs_mount(p, &fwd);
	os = opts_str(&fwd);
	cr_assert_str_eq(fwd.type, "ext4");
	cr_assert_str_eq(fwd.source, "pci:0000:00:10.0");
	cr_assert_str_eq(fwd.target, "");
	cr_assert_str_eq(os, "rw");
	blk_plan_free(p);
}

Test(blkdev, blockfile_view_ro)
{
	char *o[] = {"loop", "ro"};
	Containerd__Types__Mount m = mnt("ext4", img, o, 2);
	struct blk_plan *p = plan(NULL, &m, 1);
	cr_assert(p && p->d[0].read_only);
	blk_plan_free(p);
}

Test(blkdev, erofs_layer)
{
	/* erofs lowerPath(): [ro], then "loop" appended. */
	char *o[] = {"ro", "loop"};
	Containerd__Types__Mount m = mnt("erofs", img, o, 2), fwd;
	struct blk_plan *p = plan(NULL, &m, 1);
	_cleanup_free_ char *os = NULL;

	cr_assert(p && p->d[0].read_only);
	p->d[0].addr = xstrdup("pci:0000:00:11.0");
	blk_plan_rootfs_mount(p, &fwd);
	os = opts_str(&fwd);
	cr_assert_str_eq(fwd.type, "erofs");
	cr_assert_str_eq(os, "ro");
	blk_plan_free(p);
}

Test(blkdev, devmapper_keeps_nouuid)
{
	char *o[] = {"nouuid", "ro"};
	Containerd__Types__Mount m = mnt("xfs", BLKDEV, o, 2), fwd;
	struct blk_plan *p;
	_cleanup_free_ char *os = NULL;

	if (!have_blkdev())
		cr_skip_test("no " BLKDEV);
	p = plan(NULL, &m, 1);
	cr_assert(p && p->d[0].read_only);
	p->d[0].addr = xstrdup("pci:0000:00:12.0");
	blk_plan_rootfs_mount(p, &fwd);
	os = opts_str(&fwd);
	cr_assert_str_eq(os, "nouuid,ro");
	blk_plan_free(p);
}

Test(blkdev, not_disks)
{
	char *ovl[] = {"lowerdir=/a:/b", "upperdir=/c", "workdir=/d"};
	char *loop[] = {"loop", "rw"};
	char *rw[] = {"rw"};
	char *bind[] = {"rbind", "ro"};
	Containerd__Types__Mount cases[] = {
	    mnt("overlay", "overlay", ovl, 3),
	    mnt("ext4", lnk, loop, 2),       /* a link to an image: refused */
	    mnt("ext4", img, rw, 1),         /* a file without loop */
	    mnt("bind", img, bind, 2),       /* erofs single-layer active: a bind */
	    mnt("ext4", tmp, loop, 2),       /* a directory */
	    mnt("ext4", "/dev/null", rw, 1), /* a char device */
	    mnt("ext4", "relative", loop, 2),
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++)
		cr_assert_null(plan(NULL, &cases[i], 1), "case %zu", i);
	/* Two rootfs mounts are never one disk. */
	cr_assert_null(plan(NULL, &cases[1], 2));
	{
		Containerd__Types__Mount two = mnt("ext4", img, loop, 2);
		cr_assert_null(plan(NULL, &two, 2));
	}
}

static json_t *spec_with_volumes(void)
{
	json_t *doc = json_pack("{s:[{s:s,s:s,s:s,s:[s]},{s:s,s:s,s:s,s:[s,s]},{s:s,s:s,s:s,s:[s]},"
				"{s:s,s:s,s:s,s:[s,s]},{s:s,s:s,s:s}]}",
				"mounts", "destination", "/data", "type", "ext4", "source", BLKDEV,
				"options", "rw", "destination", "/bound", "type", "bind", "source",
				BLKDEV, "options", "rbind", "rw", "destination", "/viaLink", "type",
				"xfs", "source", lnk, "options", "rw", "destination", "/img",
				"type", "ext4", "source", img, "options", "loop", "ro",
				"destination", "/proc", "type", "proc", "source", "proc");
	cr_assert_not_null(doc);
	return doc;
}

Test(blkdev, volumes)
{
	json_t *doc;
	struct blk_plan *p;
	kc_err *e = NULL;
	json_t *m;

	if (!have_blkdev())
		cr_skip_test("no " BLKDEV);
	doc = spec_with_volumes();
	p = plan(doc, NULL, 0);
	cr_assert_not_null(p);
	cr_assert_eq(p->n, 2);
	cr_assert(!blk_plan_rootfs(p));
	cr_assert_eq(p->d[0].kind, BLK_VOLUME);
	cr_assert_eq(p->d[0].index, 0);
	cr_assert(!p->d[0].read_only);
	cr_assert_eq(p->d[1].index, 3);
	cr_assert(p->d[1].read_only);
	/* Not yet attached: refused. */
	cr_assert_lt(blk_plan_apply(p, doc, &e), 0);
	kc_err_freep(&e);
	p->d[0].addr = xstrdup("pci:0000:00:10.0");
	p->d[1].addr = xstrdup("pci:0000:00:11.0");
	cr_assert_eq(blk_plan_apply(p, doc, &e), 0, "%s", kc_err_msg(e));
	m = json_array_get(json_object_get(doc, "mounts"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(m, "source")), "pci:0000:00:10.0");
	cr_assert_str_eq(json_string_value(json_object_get(m, "type")), "ext4");
	m = json_array_get(json_object_get(doc, "mounts"), 3);
	cr_assert_str_eq(json_string_value(json_object_get(m, "source")), "pci:0000:00:11.0");
	cr_assert_eq(json_array_size(json_object_get(m, "options")), 1, "loop dropped");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "options"), 0)), "ro");
	m = json_array_get(json_object_get(doc, "mounts"), 1);
	cr_assert_str_eq(json_string_value(json_object_get(m, "source")), BLKDEV, "binds stay");
	cr_assert_null(json_object_get(json_object_get(doc, "annotations"), BLK_DEVICE_ANNOTATION));
	blk_plan_free(p);
	json_decref(doc);
}

static json_t *spec_with_device(bool privileged)
{
	struct stat st;
	json_t *doc;

	cr_assert_eq(stat(BLKDEV, &st), 0);
	doc = json_pack("{s:{s:[{s:s,s:s,s:I,s:I},{s:s,s:s,s:i,s:i}],s:{s:[{s:b,s:s}]}}}", "linux",
			"devices", "path", "/dev/xvdb", "type", "b", "major",
			(json_int_t)major(st.st_rdev), "minor", (json_int_t)minor(st.st_rdev),
			"path", "/dev/null", "type", "c", "major", 1, "minor", 3, "resources",
			"devices", "allow", privileged, "access", "rwm");
	cr_assert_not_null(doc);
	return doc;
}

Test(blkdev, devices)
{
	json_t *doc, *ann;
	struct blk_plan *p;
	kc_err *e = NULL;

	if (!have_blkdev())
		cr_skip_test("no " BLKDEV);
	doc = spec_with_device(false);
	p = plan(doc, NULL, 0);
	cr_assert(p && p->n == 1);
	cr_assert_eq(p->d[0].kind, BLK_DEVICE);
	cr_assert_str_eq(p->d[0].path, BLKDEV, "the host node, found by major:minor");
	p->d[0].addr = xstrdup("pci:0000:00:14.0");
	cr_assert_eq(blk_plan_apply(p, doc, &e), 0, "%s", kc_err_msg(e));
	ann = json_object_get(json_object_get(doc, "annotations"), BLK_DEVICE_ANNOTATION);
	cr_assert_str_eq(json_string_value(ann), "{\"/dev/xvdb\":\"pci:0000:00:14.0\"}");
	/* The numbers stay the host's: the guest rewrites them. */
	cr_assert_eq(
	    json_integer_value(json_object_get(
		json_array_get(json_object_get(json_object_get(doc, "linux"), "devices"), 0),
		"major")),
	    7);
	blk_plan_free(p);
	json_decref(doc);

	doc = spec_with_device(true);
	cr_assert_null(plan(doc, NULL, 0), "a privileged container's host devices stay out");
	json_decref(doc);
}

Test(blkdev, too_many)
{
	json_t *doc = json_pack("{s:[]}", "mounts");
	Containerd__Types__Mount *pm[1] = {NULL};
	struct blk_plan *p = NULL;
	kc_err *e = NULL;

	for (int i = 0; i <= BLK_MAX_DISKS; i++)
		json_array_append_new(json_object_get(doc, "mounts"),
				      json_pack("{s:s,s:s,s:s,s:[s]}", "destination", "/x", "type",
						"ext4", "source", img, "options", "loop"));
	cr_assert_lt(blk_plan_make(doc, pm, 0, &p, &e), 0);
	cr_assert_eq(e->code, ENOSPC);
	kc_err_free(e);
	json_decref(doc);
}

/* ------------------------------------------------------------ attach */

static struct tpod pod;
static int n_attach, n_detach, fail_at, done_calls;
static char detached[8][16];
static kc_err *done_err;

static void fake_attach(struct tpod *pd, const char *path, bool ro, tpod_disk_fn cb, void *ud)
{
	char id[16], addr[32];
	kc_err *e = NULL;
	(void)pd;
	(void)path;
	(void)ro;
	if (++n_attach == fail_at) {
		kc_err_set(&e, EIO, "no");
		cb(ud, NULL, NULL, e);
		kc_err_free(e);
		return;
	}
	snprintf(id, sizeof(id), "blk%d", n_attach);
	snprintf(addr, sizeof(addr), "pci:0000:00:%02x.0", 0x10 + n_attach);
	cb(ud, id, addr, NULL);
}

static void fake_detach(struct tpod *pd, const char *id, tpod_disk_fn cb, void *ud)
{
	(void)pd;
	snprintf(detached[n_detach++ % 8], 16, "%s", id);
	cb(ud, id, "", NULL);
}

static const struct tpod_ops fake_ops = {.disk_attach = fake_attach, .disk_detach = fake_detach};

static void on_done(void *ud, const kc_err *err)
{
	(void)ud;
	done_calls++;
	if (err)
		kc_err_set(&done_err, err->code, "%s", err->msg);
}

static struct task *fake_task(void)
{
	struct task *t = xcalloc(1, sizeof(*t));
	char *o[] = {"loop", "rw"};
	Containerd__Types__Mount m = mnt("ext4", img, o, 2);
	json_t *doc = json_pack("{s:[{s:s,s:s,s:s,s:[s]}]}", "mounts", "destination", "/v", "type",
				"ext4", "source", img, "options", "loop");
	Containerd__Types__Mount *pm[1] = {&m};
	kc_err *e = NULL;

	tpod_init(&pod, NULL, &fake_ops, "ns", "pod");
	pod.vm_state = TPOD_VM_READY;
	t->pod = &pod;
	t->id = xstrdup("c1");
	t->gen = 1;
	kc_list_init(&t->execs);
	kc_list_add_tail(&pod.tasks, &t->node);
	pod.n_tasks++;
	cr_assert_eq(blk_plan_make(doc, pm, 1, &t->blk, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(t->blk->n, 2);
	json_decref(doc);
	n_attach = n_detach = done_calls = 0;
	kc_err_freep(&done_err);
	return t;
}

Test(blkdev, attach_all_then_detach)
{
	struct task *t = fake_task();

	fail_at = 0;
	blk_attach_all(t, on_done, NULL);
	cr_assert_eq(done_calls, 1);
	cr_assert_null(done_err, "%s", kc_err_msg(done_err));
	cr_assert_str_eq(t->blk->d[0].addr, "pci:0000:00:11.0");
	cr_assert_str_eq(t->blk->d[1].id, "blk2");
	blk_detach_all(t, NULL, NULL);
	cr_assert_eq(n_detach, 2);
	cr_assert_str_eq(detached[0], "blk1");
	cr_assert_str_eq(detached[1], "blk2");
	cr_assert_null(t->blk->d[0].id);
	blk_detach_all(t, NULL, NULL);
	cr_assert_eq(n_detach, 2, "detached once");
	task_forget(t);
	tpod_release(&pod);
}

Test(blkdev, attach_failure_undoes)
{
	struct task *t = fake_task();

	fail_at = 2;
	blk_attach_all(t, on_done, NULL);
	cr_assert_eq(done_calls, 1);
	cr_assert_not_null(done_err);
	cr_assert_eq(done_err->code, EIO);
	cr_assert_eq(n_detach, 1, "the first disk is taken out again");
	cr_assert_str_eq(detached[0], "blk1");
	task_forget(t);
	tpod_release(&pod);
	kc_err_freep(&done_err);
}

/* A task's state record keeps its attached disks (a restarted sandboxer
 * detaches them at Delete); only attached ones, bounded. */
Test(blkdev, record_roundtrip)
{
	char *o[] = {"loop", "rw"};
	Containerd__Types__Mount m = mnt("ext4", img, o, 2);
	struct blk_plan *p = plan(NULL, &m, 1), *back;
	json_t *j, *none = json_array();

	j = blk_plan_encode(p);
	cr_assert_eq(json_array_size(j), 0, "not attached: nothing kept");
	json_decref(j);
	p->d[0].id = xstrdup("blk3");
	p->d[0].addr = xstrdup("pci:0000:00:13.0");
	j = blk_plan_encode(p);
	back = blk_plan_decode(j);
	cr_assert(back && back->n == 1);
	cr_assert_str_eq(back->d[0].id, "blk3");
	cr_assert_str_eq(back->d[0].addr, "pci:0000:00:13.0");
	cr_assert_str_eq(back->d[0].path, img);
	cr_assert_null(blk_plan_decode(none));
	cr_assert_null(blk_plan_decode(NULL));
	json_decref(j);
	json_decref(none);
	blk_plan_free(p);
	blk_plan_free(back);
}
