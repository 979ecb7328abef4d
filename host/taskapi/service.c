/* SPDX-License-Identifier: Apache-2.0 */
/* containerd.task.v2/v3.Task as containerd sees it, for one pod (the
 * service's data): most calls are forwarded to the agent unchanged;
 * Create/Exec/Start/Wait/Delete also manage the host side (bundle, stdio
 * relays, exit tracking, events). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "service.h"

#include "diskplan.h"
#include "bundle.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "id.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "persist.h"
#include "relay.h"
#include "proc.h"

/* ---------------------------------------------------------------- create */

static void on_create(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct pending *x = ud;
	ttrpc_call *c = pending_take(x);
	struct task *t = find_task(x->pod, x->id);
	Containerd__Task__V2__CreateTaskResponse *r = NULL;
	kc_err *err = NULL;

	if (!t || t->gen != x->gen)
		goto out;
	if (st->code != 0 ||
	    !(r = containerd__task__v2__create_task_response__unpack(NULL, n, d))) {
		if (c)
			ttrpc_call_reply_error(c, st->code ? st->code : TTRPC_INTERNAL, "%s",
					       st->code ? st->message : "malformed agent answer");
		task_free(t);
		goto out;
	}
	t->in_guest = true;
	t->init->pid = r->pid;
	tpod_save(t);
	if (start_relays(t->init, 0, 2, &err) < 0) {
		if (c)
			ttrpc_call_reply_kc_err(c, err);
		kc_err_free(err);
		/* The container exists in the VM; containerd will delete it. */
		goto out;
	}
	{
		Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
		Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
		io.stdin = t->init->stdio[0];
		io.stdout = t->init->stdio[1];
		io.stderr = t->init->stdio[2];
		io.terminal = t->init->terminal;
		ev.container_id = t->id;
		ev.bundle = t->bundle;
		ev.io = &io;
		ev.pid = r->pid;
		events_publish(t->pod, "/tasks/create", "containerd.events.TaskCreate", &ev.base);
	}
	if (c)
		ttrpc_call_reply_raw(c, d, n);
out:
	if (r)
		containerd__task__v2__create_task_response__free_unpacked(r, NULL);
	pending_free(x);
}

/* The steps of a Create parked until the VM and then the container's disks
 * are ready: x carries containerd's call and the request. */

/* The task x is for, or NULL (containerd told) if it was deleted meanwhile. */
static struct task *create_target(struct pending *x)
{
	struct task *t = find_task(x->pod, x->id);
	ttrpc_call *c;

	if (t && t->gen == x->gen)
		return t;
	if ((c = pending_take(x)))
		ttrpc_call_reply_error(c, TTRPC_ABORTED, "create %s: deleted meanwhile", x->id);
	return NULL;
}

/* Tell containerd why, and drop the task with its host side. */
static void create_fail(struct pending *x, struct task *t, const kc_err *err)
{
	ttrpc_call *c = pending_take(x);

	if (c)
		ttrpc_call_reply_error(c, ttrpc_code_from_errno(err ? err->code : 0),
				       "create %s: %s", x->id, kc_err_msg(err));
	task_free(t);
}

static void create_done(struct pending *x)
{
	containerd__task__v2__create_task_request__free_unpacked(x->data, NULL);
	pending_free(x);
}

/* The container's disks are in the VM (or failed): prepare the bundle,
 * create in the guest. */
