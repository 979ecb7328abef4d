/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's processes: lookups, exit tracking (the agent's Wait, then our
 * relays draining, then the exit event), and forwarding calls to the agent. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "containerd/events/task.pb-c.h"
#include "diskplan.h"
#include "bundle.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "persist.h"
#include "relay.h"
#include "rpc_call.h"
#include "proc.h"

static void pending_cancel(ttrpc_call *c, void *ud)
{
	struct pending *x = ud;
	(void)c;
	x->call = NULL;
}

struct pending *pending_new(struct tpod *pod, ttrpc_call *call, const char *id, const char *exec_id)
{
	struct pending *x = xcalloc(1, sizeof(*x));
	x->pod = pod;
	x->call = call;
	x->id = xstrdup(id ? id : "");
	x->exec_id = exec_id && *exec_id ? xstrdup(exec_id) : NULL;
	if (call)
		ttrpc_call_set_cancel(call, pending_cancel, x);
	return x;
}

/* Detach and return the containerd call (NULL if it already went away). */
ttrpc_call *pending_take(struct pending *x)
{
	ttrpc_call *c = x->call;
	if (c)
		ttrpc_call_set_cancel(c, NULL, NULL);
	x->call = NULL;
	return c;
}

void pending_free(struct pending *x)
{
	pending_take(x);
	free(x->id);
	free(x->exec_id);
	free(x);
}

struct task *find_task(struct tpod *pod, const char *id)
{
	kc_list_for_each (n, &pod->tasks) {
		struct task *t = kc_container_of(n, struct task, node);
		if (!strcmp(t->id, id))
			return t;
	}
	return NULL;
}

struct sproc *find_proc(struct tpod *pod, const char *id, const char *exec_id)
{
	struct task *t = id ? find_task(pod, id) : NULL;
	if (!t)
		return NULL;
	if (!exec_id || !*exec_id)
		return t->init;
	kc_list_for_each (n, &t->execs) {
		struct sproc *p = kc_container_of(n, struct sproc, node);
		if (!strcmp(p->exec_id, exec_id))
			return p;
	}
	return NULL;
}

void task_free(struct task *t)
{
	tpod_unsave(t);
	bundle_cleanup(t);
	task_forget(t);
}

void task_forget(struct task *t)
{
	kc_list_del(&t->node);
	t->pod->n_tasks--;
	while (!kc_list_empty(&t->execs)) {
		struct sproc *p = kc_container_of(t->execs.next, struct sproc, node);
		kc_list_del(&p->node);
		sproc_free(p);
	}
	sproc_free(t->init);
	for (size_t i = 0; i < t->n_mounts; i++)
		free(t->mounts[i]);
	free(t->mounts);
	blk_plan_free(t->blk);
	free(t->id);
	free(t->bundle);
	free(t->host_dir);
	free(t);
}

void reply_empty(ttrpc_call *c)
{
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_reply(c, &e.base);
}

void reply_status(ttrpc_call *c, const struct ttrpc_status *st)
{
	ttrpc_call_reply_error(c, st->code, "%s", st->message);
}

/* ------------------------------------------------------------- processes */

static bool proc_uses(const struct sproc *p, uint32_t port)
{
	for (int i = 0; i < 3; i++)
		if (p->ports[i] == port)
			return true;
	return false;
}

/* Random, so a process in the guest cannot predict (and race for) the port
 * of another's stream; unique among the pod's live streams (and p's own). */
static uint32_t alloc_port(struct tpod *pod, const struct sproc *self)
{
	for (;;) {
		uint32_t r = 0;
		bool used = false;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint32_t)kc_now_ns() * 2654435761u;
		r = TPOD_PORT_MIN + r % (TPOD_PORT_MAX - TPOD_PORT_MIN + 1);
		used = proc_uses(self, r);
		kc_list_for_each (n, &pod->tasks) {
			struct task *t = kc_container_of(n, struct task, node);
			used = used || (t->init && proc_uses(t->init, r));
			kc_list_for_each (m, &t->execs)
				used = used || proc_uses(kc_container_of(m, struct sproc, node), r);
		}
		if (!used)
			return r;
	}
}

/* containerd's io_type "streaming": the guest serves the stream itself
 * (the sandboxer's task endpoint proxies it), nothing to relay here. */
static bool is_streaming(const char *uri)
{
	return strstr(uri, "?streaming_id=") != NULL;
}

struct sproc *sproc_new(struct task *t, const char *exec_id, bool terminal, const char *in,
			const char *out, const char *err)
{
	struct sproc *p = xcalloc(1, sizeof(*p));
	const char *uris[3] = {in, out, err};

	p->task = t;
	p->exec_id = exec_id ? xstrdup(exec_id) : NULL;
	p->terminal = terminal;
	for (int i = 0; i < 3; i++) {
		p->stdio[i] = xstrdup(uris[i] ? uris[i] : "");
		/* A terminal merges stderr into stdout. */
		if (*p->stdio[i] && !(terminal && i == 2) && !is_streaming(p->stdio[i]))
			p->ports[i] = alloc_port(t->pod, p);
	}
	return p;
}

void sproc_free(struct sproc *p)
{
	if (!p)
		return;
	for (int i = 0; i < 3; i++) {
		relay_free(p->relay[i]);
		free(p->stdio[i]);
	}
	while (p->n_waiters > 0) {
		ttrpc_call *c = p->waiters[--p->n_waiters];
		ttrpc_call_set_cancel(c, NULL, NULL);
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "process deleted");
	}
	free(p->waiters);
	free(p->exec_id);
	free(p);
}

