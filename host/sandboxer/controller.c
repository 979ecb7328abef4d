/* SPDX-License-Identifier: Apache-2.0 */
#include "controller.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "log.h"
#include "pod_config.h"
#include "state.h"
#include "taskep.h"
#include "vm.h"

#define NETNS_MAX 4096

/* The shared unpack (lib/ttrpc_util.c): strings with an embedded NUL are
 * refused, errors name the message. */
#define UNPACK(type, fn, call, data, len)                                                          \
	({                                                                                         \
		type *_m = NULL;                                                                   \
		(void)KC_CALL_UNPACK(call, fn, data, len, _m);                                     \
		_m;                                                                                \
	})

/* A request that waits for its sandbox (Start, Stop, Wait, Shutdown). */
struct pending {
	struct sbx_daemon *d;
	ttrpc_call *call; /* NULL once the client gave up */
	struct sbx_waiter w;
	char *id;
	kc_timer *timer;
	uint64_t t0;
	char *ns; /* Start from containerd's sandbox proxy: its namespace */
};

static struct pending *pending_new(struct sbx_daemon *d, ttrpc_call *call, const char *id)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->call = call;
	p->id = xstrdup(id);
	p->t0 = kc_now_ns();
	return p;
}

static void pending_free(struct pending *p)
{
	kc_list_del(&p->w.node);
	kc_timer_cancel(p->timer);
	free(p->id);
	free(p->ns);
	free(p);
}

static struct sandbox *lookup(struct sbx_daemon *d, ttrpc_call *call, const char *id)
{
	struct sandbox *s = id ? sbx_find(d, id) : NULL;
	if (!s)
		ttrpc_call_reply_error(call, TTRPC_NOT_FOUND, "sandbox `%.200s` not found",
				       id ? id : "");
	return s;
}

int sbx_controller_destroy(struct sandbox *s, kc_err **err)
{
	if (sbx_dir_remove(s->base, err) < 0)
		return kc_err_wrap(err, "remove sandbox %s", s->id);
	/* Wait calls on a never-started sandbox end here. */
	if (s->state != SBX_STOPPED) {
		s->state = SBX_STOPPED;
		s->exited_at = kc_realtime_ns();
	}
	sbx_waiters_fire(s, NULL);
	s->d->n_sandboxes--;
	sbx_free(s);
	return 0;
}

/* ------------------------------------------------------------------ Create */

static void h_create(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerCreateRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerCreateRequest,
		   containerd__services__sandbox__v1__controller_create_request, call, data, len);
	Containerd__Services__Sandbox__V1__ControllerCreateResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_CREATE_RESPONSE__INIT;
	_cleanup_err_ kc_err *e = NULL;
	struct sbx_pod pod = {0};
	struct sandbox *s = NULL;

	if (!req)
		return;
	if (sbx_id_check(d, req->sandbox_id, &e) < 0) {
		ttrpc_call_reply_kc_err(call, e);
		goto out;
	}
	if (sbx_find(d, req->sandbox_id)) {
		ttrpc_call_reply_error(call, TTRPC_ALREADY_EXISTS, "sandbox %s already exists",
				       req->sandbox_id);
		goto out;
	}
	if (strlen(req->netns_path) > NETNS_MAX ||
	    (*req->netns_path && req->netns_path[0] != '/')) {
		ttrpc_call_reply_error(call, TTRPC_INVALID_ARGUMENT,
				       "netns_path must be empty or an absolute path");
		goto out;
	}
	if (sbx_pod_parse(req, &d->cfg, &pod, &e) < 0) {
		ttrpc_call_reply_error(call, TTRPC_INVALID_ARGUMENT, "create sandbox %s: %s",
				       req->sandbox_id, kc_err_msg(e));
		goto out;
	}
	s = sbx_new(d, req->sandbox_id);
	s->vcpus = pod.vcpus;
	s->memory_mb = pod.memory_mb;
	free(s->netns);
	s->netns = xstrdup(req->netns_path);
	free(s->hostname);
	s->hostname = xstrdup(pod.hostname ? pod.hostname : "");
	s->created_at = kc_realtime_ns();
	/* A directory without a sandbox we know is a leftover of ours. */
	if (access(s->base, F_OK) == 0 && sbx_dir_remove(s->base, &e) < 0)
		goto fail;
	{
		struct sbx_guest_files gf = {.hostname = pod.hostname,
					     .resolv_conf = pod.resolv_conf};
		if (sbx_dir_create(s, &gf, &e) < 0)
			goto fail;
	}
	if (sbx_state_save(s, &e) < 0) {
		(void)sbx_dir_remove(s->base, NULL);
		goto fail;
	}
	kc_list_add_tail(&d->sandboxes, &s->node);
	d->n_sandboxes++;
	log_info("sandbox %s: created (%u vCPU, %u MiB)", s->id, s->vcpus, s->memory_mb);
	resp.sandbox_id = s->id;
	ttrpc_call_reply(call, &resp.base);
	goto out;
