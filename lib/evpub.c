/* SPDX-License-Identifier: Apache-2.0 */
#include "evpub.h"

#include <string.h>

#include "containerd/services/events/ttrpc/v1/events.pb-c.h"
#include "endpoint.h"
#include "log.h"
#include "rpc_call.h"
#include "ttrpc.h"
#include "util.h"

#define DIAL_NS        (5 * KC_NSEC_PER_SEC)
#define FORWARD_NS     (5 * KC_NSEC_PER_SEC)
#define BACKOFF_MIN_NS (50 * KC_NSEC_PER_MSEC)
#define BACKOFF_MAX_NS (2 * KC_NSEC_PER_SEC)

struct item {
	kc_list node;
	char *topic, *type_url;
	uint8_t *data;
	size_t len;
	uint64_t at_ns;
	unsigned attempts;
};

struct kc_evpub {
	kc_loop *loop;
	struct kc_endpoint ep;
	char *ns;
	kc_list queue;
	size_t n;
	ttrpc_client *cli;
	bool cli_broken; /* freed from the retry timer, never in its callback */
	kc_dialer *dialer;
	kc_timer *retry;
	uint64_t backoff;
	bool inflight;
	bool freeing;
	void (*drain_cb)(void *ud);
	void *drain_ud;
	kc_timer *drain_timer, *drain_now;
};

static void pump(kc_evpub *p);

static void item_free(struct item *it)
{
	kc_list_del(&it->node);
	free(it->topic);
	free(it->type_url);
	free(it->data);
	free(it);
}

/* Drain ends when the queue empties or at its deadline, whichever first. */
static void on_drain_timer(kc_timer *t, void *ud)
{
	kc_evpub *p = ud;
	void (*cb)(void *) = p->drain_cb;
	void *cb_ud = p->drain_ud;

	if (t == p->drain_timer)
		p->drain_timer = NULL;
	else
		p->drain_now = NULL;
	kc_timer_cancel(p->drain_timer);
	kc_timer_cancel(p->drain_now);
	p->drain_timer = p->drain_now = NULL;
	p->drain_cb = NULL;
	if (p->n > 0)
		log_warn("events: %zu not delivered to containerd in time", p->n);
	if (cb)
		cb(cb_ud);
}

static void on_retry(kc_timer *t, void *ud)
{
	kc_evpub *p = ud;
	(void)t;
	p->retry = NULL;
	if (p->cli_broken) {
		ttrpc_client_free(p->cli);
		p->cli = NULL;
		p->cli_broken = false;
	}
	pump(p);
}

static void retry_later(kc_evpub *p)
{
	if (p->retry)
		return;
	p->retry = kc_timer_after(p->loop, p->backoff, on_retry, p);
	p->backoff = p->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : p->backoff * 2;
}

static void on_dial(int fd, kc_err *err, void *ud)
{
	kc_evpub *p = ud;
	kc_err *e = NULL;

	p->dialer = NULL;
	if (fd < 0 || ttrpc_client_new(p->loop, fd, &p->cli, &e) < 0) {
		log_debug("events: containerd: %s", kc_err_msg(fd < 0 ? err : e));
		kc_err_free(e);
		retry_later(p);
		return;
	}
	ttrpc_client_set_metadata(p->cli, "containerd-namespace-ttrpc", p->ns);
	pump(p);
}

static void on_forwarded(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	kc_evpub *p = ud;
	struct item *it;
	(void)resp;

	if (p->freeing)
		return;
	it = kc_container_of(p->queue.next, struct item, node);
	p->inflight = false;
	if (!err) {
		item_free(it);
		p->n--;
		p->backoff = BACKOFF_MIN_NS;
		pump(p);
		return;
	}
	if (++it->attempts >= KC_EVPUB_ATTEMPTS) {
		log_warn("events: dropping %s after %u attempts: %s", it->topic, it->attempts,
			 err->msg);
		item_free(it);
		p->n--;
	}
	/* Reconnect before the next try: the connection may be what failed. */
	p->cli_broken = true;
	retry_later(p);
}

