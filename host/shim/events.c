/* SPDX-License-Identifier: Apache-2.0 */
/* Task events to containerd: containerd.services.events.ttrpc.v1.Events/Forward
 * on $TTRPC_ADDRESS, each an Envelope{timestamp, namespace, topic, Any}. */
#include <string.h>

#include "containerd/services/events/ttrpc/v1/events.pb-c.h"
#include "endpoint.h"
#include "log.h"
#include "shim.h"

static void on_forwarded(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t n)
{
	char *topic = ud;
	(void)p;
	(void)n;
	if (st->code != 0)
		log_warn("publish %s: %s", topic, st->message);
	free(topic);
}

void events_publish(const char *topic, const char *type, const ProtobufCMessage *msg)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	uint64_t now = kc_realtime_ns();
	kc_err *err = NULL;

	if (!shim->ttrpc_addr || !*shim->ttrpc_addr)
		return; /* not started by containerd (tests, manual runs) */
	if (!shim->events || ttrpc_client_closed(shim->events)) {
		int fd;
		ttrpc_client_free(shim->events);
		shim->events = NULL;
		fd = kc_dial_addr(shim->ttrpc_addr, kc_now_ns() + 2 * KC_NSEC_PER_SEC, &err);
		if (fd < 0 || ttrpc_client_new(shim->loop, fd, &shim->events, &err) < 0) {
			log_warn("publish %s: containerd at %s: %s", topic, shim->ttrpc_addr,
				 kc_err_msg(err));
			kc_err_free(err);
			return;
		}
		ttrpc_client_set_metadata(shim->events, "containerd-namespace-ttrpc", shim->ns);
	}
	kc_pb_timestamp(&ts, now);
	any.type_url = (char *)type;
	any.value.data = kc_pb_pack(msg, &any.value.len);
	env.timestamp = &ts;
	env.namespace_ = shim->ns;
	env.topic = (char *)topic;
	env.event = &any;
	req.envelope = &env;
	{
		char *t = xstrdup(topic); /* freed by on_forwarded */
		if (ttrpc_client_call(shim->events, "containerd.services.events.ttrpc.v1.Events",
				      "Forward", &req.base, 5 * KC_NSEC_PER_SEC, on_forwarded, t,
				      &err) < 0) {
			log_warn("publish %s: %s", topic, kc_err_msg(err));
			kc_err_free(err);
			free(t);
		}
	}
	free(any.value.data);
}