fail:
	log_warn("create sandbox %s: %s", s->id, kc_err_msg(e));
	ttrpc_call_reply_error(call, TTRPC_INTERNAL, "create sandbox %s: %s", s->id, kc_err_msg(e));
	sbx_free(s);
out:
	sbx_pod_clear(&pod);
	containerd__services__sandbox__v1__controller_create_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------ Start */

static void start_cancelled(ttrpc_call *c, void *ud)
{
	struct pending *p = ud;
	(void)c;
	p->call = NULL; /* the start goes on; its outcome is only logged */
}

static int start_error_code(const kc_err *e)
{
	switch (e ? e->code : 0) {
	case ETIMEDOUT:
		return TTRPC_DEADLINE_EXCEEDED;
	case ECANCELED:
		return TTRPC_CANCELLED;
	default:
		return TTRPC_UNKNOWN;
	}
}

/* containerd's sandbox proxy sets `sandboxer` (our shim does not): it
 * dials the address we return itself, and wants version 3. */
static bool from_containerd(const char *sandboxer)
{
	return sandboxer && *sandboxer;
}

static const char *call_ns(ttrpc_call *call)
{
	const char *ns = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");
	if (!ns)
		ns = ttrpc_call_metadata(call, "containerd-namespace");
	return ns && *ns && strlen(ns) <= KC_ID_MAX ? ns : "k8s.io";
}

static void on_started(struct sandbox *s, kc_err *err, void *ud);

/* The VM runs and containerd wants its task endpoint: open it first. */
static void on_endpoint(struct sandbox *s, kc_err *err, void *ud)
{
	struct pending *p = ud;
	_cleanup_free_ char *addr = NULL;
	Containerd__Services__Sandbox__V1__ControllerStartResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_RESPONSE__INIT;
	Google__Protobuf__Timestamp created;

	if (err) {
		log_warn("sandbox %s: %s", s->id, kc_err_msg(err));
		if (p->call)
			ttrpc_call_reply_error(p->call, TTRPC_UNAVAILABLE, "start sandbox %s: %s",
					       s->id, kc_err_msg(err));
		pending_free(p);
		return;
	}
	addr = sbx_taskep_address(s);
	resp.sandbox_id = s->id;
	resp.pid = (uint32_t)s->procs[SBX_PROC_VMM].pid;
	resp.created_at = kc_pb_timestamp(&created, s->created_at);
	resp.address = addr;
	resp.version = SBX_TASK_API_V3;
	if (p->call)
		ttrpc_call_reply(p->call, &resp.base);
	pending_free(p);
}

static void on_started(struct sandbox *s, kc_err *err, void *ud)
{
	struct pending *p = ud;
	Containerd__Services__Sandbox__V1__ControllerStartResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_RESPONSE__INIT;
	Google__Protobuf__Timestamp created;
	_cleanup_err_ kc_err *e = NULL;

	if (!err && p->ns) {
		log_info("sandbox %s: running (pid %d, %.2f s); opening its task endpoint", s->id,
			 (int)s->procs[SBX_PROC_VMM].pid, (double)(kc_now_ns() - p->t0) / 1e9);
		if (!s->task_ns || strcmp(s->task_ns, p->ns)) {
			free(s->task_ns);
			s->task_ns = xstrdup(p->ns);
			/* A daemon restart serves the endpoint again. */
			if (sbx_state_save(s, &e) < 0) {
				on_endpoint(s, e, p);
				return;
			}
		}
		if (sbx_taskep_open(s, p->ns, on_endpoint, p, &e) < 0)
			on_endpoint(s, e, p);
		return;
	}
	if (err) {
		log_warn("sandbox %s: start failed: %s", s->id, kc_err_msg(err));
		if (p->call)
			ttrpc_call_reply_error(p->call, start_error_code(err),
					       "start sandbox %s: %s", s->id, kc_err_msg(err));
	} else {
		log_info("sandbox %s: running (pid %d, %.2f s) at %s", s->id,
			 (int)s->procs[SBX_PROC_VMM].pid, (double)(kc_now_ns() - p->t0) / 1e9,
			 s->address);
		resp.sandbox_id = s->id;
		resp.pid = (uint32_t)s->procs[SBX_PROC_VMM].pid;
		resp.created_at = kc_pb_timestamp(&created, s->created_at);
		resp.address = s->address;
		resp.version = SBX_TASK_API_VERSION;
		if (p->call)
			ttrpc_call_reply(p->call, &resp.base);
	}
	pending_free(p);
}