static void pump(kc_evpub *p)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	struct item *it;
	kc_err *err = NULL;

	if (p->n == 0) {
		if (p->drain_cb && !p->drain_now)
			p->drain_now = kc_timer_after(p->loop, 0, on_drain_timer, p);
		return;
	}
	if (p->inflight || p->retry || p->dialer || p->cli_broken)
		return;
	if (!p->cli || ttrpc_client_closed(p->cli)) {
		ttrpc_client_free(p->cli);
		p->cli = NULL;
		p->dialer = kc_dial_async(p->loop, &p->ep, kc_now_ns() + DIAL_NS, on_dial, p);
		return;
	}
	it = kc_container_of(p->queue.next, struct item, node);
	any.type_url = it->type_url;
	any.value.data = it->data;
	any.value.len = it->len;
	kc_pb_timestamp(&ts, it->at_ns);
	env.timestamp = &ts;
	env.namespace_ = p->ns;
	env.topic = it->topic;
	env.event = &any;
	req.envelope = &env;
	if (kc_rpc_call(p->cli, &containerd__services__events__ttrpc__v1__events__descriptor,
			"Forward", &req.base, FORWARD_NS, on_forwarded, p, &err) < 0) {
		kc_err_free(err);
		p->cli_broken = true;
		retry_later(p);
		return;
	}
	p->inflight = true;
}

int kc_evpub_new(kc_loop *loop, const char *addr, const char *ns, kc_evpub **ret, kc_err **err)
{
	kc_evpub *p = xcalloc(1, sizeof(*p));

	if (kc_endpoint_parse(addr, &p->ep, err) < 0) {
		free(p);
		return kc_err_wrap(err, "containerd events address");
	}
	p->loop = loop;
	p->ns = xstrdup(ns);
	p->backoff = BACKOFF_MIN_NS;
	kc_list_init(&p->queue);
	*ret = p;
	return 0;
}

void kc_evpub_free(kc_evpub *p)
{
	if (!p)
		return;
	p->freeing = true;
	kc_timer_cancel(p->retry);
	kc_timer_cancel(p->drain_timer);
	kc_timer_cancel(p->drain_now);
	kc_dialer_cancel(p->dialer);
	/* Fails an in-flight Forward into on_forwarded, which sees freeing. */
	ttrpc_client_free(p->cli);
	while (!kc_list_empty(&p->queue))
		item_free(kc_container_of(p->queue.next, struct item, node));
	free(p->ns);
	free(p);
}

void kc_evpub_publish(kc_evpub *p, const char *topic, const char *type_url,
		      const ProtobufCMessage *ev)
{
	struct item *it;

	if (p->n >= KC_EVPUB_MAX) {
		/* Keep the newest; the head may be in flight, so drop the next. */
		kc_list *victim = p->inflight ? p->queue.next->next : p->queue.next;
		struct item *old = kc_container_of(victim, struct item, node);
		log_warn("events: queue full, dropping %s", old->topic);
		item_free(old);
		p->n--;
	}
	it = xcalloc(1, sizeof(*it));
	it->topic = xstrdup(topic);
	it->type_url = xstrdup(type_url);
	it->data = kc_pb_pack(ev, &it->len);
	it->at_ns = kc_realtime_ns();
	kc_list_add_tail(&p->queue, &it->node);
	p->n++;
	pump(p);
}

size_t kc_evpub_pending(const kc_evpub *p)
{
	return p->n;
}

void kc_evpub_drain(kc_evpub *p, uint64_t deadline_ns, void (*cb)(void *ud), void *ud)
{
	p->drain_cb = cb;
	p->drain_ud = ud;
	p->drain_timer = kc_timer_at(p->loop, deadline_ns, on_drain_timer, p);
	pump(p);
}
