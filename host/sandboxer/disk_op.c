/* SPDX-License-Identifier: Apache-2.0 */
/* Attach and detach of a sandbox's disks, one operation at a time per
 * sandbox, every step a callback on the daemon's loop (see disk.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "argv.h"
#include "chapi.h"
#include "disk.h"
#include "log.h"
#include "qmp.h"
#include "sandbox.h"
#include "state.h"

struct disk_op {
	kc_list node;
	struct sandbox *s;
	bool attach;
	char *path; /* attach */
	bool read_only;
	char *key; /* detach: id or address */
	int index; /* the disk worked on, -1 before */
	sbx_disk_fn cb;
	void *ud;
	sbx_qmp *qmp;
	sbx_chapi *api;
	kc_timer *expire, *start;
	kc_err *err;        /* the failure being rolled back */
	bool device_sent;   /* detach: device_del sent */
	bool deleted_event; /* detach: DEVICE_DELETED seen */
	bool device_done;   /* detach: device_del answered */
};

static void op_run(struct sandbox *s);

/* Not vm.c's sbx_save: this module stays linkable without the VM code. */
static void save(struct sandbox *s)
{
	_cleanup_err_ kc_err *e = NULL;
	if (sbx_state_save(s, &e) < 0)
		log_warn("sandbox %s: %s", s->id, kc_err_msg(e));
}

static struct sbx_disk *cur(struct disk_op *op)
{
	return op->index >= 0 ? op->s->disks.d[op->index] : NULL;
}

static void forget_disk(struct sandbox *s, int index)
{
	struct sbx_disk *d = s->disks.d[index];
	if (!d)
		return;
	free(d->path);
	free(d);
	s->disks.d[index] = NULL;
	s->disks.n--;
}

static void op_free(struct disk_op *op)
{
	sbx_qmp_free(op->qmp);
	sbx_chapi_cancel(op->api);
	kc_timer_cancel(op->expire);
	kc_timer_cancel(op->start);
	kc_err_free(op->err);
	free(op->path);
	free(op->key);
	free(op);
}

/* The operation ends (err taken, NULL: success); the next one starts. */
static void finish(struct disk_op *op, kc_err *err)
{
	struct sandbox *s = op->s;
	struct sbx_disk *d = cur(op);
	_cleanup_free_ char *id = d ? xstrdup(d->id) : NULL;
	_cleanup_free_ char *addr = d ? xstrdup(d->addr) : NULL;
	bool head = s->disk_ops.next == &op->node;

	if (!op->attach && !err && d)
		forget_disk(s, op->index);
	save(s);
	kc_list_del(&op->node);
	if (err)
		kc_err_wrap(&err, "sandbox %s: %s %s", s->id, op->attach ? "attach" : "detach",
			    op->attach ? op->path : op->key);
	if (op->cb)
		op->cb(s, err ? NULL : id, err ? NULL : addr, err, op->ud);
	kc_err_free(err);
	op_free(op);
	if (head)
		op_run(s);
}

/* A failed attach: undo what the VMM has, then report op->err. */
static void rollback_done(struct disk_op *op)
{
	forget_disk(op->s, op->index);
	finish(op, steal_pointer(&op->err));
}

static void on_expire(kc_timer *t, void *ud)
{
	struct disk_op *op = ud;
	kc_err *e = NULL;
	(void)t;
	op->expire = NULL;
	/* The record stays (its slot too): the VMM may still act on it; the
	 * VM's end or a later detach clears it. */
	kc_err_set(&e, ETIMEDOUT, "no answer from the VMM in time");
	finish(op, e);
}

/* ------------------------------------------------------------------ QEMU */

static void on_rb_blockdev_del(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	(void)q;
	(void)ret;
	if (err)
		log_warn("sandbox %s: undo blockdev-add: %s", op->s->id, kc_err_msg(err));
	rollback_done(op);
}

