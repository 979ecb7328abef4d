/* SPDX-License-Identifier: Apache-2.0 */
/* Hot-plugged disks: pci: addresses, uevent filtering, finding the disk in a
 * fake sysfs tree, device nodes, libblkid probing, the block-devices
 * annotation and the linux.devices / device cgroup rewrite. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/netlink.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blkctr.h"
#include "blkdev.h"
#include "spec.h"
#include "testutil.h"
#include "util.h"

/* ------------------------------------------------------------ addresses */

Test(blkdev, parses_pci_addresses)
{
	char bdf[KC_BLK_BDF_LEN + 1];
	KC_OK(kc_blk_parse_pci("pci:0000:00:10.0", bdf, err_));
	cr_assert_str_eq(bdf, "0000:00:10.0");
	KC_OK(kc_blk_parse_pci("pci:0001:3a:1f.7", bdf, err_));
	cr_assert_str_eq(bdf, "0001:3a:1f.7");
	cr_assert(kc_blk_is_pci("pci:x"));
	cr_assert(!kc_blk_is_pci("/dev/vda"));
	cr_assert(!kc_blk_is_pci(NULL));
}

Test(blkdev, rejects_other_forms)
{
	static const char *bad[] = {
	    "pci:00:10.0",        /* no domain */
	    "pci:0000:00:10",     /* no function */
	    "pci:0000:00:10.8",   /* function has 3 bits */
	    "pci:0000:00:20.0",   /* slot has 5 bits */
	    "pci:0000:00:1A.0",   /* upper case: sysfs names are lower case */
	    "pci:0000:00:10.0/",  /* trailing */
	    "pci:../../../etc/x", /* a path */
	    "pci:0000:00:10.0 ",  "0000:00:10.0", "pci:", "",
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		char bdf[KC_BLK_BDF_LEN + 1];
		kc_err *e = NULL;
		cr_assert_lt(kc_blk_parse_pci(bad[i], bdf, &e), 0, "%s accepted", bad[i]);
		cr_assert_eq(e->code, EINVAL);
		cr_assert(strstr(e->msg, "block source"), "%s", e->msg);
		kc_err_free(e);
	}
}

static size_t uevent(char *buf, size_t size, const char *const *fields)
{
	size_t n = 0;
	for (; *fields; fields++) {
		size_t l = strlen(*fields) + 1;
		cr_assert_leq(n + l, size);
		memcpy(buf + n, *fields, l);
		n += l;
	}
	return n;
}

Test(blkdev, uevent_filter)
{
	char buf[512];
	const char *add[] = {"add@/devices/pci0000:00/0000:00:10.0/virtio3/block/vdb",
			     "ACTION=add",
			     "DEVPATH=/devices/pci0000:00/0000:00:10.0/virtio3/block/vdb",
			     "SUBSYSTEM=block",
			     "DEVNAME=vdb",
			     "DEVTYPE=disk",
			     NULL};
	const char *pci[] = {"add@/devices/pci0000:00/0000:00:10.0", "ACTION=add", "SUBSYSTEM=pci",
			     NULL};
	const char *rm[] = {"remove@/devices/x", "ACTION=remove", "SUBSYSTEM=block", NULL};
	const char *sub[] = {"add@/x", "ACTION=add", "SUBSYSTEM=blockx", NULL};
	cr_assert(kc_blk_uevent_is_block_add(buf, uevent(buf, sizeof(buf), add)));
	cr_assert(!kc_blk_uevent_is_block_add(buf, uevent(buf, sizeof(buf), pci)));
	cr_assert(!kc_blk_uevent_is_block_add(buf, uevent(buf, sizeof(buf), rm)));
	cr_assert(!kc_blk_uevent_is_block_add(buf, uevent(buf, sizeof(buf), sub)));
	/* Not NUL-terminated at the end: bounded by len. */
	memcpy(buf, "ACTION=add\0SUBSYSTEM=block", 26);
	cr_assert(kc_blk_uevent_is_block_add(buf, 26));
	cr_assert(!kc_blk_uevent_is_block_add(buf, 25));
}

/* --------------------------------------------------------- fake sysfs */

static void put(const char *root, const char *rel, const char *content)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	_cleanup_free_ char *d = xstrdup(p);
	*strrchr(d, '/') = '\0';
	KC_OK(kc_mkdir_p(d, 0755, err_));
	KC_OK(kc_write_file(p, content, strlen(content), 0, 0644, err_));
}

