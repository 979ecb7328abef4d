/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Disk hot-plug wire forms, pinned exactly: the QMP arguments of
 * blockdev-add / device_add / device_del / blockdev-del (QEMU's QAPI
 * BlockdevOptionsFile and qdev properties), cloud-hypervisor's vm.add-disk
 * and vm.remove-device requests (checked key by key against DiskConfig and
 * VmRemoveDevice in its vmm/src/api/openapi/cloud-hypervisor.yaml, commit
 * ae44c297) and its PciDeviceInfo answer; slot allocation and the
 * sandbox.json record. No cloud-hypervisor binary exists on our machines:
 * these golden tests are how the CH path is verified.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chapi.h"
#include "disk.h"
#include "util.h"

static char *qmp_text(json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return t;
}

static struct sbx_disk disk(const char *id, const char *path, bool ro, bool blk)
{
	struct sbx_disk d = {.read_only = ro, .blockdev = blk, .path = (char *)path};
	snprintf(d.id, sizeof(d.id), "%s", id);
	return d;
}

Test(disk, qmp_blockdev_add_file)
{
	struct sbx_disk d = disk("blk0", "/var/lib/containerd/blockfile/snapshots/7", false, false);
	_cleanup_free_ char *t = qmp_text(sbx_disk_qmp_blockdev_add(&d));
	cr_assert_str_eq(t, "{\"driver\":\"file\",\"filename\":\"/var/lib/containerd/blockfile/"
			    "snapshots/7\",\"node-name\":\"blk0\",\"read-only\":false}");
}

Test(disk, qmp_blockdev_add_host_device_ro)
{
	struct sbx_disk d = disk("blk3", "/dev/loop7", true, true);
	_cleanup_free_ char *t = qmp_text(sbx_disk_qmp_blockdev_add(&d));
	cr_assert_str_eq(t, "{\"driver\":\"host_device\",\"filename\":\"/dev/loop7\","
			    "\"node-name\":\"blk3\",\"read-only\":true}");
}

Test(disk, qmp_device_add_del)
{
	struct sbx_disk d = disk("blk15", "/x", false, false);
	_cleanup_free_ char *a = qmp_text(sbx_disk_qmp_device_add(&d, 15));
	_cleanup_free_ char *del = qmp_text(sbx_disk_qmp_device_del(&d));
	_cleanup_free_ char *bd = qmp_text(sbx_disk_qmp_blockdev_del(&d));
	char addr[SBX_DISK_ADDR_MAX];

	cr_assert_str_eq(a, "{\"addr\":\"0x1f\",\"bus\":\"pci.0\",\"drive\":\"blk15\","
			    "\"driver\":\"virtio-blk-pci\",\"id\":\"virtio-blk15\"}");
	cr_assert_str_eq(del, "{\"id\":\"virtio-blk15\"}");
	cr_assert_str_eq(bd, "{\"node-name\":\"blk15\"}");
	sbx_disk_qemu_addr(15, addr);
	cr_assert_str_eq(addr, "pci:0000:00:1f.0");
	sbx_disk_qemu_addr(0, addr);
	cr_assert_str_eq(addr, "pci:0000:00:10.0");
}

/* DiskConfig's properties in the openapi spec: a key we send must be one. */
static const char *const ch_disk_keys[] = {"path",
					   "readonly",
					   "direct",
					   "iommu",
					   "num_queues",
					   "queue_size",
					   "vhost_user",
					   "vhost_socket",
					   "rate_limiter_config",
					   "pci_segment",
					   "pci_device_id",
					   "id",
					   "serial",
					   "rate_limit_group",
					   "queue_affinity",
					   "backing_files",
					   "sparse",
					   "image_type",
					   "lock_granularity"};
/* ImageType's enum. */
static const char *const ch_image_types[] = {"FixedVhd", "Qcow2", "Raw", "Vhdx", "Unknown"};

static bool in(const char *k, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, set[i]))
			return true;
	return false;
}

