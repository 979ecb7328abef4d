/* SPDX-License-Identifier: Apache-2.0 */
/* containerd.task.v2.Task: lifecycle calls (Create, Start, Delete, State,
 * Wait, Connect, Shutdown). Process calls are in svc_task_proc.c. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "boot.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "svc.h"

struct kc_proc *svc_lookup(ttrpc_call *call, const char *id, const char *exec_id, const char *op)
{
	struct kc_ctr *c = kc_ctr_find(id);
	struct kc_proc *p;

	if (!c) {
		ttrpc_call_reply_error(call, TTRPC_NOT_FOUND, "%s: container %.140s not found", op,
				       id ? id : "");
		return NULL;
	}
	p = kc_proc_find(c, exec_id);
	if (!p)
		ttrpc_call_reply_error(call, TTRPC_NOT_FOUND, "%s: exec %.140s not found in %s", op,
				       exec_id, c->id);
	return p;
}

void svc_reply_empty(ttrpc_call *call)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_reply(call, &e.base);
}

static void h_create(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__CreateTaskRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__CreateTaskRequest,
		       containerd__task__v2__create_task_request, call, data, len);
	(void)ud;
	if (!r)
		return;
	if (r->checkpoint && *r->checkpoint) {
		ttrpc_call_reply_error(call, TTRPC_UNIMPLEMENTED,
				       "create %s: restoring from a checkpoint is not supported",
				       r->id);
	} else {
		kc_ctr_create(call, r->id, r->bundle, r->rootfs, r->n_rootfs, r->terminal, r->stdin,
			      r->stdout, r->stderr);
	}
	containerd__task__v2__create_task_request__free_unpacked(r, NULL);
}

static void h_start(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__StartRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__StartRequest, containerd__task__v2__start_request,
		       call, data, len);
	struct kc_proc *p;
	(void)ud;
	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "start");
	if (p)
		kc_proc_start(call, p);
	containerd__task__v2__start_request__free_unpacked(r, NULL);
}

static void h_delete(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__DeleteRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__DeleteRequest, containerd__task__v2__delete_request,
		       call, data, len);
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct kc_proc *p;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "delete");
	if (!p)
		goto out;
	if (p->started && !p->published) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
				       "delete %s: cannot delete a running process",
				       p->exec_id ? p->exec_id : p->ctr->id);
		goto out;
	}
	if (!p->exec_id && !kc_list_empty(&p->ctr->execs)) {
		/* Execs die with the init; drop their records with it. */
		kc_list_for_each_safe (n, &p->ctr->execs) {
			struct kc_proc *e = kc_container_of(n, struct kc_proc, node);
			if (e->started && !e->published) {
				ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
						       "delete %s: exec %s is still running",
						       p->ctr->id, e->exec_id);
				goto out;
			}
		}
	}
	resp.pid = (uint32_t)p->pid;
	if (p->published) {
		resp.exit_status = (uint32_t)p->exit_status;
		kc_pb_timestamp(&ts, p->exited_at);
	} else {
		/* Created but never started: it is killed now. */
		resp.exit_status = 128 + SIGKILL;
		kc_pb_timestamp(&ts, kc_realtime_ns());
	}
	resp.exited_at = &ts;
	if (p->exec_id)
		kc_proc_delete(p);
	else
		kc_ctr_delete(p->ctr);
	ttrpc_call_reply(call, &resp.base);
out:
	containerd__task__v2__delete_request__free_unpacked(r, NULL);
}

static void h_state(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__StateRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__StateRequest, containerd__task__v2__state_request,
		       call, data, len);
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct kc_proc *p;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "state");
	if (p) {
		resp.id = p->ctr->id;
		resp.exec_id = p->exec_id ? p->exec_id : (char *)"";
		resp.bundle = p->ctr->bundle;
		resp.pid = (uint32_t)p->pid;
		resp.status = (Containerd__V1__Types__Status)kc_proc_status(p);
		resp.stdin = p->stdin_uri;
		resp.stdout = p->stdout_uri;
		resp.stderr = p->stderr_uri;
		resp.terminal = p->terminal;
		if (p->published) {
			resp.exit_status = (uint32_t)p->exit_status;
			kc_pb_timestamp(&ts, p->exited_at);
			resp.exited_at = &ts;
		}
		ttrpc_call_reply(call, &resp.base);
	}
	containerd__task__v2__state_request__free_unpacked(r, NULL);
}

