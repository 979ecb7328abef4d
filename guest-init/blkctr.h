/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's disks (block-contract.md): a rootfs Mount whose source is
 * pci:<BDF>, spec mounts with such sources, and the raw block devices the
 * annotation io.kuasar-c.block-devices maps to disks. Disks are mounted on
 * guest-private staging directories <state>/blk/<id>/... before the container
 * is spawned, and unmounted when it is deleted.
 */
#ifndef KC_BLKCTR_H
#define KC_BLKCTR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "blkdev.h"
#include "containerd/types/mount.pb-c.h"
#include "err.h"
#include "spec_types.h"

#define KC_BLK_ANNOTATION "io.kuasar-c.block-devices"
/* More disks than a PCI bus has slots is nonsense. */
#define KC_BLK_MAX_DEVICES 32

struct kc_blk_set;

/* One entry of the annotation: linux.devices path -> PCI address. */
struct kc_blk_map {
	char *path;
	char bdf[KC_BLK_BDF_LEN + 1];
};

/* Parse the annotation's value (a JSON object of path: "pci:<BDF>"). */
int kc_blk_annotation_parse(const char *json, struct kc_blk_map **ret, size_t *n, kc_err **err);
void kc_blk_maps_free(struct kc_blk_map *m, size_t n);

/* Give linux.devices entry map[i].path the guest's numbers guest[i], and
 * every linux.resources.devices rule that named its host major:minor too. */
int kc_blk_devices_rewrite(struct kc_spec *spec, const struct kc_blk_map *map, const dev_t *guest,
			   size_t n, kc_err **err);

/* Is this rootfs (CreateTaskRequest.rootfs) on a disk? */
bool kc_blk_rootfs_is_disk(Containerd__Types__Mount *const *rootfs, size_t n);

/* Mount the container's disks and rewrite its spec to use them (pci: spec
 * mounts become binds of their staging dirs; device numbers per the
 * annotation). *root: the staging dir of a disk rootfs, else NULL. *ret is
 * set even on failure: release it either way. host_mode: refuse any disk
 * (the PCI devices there are the host's own). */
int kc_blk_ctr_prepare(const char *state_dir, const char *id,
		       Containerd__Types__Mount *const *rootfs, size_t n_rootfs,
		       struct kc_spec *spec, bool host_mode, char **root, struct kc_blk_set **ret,
		       kc_err **err);
/* Unmount (lazily if busy) and remove the staging dirs; NULL is a no-op. */
void kc_blk_ctr_release(struct kc_blk_set *s);

#endif
