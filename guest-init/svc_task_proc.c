/* SPDX-License-Identifier: Apache-2.0 */
/* containerd.task.v2.Task: calls on running processes (Kill, Exec, Pids,
 * ResizePty, CloseIO, Pause, Resume, Update, Stats). */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "svc.h"

void svc_task_kill(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__KillRequest *r = SVC_UNPACK(
	    Containerd__Task__V2__KillRequest, containerd__task__v2__kill_request, call, data, len);
	struct kc_proc *p;
	kc_err *err = NULL;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "kill");
	if (p) {
		if (kc_proc_kill(p, (int)r->signal, r->all, &err) < 0)
			ttrpc_call_reply_kc_err(call, err);
		else
			svc_reply_empty(call);
		kc_err_free(err);
	}
	containerd__task__v2__kill_request__free_unpacked(r, NULL);
}

void svc_task_exec(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__ExecProcessRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__ExecProcessRequest,
		       containerd__task__v2__exec_process_request, call, data, len);
	struct kc_proc *p;
	kc_err *err = NULL;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, NULL, "exec");
	if (!p)
		goto out;
	if (!r->spec || !r->spec->value.len) {
		ttrpc_call_reply_error(call, TTRPC_INVALID_ARGUMENT,
				       "exec %s: missing process spec", r->exec_id);
		goto out;
	}
	if (kc_exec_add(p->ctr, r->exec_id, r->terminal, r->stdin, r->stdout, r->stderr,
			(const char *)r->spec->value.data, r->spec->value.len, &err) < 0)
		ttrpc_call_reply_kc_err(call, err);
	else
		svc_reply_empty(call);
	kc_err_free(err);
out:
	containerd__task__v2__exec_process_request__free_unpacked(r, NULL);
}

void svc_task_pids(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__PidsRequest *r = SVC_UNPACK(
	    Containerd__Task__V2__PidsRequest, containerd__task__v2__pids_request, call, data, len);
	Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	struct kc_proc *p;
	pid_t *pids = NULL;
	size_t n = 0;
	kc_err *err = NULL;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, NULL, "pids");
	if (!p)
		goto out;
	if (p->ctr->cgroup) {
		if (kc_cgroup_pids(p->ctr->cgroup, &pids, &n, &err) < 0) {
			ttrpc_call_reply_kc_err(call, err);
			kc_err_free(err);
			goto out;
		}
	} else if (p->pid > 0 && !p->exited) {
		pids = xmalloc(sizeof(*pids));
		pids[0] = p->pid;
		n = 1;
	}
	{
		Containerd__V1__Types__ProcessInfo *infos = xcalloc(n + 1, sizeof(*infos));
		Containerd__V1__Types__ProcessInfo **ptrs = xcalloc(n + 1, sizeof(*ptrs));
		for (size_t i = 0; i < n; i++) {
			containerd__v1__types__process_info__init(&infos[i]);
			infos[i].pid = (uint32_t)pids[i];
			ptrs[i] = &infos[i];
		}
		resp.processes = ptrs;
		resp.n_processes = n;
		ttrpc_call_reply(call, &resp.base);
		free(infos);
		free(ptrs);
	}
	free(pids);
out:
	containerd__task__v2__pids_request__free_unpacked(r, NULL);
}

static void pause_resume(ttrpc_call *call, const char *id, bool pause)
{
	struct kc_proc *p = svc_lookup(call, id, NULL, pause ? "pause" : "resume");
	kc_err *err = NULL;

	if (!p)
		return;
	if (!p->ctr->cgroup) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
				       "%s %s: the container has no cgroup to freeze",
				       pause ? "pause" : "resume", id);
		return;
	}
	if (!p->started || p->exited) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION, "%s %s: not running",
				       pause ? "pause" : "resume", id);
		return;
	}
	if (kc_cgroup_freeze(p->ctr->cgroup, pause, &err) < 0) {
		ttrpc_call_reply_kc_err(call, err);
		kc_err_free(err);
		return;
	}
	p->ctr->paused = pause;
	svc_reply_empty(call);
}