static void h_start(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerStartRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerStartRequest,
		   containerd__services__sandbox__v1__controller_start_request, call, data, len);
	_cleanup_err_ kc_err *e = NULL;
	struct sandbox *s;
	struct pending *p;

	if (!req)
		return;
	s = lookup(d, call, req->sandbox_id);
	if (s) {
		p = pending_new(d, call, s->id);
		if (from_containerd(req->sandboxer))
			p->ns = xstrdup(call_ns(call));
		ttrpc_call_set_cancel(call, start_cancelled, p);
		if (sbx_vm_start(s, on_started, p, &e) < 0) {
			ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
					       "start sandbox %s: %s", s->id, kc_err_msg(e));
			log_warn("sandbox %s: start refused: %s", s->id, kc_err_msg(e));
			pending_free(p);
		}
	}
	containerd__services__sandbox__v1__controller_start_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------ Stop, Wait */

static void waiter_cancelled(ttrpc_call *c, void *ud)
{
	(void)c;
	pending_free(ud);
}

static void on_stopped(struct sandbox *s, kc_err *err, void *ud)
{
	struct pending *p = ud;
	Containerd__Services__Sandbox__V1__ControllerStopResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STOP_RESPONSE__INIT;
	(void)err;

	log_info("sandbox %s: stopped (exit status %u, %.2f s)", s->id, s->exit_status,
		 (double)(kc_now_ns() - p->t0) / 1e9);
	ttrpc_call_reply(p->call, &resp.base);
	pending_free(p);
}

static uint64_t stop_timeout(const struct sbx_daemon *d, uint32_t secs)
{
	if (!secs)
		secs = (uint32_t)d->cfg.stop_timeout_secs;
	if (secs > 3600)
		secs = 3600;
	return (uint64_t)secs * KC_NSEC_PER_SEC;
}

static void h_stop(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerStopRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerStopRequest,
		   containerd__services__sandbox__v1__controller_stop_request, call, data, len);
	Containerd__Services__Sandbox__V1__ControllerStopResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STOP_RESPONSE__INIT;
	struct sandbox *s;
	struct pending *p;

	if (!req)
		return;
	s = sbx_find(d, req->sandbox_id);
	/* Idempotent: an unknown or stopped sandbox is stopped. */
	if (!s || s->state == SBX_STOPPED) {
		ttrpc_call_reply(call, &resp.base);
	} else {
		p = pending_new(d, call, s->id);
		sbx_waiter_add(s, &p->w, on_stopped, p);
		ttrpc_call_set_cancel(call, waiter_cancelled, p);
		sbx_vm_stop(s, stop_timeout(d, req->timeout_secs));
	}
	containerd__services__sandbox__v1__controller_stop_request__free_unpacked(req, NULL);
}

static void reply_wait(ttrpc_call *call, const struct sandbox *s)
{
	Containerd__Services__Sandbox__V1__ControllerWaitResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp exited;

	resp.exit_status = s->exit_status;
	resp.exited_at = kc_pb_timestamp(&exited, s->exited_at);
	ttrpc_call_reply(call, &resp.base);
}

static void on_waited(struct sandbox *s, kc_err *err, void *ud)
{
	struct pending *p = ud;
	(void)err;

	reply_wait(p->call, s);
	pending_free(p);
}