Test(disk, ch_add_body)
{
	struct sbx_disk d = disk("blk2", "/srv/img/a.ext4", true, false);
	_cleanup_free_ char *b = sbx_disk_ch_add_body(&d);
	json_t *j = json_loads(b, 0, NULL), *v;
	const char *k;

	cr_assert_str_eq(b, "{\"id\":\"blk2\",\"image_type\":\"Raw\",\"path\":\"/srv/img/a.ext4\","
			    "\"readonly\":true}");
	json_object_foreach(j, k, v)
	{
		cr_assert(in(k, ch_disk_keys, KC_ARRAY_SIZE(ch_disk_keys)), "%s not in DiskConfig",
			  k);
	}
	cr_assert(json_is_string(json_object_get(j, "path")));
	cr_assert(json_is_boolean(json_object_get(j, "readonly")));
	cr_assert(in(json_string_value(json_object_get(j, "image_type")), ch_image_types,
		     KC_ARRAY_SIZE(ch_image_types)));
	json_decref(j);
}

Test(disk, ch_remove_body_and_request)
{
	struct sbx_disk d = disk("blk2", "/x", false, false);
	_cleanup_free_ char *b = sbx_disk_ch_remove_body(&d);
	_cleanup_free_ char *req = sbx_chapi_request_text("vm.remove-device", b);
	_cleanup_free_ char *empty = sbx_chapi_request_text("vm.shutdown", NULL);

	cr_assert_str_eq(b, "{\"id\":\"blk2\"}");
	cr_assert_str_eq(req, "PUT /api/v1/vm.remove-device HTTP/1.1\r\nHost: localhost\r\n"
			      "Accept: */*\r\nContent-Type: application/json\r\n"
			      "Content-Length: 13\r\nConnection: close\r\n\r\n{\"id\":\"blk2\"}");
	cr_assert_str_eq(empty, "PUT /api/v1/vm.shutdown HTTP/1.1\r\nHost: localhost\r\n"
				"Accept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

Test(disk, ch_parse)
{
	char addr[SBX_DISK_ADDR_MAX] = "";
	kc_err *e = NULL;
	const char *ok = "{\"id\":\"blk4\",\"bdf\":\"0000:00:07.0\"}";

	cr_assert_eq(sbx_disk_ch_parse(ok, strlen(ok), "blk4", addr, &e), 0, "%s", kc_err_msg(e));
	cr_assert_str_eq(addr, "pci:0000:00:07.0");
	/* Someone else's id, a malformed bdf, not JSON, no bdf. */
	static const char *const bad[] = {"{\"id\":\"blk5\",\"bdf\":\"0000:00:07.0\"}",
					  "{\"id\":\"blk4\",\"bdf\":\"0000:00:7.0\"}",
					  "{\"id\":\"blk4\",\"bdf\":\"0000:00:07.8\"}",
					  "{\"id\":\"blk4\",\"bdf\":\"0000:00:0G.0\"}",
					  "{\"id\":\"blk4\",\"bdf\":\"0000:00:0A.0\"}",
					  "{\"id\":\"blk4\"}",
					  "not json",
					  ""};
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		cr_assert_lt(sbx_disk_ch_parse(bad[i], strlen(bad[i]), "blk4", addr, &e), 0, "%s",
			     bad[i]);
		kc_err_freep(&e);
	}
}

Test(disk, slots)
{
	struct sbx_disks ds = {0};
	struct sbx_disk d[SBX_DISK_MAX];

	for (int i = 0; i < SBX_DISK_MAX; i++) {
		int s = sbx_disk_slot_alloc(&ds);
		cr_assert_eq(s, i);
		d[i] = disk("x", "/x", false, false);
		snprintf(d[i].id, sizeof(d[i].id), "blk%d", i);
		sbx_disk_qemu_addr(i, d[i].addr);
		ds.d[s] = &d[i];
	}
	cr_assert_eq(sbx_disk_slot_alloc(&ds), -ENOSPC);
	ds.d[5] = NULL;
	cr_assert_eq(sbx_disk_slot_alloc(&ds), 5);
	cr_assert_eq(sbx_disk_find(&ds, "blk7"), 7);
	cr_assert_eq(sbx_disk_find(&ds, "pci:0000:00:17.0"), 7);
	cr_assert_eq(sbx_disk_find(&ds, "blk5"), -1);
	cr_assert_eq(sbx_disk_find(&ds, "pci:0000:00:20.0"), -1);
}

Test(disk, state_roundtrip)
{
	struct sbx_disks ds = {0}, back = {0};
	struct sbx_disk *a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));
	_cleanup_free_ char *t1 = NULL, *t2 = NULL;
	kc_err *e = NULL;
	json_t *j;

	*a = disk("blk0", NULL, true, false);
	a->path = xstrdup("/a.img");
	a->state = SBX_DISK_ADDED;
	sbx_disk_qemu_addr(0, a->addr);
	*b = disk("blk9", NULL, false, true);
	b->path = xstrdup("/dev/loop3");
	b->state = SBX_DISK_ADDING;
	ds.d[0] = a;
	ds.d[9] = b;
	ds.n = 2;
	j = sbx_disks_encode(&ds);
	t1 = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_eq(sbx_disks_decode(&back, j, &e), 0, "%s", kc_err_msg(e));
	json_decref(j);
	cr_assert_eq(back.n, 2);
	cr_assert_str_eq(back.d[9]->path, "/dev/loop3");
	cr_assert(back.d[9]->blockdev && !back.d[9]->read_only);
	cr_assert_eq(back.d[9]->state, SBX_DISK_ADDING);
	cr_assert_str_eq(back.d[0]->addr, "pci:0000:00:10.0");
	j = sbx_disks_encode(&back);
	t2 = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	cr_assert_str_eq(t1, t2);
	sbx_disks_clear(&ds);
	sbx_disks_clear(&back);
}

