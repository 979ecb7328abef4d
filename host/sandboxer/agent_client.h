/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Short conversations with a guest's agent (vmm-task, ttrpc on vsock port
 * 1024): dial with a deadline (hybrid vsock handshake, retried while the
 * guest boots), a call or two, hang up. Readiness is an answered
 * grpc.SandboxService/Check; a graceful stop is Task.Shutdown(now=true),
 * which powers the VM off; the pod network goes in by UpdateInterfaces and
 * UpdateRoutes.
 */
#ifndef SBX_AGENT_CLIENT_H
#define SBX_AGENT_CLIENT_H

#include <stdint.h>

#include "endpoint.h"
#include "err.h"
#include "loop.h"

typedef struct sbx_agent_op sbx_agent_op;
/* err == NULL: the call succeeded. Called once, from the loop. */
typedef void (*sbx_agent_fn)(kc_err *err, void *ud);

sbx_agent_op *sbx_agent_check(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			      sbx_agent_fn cb, void *ud);
sbx_agent_op *sbx_agent_shutdown(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
				 sbx_agent_fn cb, void *ud);
/* The pod network (UpdateInterfaces, then UpdateRoutes), on a connection of
 * its own; m must stay valid until cb runs or the op is cancelled. */
struct sbx_netmsg;
sbx_agent_op *sbx_agent_netcfg(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			       const struct sbx_netmsg *m, sbx_agent_fn cb, void *ud);
/* No callback after this. NULL is a no-op. */
void sbx_agent_cancel(sbx_agent_op *op);

#endif
