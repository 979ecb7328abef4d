/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal: the ttrpc server's hooks for a second transport on the same
 * listeners (gRPC, lib/grpc_server.c). Such a transport dispatches into the
 * services registered with ttrpc_server_register, and its requests are
 * ttrpc_calls to the handlers: same reply functions, cancel hooks,
 * deadlines, metadata, and the same limits (connections, calls in flight,
 * bytes of partly received requests).
 *
 * The server tells the transports apart by a connection's first bytes: one
 * that begins with the transport's preface goes to it, anything else is ttrpc.
 * ttrpc's own first byte is the top byte of a frame length (0 below 16 MiB),
 * so a ttrpc client is recognised at its first byte and never waits.
 */
#ifndef KC_TTRPC_INT_H
#define KC_TTRPC_INT_H

#include "ttrpc.h"
#include "ttrpc_conn.h"

#define TTRPC_PREFACE_MAX 32

/* The transport's side of one call. */
struct ttrpc_transport {
	/* Send the final status, and payload when code is TTRPC_OK. The call is
	 * freed right after (detach runs then). */
	void (*respond)(void *tp, int code, const char *msg, const uint8_t *payload, size_t len);
	/* The call is being freed: answered, cancelled or aborted. */
	void (*detach)(void *tp);
	/* First value of a metadata key, or NULL. */
	const char *(*metadata)(void *tp, const char *key);
};

struct ttrpc_alt_proto {
	const uint8_t *preface;
	size_t preface_len; /* 1..TTRPC_PREFACE_MAX */
	/* A connection that sent the preface (head, n: the bytes read so far).
	 * Takes fd; on failure it is closed. While served, the connection counts
	 * in the server's connections until ttrpc_server_conn_gone(). */
	int (*serve)(void *ud, int fd, const uint8_t *head, size_t n, kc_err **err);
	/* At ttrpc_server_free: close every connection, free ud. */
	void (*free)(void *ud);
};

/* One alternative transport per server; connections accepted from now on
 * are told apart by their first bytes. */
void ttrpc_server_set_alt(ttrpc_server *s, const struct ttrpc_alt_proto *p, void *ud);
kc_loop *ttrpc_server_loop(const ttrpc_server *s);
/* The limits in force (defaults filled in). */
const struct ttrpc_limits *ttrpc_server_limits(const ttrpc_server *s);
/* Bytes of partly received requests, shared by every connection of s. */
struct ttrpc_budget *ttrpc_server_budget(ttrpc_server *s);
/* An alternative transport's connection is closed. */
void ttrpc_server_conn_gone(ttrpc_server *s);

/* A call for service/method with an absolute CLOCK_MONOTONIC deadline
 * (UINT64_MAX: none). conn_calls: the calls the connection already has in
 * flight. Returns 0 and the call, or a status code (> 0) and msg, which the
 * transport then answers itself: UNIMPLEMENTED (unknown service or method,
 * streaming methods), RESOURCE_EXHAUSTED (limits), DEADLINE_EXCEEDED. The
 * strings must live as long as the call (until detach). */
int ttrpc_server_call_new(ttrpc_server *s, size_t conn_calls, const char *service,
			  const char *method, uint64_t deadline, const struct ttrpc_transport *t,
			  void *tp, ttrpc_call **ret, char *msg, size_t msglen);
/* Run the handler; payload must stay valid until detach. The call may be
 * answered (and freed) before this returns. */
void ttrpc_server_call_run(ttrpc_call *c, const uint8_t *payload, size_t len);
/* The transport lost the call (the peer cancelled it or hung up): the cancel
 * hook runs, then the call is freed. Nothing is sent. */
void ttrpc_call_abort(ttrpc_call *c);

#endif
