/* SPDX-License-Identifier: Apache-2.0 */
/* The pod's VM: obtained from vmm-sandboxer (Controller Create + Start) on
 * the first task, then the agent connection over hybrid vsock. */
#include <errno.h>
#include <libgen.h>
#include <string.h>

#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "containerd/types/event.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "endpoint.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "shim.h"

#define CONTROLLER        "containerd.services.sandbox.v1.Controller"
#define SANDBOXER_TIMEOUT (120 * KC_NSEC_PER_SEC) /* a TCG boot can be slow */

static int dial_sandboxer(kc_err **err)
{
	int fd;
	if (shim->sbx && !ttrpc_client_closed(shim->sbx))
		return 0;
	ttrpc_client_free(shim->sbx);
	shim->sbx = NULL;
	fd = kc_dial_addr(shim->sandboxer_addr, kc_now_ns() + 5 * KC_NSEC_PER_SEC, err);
	if (fd < 0)
		return kc_err_wrap(err, "vmm-sandboxer at %s (is it running?)",
				   shim->sandboxer_addr);
	return ttrpc_client_new(shim->loop, fd, &shim->sbx, err);
}

static void agent_closed(ttrpc_client *c, void *ud)
{
	(void)c;
	(void)ud;
	log_error("pod %s: lost the agent connection; the VM is gone", shim->group);
	shim->vm_dead = true;
	pod_on_agent_lost();
}

/* "ttrpc+hvsock:///run/kuasar-vmm/<id>/task.vsock:1024" -> the UDS and the
 * sandbox dir's shared/ (exported to the guest as /run/kuasar/state). */
static int adopt_address(const char *address, kc_err **err)
{
	struct kc_endpoint ep;
	_cleanup_free_ char *dir = NULL;

	if (kc_endpoint_parse(address, &ep, err) < 0)
		return kc_err_wrap(err, "sandbox task address");
	if (ep.kind != KC_EP_HVSOCK)
		return kc_err_set(err, EINVAL,
				  "sandbox task address `%s`: expected ttrpc+hvsock://", address);
	free(shim->agent_addr);
	free(shim->vsock_uds);
	free(shim->shared_dir);
	shim->agent_addr = xstrdup(address);
	shim->vsock_uds = xstrdup(ep.path);
	dir = xstrdup(ep.path);
	shim->shared_dir = xasprintf("%s/shared", dirname(dir));
	return 0;
}

