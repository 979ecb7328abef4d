/* SPDX-License-Identifier: Apache-2.0 */
/* Disks of a sandbox: the wire forms (QMP, cloud-hypervisor) and the state
 * record; the operations are in disk_op.c. See disk.h. */
#include "disk.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sbx_disk_slot_alloc(const struct sbx_disks *ds)
{
	for (int i = 0; i < SBX_DISK_MAX; i++)
		if (!ds->d[i])
			return i;
	return -ENOSPC;
}

int sbx_disk_find(const struct sbx_disks *ds, const char *key)
{
	for (int i = 0; key && i < SBX_DISK_MAX; i++)
		if (ds->d[i] && (!strcmp(ds->d[i]->id, key) || !strcmp(ds->d[i]->addr, key)))
			return i;
	return -1;
}

void sbx_disk_qdev_id(const struct sbx_disk *d, char *buf, size_t len)
{
	snprintf(buf, len, "virtio-%s", d->id);
}

void sbx_disk_qemu_addr(int index, char buf[SBX_DISK_ADDR_MAX])
{
	snprintf(buf, SBX_DISK_ADDR_MAX, SBX_DISK_PREFIX "0000:00:%02x.0",
		 (unsigned)(SBX_DISK_SLOT0 + index) & 0xff);
}

/* A protocol node read straight by virtio-blk: no format driver, so nothing
 * in the image (a qcow2 header the guest wrote, say) is ever interpreted. */
json_t *sbx_disk_qmp_blockdev_add(const struct sbx_disk *d)
{
	return json_pack("{s:s, s:s, s:s, s:b}", "driver", d->blockdev ? "host_device" : "file",
			 "node-name", d->id, "filename", d->path, "read-only", d->read_only);
}

json_t *sbx_disk_qmp_device_add(const struct sbx_disk *d, int index)
{
	char qid[32], addr[8];

	sbx_disk_qdev_id(d, qid, sizeof(qid));
	snprintf(addr, sizeof(addr), "0x%02x", (unsigned)(SBX_DISK_SLOT0 + index) & 0xff);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "driver", "virtio-blk-pci", "id", qid,
			 "drive", d->id, "bus", "pci.0", "addr", addr);
}

json_t *sbx_disk_qmp_device_del(const struct sbx_disk *d)
{
	char qid[32];
	sbx_disk_qdev_id(d, qid, sizeof(qid));
	return json_pack("{s:s}", "id", qid);
}

json_t *sbx_disk_qmp_blockdev_del(const struct sbx_disk *d)
{
	return json_pack("{s:s}", "node-name", d->id);
}

static char *dump_sorted(json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!txt)
		abort();
	return txt;
}

/* image_type Raw: cloud-hypervisor would otherwise probe the format (a
 * guest-written qcow2 header would then be believed). The key came with
 * v51; older versions ignore keys they do not know (DiskConfig has no
 * deny_unknown_fields). */
char *sbx_disk_ch_add_body(const struct sbx_disk *d)
{
	return dump_sorted(json_pack("{s:s, s:b, s:s, s:s}", "path", d->path, "readonly",
				     d->read_only, "id", d->id, "image_type", "Raw"));
}

char *sbx_disk_ch_remove_body(const struct sbx_disk *d)
{
	return dump_sorted(json_pack("{s:s}", "id", d->id));
}

bool sbx_disk_bdf_valid(const char *bdf)
{
	static const char form[] = "hhhh:hh:hh.f";

	if (!bdf || strlen(bdf) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; form[i]; i++) {
		char c = bdf[i];
		if (form[i] == 'h' && !(isdigit((unsigned char)c) || (c >= 'a' && c <= 'f')))
			return false;
		if (form[i] == 'f' && !(c >= '0' && c <= '7'))
			return false;
		if (form[i] != 'h' && form[i] != 'f' && c != form[i])
			return false;
	}
	return true;
}

