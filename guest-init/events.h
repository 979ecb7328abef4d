/* SPDX-License-Identifier: Apache-2.0 */
/* Task events for grpc.SandboxService/GetEvents, Kuasar's long poll: events
 * queue (bounded, oldest dropped) until a GetEvents call takes one; calls wait
 * (bounded) until an event comes. */
#ifndef KC_EVENTS_H
#define KC_EVENTS_H

#include <protobuf-c/protobuf-c.h>

#include "ttrpc.h"

#define KC_EVENTS_MAX_QUEUED  256
#define KC_EVENTS_MAX_WAITERS 16

/* Queue (or hand to a waiting call) `ev`, published as `topic` with Any
 * type `type_url` (e.g. "/tasks/oom", "containerd.events.TaskOOM"). */
void kc_events_push(const char *topic, const char *type_url, const ProtobufCMessage *ev);
/* Answer a GetEvents call with the next event, now or when one comes. */
void kc_events_get(ttrpc_call *call);
void kc_events_fini(void);

#endif