static void create_with_disks(void *ud, const kc_err *dk_err)
{
	struct pending *x = ud;
	Containerd__Task__V2__CreateTaskRequest *r = x->data;
	Containerd__Task__V2__CreateTaskRequest fwd =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Types__Mount rootfs, *prootfs = &rootfs;
	_cleanup_free_ char *gb = NULL, *in = NULL, *out = NULL, *errp = NULL;
	struct task *t = create_target(x);
	struct pending *y;
	ttrpc_call *c;
	kc_err *err = NULL;

	if (!t)
		goto out;
	if (dk_err) {
		create_fail(x, t, dk_err);
		goto out;
	}
	if (!x->call) {
		task_free(t);
		goto out;
	}
	if (bundle_prepare(t, r->rootfs, r->n_rootfs, &err) < 0)
		goto fail;
	gb = xasprintf("%s/%s", TPOD_GUEST_SHARED, t->id);
	in = guest_uri(t->init, 0);
	out = guest_uri(t->init, 1);
	errp = guest_uri(t->init, 2);
	fwd.id = r->id;
	fwd.bundle = gb;
	fwd.terminal = r->terminal;
	fwd.stdin = in;
	fwd.stdout = out;
	fwd.stderr = errp;
	/* A rootfs on a disk is mounted by the guest (block-contract.md §1). */
	if (blk_plan_rootfs(t->blk)) {
		blk_plan_rootfs_mount(t->blk, &rootfs);
		fwd.rootfs = &prootfs;
		fwd.n_rootfs = 1;
	}
	c = pending_take(x);
	y = pending_new(x->pod, c, r->id, NULL);
	y->gen = t->gen;
	if (ttrpc_client_call(x->pod->agent, TASK_SVC, "Create", &fwd.base, timeout_of(c),
			      on_create, y, &err) < 0) {
		pending_free(y);
		x->call = c;
		goto fail;
	}
	goto out;
fail:
	create_fail(x, t, err);
	kc_err_free(err);
out:
	create_done(x);
}

/* The pod's VM is ready (or failed): hot-plug the container's disks. */
static void create_in_vm(void *ud, const kc_err *vm_err)
{
	struct pending *x = ud;
	Containerd__Task__V2__CreateTaskRequest *r = x->data;
	struct task *t = create_target(x);
	kc_err *err = NULL;

	if (!t)
		goto out;
	if (vm_err) {
		create_fail(x, t, vm_err);
		goto out;
	}
	if (!x->call) {
		/* containerd gave up while the VM booted: nothing to create. */
		task_free(t);
		goto out;
	}
	if (bundle_plan_disks(t, r->rootfs, r->n_rootfs, &err) < 0) {
		create_fail(x, t, err);
		kc_err_free(err);
		goto out;
	}
	blk_attach_all(t, create_with_disks, x);
	return;
out:
	create_done(x);
}

/* The task is registered at once (a second Create of the same id fails,
 * State and Wait work); it is created in the guest when the VM is ready. */
static void h_create(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__CreateTaskRequest *r = NULL;
	struct tpod *pod = ud;
	struct pending *x;
	struct task *t;
	kc_err *err = NULL;

	if (KC_CALL_UNPACK(c, containerd__task__v2__create_task_request, d, n, r) < 0)
		return;
	if (kc_id_check("container id", r->id, &err) < 0) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "create: %s", err->msg);
		kc_err_free(err);
		containerd__task__v2__create_task_request__free_unpacked(r, NULL);
		return;
	}
	if (find_task(pod, r->id)) {
		ttrpc_call_reply_error(c, TTRPC_ALREADY_EXISTS, "task %s: already exists", r->id);
		containerd__task__v2__create_task_request__free_unpacked(r, NULL);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->pod = pod;
	t->id = xstrdup(r->id);
	t->bundle = xstrdup(r->bundle);
	t->gen = ++pod->next_gen;
	kc_list_init(&t->execs);
	kc_list_add_tail(&pod->tasks, &t->node);
	pod->n_tasks++;
	t->init = sproc_new(t, NULL, r->terminal, r->stdin, r->stdout, r->stderr);
	if (pod->vm_state == TPOD_VM_NONE && pod->ops->first_create)
		pod->ops->first_create(pod, r->bundle);
	x = pending_new(pod, c, r->id, NULL);
	x->gen = t->gen;
	x->data = r;
	pod->ops->vm_ensure(pod, create_in_vm, x);
}

/* ----------------------------------------------------------------- start */

