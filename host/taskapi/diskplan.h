/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which parts of a container go to its VM as hot-plugged disks instead of
 * over virtio-fs (issue 15; docs/containerd.md), and what the guest is told
 * (/work/block-contract.md, the HOST/GUEST contract):
 *   rootfs   the one rootfs Mount of CreateTaskRequest when it is an image
 *            file with `loop` (blockfile: ext4/xfs; erofs: a layer image) or
 *            a block device with a filesystem type (devmapper). The guest's
 *            CreateTaskRequest carries it with source "pci:<BDF>", `loop`
 *            dropped, every other option kept, target "".
 *   volume   a spec mount that is not a bind and whose source is a block
 *            device (or an image file with `loop`): source "pci:<BDF>".
 *   device   a linux.devices entry of type b whose host node resolves by
 *            major:minor: annotation io.kuasar-c.block-devices maps its
 *            container path to "pci:<BDF>". Not for privileged containers
 *            (an allow-all device rule): those get every host device node
 *            and would take the whole host's disks into the VM.
 * A path is re-checked to be a regular file or a block device, opened
 * without following links.
 */
#ifndef KC_TASKAPI_DISKPLAN_H
#define KC_TASKAPI_DISKPLAN_H

#include <jansson.h>
#include <stdbool.h>

#include "containerd/types/mount.pb-c.h"
#include "err.h"
#include "tpod.h"

/* Per container; the sandboxer bounds the sandbox (16 on QEMU). */
#define BLK_MAX_DISKS         16
#define BLK_DEVICE_ANNOTATION "io.kuasar-c.block-devices"

enum blk_kind { BLK_ROOTFS, BLK_VOLUME, BLK_DEVICE };

struct blk_disk {
	enum blk_kind kind;
	size_t index; /* volume: in mounts[]; device: in linux.devices[] */
	char *path;   /* on the host */
	bool read_only;
	char *id, *addr; /* once attached */
};

struct blk_plan {
	struct blk_disk d[BLK_MAX_DISKS];
	size_t n;
	/* The rootfs Mount the guest gets (when d[0] is BLK_ROOTFS). */
	char *rootfs_type;
	char **rootfs_opts;
	size_t n_rootfs_opts;
};

/* Decide from the spec (config.json) and CreateTaskRequest.rootfs. *ret is
 * NULL when nothing becomes a disk. */
int blk_plan_make(json_t *doc, Containerd__Types__Mount *const *rootfs, size_t n_rootfs,
		  struct blk_plan **ret, kc_err **err);
void blk_plan_free(struct blk_plan *p);
bool blk_plan_rootfs(const struct blk_plan *p);
/* Fill the guest's rootfs Mount (pointers into p) once d[0] is attached. */
void blk_plan_rootfs_mount(const struct blk_plan *p, Containerd__Types__Mount *out);
/* Rewrite the spec for the guest once every disk is attached. */
int blk_plan_apply(const struct blk_plan *p, json_t *doc, kc_err **err);

/* The attached disks (path, id, address) for a task's state record, and back
 * (NULL: none, or not a valid list: a restored task then leaves its disks to
 * the VM's end). */
json_t *blk_plan_encode(const struct blk_plan *p);
struct blk_plan *blk_plan_decode(json_t *a);

/* Attach every disk of t->blk through pod->ops, in order; cb(ud, err) once,
 * from the loop. On failure what was attached is detached again. */
void blk_attach_all(struct task *t, tpod_vm_fn cb, void *ud);
/* Detach every attached disk of t->blk; failures are logged. done (may be
 * NULL) runs once all are answered: at once when there is nothing to detach
 * (or the VM is gone). t may be freed meanwhile. */
void blk_detach_all(struct task *t, tpod_vm_fn done, void *ud);

#endif
