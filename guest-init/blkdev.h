/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hot-plugged disks (issue 15, docs/guest.md "Block devices"): the host names
 * a virtio-blk disk by its PCI address, `pci:0000:00:10.0`. We find its whole
 * disk under /sys/bus/pci/devices/<BDF>/virtio<N>/block/<name>, waiting on
 * uevents (socket opened before the sysfs check, so an add between the two
 * is not missed) up to a deadline, probe its filesystem with libblkid and
 * mount it with the snapshotter's options.
 */
#ifndef KC_BLKDEV_H
#define KC_BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"

#define KC_BLK_PCI_PREFIX "pci:"
/* "0000:00:10.0" */
#define KC_BLK_BDF_LEN 12
/* How long a device named in a request may take to appear. */
#define KC_BLK_WAIT_NS (10ULL * 1000000000ULL)

bool kc_blk_is_pci(const char *source);
/* `pci:<domain>:<bus>:<slot>.<fn>` (lower-case hex, exactly that form) to
 * the BDF "dddd:bb:ss.f". */
int kc_blk_parse_pci(const char *source, char bdf[KC_BLK_BDF_LEN + 1], kc_err **err);

struct kc_blk_dev {
	char name[32]; /* "vdb" */
	dev_t dev;
};

/* The whole disk of the PCI device bdf under sysfs ("/sys", or a test tree),
 * without waiting: 0 and *ret, or -ENOENT (not there yet, message set). */
int kc_blk_lookup(const char *sysfs, const char *bdf, struct kc_blk_dev *ret, kc_err **err);
/* Found in sysfs and, with devdir, its node there (*node, created if
 * missing) opens: the disk's sysfs entry and node exist a moment before the
 * block layer makes it live (ENXIO until then), its add uevent comes after.
 * -ENOENT (message set): not (yet) there. */
int kc_blk_find(const char *sysfs, const char *devdir, const char *bdf, struct kc_blk_dev *ret,
		char **node, kc_err **err);

/* devdir/<name> ("/dev/vdb"), created from d->dev when devtmpfs lacks it. */
int kc_blk_node(const char *devdir, const struct kc_blk_dev *d, char **path, kc_err **err);

/* The filesystem on a device, by libblkid's superblock probe. */
int kc_blk_probe(const char *devpath, char **type, kc_err **err);

/* Find (it must be there: kc_blk_wait_async first), probe and mount the disk
 * `source` (pci:...) on target, a directory that exists. declared: the filesystem the request says
 * (empty or NULL: whatever the probe finds); another one on the disk is an error naming both.
 * options: mount options as in a containerd Mount (ro, nouuid, ...). */
int kc_blk_mount(const char *source, const char *declared, char *const *options, size_t n_options,
		 const char *target, kc_err **err);

/* Waiting for disks on the agent's loop (blkwait.c): a uevent socket opened
 * before the first look, so a disk that appears after it still wakes us; a
 * block uevent is only a reason to look again (kc_blk_find on each). */
typedef struct kc_blk_waiter kc_blk_waiter;
/* err NULL: every disk is there. Else the first one missing at the deadline,
 * or a failure, about bdfs[which]. Called once, from the loop; w may be
 * freed inside. */
typedef void (*kc_blk_ready_fn)(kc_blk_waiter *w, const kc_err *err, size_t which, void *ud);

/* 1: all there now (fn is not called, *ret NULL); 0: *ret waits and calls
 * fn; < 0: an error (a socket, or a disk that is there but unusable). */
int kc_blk_wait_async(kc_loop *loop, const char *sysfs, const char *devdir,
		      char (*bdfs)[KC_BLK_BDF_LEN + 1], size_t n, uint64_t timeout_ns,
		      kc_blk_ready_fn fn, void *ud, kc_blk_waiter **ret, kc_err **err);
/* Stop waiting (fn is not called); NULL is a no-op. */
void kc_blk_waiter_free(kc_blk_waiter *w);

/* A uevent ("add@/devices/...\0KEY=VAL\0..."): an add or change of a block
 * device, the messages worth a new look. */
bool kc_blk_uevent_is_block_add(const char *buf, size_t len);

#endif
