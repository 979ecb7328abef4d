/* SPDX-License-Identifier: Apache-2.0 */
/* A sandbox's task endpoint (see taskep.h): one struct tpod whose VM is
 * the sandbox's own, already running. */
#include "taskep.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent_dial.h"
#include "argv.h"
#include "disk.h"
#include "endpoint.h"
#include "log.h"
#include "persist.h"
#include "service.h"
#include "taskep_int.h"
#include "tpod.h"

#define AGENT_DIAL_NS (30 * KC_NSEC_PER_SEC)

struct ep_waiter {
	kc_list node;
	tpod_vm_fn cb;
	void *ud;
};

static void run_waiters(struct sbx_taskep *ep, const kc_err *err)
{
	while (!kc_list_empty(&ep->waiters)) {
		struct ep_waiter *w = kc_container_of(ep->waiters.next, struct ep_waiter, node);
		kc_list_del(&w->node);
		w->cb(w->ud, err);
		free(w);
	}
}

/* -------------------------------------------------------------- tpod ops */

static void op_ensure(struct tpod *pod, tpod_vm_fn cb, void *ud)
{
	struct sbx_taskep *ep = kc_container_of(pod, struct sbx_taskep, pod);
	kc_err *e = NULL;

	switch (pod->vm_state) {
	case TPOD_VM_READY:
		cb(ud, NULL);
		return;
	case TPOD_VM_STARTING: {
		struct ep_waiter *w = xcalloc(1, sizeof(*w));
		w->cb = cb;
		w->ud = ud;
		kc_list_add_tail(&ep->waiters, &w->node);
		return;
	}
	default:
		kc_err_set(&e, ECONNRESET, "sandbox %s: its VM is not running", ep->s->id);
		cb(ud, e);
		kc_err_free(e);
	}
}

/* The Controller stops the VM, never the Task API. */
static void op_stop(struct tpod *pod, tpod_vm_fn cb, void *ud)
{
	(void)pod;
	cb(ud, NULL);
}

/* Shutdown answered: keep serving (containerd 2.x sends one after every
 * task delete). */
static void op_quit(struct tpod *pod)
{
	pod->shutting_down = false;
}

/* A disk call of the pod, in-process: the sandboxer's own disk_op.c. The
 * endpoint may go before the answer comes: then the caller hears of it
 * from sbx_taskep_free, and an attach that still succeeds is undone. */
struct disk_call {
	kc_list node;
	struct sbx_taskep *ep; /* NULL once the endpoint is gone */
	tpod_disk_fn cb;
	void *ud;
};

static void on_disk(struct sandbox *s, const char *id, const char *addr, kc_err *err, void *ud)
{
	struct disk_call *dc = ud;

	if (dc->ep) {
		kc_list_del(&dc->node);
		dc->cb(dc->ud, id, addr, err);
	} else if (!err && addr) {
		sbx_disk_detach_unwanted(s, id);
	}
	free(dc);
}

static struct disk_call *disk_call_new(struct sbx_taskep *ep, tpod_disk_fn cb, void *ud)
{
	struct disk_call *dc = xcalloc(1, sizeof(*dc));
	dc->ep = ep;
	dc->cb = cb;
	dc->ud = ud;
	kc_list_add_tail(&ep->disk_calls, &dc->node);
	return dc;
}

static void op_disk_attach(struct tpod *pod, const char *path, bool read_only, tpod_disk_fn cb,
			   void *ud)
{
	struct sbx_taskep *ep = kc_container_of(pod, struct sbx_taskep, pod);
	sbx_disk_attach(ep->s, path, read_only, on_disk, disk_call_new(ep, cb, ud));
}

static void op_disk_detach(struct tpod *pod, const char *id, tpod_disk_fn cb, void *ud)
{
	struct sbx_taskep *ep = kc_container_of(pod, struct sbx_taskep, pod);
	sbx_disk_detach(ep->s, id, on_disk, disk_call_new(ep, cb, ud));
}

static void disk_calls_cancel(struct sbx_taskep *ep)
{
	kc_err *e = NULL;

	kc_err_set(&e, ECANCELED, "sandbox %s: task endpoint closed", ep->s->id);
	while (!kc_list_empty(&ep->disk_calls)) {
		struct disk_call *dc = kc_container_of(ep->disk_calls.next, struct disk_call, node);
		kc_list_del(&dc->node);
		dc->ep = NULL;
		dc->cb(dc->ud, NULL, NULL, e);
	}
	kc_err_free(e);
}

static const struct tpod_ops ops = {
    .vm_ensure = op_ensure,
    .vm_stop = op_stop,
    .quit = op_quit,
    .disk_attach = op_disk_attach,
    .disk_detach = op_disk_detach,
};

/* ---------------------------------------------------------------- agent */