Test(blkdev, finds_the_whole_disk_of_a_pci_device)
{
	char *sys = tu_tmpdir("blksys");
	struct kc_blk_dev d;
	kc_err *e = NULL;

	/* What sysfs shows for a virtio-blk disk with one partition. */
	put(sys, "bus/pci/devices/0000:00:10.0/vendor", "0x1af4\n");
	put(sys, "bus/pci/devices/0000:00:10.0/virtio3/block/vdb/dev", "254:16\n");
	put(sys, "bus/pci/devices/0000:00:10.0/virtio3/block/vdb/vdb1/dev", "254:17\n");
	put(sys, "bus/pci/devices/0000:00:11.0/virtio4/features", "0\n"); /* not a disk */
	KC_OK(kc_blk_lookup(sys, "0000:00:10.0", &d, err_));
	cr_assert_str_eq(d.name, "vdb");
	cr_assert_eq(major(d.dev), 254);
	cr_assert_eq(minor(d.dev), 16);

	cr_assert_eq(kc_blk_lookup(sys, "0000:00:11.0", &d, &e), -ENOENT);
	cr_assert(strstr(e->msg, "0000:00:11.0 has no virtio block disk"), "%s", e->msg);
	kc_err_free(e);
	e = NULL;
	cr_assert_eq(kc_blk_lookup(sys, "0000:00:12.0", &d, &e), -ENOENT);
	cr_assert(strstr(e->msg, "no PCI device 0000:00:12.0"), "%s", e->msg);
	kc_err_free(e);
	e = NULL;

	tu_rmtree(sys);
	free(sys);
}

struct ready {
	bool done;
	size_t which;
	char *msg; /* NULL: ready */
};

static void on_ready(kc_blk_waiter *w, const kc_err *err, size_t which, void *ud)
{
	struct ready *r = ud;
	(void)w;
	r->which = which;
	r->done = true;
	r->msg = err ? xstrdup(err->msg) : NULL;
}

/* A uevent as the kernel sends it, to the uevent group of this netns. */
static void send_uevent(const char *msg, size_t len)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_groups = 1};
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	cr_assert_geq(fd, 0);
	cr_assert_eq(sendto(fd, msg, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len,
		     "send uevent: %s", strerror(errno));
	close(fd);
}

Test(blkdev, waits_on_the_loop_for_uevents)
{
	char *sys = tu_tmpdir("blkwait");
	char bdfs[2][KC_BLK_BDF_LEN + 1] = {"0000:00:10.0", "0000:00:12.0"};
	kc_blk_waiter *w = NULL;
	struct ready rd = {0};
	kc_loop *loop = NULL;
	uint64_t t0;

	KC_OK(kc_loop_new(&loop, err_));
	put(sys, "bus/pci/devices/0000:00:10.0/virtio3/block/vdb/dev", "254:16\n");
	/* There already: no waiter at all. */
	cr_assert_eq(
	    kc_blk_wait_async(loop, sys, NULL, bdfs, 1, KC_NSEC_PER_SEC, on_ready, &rd, &w, NULL),
	    1);
	cr_assert_null(w);

	/* One of two missing: the deadline, then an error naming it. */
	t0 = kc_now_ns();
	KC_OK(kc_blk_wait_async(loop, sys, NULL, bdfs, 2, 200 * KC_NSEC_PER_MSEC, on_ready, &rd, &w,
				err_));
	cr_assert_not_null(w);
	cr_assert(tu_loop_until(loop, &rd.done, 5000));
	cr_assert_geq(kc_now_ns() - t0, 200 * KC_NSEC_PER_MSEC);
	cr_assert(rd.msg &&
		      strstr(rd.msg, "pci:0000:00:12.0: not there after 200 ms (no PCI device "
				     "0000:00:12.0)"),
		  "%s", rd.msg);
	cr_assert_eq(rd.which, 1);
	kc_blk_waiter_free(w);
	free(rd.msg);

	if (!tu_is_root() || unshare(CLONE_NEWNET) < 0) {
		kc_loop_free(loop);
		tu_rmtree(sys);
		cr_skip_test("a private netns for fake uevents needs root");
	}
	/* In a netns of our own, we send the uevents. The disk appears: no look
	 * before a uevent says so (no polling), then one block add is enough. */
	rd = (struct ready){0};
	KC_OK(kc_blk_wait_async(loop, sys, NULL, bdfs, 2, 10 * KC_NSEC_PER_SEC, on_ready, &rd, &w,
				err_));
	put(sys, "bus/pci/devices/0000:00:12.0/virtio4/block/vdc/dev", "254:32\n");
	send_uevent("add@/devices/x\0ACTION=add\0SUBSYSTEM=pci", 40);
	cr_assert(!tu_loop_until(loop, &rd.done, 300), "looked without a block uevent");
	send_uevent("add@/devices/x\0ACTION=add\0SUBSYSTEM=block", 42);
	cr_assert(tu_loop_until(loop, &rd.done, 5000), "no look after a block uevent");
	cr_assert_null(rd.msg, "%s", rd.msg);
	kc_blk_waiter_free(w);

	/* Freed while waiting: nothing fires later. */
	rd = (struct ready){0};
	snprintf(bdfs[1], sizeof(bdfs[1]), "0000:00:13.0");
	KC_OK(kc_blk_wait_async(loop, sys, NULL, bdfs, 2, 100 * KC_NSEC_PER_MSEC, on_ready, &rd, &w,
				err_));
	kc_blk_waiter_free(w);
	cr_assert(!tu_loop_until(loop, &rd.done, 300));
	kc_loop_free(loop);
	tu_rmtree(sys);
	free(sys);
}