static void on_start(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct pending *x = ud;
	ttrpc_call *c = pending_take(x);
	struct sproc *p = find_proc(x->pod, x->id, x->exec_id);
	Containerd__Task__V2__StartResponse *r = NULL;
	kc_err *err = NULL;

	if (st->code != 0 || !(r = containerd__task__v2__start_response__unpack(NULL, n, d))) {
		if (c)
			ttrpc_call_reply_error(c, st->code ? st->code : TTRPC_INTERNAL, "%s",
					       st->code ? st->message : "malformed agent answer");
		goto out;
	}
	if (p) {
		p->pid = r->pid;
		p->started = true;
		tpod_save(p->task);
		/* Exec streams are set up by the agent at Start. */
		if (p->exec_id && start_relays(p, 0, 2, &err) < 0) {
			log_error("%s", kc_err_msg(err));
			kc_err_freep(&err);
		}
		watch_exit(p);
		if (p->exec_id) {
			Containerd__Events__TaskExecStarted ev =
			    CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
			ev.container_id = p->task->id;
			ev.exec_id = p->exec_id;
			ev.pid = r->pid;
			events_publish(x->pod, "/tasks/exec-started",
				       "containerd.events.TaskExecStarted", &ev.base);
		} else {
			Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
			ev.container_id = p->task->id;
			ev.pid = r->pid;
			events_publish(x->pod, "/tasks/start", "containerd.events.TaskStart",
				       &ev.base);
		}
	}
	if (c)
		ttrpc_call_reply_raw(c, d, n);
out:
	if (r)
		containerd__task__v2__start_response__free_unpacked(r, NULL);
	pending_free(x);
}

/* Forward a request to the agent; its answer (or error) goes to containerd. */
static void h_start(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__StartRequest *r =
	    containerd__task__v2__start_request__unpack(NULL, n, d);
	struct tpod *pod = ud;
	if (!r) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "malformed StartRequest");
		return;
	}
	struct sproc *p = find_proc(pod, r->id, r->exec_id);
	if (!p)
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "start: %s %s not found", r->id,
				       r->exec_id);
	else if (!p->task->in_guest)
		ttrpc_call_reply_error(c, TTRPC_FAILED_PRECONDITION,
				       "start %s: still being created", r->id);
	else
		forward(pod, c, d, n, on_start, r->id, r->exec_id);
	containerd__task__v2__start_request__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------------ exec */

static void on_exec(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct pending *x = ud;
	ttrpc_call *c = pending_take(x);
	struct sproc *p = find_proc(x->pod, x->id, x->exec_id);
	(void)d;
	(void)n;

	if (st->code) {
		if (p) {
			kc_list_del(&p->node);
			sproc_free(p);
		}
		if (c)
			reply_status(c, st);
	} else {
		Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
		ev.container_id = x->id;
		ev.exec_id = x->exec_id;
		events_publish(x->pod, "/tasks/exec-added", "containerd.events.TaskExecAdded",
			       &ev.base);
		if (p)
			tpod_save(p->task);
		if (c)
			reply_empty(c);
	}
	pending_free(x);
}

static void h_exec(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__ExecProcessRequest *r =
	    containerd__task__v2__exec_process_request__unpack(NULL, n, d);
	struct tpod *pod = ud;
	struct task *t;
	struct sproc *p;
	char *uris[3];
	struct pending *x;
	kc_err *err = NULL;

	if (!r) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "malformed ExecProcessRequest");
		return;
	}
	t = find_task(pod, r->id);
	if (!t || !r->exec_id || !*r->exec_id || find_proc(pod, r->id, r->exec_id)) {
		ttrpc_call_reply_error(c, t ? TTRPC_ALREADY_EXISTS : TTRPC_NOT_FOUND,
				       "exec %s in %s: %s", r->exec_id, r->id,
				       t ? "exec id invalid or already exists" : "no such task");
		goto out;
	}
	if (pod->vm_state != TPOD_VM_READY || !t->in_guest) {
		ttrpc_call_reply_error(c, TTRPC_UNAVAILABLE, "exec: the pod's VM is not running");
		goto out;
	}
	p = sproc_new(t, r->exec_id, r->terminal, r->stdin, r->stdout, r->stderr);
	kc_list_add_tail(&t->execs, &p->node);
	for (int i = 0; i < 3; i++)
		uris[i] = guest_uri(p, i);
	r->stdin = uris[0];
	r->stdout = uris[1];
	r->stderr = uris[2];
	x = pending_new(pod, c, r->id, r->exec_id);
	if (ttrpc_client_call(pod->agent, TASK_SVC, "Exec", &r->base, timeout_of(c), on_exec, x,
			      &err) < 0) {
		pending_free(x);
		kc_list_del(&p->node);
		sproc_free(p);
		ttrpc_call_reply_kc_err(c, err);
		kc_err_free(err);
	}
	/* The request's own strings are freed with it; ours now. */
	r->stdin = r->stdout = r->stderr = NULL;
	for (int i = 0; i < 3; i++)
		free(uris[i]);