int sbx_disk_ch_parse(const char *body, size_t len, const char *want_id,
		      char addr[SBX_DISK_ADDR_MAX], kc_err **err)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *bdf = json_string_value(json_object_get(j, "bdf"));
	int r = 0;

	if (!j)
		return kc_err_set(err, EPROTO, "vm.add-disk: the answer is not JSON");
	if (!id || strcmp(id, want_id))
		r = kc_err_set(err, EPROTO, "vm.add-disk: answered id `%.32s`, asked `%s`",
			       id ? id : "(none)", want_id);
	else if (!sbx_disk_bdf_valid(bdf))
		r = kc_err_set(err, EPROTO, "vm.add-disk: bad bdf `%.32s`", bdf ? bdf : "(none)");
	else
		snprintf(addr, SBX_DISK_ADDR_MAX, SBX_DISK_PREFIX "%s", bdf);
	json_decref(j);
	return r;
}

int sbx_disk_check_path(const char *path, bool *blockdev, kc_err **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!path || path[0] != '/' || strlen(path) >= SBX_DISK_PATH_MAX)
		return kc_err_set(err, EINVAL, "disk path `%.64s`: not an absolute path",
				  path ? path : "");
	/* O_PATH: the check opens nothing (a block device's driver is not
	 * woken, an image is not locked); O_NOFOLLOW: a link is refused. */
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_err_sys(err, "disk `%s`", path);
	if (fstat(fd, &st) < 0)
		return kc_err_sys(err, "disk `%s`: fstat", path);
	if (S_ISLNK(st.st_mode))
		return kc_err_set(err, ELOOP, "disk `%s`: a symbolic link", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return kc_err_set(err, EINVAL,
				  "disk `%s`: neither a regular file nor a block device", path);
	*blockdev = S_ISBLK(st.st_mode);
	return 0;
}

/* ------------------------------------------------------------------ state */

static const char *const state_names[] = {
    [SBX_DISK_ADDING] = "adding", [SBX_DISK_ADDED] = "added", [SBX_DISK_REMOVING] = "removing"};

json_t *sbx_disks_encode(const struct sbx_disks *ds)
{
	json_t *a = json_array();
	for (int i = 0; i < SBX_DISK_MAX; i++) {
		const struct sbx_disk *d = ds->d[i];
		if (d)
			json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:b, s:b, s:s}",
							   "index", i, "id", d->id, "path", d->path,
							   "addr", d->addr, "read_only",
							   d->read_only, "blockdev", d->blockdev,
							   "state", state_names[d->state]));
	}
	return a;
}

static void disk_free(struct sbx_disk *d)
{
	if (d)
		free(d->path);
	free(d);
}

void sbx_disks_clear(struct sbx_disks *ds)
{
	for (int i = 0; i < SBX_DISK_MAX; i++) {
		disk_free(ds->d[i]);
		ds->d[i] = NULL;
	}
	ds->n = 0;
}

int sbx_disks_decode(struct sbx_disks *ds, json_t *a, kc_err **err)
{
	size_t i;
	json_t *e;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SBX_DISK_MAX)
		return kc_err_set(err, EINVAL, "`disks` is not an array of at most %d disks",
				  SBX_DISK_MAX);
	json_array_foreach(a, i, e)
	{
		json_t *idx = json_object_get(e, "index");
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *path = json_string_value(json_object_get(e, "path"));
		const char *addr = json_string_value(json_object_get(e, "addr"));
		const char *st = json_string_value(json_object_get(e, "state"));
		struct sbx_disk *d;
		int k = -1;

		for (int s = 0; st && s < (int)KC_ARRAY_SIZE(state_names); s++)
			if (!strcmp(st, state_names[s]))
				k = s;
		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) >= SBX_DISK_MAX || !id ||
		    strlen(id) >= SBX_DISK_ID_MAX || !path || !*path ||
		    strlen(path) >= SBX_DISK_PATH_MAX || !addr ||
		    strlen(addr) >= SBX_DISK_ADDR_MAX || k < 0 || ds->d[json_integer_value(idx)])
			return kc_err_set(err, EINVAL, "disks[%zu]: bad disk", i);
		d = xcalloc(1, sizeof(*d));
		snprintf(d->id, sizeof(d->id), "%s", id);
		snprintf(d->addr, sizeof(d->addr), "%s", addr);
		d->path = xstrdup(path);
		d->state = (enum sbx_disk_state)k;
		d->read_only = json_is_true(json_object_get(e, "read_only"));
		d->blockdev = json_is_true(json_object_get(e, "blockdev"));
		ds->d[json_integer_value(idx)] = d;
		ds->n++;
	}
	return 0;
}