Test(blkdev, device_node)
{
	char *dev = tu_tmpdir("blkdev");
	struct kc_blk_dev d = {.name = "vdq", .dev = makedev(7, 200)};
	_cleanup_free_ char *path = NULL, *other = xasprintf("%s/vdr", dev);
	struct stat st;
	kc_err *e = NULL;

	if (!tu_is_root()) {
		tu_rmtree(dev);
		cr_skip_test("mknod needs root");
	}
	KC_OK(kc_blk_node(dev, &d, &path, err_));
	cr_assert(stat(path, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == d.dev);
	free(path);
	path = NULL;
	KC_OK(kc_blk_node(dev, &d, &path, err_)); /* there already: reused */
	/* A name that is something else is not taken for the disk. */
	put(dev, "vdr", "x");
	snprintf(d.name, sizeof(d.name), "vdr");
	cr_assert_lt(kc_blk_node(dev, &d, &path, &e), 0);
	cr_assert(strstr(e->msg, other) && strstr(e->msg, "not block device 7:200"), "%s", e->msg);
	kc_err_free(e);
	tu_rmtree(dev);
	free(dev);
}

/* --------------------------------------------------------------- probe */

Test(blkdev, probes_filesystems_with_libblkid)
{
	char *dir = tu_tmpdir("blkprobe");
	_cleanup_free_ char *img = xasprintf("%s/img", dir);
	char *type = NULL;
	kc_err *e = NULL;

	cr_assert_eq(tu_sh("truncate -s 64M %s", img), 0);
	cr_assert_eq(kc_blk_probe(img, &type, &e), -ENOMEDIUM);
	cr_assert(strstr(e->msg, "no filesystem found") && strstr(e->msg, img), "%s", e->msg);
	kc_err_free(e);
	e = NULL;
	cr_assert_lt(kc_blk_probe("/nonexistent/disk", &type, &e), 0);
	cr_assert(strstr(e->msg, "/nonexistent/disk"), "%s", e->msg);
	kc_err_free(e);

	if (tu_sh("command -v mkfs.ext4 >/dev/null") != 0) {
		tu_rmtree(dir);
		cr_skip_test("mkfs.ext4 missing (e2fsprogs)");
	}
	cr_assert_eq(tu_sh("mkfs.ext4 -q -F %s", img), 0);
	KC_OK(kc_blk_probe(img, &type, err_));
	cr_assert_str_eq(type, "ext4");
	free(type);
	if (tu_sh("command -v mkfs.xfs >/dev/null") == 0) {
		/* -f: over the ext4 signature; xfs wants 300 MB at least (sparse). */
		cr_assert_eq(tu_sh("truncate -s 320M %s && mkfs.xfs -q -f %s", img, img), 0);
		KC_OK(kc_blk_probe(img, &type, err_));
		cr_assert_str_eq(type, "xfs");
		free(type);
	} else {
		cr_log_warn("mkfs.xfs missing (xfsprogs): xfs probe not checked");
	}
	tu_rmtree(dir);
	free(dir);
}

/* ---------------------------------------------------------- annotation */

Test(blkctr, parses_the_annotation)
{
	struct kc_blk_map *m = NULL;
	size_t n = 0;

	KC_OK(kc_blk_annotation_parse(
	    "{\"/dev/xvda\":\"pci:0000:00:12.0\",\"/dev/xvdb\":\"pci:0000:00:13.0\"}", &m, &n,
	    err_));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(m[0].path, "/dev/xvda");
	cr_assert_str_eq(m[0].bdf, "0000:00:12.0");
	cr_assert_str_eq(m[1].bdf, "0000:00:13.0");
	kc_blk_maps_free(m, n);
	KC_OK(kc_blk_annotation_parse("{}", &m, &n, err_));
	cr_assert_eq(n, 0);
	kc_blk_maps_free(m, n);

	static const struct {
		const char *json, *want;
	} bad[] = {
	    {"[", "invalid JSON"},
	    {"[]", "expected a JSON object"},
	    {"{\"dev/x\":\"pci:0000:00:12.0\"}", "`dev/x`: not an absolute path"},
	    {"{\"/dev/x\":12}", "`/dev/x`: expected a string"},
	    {"{\"/dev/x\":\"/dev/sda\"}", "`/dev/x`: block source `/dev/sda`"},
	    {"{\"/a\":\"pci:0000:00:12.0\",\"/a\":\"pci:0000:00:13.0\"}", "invalid JSON"},
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		kc_err *e = NULL;
		cr_assert_lt(kc_blk_annotation_parse(bad[i].json, &m, &n, &e), 0, "%s",
			     bad[i].json);
		cr_assert(strstr(e->msg, KC_BLK_ANNOTATION) && strstr(e->msg, bad[i].want),
			  "%s: %s", bad[i].json, e->msg);
		cr_assert_null(m);
		kc_err_free(e);
	}
}

static struct kc_spec *spec_with_devices(void)
{
	static const char *json =
	    "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
	    "\"root\":{\"path\":\"rootfs\"},\"linux\":{\"devices\":["
	    "{\"path\":\"/dev/xvda\",\"type\":\"b\",\"major\":8,\"minor\":0},"
	    "{\"path\":\"/dev/xvdb\",\"type\":\"b\",\"major\":254,\"minor\":0},"
	    "{\"path\":\"/dev/ttyX\",\"type\":\"c\",\"major\":4,\"minor\":1}],"
	    "\"resources\":{\"devices\":["
	    "{\"allow\":false,\"access\":\"rwm\"},"
	    "{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"rw\"},"
	    "{\"allow\":true,\"type\":\"b\",\"major\":254,\"minor\":0,\"access\":\"r\"},"
	    "{\"allow\":true,\"type\":\"b\",\"major\":8,\"access\":\"r\"},"
	    "{\"allow\":true,\"type\":\"c\",\"major\":8,\"minor\":0,\"access\":\"r\"}]}}}";
	struct kc_spec *s = NULL;
	KC_OK(kc_spec_parse(json, strlen(json), &s, err_));
	return s;
}

Test(blkctr, rewrites_devices_and_their_rules)
{
	struct kc_spec *s = spec_with_devices();
	struct kc_blk_map m[2] = {{.path = "/dev/xvda"}, {.path = "/dev/xvdb"}};
	/* xvda lands on 254:0, which is xvdb's host number: no double rewrite. */
	dev_t guest[2] = {makedev(254, 0), makedev(254, 16)};
	struct kc_dev_rule *r = s->resources.devices;

	KC_OK(kc_blk_devices_rewrite(s, m, guest, 2, err_));
	cr_assert_eq(s->devices[0].major, 254);
	cr_assert_eq(s->devices[0].minor, 0);
	cr_assert_eq(s->devices[1].major, 254);
	cr_assert_eq(s->devices[1].minor, 16);
	cr_assert_eq(s->devices[2].major, 4); /* not in the annotation */
	cr_assert_eq(r[0].major, -1);         /* deny all */
	cr_assert(r[1].major == 254 && r[1].minor == 0 &&
		  r[1].access == (KC_DEV_READ | KC_DEV_WRITE));
	cr_assert(r[2].major == 254 && r[2].minor == 16 && r[2].access == KC_DEV_READ);
	cr_assert(r[3].major == 8 && r[3].minor == -1); /* a wildcard says what it says */
	cr_assert(r[4].major == 8 && r[4].minor == 0);  /* a char device 8:0 */
	kc_spec_free(s);
}

Test(blkctr, rewrite_errors_name_the_path)
{
	struct kc_spec *s = spec_with_devices();
	struct kc_blk_map missing = {.path = "/dev/nope"}, chr = {.path = "/dev/ttyX"};
	dev_t g = makedev(254, 32);
	kc_err *e = NULL;

	cr_assert_lt(kc_blk_devices_rewrite(s, &missing, &g, 1, &e), 0);
	cr_assert(strstr(e->msg, "`/dev/nope` is not in linux.devices"), "%s", e->msg);
	kc_err_free(e);
	e = NULL;
	cr_assert_lt(kc_blk_devices_rewrite(s, &chr, &g, 1, &e), 0);
	cr_assert(strstr(e->msg, "`/dev/ttyX` is not a block device"), "%s", e->msg);
	kc_err_free(e);
	cr_assert_eq(s->devices[2].major, 4);
	kc_spec_free(s);
}

Test(blkctr, disks_of_a_container)
{
	char *state = tu_tmpdir("blkstate");
	struct kc_spec *s = spec_with_devices();
	struct kc_blk_set *set = NULL;
	char *root = (char *)"x";
	_cleanup_free_ char *dir = xasprintf("%s/blk/c1", state);
	struct stat st;
	kc_err *e = NULL;

	/* Nothing on a disk: nothing to wait for, mounted or created. */
	KC_OK(kc_blk_ctr_new(state, "c1", NULL, 0, s, false, &set, err_));
	cr_assert(!kc_blk_ctr_has_root(set));
	cr_assert_eq(kc_blk_ctr_wait(set, NULL, NULL, NULL, NULL), 1);
	KC_OK(kc_blk_ctr_mount(set, s, &root, err_));
	cr_assert_null(root);
	cr_assert_eq(s->devices[0].major, 8);
	kc_blk_ctr_release(set);
	cr_assert(stat(dir, &st) < 0 && errno == ENOENT);

	/* Addresses are checked before any waiting, each error naming where. */
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mp = &m;
	m.type = "ext4";
	m.source = "pci:0000:00:10";
	cr_assert_lt(kc_blk_ctr_new(state, "c1", &mp, 1, s, false, &set, &e), 0);
	cr_assert(strstr(e->msg, "rootfs: block source `pci:0000:00:10`"), "%s", e->msg);
	kc_err_freep(&e);
	kc_blk_ctr_release(set);

	Containerd__Types__Mount *two[2] = {&m, &m};
	m.source = "pci:0000:00:10.0";
	cr_assert_lt(kc_blk_ctr_new(state, "c1", two, 2, s, false, &set, &e), 0);
	cr_assert(strstr(e->msg, "must be the only rootfs mount, got 2"), "%s", e->msg);
	kc_err_freep(&e);
	kc_blk_ctr_release(set);

	m.type = "bind";
	cr_assert_lt(kc_blk_ctr_new(state, "c1", &mp, 1, s, false, &set, &e), 0);
	cr_assert(strstr(e->msg, "needs a filesystem type, not `bind`"), "%s", e->msg);
	kc_err_freep(&e);
	kc_blk_ctr_release(set);
	m.type = "ext4";

	/* On a host (vmm-task --listen) the PCI devices are the host's: no disk. */
	cr_assert_lt(kc_blk_ctr_new(state, "c1", &mp, 1, s, true, &set, &e), 0);
	cr_assert(e->code == EPERM && strstr(e->msg, "rootfs: disks (pci: sources) are only"), "%s",
		  e->msg);
	kc_err_freep(&e);
	kc_blk_ctr_release(set);

	/* A copy of the rootfs Mount is kept (the request is gone when the
	 * disks arrive). */
	KC_OK(kc_blk_ctr_new(state, "c1", &mp, 1, s, false, &set, err_));
	cr_assert(kc_blk_ctr_has_root(set));
	kc_blk_ctr_release(set);
	cr_assert(stat(dir, &st) < 0 && errno == ENOENT);

	/* A bad annotation fails as early. */
	free(s->annotation_keys);
	free(s->annotation_vals);
	s->annotation_keys = xcalloc(2, sizeof(char *));
	s->annotation_vals = xcalloc(2, sizeof(char *));
	s->annotation_keys[0] = xstrdup(KC_BLK_ANNOTATION);
	s->annotation_vals[0] = xstrdup("{\"/dev/xvda\":\"pci:zz\"}");
	s->n_annotations = 1;
	cr_assert_lt(kc_blk_ctr_new(state, "c1", NULL, 0, s, false, &set, &e), 0);
	cr_assert(strstr(e->msg, KC_BLK_ANNOTATION) && strstr(e->msg, "pci:zz"), "%s", e->msg);
	kc_err_free(e);
	kc_blk_ctr_release(set);
	kc_spec_free(s);
	tu_rmtree(state);
	free(state);
}