out:
	containerd__task__v2__exec_process_request__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------ wait/state */

static void waiter_cancel(ttrpc_call *c, void *ud)
{
	struct sproc *p = ud;
	for (size_t i = 0; i < p->n_waiters; i++)
		if (p->waiters[i] == c) {
			p->waiters[i] = p->waiters[--p->n_waiters];
			return;
		}
}

static void h_wait(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__WaitRequest *r =
	    containerd__task__v2__wait_request__unpack(NULL, n, d);
	struct tpod *pod = ud;
	struct sproc *p;

	if (!r) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "malformed WaitRequest");
		return;
	}
	p = find_proc(pod, r->id, r->exec_id);
	if (!p) {
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "wait: %s %s not found", r->id,
				       r->exec_id);
	} else if (p->exited) {
		reply_wait(c, p);
	} else {
		p->waiters = xrealloc(p->waiters, (p->n_waiters + 1) * sizeof(*p->waiters));
		p->waiters[p->n_waiters++] = c;
		ttrpc_call_set_cancel(c, waiter_cancel, p);
	}
	containerd__task__v2__wait_request__free_unpacked(r, NULL);
}

/* The agent's State speaks of guest paths: answer with containerd's. */
static void on_state(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct pending *x = ud;
	ttrpc_call *c = pending_take(x);
	struct sproc *p = find_proc(x->pod, x->id, x->exec_id);
	Containerd__Task__V2__StateResponse *r = NULL;

	if (!c)
		goto out;
	if (st->code) {
		reply_status(c, st);
		goto out;
	}
	r = containerd__task__v2__state_response__unpack(NULL, n, d);
	if (!r || !p) {
		ttrpc_call_reply_raw(c, d, n);
		goto out;
	}
	{
		char *keep[4] = {r->bundle, r->stdin, r->stdout, r->stderr};
		r->bundle = p->task->bundle;
		r->stdin = p->stdio[0];
		r->stdout = p->stdio[1];
		r->stderr = p->stdio[2];
		ttrpc_call_reply(c, &r->base);
		r->bundle = keep[0];
		r->stdin = keep[1];
		r->stdout = keep[2];
		r->stderr = keep[3];
	}
out:
	if (r)
		containerd__task__v2__state_response__free_unpacked(r, NULL);
	pending_free(x);
}

static void h_state(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__StateRequest *r =
	    containerd__task__v2__state_request__unpack(NULL, n, d);
	struct tpod *pod = ud;
	struct sproc *p;

	if (!r) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "malformed StateRequest");
		return;
	}
	p = find_proc(pod, r->id, r->exec_id);
	if (!p) {
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "state: %s %s not found", r->id,
				       r->exec_id);
	} else if (!p->task->in_guest || pod->vm_state == TPOD_VM_DEAD ||
		   (p->exited && pod->vm_state != TPOD_VM_READY)) {
		Containerd__Task__V2__StateResponse s = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
		Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
		s.id = p->task->id;
		s.exec_id = p->exec_id ? p->exec_id : (char *)"";
		s.bundle = p->task->bundle;
		s.pid = p->pid;
		s.status = p->exited || p->agent_exited ? CONTAINERD__V1__TYPES__STATUS__STOPPED
							: CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
		/* Still waiting for the pod's VM: not created yet. */
		if (!p->task->in_guest && !p->exited)
			s.status = CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
		s.stdin = p->stdio[0];
		s.stdout = p->stdio[1];
		s.stderr = p->stdio[2];
		s.terminal = p->terminal;
		s.exit_status = p->exit_status;
		kc_pb_timestamp(&ts, p->exited_at);
		s.exited_at = &ts;
		ttrpc_call_reply(c, &s.base);
	} else {
		forward(pod, c, d, n, on_state, r->id, r->exec_id);
	}
	containerd__task__v2__state_request__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------- delete */

/* A Delete's answer, kept while the task's disks are unplugged: containerd
 * releases a snapshot once Delete answers (devmapper removes its device),
 * which must not be in the VM any more by then. */
