/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd.services.streaming.v1.Streaming/Stream on a sandbox's task
 * endpoint: containerd opens one per stdio stream (io_type "streaming",
 * stdio URIs `...?streaming_id=<id>`, handed to the guest unchanged). Each
 * becomes a stream of its own to vmm-task's Streaming service, on a new
 * agent connection; every message (StreamInit, Data, WindowUpdate) passes
 * through as is, so flow control stays end to end. What containerd sends
 * before the guest's stream is open waits in a small bounded queue.
 */
#include <errno.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "log.h"
#include "taskep_int.h"

#define STREAMING_SVC "containerd.services.streaming.v1.Streaming"
#define DIAL_NS       (10 * KC_NSEC_PER_SEC)
#define QUEUE_MAX     16 /* containerd waits for the answer to StreamInit */

struct sproxy {
	struct sbx_taskep *ep;
	kc_list node; /* ep->streams */
	ttrpc_call *call;
	kc_agent_dial *dial;
	ttrpc_client *cli;
	ttrpc_cstream *cs;
	Google__Protobuf__Any *q[QUEUE_MAX];
	size_t nq;
	bool up_closed; /* containerd will send no more */
	bool reaping;
	kc_timer *reap;
};

static void sp_free(struct sproxy *sp)
{
	sp->reaping = true;
	kc_list_del(&sp->node);
	kc_timer_cancel(sp->reap);
	kc_agent_dial_cancel(sp->dial);
	if (sp->call) {
		ttrpc_call_set_cancel(sp->call, NULL, NULL);
		ttrpc_call_set_stream(sp->call, NULL, NULL);
		ttrpc_call_reply_error(sp->call, TTRPC_UNAVAILABLE, "stream proxy closed");
		sp->call = NULL;
	}
	/* Its stream's final callback runs now and sees reaping. */
	ttrpc_client_free(sp->cli);
	for (size_t i = 0; i < sp->nq; i++)
		google__protobuf__any__free_unpacked(sp->q[i], NULL);
	free(sp);
}

static void on_reap(kc_timer *t, void *ud)
{
	struct sproxy *sp = ud;
	(void)t;
	sp->reap = NULL;
	sp_free(sp);
}

/* Freed from a timer: never inside one of the client's own callbacks. */
static void sp_reap(struct sproxy *sp)
{
	if (!sp->reap && !sp->reaping)
		sp->reap = kc_timer_after(sp->ep->pod.loop, 0, on_reap, sp);
}

/* Answer containerd (if still there) and end the proxy. */
static void sp_finish(struct sproxy *sp, int code, const char *msg, const uint8_t *d, size_t n)
{
	ttrpc_call *c = sp->call;

	sp->call = NULL;
	if (c) {
		ttrpc_call_set_cancel(c, NULL, NULL);
		ttrpc_call_set_stream(c, NULL, NULL);
		if (code)
			ttrpc_call_reply_error(c, code, "%s", msg);
		else
			ttrpc_call_reply_raw(c, d, n);
	}
	sp_reap(sp);
}

/* ------------------------------------------------------- guest -> containerd */

static void on_down(ttrpc_cstream *s, const uint8_t *data, size_t len, bool closed, void *ud)
{
	struct sproxy *sp = ud;
	(void)s;
	(void)closed; /* the final status follows */

	if (sp->call && data && len)
		(void)ttrpc_call_send_raw(sp->call, data, len, false);
}

static void on_down_done(void *ud, const struct ttrpc_status *st, const uint8_t *d, size_t n)
{
	struct sproxy *sp = ud;

	sp->cs = NULL;
	if (sp->reaping)
		return;
	sp_finish(sp, st->code, st->message ? st->message : "", d, n);
}

/* ------------------------------------------------------- containerd -> guest */

static int send_up(struct sproxy *sp, Google__Protobuf__Any *a)
{
	int r = ttrpc_cstream_send(sp->cs, &a->base, false);
	google__protobuf__any__free_unpacked(a, NULL);
	return r;
}