static void on_device_add(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	struct sbx_disk *d = cur(op);
	(void)ret;

	if (err) {
		kc_err_set(&op->err, err->code, "%s", kc_err_msg(err));
		sbx_qmp_exec(q, "blockdev-del", sbx_disk_qmp_blockdev_del(d), on_rb_blockdev_del,
			     op);
		return;
	}
	d->state = SBX_DISK_ADDED;
	sbx_disk_qemu_addr(op->index, d->addr);
	finish(op, NULL);
}

static void on_blockdev_add(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	(void)ret;

	if (err) {
		kc_err_set(&op->err, err->code, "%s", kc_err_msg(err));
		return rollback_done(op);
	}
	sbx_qmp_exec(q, "device_add", sbx_disk_qmp_device_add(cur(op), op->index), on_device_add,
		     op);
}

static void on_blockdev_del(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	kc_err *e = NULL;
	(void)q;
	(void)ret;

	/* Not found: a previous daemon removed it already. */
	if (err && !strstr(kc_err_msg(err), "not find") && !strstr(kc_err_msg(err), "not found")) {
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		return finish(op, e);
	}
	finish(op, NULL);
}

static void unplugged(struct disk_op *op)
{
	sbx_qmp_exec(op->qmp, "blockdev-del", sbx_disk_qmp_blockdev_del(cur(op)), on_blockdev_del,
		     op);
}

static void on_device_del(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	kc_err *e = NULL;
	(void)q;
	(void)ret;

	if (err && !strstr(kc_err_msg(err), "not found")) {
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		return finish(op, e);
	}
	op->device_done = true;
	/* Gone already, or the guest released it before the answer came. */
	if (err || op->deleted_event)
		unplugged(op);
}

/* The guest ejects the device on its own time: DEVICE_DELETED says when
 * (the expiry timer bounds the wait). */
static void on_qmp_event(sbx_qmp *q, const char *name, json_t *data, void *ud)
{
	struct disk_op *op = ud;
	char qid[32];
	const char *dev;
	kc_err *e = NULL;
	(void)q;

	if (!name) {
		if (op->err)
			return rollback_done(op);
		kc_err_set(&e, ECONNRESET, "QMP connection lost");
		return finish(op, e);
	}
	if (!op->device_sent || strcmp(name, "DEVICE_DELETED"))
		return;
	sbx_disk_qdev_id(cur(op), qid, sizeof(qid));
	dev = json_string_value(json_object_get(data, "device"));
	if (!dev || strcmp(dev, qid) || op->deleted_event)
		return;
	op->deleted_event = true;
	if (op->device_done)
		unplugged(op);
}

static void qemu_start(struct disk_op *op)
{
	struct sandbox *s = op->s;
	_cleanup_free_ char *path = sbx_path(s, SBX_F_QMP_SOCK);
	kc_err *e = NULL;

	if (sbx_qmp_open(s->d->loop, path, &op->qmp, &e) < 0) {
		if (op->attach) {
			op->err = e;
			return rollback_done(op);
		}
		return finish(op, e);
	}
	sbx_qmp_on_event(op->qmp, on_qmp_event, op);
	if (op->attach) {
		sbx_qmp_exec(op->qmp, "blockdev-add", sbx_disk_qmp_blockdev_add(cur(op)),
			     on_blockdev_add, op);
		return;
	}
	op->device_sent = true;
	sbx_qmp_exec(op->qmp, "device_del", sbx_disk_qmp_device_del(cur(op)), on_device_del, op);
}

/* ------------------------------------------------------------------ cloud-hypervisor */

static void on_ch_undo(int status, const char *body, size_t len, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	(void)status;
	(void)body;
	(void)len;
	op->api = NULL;
	if (err)
		log_warn("sandbox %s: undo vm.add-disk: %s", op->s->id, kc_err_msg(err));
	rollback_done(op);
}

