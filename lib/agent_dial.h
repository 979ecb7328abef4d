/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dial a guest agent (vmm-task's ttrpc, usually over hybrid vsock) on an
 * event loop: connect attempts retried with backoff while the guest boots,
 * then optionally an answered grpc.SandboxService/Check as the readiness
 * proof. Used by the shim and the sandboxer alike; nothing blocks.
 */
#ifndef KC_AGENT_DIAL_H
#define KC_AGENT_DIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "err.h"
#include "loop.h"
#include "ttrpc.h"

typedef struct kc_agent_dial kc_agent_dial;
/* Exactly once, from a loop timer (so it may free anything): on success cli
 * is a connected client owned by the callee and err is NULL; on failure cli
 * is NULL and err says why. */
typedef void (*kc_agent_dial_fn)(void *ud, ttrpc_client *cli, const kc_err *err);

kc_agent_dial *kc_agent_dial_start(kc_loop *loop, const struct kc_endpoint *ep,
				   uint64_t deadline_ns, bool check, kc_agent_dial_fn cb, void *ud);
/* No callback after this; NULL is a no-op. */
void kc_agent_dial_cancel(kc_agent_dial *d);

#endif