static void on_up(ttrpc_call *c, const uint8_t *data, size_t len, bool closed, void *ud)
{
	struct sproxy *sp = ud;
	(void)c;

	if (data && len) {
		Google__Protobuf__Any *a = google__protobuf__any__unpack(NULL, len, data);
		if (!a) {
			sp_finish(sp, TTRPC_INVALID_ARGUMENT, "malformed stream message", NULL, 0);
			return;
		}
		if (sp->cs) {
			if (send_up(sp, a) < 0) {
				sp_finish(sp, TTRPC_UNAVAILABLE, "the guest's stream is gone", NULL,
					  0);
				return;
			}
		} else if (sp->nq < QUEUE_MAX) {
			sp->q[sp->nq++] = a;
		} else {
			google__protobuf__any__free_unpacked(a, NULL);
			sp_finish(sp, TTRPC_RESOURCE_EXHAUSTED,
				  "too many messages before the stream is open", NULL, 0);
			return;
		}
	}
	if (closed) {
		sp->up_closed = true;
		if (sp->cs)
			(void)ttrpc_cstream_close_send(sp->cs);
	}
}

static void on_gone(ttrpc_call *c, void *ud)
{
	struct sproxy *sp = ud;
	(void)c;
	sp->call = NULL; /* freed after this returns */
	sp_reap(sp);
}

static void on_dialed(void *ud, ttrpc_client *cli, const kc_err *err)
{
	struct sproxy *sp = ud;
	_cleanup_err_ kc_err *e = NULL;

	sp->dial = NULL;
	if (!cli) {
		sp_finish(sp, TTRPC_UNAVAILABLE, err->msg, NULL, 0);
		return;
	}
	sp->cli = cli;
	if (!sp->call) {
		sp_reap(sp);
		return;
	}
	ttrpc_client_set_metadata(cli, "containerd-namespace-ttrpc", sp->ep->pod.ns);
	if (ttrpc_client_stream(cli, STREAMING_SVC, "Stream", NULL, true, on_down, on_down_done, sp,
				&sp->cs, &e) < 0) {
		sp_finish(sp, TTRPC_UNAVAILABLE, kc_err_msg(e), NULL, 0);
		return;
	}
	for (size_t i = 0; i < sp->nq; i++)
		(void)send_up(sp, sp->q[i]);
	sp->nq = 0;
	if (sp->up_closed)
		(void)ttrpc_cstream_close_send(sp->cs);
}

static void h_stream(ttrpc_call *call, const uint8_t *p, size_t n, void *ud)
{
	struct sbx_taskep *ep = ud;
	struct sproxy *sp;

	if (ep->pod.vm_state != TPOD_VM_READY) {
		ttrpc_call_reply_error(call, TTRPC_UNAVAILABLE, "the sandbox's VM is not running");
		return;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->ep = ep;
	sp->call = call;
	kc_list_add_tail(&ep->streams, &sp->node);
	ttrpc_call_set_cancel(call, on_gone, sp);
	ttrpc_call_set_stream(call, on_up, sp);
	sp->dial = kc_agent_dial_start(ep->pod.loop, &ep->agent_ep, kc_now_ns() + DIAL_NS, false,
				       on_dialed, sp);
	if (n)
		on_up(call, p, n, false, sp);
}

static const struct ttrpc_method methods[] = {
    {"Stream", h_stream, TTRPC_METHOD_STREAMING},
};

static const struct ttrpc_service service = {
    .name = STREAMING_SVC,
    .methods = methods,
    .n_methods = KC_ARRAY_SIZE(methods),
};

void sbx_taskep_stream_register(struct sbx_taskep *ep, ttrpc_server *srv)
{
	ttrpc_server_register(srv, &service, ep);
}

void sbx_taskep_streams_free(struct sbx_taskep *ep)
{
	while (!kc_list_empty(&ep->streams))
		sp_free(kc_container_of(ep->streams.next, struct sproxy, node));
}