static void on_ch_add(int status, const char *body, size_t len, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	struct sbx_disk *d = cur(op);
	_cleanup_free_ char *api = sbx_path(op->s, SBX_F_API_SOCK);
	_cleanup_free_ char *rm = NULL;

	op->api = NULL;
	if (err) {
		kc_err_set(&op->err, err->code, "%s", kc_err_msg(err));
		return rollback_done(op);
	}
	if (status == 200 && sbx_disk_ch_parse(body, len, d->id, d->addr, &op->err) == 0) {
		d->state = SBX_DISK_ADDED;
		return finish(op, NULL);
	}
	if (!op->err)
		kc_err_set(&op->err, EPROTO, "vm.add-disk: HTTP %d without a PCI address", status);
	/* It was added: take it out again. */
	rm = sbx_disk_ch_remove_body(d);
	op->api = sbx_chapi_put_json(op->s->d->loop, api, "vm.remove-device", rm,
				     kc_now_ns() + SBX_DISK_API_NS, on_ch_undo, op);
}

static void on_ch_remove(int status, const char *body, size_t len, kc_err *err, void *ud)
{
	struct disk_op *op = ud;
	kc_err *e = NULL;
	(void)status;
	(void)body;
	(void)len;

	op->api = NULL;
	if (err) {
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		return finish(op, e);
	}
	finish(op, NULL);
}

static void ch_start(struct disk_op *op)
{
	_cleanup_free_ char *api = sbx_path(op->s, SBX_F_API_SOCK);
	_cleanup_free_ char *body =
	    op->attach ? sbx_disk_ch_add_body(cur(op)) : sbx_disk_ch_remove_body(cur(op));

	op->api = sbx_chapi_put_json(
	    op->s->d->loop, api, op->attach ? "vm.add-disk" : "vm.remove-device", body,
	    kc_now_ns() + SBX_DISK_API_NS, op->attach ? on_ch_add : on_ch_remove, op);
}

/* ------------------------------------------------------------------ queue */

static int prepare_attach(struct disk_op *op, kc_err **err)
{
	struct sandbox *s = op->s;
	struct sbx_disk *d;
	bool blockdev = false;
	int i;

	if (s->type == SBX_HV_QEMU && s->d->cfg.machine == SBX_MACHINE_MICROVM)
		return kc_err_set(err, ENOTSUP,
				  "QEMU machine `microvm` has no hot-pluggable bus: disks need "
				  "[hypervisor.qemu] machine = \"pc\"");
	if (sbx_disk_check_path(op->path, &blockdev, err) < 0)
		return kc_err_retp(err);
	if ((i = sbx_disk_slot_alloc(&s->disks)) < 0)
		return kc_err_set(err, ENOSPC, "the sandbox has %d disks already", SBX_DISK_MAX);
	d = xcalloc(1, sizeof(*d));
	d->state = SBX_DISK_ADDING;
	snprintf(d->id, sizeof(d->id), "blk%d", i);
	d->path = xstrdup(op->path);
	d->read_only = op->read_only;
	d->blockdev = blockdev;
	s->disks.d[i] = d;
	s->disks.n++;
	op->index = i;
	/* Recorded before the VMM hears of it: a restarted daemon removes it. */
	return sbx_state_save(s, err);
}

static void op_run(struct sandbox *s)
{
	struct disk_op *op;
	kc_err *e = NULL;

	if (kc_list_empty(&s->disk_ops))
		return;
	op = kc_container_of(s->disk_ops.next, struct disk_op, node);
	if (s->state != SBX_RUNNING ||
	    (s->type == SBX_HV_QEMU && !s->procs[SBX_PROC_VMM].running)) {
		kc_err_set(&e, EAGAIN, "the sandbox is %s, not running", sbx_state_name(s->state));
		return finish(op, e);
	}
	if (op->attach) {
		if (prepare_attach(op, &e) < 0) {
			if (op->index >= 0)
				forget_disk(s, op->index);
			op->index = -1;
			return finish(op, e);
		}
	} else {
		op->index = sbx_disk_find(&s->disks, op->key);
		if (op->index < 0) {
			kc_err_set(&e, ENOENT, "no such disk");
			return finish(op, e);
		}
		cur(op)->state = SBX_DISK_REMOVING;
		save(s);
	}
	op->expire = kc_timer_after(s->d->loop, op->attach ? SBX_DISK_API_NS : SBX_DISK_UNPLUG_NS,
				    on_expire, op);
	if (s->type == SBX_HV_QEMU)
		qemu_start(op);
	else
		ch_start(op);
}

