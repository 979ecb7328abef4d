/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Disks hot-plugged into a running sandbox VM (virtio-blk), for container
 * rootfs images, block volumes and raw block devices (issue 15).
 *
 *   QEMU (machine pc):  blockdev-add (driver file | host_device, node-name
 *                       blk<N>) + device_add virtio-blk-pci bus=pci.0
 *                       addr=<slot>, slots 0x10..0x1f; removal device_del,
 *                       the DEVICE_DELETED event (deadline), blockdev-del.
 *                       Machine microvm has no hot-pluggable bus: refused.
 *   cloud-hypervisor:   PUT vm.add-disk {path, readonly, id, image_type Raw}
 *                       answers {id, bdf}; PUT vm.remove-device {id}.
 *
 * The guest is told "pci:<domain>:<bus>:<slot>.<fn>". A disk is recorded in
 * sandbox.json before the VMM is asked, so a restarted daemon knows of it;
 * operations on one sandbox run one at a time (QEMU's QMP socket serves one
 * client, and slots must not race).
 */
#ifndef SBX_DISK_H
#define SBX_DISK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* Per sandbox: one PCI slot each on QEMU (0x10..0x1f). */
#define SBX_DISK_MAX      16
#define SBX_DISK_SLOT0    0x10
#define SBX_DISK_PATH_MAX 4096
#define SBX_DISK_ADDR_MAX 24 /* "pci:0000:00:10.0" */
#define SBX_DISK_ID_MAX   16 /* "blk15" */
#define SBX_DISK_PREFIX   "pci:"
/* How long the guest gets to release a device after device_del. */
#define SBX_DISK_UNPLUG_NS (10 * KC_NSEC_PER_SEC)
#define SBX_DISK_API_NS    (10 * KC_NSEC_PER_SEC)

enum sbx_disk_state {
	SBX_DISK_ADDING,   /* recorded, the VMM asked */
	SBX_DISK_ADDED,    /* in the VM */
	SBX_DISK_REMOVING, /* unplug asked */
};

struct sbx_disk {
	enum sbx_disk_state state;
	char id[SBX_DISK_ID_MAX];     /* blk<index>: QMP node-name, CH device id */
	char addr[SBX_DISK_ADDR_MAX]; /* "pci:...", "" until added */
	char *path;
	bool read_only;
	bool blockdev; /* the path is a block device (QEMU driver host_device) */
};

/* A sandbox's disks, indexed by slot - SBX_DISK_SLOT0. */
struct sbx_disks {
	struct sbx_disk *d[SBX_DISK_MAX];
	size_t n;
};

/* ---- pure helpers (unit-tested) ---- */

/* The first free index, or -ENOSPC. */
int sbx_disk_slot_alloc(const struct sbx_disks *ds);
/* Find by id ("blk3") or address ("pci:0000:00:13.0"); -1 if none. */
int sbx_disk_find(const struct sbx_disks *ds, const char *key);
/* The QMP arguments (new references). */
json_t *sbx_disk_qmp_blockdev_add(const struct sbx_disk *d);
json_t *sbx_disk_qmp_device_add(const struct sbx_disk *d, int index);
json_t *sbx_disk_qmp_device_del(const struct sbx_disk *d);
json_t *sbx_disk_qmp_blockdev_del(const struct sbx_disk *d);
/* "virtio-blk<N>" for id "blk<N>". */
void sbx_disk_qdev_id(const struct sbx_disk *d, char *buf, size_t len);
/* "pci:0000:00:<slot>.0". */
void sbx_disk_qemu_addr(int index, char buf[SBX_DISK_ADDR_MAX]);
/* cloud-hypervisor request bodies (malloc'd, compact JSON, sorted keys). */
char *sbx_disk_ch_add_body(const struct sbx_disk *d);
char *sbx_disk_ch_remove_body(const struct sbx_disk *d);
/* vm.add-disk's 200 answer (PciDeviceInfo) to "pci:<bdf>"; the id must be
 * ours. */
int sbx_disk_ch_parse(const char *body, size_t len, const char *want_id,
		      char addr[SBX_DISK_ADDR_MAX], kc_err **err);
/* A BDF "dddd:bb:ss.f" in lower-case hex. */
bool sbx_disk_bdf_valid(const char *bdf);
/* Check the path names a regular file or a block device, itself not a
 * symlink (opened O_NOFOLLOW). blockdev tells which. */
int sbx_disk_check_path(const char *path, bool *blockdev, kc_err **err);

/* sandbox.json "disks". */
json_t *sbx_disks_encode(const struct sbx_disks *ds);
int sbx_disks_decode(struct sbx_disks *ds, json_t *a, kc_err **err);
void sbx_disks_clear(struct sbx_disks *ds);

/* ---- operations on a sandbox (disk_op.c) ---- */

struct sandbox;
/* id, addr: the disk's (attach), or what was detached; NULL with err. */
typedef void (*sbx_disk_fn)(struct sandbox *s, const char *id, const char *addr, kc_err *err,
			    void *ud);

/* Queue an attach of path. cb runs once, from the loop. */
void sbx_disk_attach(struct sandbox *s, const char *path, bool read_only, sbx_disk_fn cb, void *ud);
/* Queue a detach of the disk named by id or address. */
void sbx_disk_detach(struct sandbox *s, const char *key, sbx_disk_fn cb, void *ud);
/* A disk attached for a caller that went away meanwhile: detach it (a
 * failure is logged; nobody is left to tell). */
void sbx_disk_detach_unwanted(struct sandbox *s, const char *id);
/* The VM is gone: forget every disk (the VMM held them) and fail what is
 * queued. */
void sbx_disk_vm_gone(struct sandbox *s);
/* After recovery: disks left half added or half removed by the previous
 * daemon are removed. */
void sbx_disk_recover(struct sandbox *s);
/* The sandbox is freed: queued operations are failed (ECANCELED). */
void sbx_disk_release(struct sandbox *s);

#endif