Test(disk, state_bad)
{
	static const char *const bad[] = {
	    "{}",
	    "[{\"index\":16,\"id\":\"blk0\",\"path\":\"/a\",\"addr\":\"\",\"state\":\"added\"}]",
	    "[{\"index\":0,\"id\":\"blk0\",\"path\":\"/a\",\"addr\":\"\",\"state\":\"weird\"}]",
	    "[{\"index\":0,\"id\":\"blk0\",\"path\":\"/a\",\"addr\":\"\",\"state\":\"added\"},"
	    "{\"index\":0,\"id\":\"blk1\",\"path\":\"/b\",\"addr\":\"\",\"state\":\"added\"}]",
	    "[{\"index\":0,\"id\":\"blk0000000000000000\",\"path\":\"/a\",\"addr\":\"\","
	    "\"state\":\"added\"}]"};
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		struct sbx_disks ds = {0};
		kc_err *e = NULL;
		json_t *j = json_loads(bad[i], 0, NULL);
		cr_assert_lt(sbx_disks_decode(&ds, j, &e), 0, "%s", bad[i]);
		kc_err_free(e);
		json_decref(j);
		sbx_disks_clear(&ds);
	}
}

Test(disk, check_path)
{
	char dir[] = "/tmp/kc-disk-XXXXXX";
	bool blk = true;
	kc_err *e = NULL;

	cr_assert(mkdtemp(dir));
	_cleanup_free_ char *f = xasprintf("%s/img", dir);
	_cleanup_free_ char *l = xasprintf("%s/link", dir);
	close(open(f, O_CREAT | O_WRONLY, 0600));
	cr_assert_eq(symlink(f, l), 0);
	cr_assert_eq(sbx_disk_check_path(f, &blk, &e), 0, "%s", kc_err_msg(e));
	cr_assert(!blk);
	cr_assert_lt(sbx_disk_check_path(l, &blk, &e), 0, "a symlink is refused");
	kc_err_freep(&e);
	cr_assert_lt(sbx_disk_check_path(dir, &blk, &e), 0, "a directory is refused");
	kc_err_freep(&e);
	cr_assert_lt(sbx_disk_check_path("/dev/null", &blk, &e), 0, "a char device is refused");
	kc_err_freep(&e);
	cr_assert_lt(sbx_disk_check_path("relative", &blk, &e), 0);
	kc_err_freep(&e);
	unlink(l);
	unlink(f);
	rmdir(dir);
}
