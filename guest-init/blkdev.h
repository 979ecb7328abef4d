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

#define KC_BLK_PCI_PREFIX "pci:"
/* "0000:00:10.0" */
#define KC_BLK_BDF_LEN 12
/* How long a device named in a request may take to appear. */
#define KC_BLK_WAIT_NS (10ULL * 1000000000ULL)

bool kc_blk_is_pci(const char *source);
/* `pci:<domain>:<bus>:<slot>.<fn>` (lower-case hex, exactly that form) to
 * the BDF "dddd:bb:ss.f". */
int kc_blk_parse_pci(const char *source, char bdf[KC_BLK_BDF_LEN + 1], kc_err **err);

/* A block uevent ("add@/devices/...\0KEY=VAL\0..."): is it an add or change
 * of a block device? Those are the messages worth a new sysfs look. */
bool kc_blk_uevent_is_block_add(const char *buf, size_t len);

struct kc_blk_dev {
	char name[32]; /* "vdb" */
	dev_t dev;
};

/* The whole disk of the PCI device bdf under sysfs ("/sys", or a test tree),
 * without waiting: 0 and *ret, or -ENOENT (not there yet, message set). */
int kc_blk_lookup(const char *sysfs, const char *bdf, struct kc_blk_dev *ret, kc_err **err);
/* The same, waiting for its uevent until timeout_ns from now. With devdir,
 * also until its node there (*node, created if missing) can be opened. */
int kc_blk_wait(const char *sysfs, const char *devdir, const char *bdf, uint64_t timeout_ns,
		struct kc_blk_dev *ret, char **node, kc_err **err);

/* devdir/<name> ("/dev/vdb"), created from d->dev when devtmpfs lacks it. */
int kc_blk_node(const char *devdir, const struct kc_blk_dev *d, char **path, kc_err **err);

/* The filesystem on a device, by libblkid's superblock probe. */
int kc_blk_probe(const char *devpath, char **type, kc_err **err);

/* Find (waiting), probe and mount the disk `source` (pci:...) on target, a
 * directory that exists. declared: the filesystem the request says (empty or
 * NULL: whatever the probe finds); another one on the disk is an error naming
 * both. options: mount options as in a containerd Mount (ro, nouuid, ...). */
int kc_blk_mount(const char *source, const char *declared, char *const *options, size_t n_options,
		 const char *target, kc_err **err);

#endif