static void h_wait(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__WaitRequest *r = SVC_UNPACK(
	    Containerd__Task__V2__WaitRequest, containerd__task__v2__wait_request, call, data, len);
	struct kc_proc *p;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "wait");
	if (p) {
		if (p->published)
			kc_proc_reply_wait(p, call);
		else
			kc_proc_add_waiter(p, call);
	}
	containerd__task__v2__wait_request__free_unpacked(r, NULL);
}

static void h_connect(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__ConnectRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__ConnectRequest, containerd__task__v2__connect_request,
		       call, data, len);
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	struct kc_ctr *c;
	(void)ud;

	if (!r)
		return;
	c = kc_ctr_find(r->id);
	resp.shim_pid = (uint32_t)getpid();
	if (c)
		resp.task_pid = (uint32_t)c->init->pid;
	resp.version = (char *)"";
	ttrpc_call_reply(call, &resp.base);
	containerd__task__v2__connect_request__free_unpacked(r, NULL);
}

static void do_shutdown(kc_timer *t, void *ud)
{
	(void)t;
	(void)ud;
	svc_agent_shutdown();
}

/* Task.Shutdown and SandboxService shutdown: stop everything; as PID 1 power off. */
void svc_agent_shutdown(void)
{
	kc_agent_kill_all();
	if (!kc_agent->host_mode)
		kc_boot_poweroff();
	kc_loop_quit(kc_agent->loop);
}

static void h_shutdown(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__ShutdownRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__ShutdownRequest,
		       containerd__task__v2__shutdown_request, call, data, len);
	bool live = false;
	(void)ud;

	if (!r)
		return;
	kc_list_for_each (n, &kc_agent->ctrs) {
		struct kc_ctr *c = kc_container_of(n, struct kc_ctr, node);
		live |= !c->init->published;
	}
	/* Like containerd's shims: with live tasks, Shutdown is a no-op unless
	 * forced. */
	if (live && !r->now) {
		svc_reply_empty(call);
	} else {
		kc_agent->shutting_down = true;
		svc_reply_empty(call);
		/* Act after the answer is on its way. */
		kc_timer_after(kc_agent->loop, 0, do_shutdown, NULL);
	}
	containerd__task__v2__shutdown_request__free_unpacked(r, NULL);
}

static void h_checkpoint(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	(void)data;
	(void)len;
	(void)ud;
	ttrpc_call_reply_error(call, TTRPC_UNIMPLEMENTED,
			       "checkpoint: not supported by vmm-task (no CRIU in the guest)");
}

static const struct ttrpc_method task_methods[] = {
    {"State", h_state, 0},
    {"Create", h_create, 0},
    {"Start", h_start, 0},
    {"Delete", h_delete, 0},
    {"Pids", svc_task_pids, 0},
    {"Pause", svc_task_pause, 0},
    {"Resume", svc_task_resume, 0},
    {"Checkpoint", h_checkpoint, 0},
    {"Kill", svc_task_kill, 0},
    {"Exec", svc_task_exec, 0},
    {"ResizePty", svc_task_resize_pty, 0},
    {"CloseIO", svc_task_close_io, 0},
    {"Update", svc_task_update, 0},
    {"Wait", h_wait, 0},
    {"Stats", svc_task_stats, 0},
    {"Connect", h_connect, 0},
    {"Shutdown", h_shutdown, 0},
};

const struct ttrpc_service kc_task_service = {
    .name = "containerd.task.v2.Task",
    .methods = task_methods,
    .n_methods = KC_ARRAY_SIZE(task_methods),
};

/* containerd 2.x dials a sandbox's task address directly only for version 3:
 * the same messages under the v3 package name. */
const struct ttrpc_service kc_task_service_v3 = {
    .name = "containerd.task.v3.Task",
    .methods = task_methods,
    .n_methods = KC_ARRAY_SIZE(task_methods),
};