void svc_task_pause(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__PauseRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__PauseRequest, containerd__task__v2__pause_request,
		       call, data, len);
	(void)ud;
	if (!r)
		return;
	pause_resume(call, r->id, true);
	containerd__task__v2__pause_request__free_unpacked(r, NULL);
}

void svc_task_resume(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__ResumeRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__ResumeRequest, containerd__task__v2__resume_request,
		       call, data, len);
	(void)ud;
	if (!r)
		return;
	pause_resume(call, r->id, false);
	containerd__task__v2__resume_request__free_unpacked(r, NULL);
}

void svc_task_resize_pty(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__ResizePtyRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__ResizePtyRequest,
		       containerd__task__v2__resize_pty_request, call, data, len);
	struct kc_proc *p;
	kc_err *err = NULL;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "resize pty");
	if (p) {
		int pty = p->io ? kc_procio_pty(p->io) : -1;
		if (pty < 0)
			ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
					       "resize pty %s: the process has no terminal", r->id);
		else if (kc_pty_resize(pty, r->width, r->height, &err) < 0)
			ttrpc_call_reply_kc_err(call, err);
		else
			svc_reply_empty(call);
		kc_err_free(err);
	}
	containerd__task__v2__resize_pty_request__free_unpacked(r, NULL);
}

void svc_task_close_io(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__CloseIORequest *r =
	    SVC_UNPACK(Containerd__Task__V2__CloseIORequest, containerd__task__v2__close_iorequest,
		       call, data, len);
	struct kc_proc *p;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, r->exec_id, "close io");
	if (p) {
		if (r->stdin && p->io)
			kc_procio_close_stdin(p->io);
		svc_reply_empty(call);
	}
	containerd__task__v2__close_iorequest__free_unpacked(r, NULL);
}

void svc_task_update(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__UpdateTaskRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__UpdateTaskRequest,
		       containerd__task__v2__update_task_request, call, data, len);
	struct kc_proc *p;
	struct kc_resources res;
	kc_err *err = NULL;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, NULL, "update");
	if (!p)
		goto out;
	if (!r->resources || !r->resources->value.len) {
		svc_reply_empty(call);
		goto out;
	}
	if (!p->ctr->cgroup) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
				       "update %s: the container has no cgroup", r->id);
		goto out;
	}
	if (kc_resources_parse((const char *)r->resources->value.data, r->resources->value.len,
			       &res, &err) < 0 ||
	    kc_cgroup_apply(p->ctr->cgroup, &res, &err) < 0) {
		kc_err_wrap(&err, "update %s", r->id);
		ttrpc_call_reply_kc_err(call, err);
	} else {
		svc_reply_empty(call);
	}
	kc_resources_clear(&res);
	kc_err_free(err);
out:
	containerd__task__v2__update_task_request__free_unpacked(r, NULL);
}

void svc_task_stats(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Task__V2__StatsRequest *r =
	    SVC_UNPACK(Containerd__Task__V2__StatsRequest, containerd__task__v2__stats_request,
		       call, data, len);
	Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	Io__Containerd__Cgroups__V2__Metrics *m = NULL;
	struct kc_proc *p;
	kc_err *err = NULL;
	(void)ud;

	if (!r)
		return;
	p = svc_lookup(call, r->id, NULL, "stats");
	if (!p)
		goto out;
	if (!p->ctr->cgroup) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
				       "stats %s: the container has no cgroup", r->id);
		goto out;
	}
	if (kc_cgroup_metrics(p->ctr->cgroup, &m, &err) < 0) {
		ttrpc_call_reply_kc_err(call, err);
		kc_err_free(err);
		goto out;
	}
	any.type_url = (char *)"io.containerd.cgroups.v2.Metrics";
	any.value.data = kc_pb_pack(&m->base, &any.value.len);
	resp.stats = &any;
	ttrpc_call_reply(call, &resp.base);
	free(any.value.data);
	kc_cgroup_metrics_free(m);
out:
	containerd__task__v2__stats_request__free_unpacked(r, NULL);
}
