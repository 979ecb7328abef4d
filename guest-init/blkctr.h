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
#include "loop.h"
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

/* The container's disks: a disk rootfs (the only rootfs Mount, copied),
 * pci: spec mounts and annotation entries, each address checked. host_mode:
 * refuse any (the PCI devices there are the host's own). *ret is set even
 * on failure: release it either way. */
int kc_blk_ctr_new(const char *state_dir, const char *id, Containerd__Types__Mount *const *rootfs,
		   size_t n_rootfs, const struct kc_spec *spec, bool host_mode,
		   struct kc_blk_set **ret, kc_err **err);
/* Is the rootfs on a disk (then kc_blk_ctr_mount gives the root)? */
bool kc_blk_ctr_has_root(const struct kc_blk_set *s);

/* err NULL: every disk is there. Called once, from the loop. */
typedef void (*kc_blk_ctr_ready_fn)(const kc_err *err, void *ud);
/* Wait on the loop for every disk (KC_BLK_WAIT_NS): 1 if all are there
 * now (fn is not called), 0 if fn will be, < 0 on an error. */
int kc_blk_ctr_wait(struct kc_blk_set *s, kc_loop *loop, kc_blk_ctr_ready_fn fn, void *ud,
		    kc_err **err);
/* Once they are there: mount them and rewrite the spec to use them (pci:
 * spec mounts become binds of their staging dirs; device numbers per the
 * annotation). *root: the staging dir of a disk rootfs, else NULL. */
int kc_blk_ctr_mount(struct kc_blk_set *s, struct kc_spec *spec, char **root, kc_err **err);
/* Unmount (lazily if busy) and remove the staging dirs; NULL is a no-op. */
void kc_blk_ctr_release(struct kc_blk_set *s);

#endif