static void on_start(kc_timer *t, void *ud)
{
	struct disk_op *op = ud;
	(void)t;
	op->start = NULL;
	op_run(op->s);
}

static void enqueue(struct sandbox *s, struct disk_op *op)
{
	bool idle = kc_list_empty(&s->disk_ops);

	op->s = s;
	op->index = -1;
	kc_list_add_tail(&s->disk_ops, &op->node);
	/* From the loop: cb never runs before the caller returns. */
	if (idle)
		op->start = kc_timer_after(s->d->loop, 0, on_start, op);
}

void sbx_disk_attach(struct sandbox *s, const char *path, bool read_only, sbx_disk_fn cb, void *ud)
{
	struct disk_op *op = xcalloc(1, sizeof(*op));
	op->attach = true;
	op->path = xstrdup(path ? path : "");
	op->read_only = read_only;
	op->cb = cb;
	op->ud = ud;
	enqueue(s, op);
}

void sbx_disk_detach(struct sandbox *s, const char *key, sbx_disk_fn cb, void *ud)
{
	struct disk_op *op = xcalloc(1, sizeof(*op));
	op->key = xstrdup(key ? key : "");
	op->cb = cb;
	op->ud = ud;
	enqueue(s, op);
}

static void on_unwanted_detached(struct sandbox *s, const char *id, const char *addr, kc_err *err,
				 void *ud)
{
	(void)id;
	(void)addr;
	(void)ud;
	if (err)
		log_warn("sandbox %s: a disk whose caller gave up: %s", s->id, kc_err_msg(err));
}

void sbx_disk_detach_unwanted(struct sandbox *s, const char *id)
{
	sbx_disk_detach(s, id, on_unwanted_detached, NULL);
}

static void fail_all(struct sandbox *s, int code, const char *why)
{
	while (!kc_list_empty(&s->disk_ops)) {
		struct disk_op *op = kc_container_of(s->disk_ops.next, struct disk_op, node);
		kc_err *e = NULL;
		kc_list_del(&op->node);
		kc_err_set(&e, code, "sandbox %s: disk %s: %s", s->id,
			   op->attach ? op->path : op->key, why);
		if (op->cb)
			op->cb(s, NULL, NULL, e, op->ud);
		kc_err_free(e);
		op_free(op);
	}
}

void sbx_disk_vm_gone(struct sandbox *s)
{
	fail_all(s, ECONNRESET, "the VM is gone");
	sbx_disks_clear(&s->disks);
}

static void on_recover_detach(struct sandbox *s, const char *id, const char *addr, kc_err *err,
			      void *ud)
{
	(void)id;
	(void)addr;
	(void)ud;
	if (err)
		log_warn("%s", kc_err_msg(err));
	else
		log_info("sandbox %s: removed a disk a previous run left half done", s->id);
}

void sbx_disk_recover(struct sandbox *s)
{
	for (int i = 0; i < SBX_DISK_MAX; i++)
		if (s->disks.d[i] && s->disks.d[i]->state != SBX_DISK_ADDED)
			sbx_disk_detach(s, s->disks.d[i]->id, on_recover_detach, NULL);
}

void sbx_disk_release(struct sandbox *s)
{
	fail_all(s, ECANCELED, "the sandbox is gone");
	sbx_disks_clear(&s->disks);
}
