/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed ttrpc calls, named by the generated service descriptor: the method's
 * response type comes from the descriptor, so a caller never pairs a method
 * with the wrong message. The shim, the sandboxer, the tests and the benches
 * all call the Task, Controller and SandboxService APIs through this.
 */
#ifndef KC_RPC_CALL_H
#define KC_RPC_CALL_H

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "ttrpc.h"

/* err: NULL on success, else "service/method: CODE: message" with errno
 * ttrpc_errno_from_code(code). *resp: the unpacked answer (NULL on error);
 * freed after the callback returns unless the callback takes it (sets *resp
 * = NULL). The callback must not free the client. */
typedef void (*kc_rpc_fn)(void *ud, const kc_err *err, ProtobufCMessage **resp);

/* Asynchronous. < 0 only if the request could not be queued; otherwise cb
 * runs exactly once, from the loop. timeout_ns = 0: no deadline. */
int kc_rpc_call(ttrpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
		const ProtobufCMessage *req, uint64_t timeout_ns, kc_rpc_fn cb, void *ud,
		kc_err **err);

/* The same, waiting for the answer by iterating the client's loop: for
 * top-level code only (tests, benches, a CLI verb), never from a callback.
 * resp may be NULL to drop the answer. */
int kc_rpc_call_sync(ttrpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
		     const ProtobufCMessage *req, uint64_t timeout_ns, ProtobufCMessage **resp,
		     kc_err **err);

#endif
