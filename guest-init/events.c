/* SPDX-License-Identifier: Apache-2.0 */
#include "events.h"

#include <string.h>

#include "containerd/types/event.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "util.h"

struct event {
	const char *topic, *type_url; /* static strings */
	uint8_t *data;
	size_t len;
	uint64_t at_ns;
};

static struct event queue[KC_EVENTS_MAX_QUEUED]; /* ring, oldest at head */
static size_t head, nqueue;
static ttrpc_call *waiters[KC_EVENTS_MAX_WAITERS]; /* oldest first */
static size_t nwaiters;

static void reply_event(ttrpc_call *call, const struct event *e)
{
	Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	const char *ns = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");

	any.type_url = (char *)e->type_url;
	any.value.data = e->data;
	any.value.len = e->len;
	kc_pb_timestamp(&ts, e->at_ns);
	env.timestamp = &ts;
	env.namespace_ = (char *)(ns ? ns : "k8s.io");
	env.topic = (char *)e->topic;
	env.event = &any;
	ttrpc_call_reply(call, &env.base);
}

static void waiter_gone(ttrpc_call *call, void *ud)
{
	(void)ud;
	for (size_t i = 0; i < nwaiters; i++)
		if (waiters[i] == call) {
			memmove(waiters + i, waiters + i + 1, (--nwaiters - i) * sizeof(*waiters));
			return;
		}
}

void kc_events_push(const char *topic, const char *type_url, const ProtobufCMessage *msg)
{
	struct event e = {.topic = topic, .type_url = type_url, .at_ns = kc_realtime_ns()};

	e.data = kc_pb_pack(msg, &e.len);
	if (nwaiters > 0) {
		ttrpc_call *call = waiters[0];
		memmove(waiters, waiters + 1, --nwaiters * sizeof(*waiters));
		ttrpc_call_set_cancel(call, NULL, NULL);
		reply_event(call, &e);
		free(e.data);
		return;
	}
	if (nqueue == KC_EVENTS_MAX_QUEUED) {
		/* Nobody is listening: keep the newest. */
		free(queue[head].data);
		head = (head + 1) % KC_EVENTS_MAX_QUEUED;
		nqueue--;
	}
	queue[(head + nqueue++) % KC_EVENTS_MAX_QUEUED] = e;
}

void kc_events_get(ttrpc_call *call)
{
	if (nqueue > 0) {
		struct event e = queue[head];
		head = (head + 1) % KC_EVENTS_MAX_QUEUED;
		nqueue--;
		reply_event(call, &e);
		free(e.data);
		return;
	}
	if (nwaiters == KC_EVENTS_MAX_WAITERS) {
		ttrpc_call_reply_error(call, TTRPC_RESOURCE_EXHAUSTED,
				       "GetEvents: %d calls are already waiting",
				       KC_EVENTS_MAX_WAITERS);
		return;
	}
	waiters[nwaiters++] = call;
	ttrpc_call_set_cancel(call, waiter_gone, NULL);
}

void kc_events_fini(void)
{
	while (nqueue > 0) {
		free(queue[head].data);
		head = (head + 1) % KC_EVENTS_MAX_QUEUED;
		nqueue--;
	}
	nwaiters = 0;
}