char *guest_uri(const struct sproc *p, int i)
{
	if (!p->ports[i])
		return xstrdup(is_streaming(p->stdio[i]) ? p->stdio[i] : "");
	return xasprintf("hvsock://%s:%u", p->task->pod->vsock_uds, p->ports[i]);
}

void reply_wait(ttrpc_call *c, struct sproc *p)
{
	Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	r.exit_status = p->exit_status;
	kc_pb_timestamp(&ts, p->exited_at);
	r.exited_at = &ts;
	ttrpc_call_reply(c, &r.base);
}

/* The agent reported the exit and every output byte reached containerd. */
static void publish_exit(struct sproc *p)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	if (p->exited)
		return;
	p->exited = true;
	relay_free(p->relay[0]);
	p->relay[0] = NULL;
	ev.container_id = p->task->id;
	ev.id = p->exec_id ? p->exec_id : p->task->id;
	ev.pid = p->pid;
	ev.exit_status = p->exit_status;
	kc_pb_timestamp(&ts, p->exited_at);
	ev.exited_at = &ts;
	events_publish(p->task->pod, "/tasks/exit", "containerd.events.TaskExit", &ev.base);
	tpod_save(p->task);
	while (p->n_waiters > 0) {
		ttrpc_call *c = p->waiters[--p->n_waiters];
		ttrpc_call_set_cancel(c, NULL, NULL);
		reply_wait(c, p);
	}
}

void proc_agent_exited(struct sproc *p, uint32_t status, uint64_t exited_at)
{
	bool dead = p->task->pod->vm_state == TPOD_VM_DEAD;

	if (p->agent_exited)
		return;
	p->agent_exited = true;
	p->exit_status = status;
	p->exited_at = exited_at ? exited_at : kc_realtime_ns();
	if (p->open_relays == 0 || dead) {
		/* A dead VM will not finish its streams. */
		for (int i = 1; i < 3 && dead; i++) {
			relay_free(p->relay[i]);
			p->relay[i] = NULL;
		}
		publish_exit(p);
	}
}

static void relay_done(struct relay *r, void *ud)
{
	struct sproc *p = ud;
	for (int i = 1; i < 3; i++)
		if (p->relay[i] == r && p->open_relays > 0) {
			p->open_relays--;
			if (p->open_relays == 0 && p->agent_exited)
				publish_exit(p);
		}
}

int start_relays(struct sproc *p, int from, int to, kc_err **err)
{
	for (int i = from; i <= to; i++) {
		if (!p->ports[i])
			continue;
		if (relay_start(p->task->pod, i, p->stdio[i], p->ports[i], relay_done, p,
				&p->relay[i], err) < 0)
			return kc_err_wrap(err, "stdio of %s",
					   p->exec_id ? p->exec_id : p->task->id);
		if (i > 0)
			p->open_relays++;
	}
	return 0;
}

static void on_internal_wait(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct pending *x = ud;
	struct sproc *p = find_proc(x->pod, x->id, x->exec_id);
	Containerd__Task__V2__WaitResponse *r = (void *)*resp;

	if (p) {
		if (err)
			log_warn("wait %s: %s", x->id, err->msg);
		proc_agent_exited(p, r ? r->exit_status : 255,
				  r ? kc_pb_timestamp_ns(r->exited_at) : 0);
	}
	pending_free(x);
}

/* We learn exits by waiting at the agent ourselves, once per process. */
void watch_exit(struct sproc *p)
{
	Containerd__Task__V2__WaitRequest w = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	struct tpod *pod = p->task->pod;
	struct pending *x = pending_new(pod, NULL, p->task->id, p->exec_id);
	kc_err *err = NULL;

	w.id = p->task->id;
	w.exec_id = p->exec_id ? p->exec_id : (char *)"";
	if (kc_rpc_call(pod->agent, &containerd__task__v2__task__descriptor, "Wait", &w.base, 0,
			on_internal_wait, x, &err) < 0) {
		log_error("wait %s: %s", p->task->id, kc_err_msg(err));
		kc_err_free(err);
		pending_free(x);
		proc_agent_exited(p, 255, 0);
	}
}

void procs_agent_lost(struct tpod *pod)
{
	uint64_t now = kc_realtime_ns();

	kc_list_for_each (n, &pod->tasks) {
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

uint64_t timeout_of(ttrpc_call *c)
{
	uint64_t d = ttrpc_call_deadline(c), now = kc_now_ns();
	if (d == UINT64_MAX)
		return AGENT_TIMEOUT;
	return d > now ? d - now : 1;
}

static void on_forward(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct pending *x = ud;
	ttrpc_call *c = pending_take(x);
	if (c) {
		if (st->code)
			reply_status(c, st);
		else
			ttrpc_call_reply_raw(c, d, n);
	}
	pending_free(x);
}

void forward(struct tpod *pod, ttrpc_call *c, const uint8_t *d, size_t n, ttrpc_reply_fn cb,
	     const char *id, const char *exec_id)
{
	struct pending *x;
	kc_err *err = NULL;

	if (pod->vm_state != TPOD_VM_READY) {
		ttrpc_call_reply_error(c, TTRPC_UNAVAILABLE, "%s: the pod's VM is not running",
				       ttrpc_call_method(c));
		return;
	}
	x = pending_new(pod, c, id, exec_id);
	if (ttrpc_client_call_raw(pod->agent, TASK_SVC, ttrpc_call_method(c), d, n, timeout_of(c),
				  cb ? cb : on_forward, x, &err) < 0) {
		pending_free(x);
		ttrpc_call_reply_kc_err(c, err);
		kc_err_free(err);
	}
}
