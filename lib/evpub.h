/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing task events to containerd (containerd.services.events.ttrpc.v1.
 * Events/Forward on its ttrpc address): a bounded queue sent in order, one
 * Forward at a time, reconnecting with backoff when containerd is away.
 * Publishing never blocks; only a full queue drops (the oldest, logged).
 */
#ifndef KC_EVPUB_H
#define KC_EVPUB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"

#define KC_EVPUB_MAX      1024
#define KC_EVPUB_ATTEMPTS 20 /* per event, then it is dropped (logged) */

typedef struct kc_evpub kc_evpub;

/* addr: containerd's ttrpc address (unix path or unix://); ns: the namespace
 * of every envelope. */
int kc_evpub_new(kc_loop *loop, const char *addr, const char *ns, kc_evpub **ret, kc_err **err);
void kc_evpub_free(kc_evpub *p);
void kc_evpub_publish(kc_evpub *p, const char *topic, const char *type_url,
		      const ProtobufCMessage *ev);
size_t kc_evpub_pending(const kc_evpub *p);
/* cb(ud) once, from the loop, when the queue is empty or at deadline_ns. */
void kc_evpub_drain(kc_evpub *p, uint64_t deadline_ns, void (*cb)(void *ud), void *ud);

#endif