static void on_agent(void *ud, ttrpc_client *cli, const kc_err *err)
{
	struct sbx_taskep *ep = ud;
	sbx_done_fn fn = ep->ready_fn;
	void *fud = ep->ready_ud;
	kc_err *e = NULL;

	ep->dial = NULL;
	ep->ready_fn = NULL;
	if (!cli) {
		kc_err_set(&e, err->code, "task endpoint: connect to the agent: %s", err->msg);
		ep->pod.vm_state = TPOD_VM_DEAD;
	} else {
		tpod_agent_ready(&ep->pod, cli);
		tpod_reconcile(&ep->pod);
		log_info("sandbox %s: task endpoint at %s", ep->s->id, ep->path);
	}
	run_waiters(ep, e);
	if (fn)
		fn(ep->s, e, fud);
	kc_err_free(e);
}

char *sbx_taskep_address(const struct sandbox *s)
{
	return xasprintf("ttrpc+unix://%s/" SBX_F_TASK_API, s->base);
}

bool sbx_taskep_up(const struct sandbox *s)
{
	return s->taskep && s->taskep->pod.vm_state == TPOD_VM_READY;
}

int sbx_taskep_open(struct sandbox *s, const char *ns, sbx_done_fn fn, void *ud, kc_err **err)
{
	struct sbx_taskep *ep;
	struct kc_endpoint aep, lep = {.kind = KC_EP_UNIX};
	kc_err *e = NULL;
	int lfd;

	if (sbx_taskep_up(s)) {
		fn(s, NULL, ud);
		return 0;
	}
	if (s->taskep && s->taskep->pod.vm_state == TPOD_VM_STARTING)
		return kc_err_set(err, EBUSY, "sandbox %s: task endpoint being opened", s->id);
	sbx_taskep_free(s->taskep);
	s->taskep = NULL;
	if (kc_endpoint_parse(s->address, &aep, err) < 0)
		return kc_err_wrap(err, "sandbox %s: task address", s->id);
	if (aep.kind != KC_EP_HVSOCK)
		return kc_err_set(err, ENOTSUP,
				  "sandbox %s: a task endpoint needs a hybrid vsock socket (%s)",
				  s->id, s->address);
	ep = xcalloc(1, sizeof(*ep));
	ep->s = s;
	ep->path = xasprintf("%s/" SBX_F_TASK_API, s->base);
	ep->agent_ep = aep;
	kc_list_init(&ep->waiters);
	kc_list_init(&ep->streams);
	kc_list_init(&ep->disk_calls);
	tpod_init(&ep->pod, s->d->loop, &ops, ns, s->id);
	ep->pod.vsock_uds = xstrdup(aep.path);
	ep->pod.shared_dir = sbx_path(s, SBX_F_MOUNTS);
	ep->pod.cleanup_binary = realpath("/proc/self/exe", NULL);
	ep->pod.state_dir = sbx_path(s, SBX_F_TASKS);
	/* Tasks a previous run of the daemon served (none on first open). */
	if (tpod_restore(&ep->pod, &e) < 0)
		goto fail;
	snprintf(lep.path, sizeof(lep.path), "%s", ep->path);
	(void)unlink(ep->path);
	if (s->d->events_addr && *s->d->events_addr &&
	    kc_evpub_new(s->d->loop, s->d->events_addr, ep->pod.ns, &ep->pod.events, &e) < 0)
		goto fail;
	if (ttrpc_server_new(s->d->loop, &ep->srv, &e) < 0)
		goto fail;
	ttrpc_server_register(ep->srv, &tpod_task_service, &ep->pod);
	ttrpc_server_register(ep->srv, &tpod_task_service_v3, &ep->pod);
	sbx_taskep_stream_register(ep, ep->srv);
	if ((lfd = kc_listen(&lep, &e)) < 0 || ttrpc_server_listen(ep->srv, lfd, &e) < 0)
		goto fail;
	ep->pod.vm_state = TPOD_VM_STARTING;
	ep->ready_fn = fn;
	ep->ready_ud = ud;
	s->taskep = ep;
	ep->dial =
	    kc_agent_dial_start(s->d->loop, &aep, kc_now_ns() + AGENT_DIAL_NS, false, on_agent, ep);
	return 0;
fail:
	kc_err_wrap(&e, "sandbox %s: task endpoint %s", s->id, ep->path);
	*err = e;
	sbx_taskep_free(ep);
	return -1;
}

void sbx_taskep_free(struct sbx_taskep *ep)
{
	kc_err *e = NULL;

	if (!ep)
		return;
	kc_agent_dial_cancel(ep->dial);
	kc_err_set(&e, ECANCELED, "sandbox %s: task endpoint closed", ep->s->id);
	run_waiters(ep, e);
	if (ep->ready_fn) /* a Start still waiting for the agent */
		ep->ready_fn(ep->s, e, ep->ready_ud);
	kc_err_free(e);
	sbx_taskep_streams_free(ep);
	disk_calls_cancel(ep);
	ttrpc_server_free(ep->srv);
	tpod_release(&ep->pod);
	if (ep->path)
		(void)unlink(ep->path);
	free(ep->path);
	free(ep);
}
