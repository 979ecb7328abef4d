/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's Task API state: its agent connection and events (see tpod.h). */
#include "tpod.h"

#include <errno.h>
#include <string.h>

#include "containerd/events/task.pb-c.h"
#include "containerd/types/event.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "kuasar/sandbox.pb-c.h"
#include "log.h"
#include "proc.h"
#include "rpc_call.h"

void tpod_init(struct tpod *pod, kc_loop *loop, const struct tpod_ops *ops, const char *ns,
	       const char *id)
{
	memset(pod, 0, sizeof(*pod));
	pod->loop = loop;
	pod->ops = ops;
	pod->ns = xstrdup(ns ? ns : "");
	pod->id = xstrdup(id ? id : "");
	kc_list_init(&pod->tasks);
}

void tpod_release(struct tpod *pod)
{
	if (!pod->ops) /* never initialized */
		return;
	while (!kc_list_empty(&pod->tasks))
		task_forget(kc_container_of(pod->tasks.next, struct task, node));
	tpod_agent_drop(pod);
	kc_timer_cancel(pod->reap_timer);
	ttrpc_client_free(pod->dead_agent);
	kc_evpub_free(pod->events);
	free(pod->ns);
	free(pod->id);
	free(pod->vsock_uds);
	free(pod->cleanup_binary);
	free(pod->shared_dir);
	free(pod->state_dir);
	memset(pod, 0, sizeof(*pod));
}

void events_publish(struct tpod *pod, const char *topic, const char *type,
		    const ProtobufCMessage *msg)
{
	if (pod->events)
		kc_evpub_publish(pod->events, topic, type, msg);
}

/* ------------------------------------------------------------------ events */

struct poll {
	struct tpod *pod;
	ttrpc_client *asked;
};

static void poll_events(struct tpod *pod);

/* The agent's GetEvents is a long poll: re-arm it after every event. */
static void on_event(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	Containerd__Types__Envelope *env = (Containerd__Types__Envelope *)*resp;
	struct poll *p = ud;
	struct tpod *pod = p->pod;
	bool same = pod->agent == p->asked;

	free(p);
	if (err) {
		if (err->code != ECONNREFUSED && err->code != ECANCELED)
			log_warn("agent events: %s", err->msg);
		return;
	}
	if (env->event && env->topic && !strcmp(env->topic, "/tasks/oom")) {
		Containerd__Events__TaskOOM *oom = containerd__events__task_oom__unpack(
		    NULL, env->event->value.len, env->event->value.data);
		if (oom) {
			events_publish(pod, "/tasks/oom", "containerd.events.TaskOOM", &oom->base);
			containerd__events__task_oom__free_unpacked(oom, NULL);
		}
	}
	if (same)
		poll_events(pod);
}

static void poll_events(struct tpod *pod)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	struct poll *p;

	if (pod->vm_state != TPOD_VM_READY)
		return;
	p = xcalloc(1, sizeof(*p));
	p->pod = pod;
	p->asked = pod->agent;
	if (kc_rpc_call(pod->agent, &grpc__sandbox_service__descriptor, "GetEvents", &e.base, 0,
			on_event, p, NULL) < 0)
		free(p);
}

/* ------------------------------------------------------------------- agent */

static void on_reap(kc_timer *t, void *ud)
{
	struct tpod *pod = ud;
	(void)t;
	pod->reap_timer = NULL;
	ttrpc_client_free(pod->dead_agent);
	pod->dead_agent = NULL;
}

static void agent_closed(ttrpc_client *c, void *ud)
{
	struct tpod *pod = ud;

	log_error("pod %s: lost the agent connection; the VM is gone", pod->id);
	pod->vm_state = TPOD_VM_DEAD;
	pod->agent = NULL;
	ttrpc_client_free(pod->dead_agent);
	pod->dead_agent = c;
	if (!pod->reap_timer)
		pod->reap_timer = kc_timer_after(pod->loop, 0, on_reap, pod);
	procs_agent_lost(pod);
}

void tpod_agent_ready(struct tpod *pod, ttrpc_client *agent)
{
	pod->agent = agent;
	ttrpc_client_set_metadata(agent, "containerd-namespace-ttrpc", pod->ns);
	ttrpc_client_set_close_cb(agent, agent_closed, pod);
	pod->vm_state = TPOD_VM_READY;
	poll_events(pod);
}

void tpod_agent_drop(struct tpod *pod)
{
	if (!pod->agent)
		return;
	ttrpc_client_set_close_cb(pod->agent, NULL, NULL);
	ttrpc_client_free(pod->agent);
	pod->agent = NULL;
}