struct del_reply {
	ttrpc_call *c; /* NULL once containerd gave up */
	uint32_t pid, exit_status;
	uint64_t exited_at;
};

static void send_delete(const struct del_reply *dr)
{
	Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	r.pid = dr->pid;
	r.exit_status = dr->exit_status;
	kc_pb_timestamp(&ts, dr->exited_at);
	r.exited_at = &ts;
	ttrpc_call_reply(dr->c, &r.base);
}

static void del_cancelled(ttrpc_call *c, void *data)
{
	struct del_reply *dr = data;
	(void)c;
	dr->c = NULL;
}

static void on_disks_detached(void *ud, const kc_err *err)
{
	struct del_reply *dr = ud;
	(void)err; /* logged per disk */
	if (dr->c) {
		ttrpc_call_set_cancel(dr->c, NULL, NULL);
		send_delete(dr);
	}
	free(dr);
}

static void reply_delete(ttrpc_call *c, struct sproc *p, bool after_disks)
{
	struct del_reply dr = {.c = c,
			       .pid = p->pid,
			       .exit_status = p->agent_exited ? p->exit_status : 128 + SIGKILL,
			       .exited_at = p->exited_at ? p->exited_at : kc_realtime_ns()};
	struct del_reply *held;

	if (!after_disks)
		return send_delete(&dr);
	held = xmalloc(sizeof(*held));
	*held = dr;
	ttrpc_call_set_cancel(c, del_cancelled, held);
	blk_detach_all(p->task, on_disks_detached, held);
}

static void delete_local(ttrpc_call *c, struct sproc *p)
{
	struct task *t = p->task;

	if (c)
		reply_delete(c, p, !p->exec_id && t->blk);
	if (p->exec_id) {
		kc_list_del(&p->node);
		sproc_free(p);
		tpod_save(t);
		return;
	}
	{
		Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
		Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
		ev.container_id = t->id;
		ev.id = t->id;
		ev.pid = p->pid;
		ev.exit_status = p->exit_status;
		kc_pb_timestamp(&ts, p->exited_at ? p->exited_at : kc_realtime_ns());
		ev.exited_at = &ts;
		events_publish(t->pod, "/tasks/delete", "containerd.events.TaskDelete", &ev.base);
	}
	task_free(t);
}

static void on_delete(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct pending *x = ud;
	ttrpc_call *c = pending_take(x);
	struct sproc *p = find_proc(x->pod, x->id, x->exec_id);
	Containerd__Task__V2__DeleteResponse *r = NULL;

	if (st->code && st->code != TTRPC_NOT_FOUND && x->pod->vm_state != TPOD_VM_DEAD) {
		if (c)
			reply_status(c, st);
		goto out;
	}
	r = st->code ? NULL : containerd__task__v2__delete_response__unpack(NULL, n, d);
	if (p && r && !p->agent_exited) {
		/* Created but never started: the agent reports how it ended. */
		p->exit_status = r->exit_status;
		p->agent_exited = true;
	}
	if (p)
		delete_local(c, p);
	else if (c)
		ttrpc_call_reply_raw(c, d, n);
out:
	if (r)
		containerd__task__v2__delete_response__free_unpacked(r, NULL);
	pending_free(x);
}

static void h_delete(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__DeleteRequest *r =
	    containerd__task__v2__delete_request__unpack(NULL, n, d);
	struct tpod *pod = ud;
	struct sproc *p;

	if (!r) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "malformed DeleteRequest");
		return;
	}
	p = find_proc(pod, r->id, r->exec_id);
	if (!p)
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "delete: %s %s not found", r->id,
				       r->exec_id);
	else if (!p->task->in_guest)
		ttrpc_call_reply_error(c, TTRPC_FAILED_PRECONDITION,
				       "delete %s: still being created", r->id);
	else if (p->started && !p->exited && pod->vm_state != TPOD_VM_DEAD)
		ttrpc_call_reply_error(c, TTRPC_FAILED_PRECONDITION,
				       "delete %s: the process is still running", r->id);
	else if (pod->vm_state != TPOD_VM_READY)
		delete_local(c, p);
	else
		forward(pod, c, d, n, on_delete, r->id, r->exec_id);
	containerd__task__v2__delete_request__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------ pass-through */