static void h_wait(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerWaitRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerWaitRequest,
		   containerd__services__sandbox__v1__controller_wait_request, call, data, len);
	struct sandbox *s;

	if (!req)
		return;
	s = lookup(d, call, req->sandbox_id);
	if (s && s->state == SBX_STOPPED) {
		reply_wait(call, s);
	} else if (s) {
		struct pending *p = pending_new(d, call, s->id);
		sbx_waiter_add(s, &p->w, on_waited, p);
		ttrpc_call_set_cancel(call, waiter_cancelled, p);
	}
	containerd__services__sandbox__v1__controller_wait_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------ Shutdown */

static void shutdown_cancelled(ttrpc_call *c, void *ud)
{
	struct pending *p = ud;
	(void)c;
	p->call = NULL; /* the removal goes on */
}

static void shutdown_now(struct pending *p)
{
	Containerd__Services__Sandbox__V1__ControllerShutdownResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_SHUTDOWN_RESPONSE__INIT;
	_cleanup_err_ kc_err *e = NULL;
	struct sandbox *s = sbx_find(p->d, p->id);

	if (s && sbx_controller_destroy(s, &e) < 0) {
		log_warn("sandbox %s: %s", p->id, kc_err_msg(e));
		if (p->call)
			ttrpc_call_reply_kc_err(p->call, e);
	} else {
		if (s)
			log_info("sandbox %s: removed", p->id);
		if (p->call)
			ttrpc_call_reply(p->call, &resp.base);
	}
	pending_free(p);
}

static void on_shutdown_timer(kc_timer *t, void *ud)
{
	struct pending *p = ud;
	(void)t;
	p->timer = NULL;
	shutdown_now(p);
}

/* Stopped: remove it from the loop, not from inside the waiter list. */
static void on_shutdown_stopped(struct sandbox *s, kc_err *err, void *ud)
{
	struct pending *p = ud;
	(void)err;
	p->timer = kc_timer_after(s->d->loop, 0, on_shutdown_timer, p);
}

static void h_shutdown(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerShutdownRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerShutdownRequest,
		   containerd__services__sandbox__v1__controller_shutdown_request, call, data, len);
	struct sandbox *s;
	struct pending *p;

	if (!req)
		return;
	s = sbx_find(d, req->sandbox_id);
	p = pending_new(d, call, req->sandbox_id);
	if (!s || s->state == SBX_CREATED || s->state == SBX_STOPPED) {
		shutdown_now(p);
	} else {
		sbx_waiter_add(s, &p->w, on_shutdown_stopped, p);
		ttrpc_call_set_cancel(call, shutdown_cancelled, p);
		sbx_vm_stop(s, stop_timeout(d, 0));
	}
	containerd__services__sandbox__v1__controller_shutdown_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------ Status etc. */

static void h_status(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerStatusRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerStatusRequest,
		   containerd__services__sandbox__v1__controller_status_request, call, data, len);
	Containerd__Services__Sandbox__V1__ControllerStatusResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_RESPONSE__INIT;
	Containerd__Services__Sandbox__V1__ControllerStatusResponse__InfoEntry info[7], *pinfo[7];
	Google__Protobuf__Timestamp created, exited;
	char vcpus[16], mem[16];
	_cleanup_free_ char *console = NULL, *task_addr = NULL;
	struct sandbox *s;
	size_t n = 0;

	if (!req)
		return;
	s = lookup(d, call, req->sandbox_id);
	if (s) {
		bool up = s->state == SBX_RUNNING || s->state == SBX_STOPPING;
		resp.sandbox_id = s->id;
		resp.state =
		    (char *)(s->state == SBX_RUNNING ? "SANDBOX_READY" : "SANDBOX_NOTREADY");
		resp.pid = up ? (uint32_t)s->procs[SBX_PROC_VMM].pid : 0;
		resp.created_at = kc_pb_timestamp(&created, s->created_at);
		if (s->state == SBX_STOPPED)
			resp.exited_at = kc_pb_timestamp(&exited, s->exited_at);
		if (up && from_containerd(req->sandboxer) && sbx_taskep_up(s)) {
			task_addr = sbx_taskep_address(s);
			resp.address = task_addr;
			resp.version = SBX_TASK_API_V3;
		} else if (up) {
			resp.address = s->address;
			resp.version = SBX_TASK_API_VERSION;
		}
		if (req->verbose) {
			const char *kv[][2] = {
			    {"state", sbx_state_name(s->state)},
			    {"hypervisor", sbx_hv_name(s->type)},
			    {"vcpus", vcpus},
			    {"memory_mb", mem},
			    {"console", console = sbx_path(s, SBX_F_CONSOLE)},
			    {"dir", s->base},
			    /* CRI's PodSandboxStatus shows this map as its info in
			     * sandbox mode: the pod's netns, as podsandbox shows it. */
			    {"netns", s->netns ? s->netns : ""},
			};
			snprintf(vcpus, sizeof(vcpus), "%u", s->vcpus);
			snprintf(mem, sizeof(mem), "%u", s->memory_mb);
			for (; n < KC_ARRAY_SIZE(kv); n++) {
				containerd__services__sandbox__v1__controller_status_response__info_entry__init(
				    &info[n]);
				info[n].key = (char *)kv[n][0];
				info[n].value = (char *)kv[n][1];
				pinfo[n] = &info[n];
			}
			resp.n_info = n;
			resp.info = pinfo;
		}
		ttrpc_call_reply(call, &resp.base);
	}
	containerd__services__sandbox__v1__controller_status_request__free_unpacked(req, NULL);
}