static int sandbox_start(kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerCreateRequest cr =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_CREATE_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerStartRequest sr =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	kc_err *e = NULL;
	int r;

	cr.sandbox_id = shim->group;
	r = ttrpc_client_call_sync(shim->sbx, CONTROLLER, "Create", &cr.base, NULL,
				   SANDBOXER_TIMEOUT, NULL, &e);
	if (r < 0 && e->code != EEXIST) {
		if (err)
			*err = e;
		return kc_err_wrap(err, "create sandbox %s", shim->group);
	}
	kc_err_freep(&e);
	sr.sandbox_id = shim->group;
	if (ttrpc_client_call_sync(
		shim->sbx, CONTROLLER, "Start", &sr.base,
		&containerd__services__sandbox__v1__controller_start_response__descriptor,
		SANDBOXER_TIMEOUT, &m, err) < 0)
		return kc_err_wrap(err, "start sandbox %s", shim->group);
	r = adopt_address(
	    ((Containerd__Services__Sandbox__V1__ControllerStartResponse *)m)->address, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

static void poll_events(void);

/* The agent's GetEvents is a long poll: re-arm it after every event. */
static void on_event(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	Containerd__Types__Envelope *env;
	(void)ud;

	if (st->code != 0) {
		if (st->code != TTRPC_UNAVAILABLE && st->code != TTRPC_CANCELLED)
			log_warn("agent events: %s", st->message);
		return;
	}
	env = containerd__types__envelope__unpack(NULL, n, d);
	if (env && env->event && env->topic && !strcmp(env->topic, "/tasks/oom")) {
		Containerd__Events__TaskOOM *oom = containerd__events__task_oom__unpack(
		    NULL, env->event->value.len, env->event->value.data);
		if (oom) {
			events_publish("/tasks/oom", "containerd.events.TaskOOM", &oom->base);
			containerd__events__task_oom__free_unpacked(oom, NULL);
		}
	}
	if (env)
		containerd__types__envelope__free_unpacked(env, NULL);
	poll_events();
}

static void poll_events(void)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	if (!shim->agent || shim->vm_dead)
		return;
	(void)ttrpc_client_call(shim->agent, "grpc.SandboxService", "GetEvents", &e.base, 0,
				on_event, NULL, NULL);
}

int pod_ensure_vm(kc_err **err)
{
	int fd;

	if (shim->vm_dead)
		return kc_err_set(err, ECONNRESET, "pod %s: its VM has died", shim->group);
	if (shim->agent)
		return 0;
	if (dial_sandboxer(err) < 0 || sandbox_start(err) < 0)
		return kc_err_retp(err);
	shim->vm_started = true;
	fd = kc_dial_addr(shim->agent_addr, kc_now_ns() + 30 * KC_NSEC_PER_SEC, err);
	if (fd < 0)
		return kc_err_wrap(err, "connect to the pod's agent");
	if (ttrpc_client_new(shim->loop, fd, &shim->agent, err) < 0)
		return kc_err_retp(err);
	ttrpc_client_set_metadata(shim->agent, "containerd-namespace-ttrpc", shim->ns);
	ttrpc_client_set_close_cb(shim->agent, agent_closed, NULL);
	log_info("pod %s: VM ready, agent at %s", shim->group, shim->agent_addr);
	poll_events();
	return 0;
}

int pod_attach_existing(kc_err **err)
{
	Containerd__Services__Sandbox__V1__ControllerStatusRequest r =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	int rc;

	if (dial_sandboxer(err) < 0)
		return kc_err_retp(err);
	r.sandbox_id = shim->group;
	if (ttrpc_client_call_sync(
		shim->sbx, CONTROLLER, "Status", &r.base,
		&containerd__services__sandbox__v1__controller_status_response__descriptor,
		10 * KC_NSEC_PER_SEC, &m, err) < 0)
		return kc_err_wrap(err, "sandbox %s", shim->group);
	rc = adopt_address(
	    ((Containerd__Services__Sandbox__V1__ControllerStatusResponse *)m)->address, err);
	protobuf_c_message_free_unpacked(m, NULL);
	if (rc == 0)
		shim->vm_started = true;
	return rc;
}

void pod_stop_vm(void)
{
	Containerd__Services__Sandbox__V1__ControllerStopRequest st =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STOP_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerShutdownRequest sd =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_SHUTDOWN_REQUEST__INIT;
	kc_err *err = NULL;

	if (!shim->vm_started)
		return;
	if (shim->agent) {
		ttrpc_client_set_close_cb(shim->agent, NULL, NULL);
		ttrpc_client_free(shim->agent);
		shim->agent = NULL;
	}
	if (dial_sandboxer(&err) < 0)
		goto out;
	st.sandbox_id = sd.sandbox_id = shim->group;
	st.timeout_secs = 10;
	if (ttrpc_client_call_sync(shim->sbx, CONTROLLER, "Stop", &st.base, NULL,
				   30 * KC_NSEC_PER_SEC, NULL, &err) < 0)
		log_warn("stop sandbox %s: %s", shim->group, kc_err_msg(err));
	kc_err_freep(&err);
	if (ttrpc_client_call_sync(shim->sbx, CONTROLLER, "Shutdown", &sd.base, NULL,
				   30 * KC_NSEC_PER_SEC, NULL, &err) < 0)
		goto out;
	shim->vm_started = false;
	return;
out:
	log_warn("shutdown sandbox %s: %s", shim->group, kc_err_msg(err));
	kc_err_free(err);
}

uint32_t pod_alloc_port(void)
{
	/* Ports only need to be unique among this pod's live streams. */
	if (shim->next_port >= 65000)
		shim->next_port = SHIM_FIRST_PORT;
	return shim->next_port++;
}

void pod_on_agent_lost(void)
{
	uint64_t now = kc_realtime_ns();

	kc_list_for_each (n, &shim->tasks) {
		struct task *t = kc_container_of(n, struct task, node);
		if (t->init->started && !t->init->agent_exited)
			proc_agent_exited(t->init, 255, now);
		kc_list_for_each (m, &t->execs) {
			struct sproc *p = kc_container_of(m, struct sproc, node);
			if (p->started && !p->agent_exited)
				proc_agent_exited(p, 255, now);
		}
	}
}