static void h_forward(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	forward(ud, c, d, n, NULL, NULL, NULL);
}

static void h_close_io(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__CloseIORequest *r =
	    containerd__task__v2__close_iorequest__unpack(NULL, n, d);
	struct sproc *p = r ? find_proc(ud, r->id, r->exec_id) : NULL;
	if (p && r->stdin && p->relay[0]) {
		/* Our relay owns the guest's stdin: closing it after the bytes
		 * containerd sent is the EOF; the agent must not cut it short. */
		relay_close_stdin(p->relay[0]);
		reply_empty(c);
	} else {
		forward(ud, c, d, n, NULL, NULL, NULL);
	}
	if (r)
		containerd__task__v2__close_iorequest__free_unpacked(r, NULL);
}

static void h_connect(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__ConnectRequest *r =
	    containerd__task__v2__connect_request__unpack(NULL, n, d);
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	struct sproc *p = r ? find_proc(ud, r->id, NULL) : NULL;
	resp.shim_pid = (uint32_t)getpid();
	resp.task_pid = p ? p->pid : 0;
	resp.version = (char *)"";
	ttrpc_call_reply(c, &resp.base);
	if (r)
		containerd__task__v2__connect_request__free_unpacked(r, NULL);
}

static void quit(void *ud)
{
	struct tpod *pod = ud;
	pod->ops->quit(pod);
}

static void quit_timer(kc_timer *t, void *ud)
{
	(void)t;
	quit(ud);
}

/* The VM is stopped: answer, hand containerd the last events, quit. */
static void on_vm_stopped(void *ud, const kc_err *err)
{
	struct pending *x = ud;
	struct tpod *pod = x->pod;
	ttrpc_call *c = pending_take(x);
	(void)err; /* logged by the owner; containerd cannot do better */

	if (c)
		reply_empty(c);
	pending_free(x);
	if (pod->events)
		kc_evpub_drain(pod->events, kc_now_ns() + 5 * KC_NSEC_PER_SEC, quit, pod);
	else
		kc_timer_after(pod->loop, 0, quit_timer, pod);
}

static void h_shutdown(ttrpc_call *c, const uint8_t *d, size_t n, void *ud)
{
	Containerd__Task__V2__ShutdownRequest *r =
	    containerd__task__v2__shutdown_request__unpack(NULL, n, d);
	struct tpod *pod = ud;
	bool now = r && r->now;

	if (r)
		containerd__task__v2__shutdown_request__free_unpacked(r, NULL);
	/* Like containerd's shims: stay while the pod has tasks. */
	if ((pod->n_tasks > 0 && !now) || pod->shutting_down) {
		reply_empty(c);
		return;
	}
	pod->shutting_down = true;
	while (!kc_list_empty(&pod->tasks))
		task_free(kc_container_of(pod->tasks.next, struct task, node));
	pod->ops->vm_stop(pod, on_vm_stopped, pending_new(pod, c, NULL, NULL));
}

static const struct ttrpc_method methods[] = {
    {"State", h_state, 0},     {"Create", h_create, 0},      {"Start", h_start, 0},
    {"Delete", h_delete, 0},   {"Pids", h_forward, 0},       {"Pause", h_forward, 0},
    {"Resume", h_forward, 0},  {"Checkpoint", h_forward, 0}, {"Kill", h_forward, 0},
    {"Exec", h_exec, 0},       {"ResizePty", h_forward, 0},  {"CloseIO", h_close_io, 0},
    {"Update", h_forward, 0},  {"Wait", h_wait, 0},          {"Stats", h_forward, 0},
    {"Connect", h_connect, 0}, {"Shutdown", h_shutdown, 0},
};

const struct ttrpc_service tpod_task_service = {
    .name = "containerd.task.v2.Task",
    .methods = methods,
    .n_methods = KC_ARRAY_SIZE(methods),
};

/* containerd 2.x's sandbox mode: the same messages, another package. */
const struct ttrpc_service tpod_task_service_v3 = {
    .name = "containerd.task.v3.Task",
    .methods = methods,
    .n_methods = KC_ARRAY_SIZE(methods),
};