static void h_platform(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Containerd__Services__Sandbox__V1__ControllerPlatformRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerPlatformRequest,
		   containerd__services__sandbox__v1__controller_platform_request, call, data, len);
	Containerd__Services__Sandbox__V1__ControllerPlatformResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_PLATFORM_RESPONSE__INIT;
	Containerd__Types__Platform plat = CONTAINERD__TYPES__PLATFORM__INIT;
	(void)ud;

	if (!req)
		return;
	plat.os = "linux";
	plat.architecture = "amd64";
	resp.platform = &plat;
	ttrpc_call_reply(call, &resp.base);
	containerd__services__sandbox__v1__controller_platform_request__free_unpacked(req, NULL);
}

static void h_metrics(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerMetricsRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerMetricsRequest,
		   containerd__services__sandbox__v1__controller_metrics_request, call, data, len);
	Containerd__Services__Sandbox__V1__ControllerMetricsResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_METRICS_RESPONSE__INIT;
	Containerd__Types__Metric m = CONTAINERD__TYPES__METRIC__INIT;
	Google__Protobuf__Timestamp now;
	struct sandbox *s;

	if (!req)
		return;
	s = lookup(d, call, req->sandbox_id);
	if (s) {
		/* Like Kuasar: no data yet, only who and when. */
		m.id = s->id;
		m.timestamp = kc_pb_timestamp(&now, kc_realtime_ns());
		resp.metrics = &m;
		ttrpc_call_reply(call, &resp.base);
	}
	containerd__services__sandbox__v1__controller_metrics_request__free_unpacked(req, NULL);
}

static void h_update(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	struct sbx_daemon *d = ud;
	Containerd__Services__Sandbox__V1__ControllerUpdateRequest *req =
	    UNPACK(Containerd__Services__Sandbox__V1__ControllerUpdateRequest,
		   containerd__services__sandbox__v1__controller_update_request, call, data, len);
	Containerd__Services__Sandbox__V1__ControllerUpdateResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_UPDATE_RESPONSE__INIT;

	if (!req)
		return;
	/* Containers reach the guest through its Task API directly; no field
	 * of the sandbox record changes anything here yet. */
	if (lookup(d, call, req->sandbox_id)) {
		log_debug("sandbox %s: update of %zu field(s) accepted, nothing to change",
			  req->sandbox_id, req->n_fields);
		ttrpc_call_reply(call, &resp.base);
	}
	containerd__services__sandbox__v1__controller_update_request__free_unpacked(req, NULL);
}

static const struct ttrpc_method methods[] = {
    {"Create", h_create, 0},     {"Start", h_start, 0},     {"Platform", h_platform, 0},
    {"Stop", h_stop, 0},         {"Wait", h_wait, 0},       {"Status", h_status, 0},
    {"Shutdown", h_shutdown, 0}, {"Metrics", h_metrics, 0}, {"Update", h_update, 0},
};

static const struct ttrpc_service service = {
    .name = SBX_CONTROLLER_SERVICE,
    .methods = methods,
    .n_methods = KC_ARRAY_SIZE(methods),
};

void sbx_controller_register(ttrpc_server *srv, struct sbx_daemon *d)
{
	ttrpc_server_register(srv, &service, d);
}
