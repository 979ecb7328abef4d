/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc (containerd's lightweight RPC) over any stream socket, non-blocking, on
 * a kc_loop. One connection multiplexes any number of calls by stream id.
 *
 * Server: register services (tables of method handlers). A handler gets a
 * ttrpc_call and answers it now or later with ttrpc_call_reply*(); a call that
 * outlives its deadline (timeout_nano) or its connection is cancelled: the
 * handler's cancel hook runs and the call is freed.
 *
 * Client: ttrpc_client_call() is asynchronous; ttrpc_client_call_sync() drives
 * the loop until the answer or the deadline, for top-level code only (tests,
 * a CLI verb): never from a loop callback (kc_loop_iterate aborts if nested).
 */
#ifndef KC_TTRPC_H
#define KC_TTRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "accept.h"
#include "err.h"
#include "frame.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "loop.h"

/* gRPC status codes (google.rpc.Code). */
enum ttrpc_code {
	TTRPC_OK = 0,
	TTRPC_CANCELLED = 1,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_DEADLINE_EXCEEDED = 4,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_PERMISSION_DENIED = 7,
	TTRPC_RESOURCE_EXHAUSTED = 8,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_ABORTED = 10,
	TTRPC_OUT_OF_RANGE = 11,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
	TTRPC_UNAVAILABLE = 14,
	TTRPC_DATA_LOSS = 15,
	TTRPC_UNAUTHENTICATED = 16,
};
const char *ttrpc_code_name(int code);
/* errno -> status code (ENOENT -> NOT_FOUND, EEXIST -> ALREADY_EXISTS, ...). */
int ttrpc_code_from_errno(int e);
/* status code -> errno (for turning a remote status into a kc_err). */
int ttrpc_errno_from_code(int code);

/* ---------------------------------------------------------------- server */

typedef struct ttrpc_server ttrpc_server;
typedef struct ttrpc_call ttrpc_call;

typedef void (*ttrpc_handler_fn)(ttrpc_call *call, const uint8_t *payload, size_t len,
				 void *svc_data);

enum { TTRPC_METHOD_STREAMING = 1 << 0 };

struct ttrpc_method {
	const char *name;
	ttrpc_handler_fn fn;
	unsigned flags;
};

struct ttrpc_service {
	const char *name; /* e.g. "containerd.task.v2.Task" */
	const struct ttrpc_method *methods;
	size_t n_methods;
};

/* What one server lets its peers hold, so that many valid inputs cannot take
 * the process down (PID 1 of a small VM): past a limit, a new connection is
 * closed at once, a new call is answered RESOURCE_EXHAUSTED, a connection
 * whose half-sent frame would take the total past max_pending_bytes, or that
 * leaves a frame half-sent for frame_deadline_ns, is closed. 0 = the default. */
struct ttrpc_limits {
	size_t max_conns;           /* 128 */
	size_t max_calls_per_conn;  /* 64 in flight (handled, not yet answered) */
	size_t max_calls;           /* 1024 in flight across connections */
	size_t max_pending_bytes;   /* 64 MiB of partly received frames */
	uint64_t frame_deadline_ns; /* 30 s from a frame's first byte to its last */
};
#define TTRPC_DEFAULT_MAX_CONNS          128
#define TTRPC_DEFAULT_MAX_CALLS_PER_CONN 64
#define TTRPC_DEFAULT_MAX_CALLS          1024
#define TTRPC_DEFAULT_MAX_PENDING_BYTES  (64u << 20)
#define TTRPC_DEFAULT_FRAME_DEADLINE_NS  (30ULL * 1000000000ULL)

int ttrpc_server_new(kc_loop *loop, ttrpc_server **ret, kc_err **err);
/* Applies to connections made from now on. */
void ttrpc_server_set_limits(ttrpc_server *s, const struct ttrpc_limits *l);
/* Accepted connections the filter refuses are closed (see accept.h). */
void ttrpc_server_set_peer_filter(ttrpc_server *s, kc_peer_fn fn, void *ud);
/* Stops accepting, closes every connection (cancelling their calls). */
void ttrpc_server_free(ttrpc_server *s);
void ttrpc_server_register(ttrpc_server *s, const struct ttrpc_service *svc, void *data);
/* Accept connections on a listening socket (owned by the server from now on). */
int ttrpc_server_listen(ttrpc_server *s, int listen_fd, kc_err **err);
/* Serve one already-connected socket (owned by the server from now on). */
int ttrpc_server_serve_fd(ttrpc_server *s, int fd, kc_err **err);
/* Number of open connections (tests, leak checks). */
size_t ttrpc_server_n_conns(const ttrpc_server *s);
/* Calls handled and not yet answered, across connections. */
size_t ttrpc_server_n_calls(const ttrpc_server *s);

const char *ttrpc_call_method(const ttrpc_call *c);
/* First value of a metadata key, or NULL. */
const char *ttrpc_call_metadata(const ttrpc_call *c, const char *key);
/* CLOCK_MONOTONIC deadline in ns, or UINT64_MAX when none. */
uint64_t ttrpc_call_deadline(const ttrpc_call *c);

/* Each of these answers and frees the call. */
void ttrpc_call_reply(ttrpc_call *c, const ProtobufCMessage *msg);
void ttrpc_call_reply_raw(ttrpc_call *c, const uint8_t *payload, size_t len);
void ttrpc_call_reply_error(ttrpc_call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps err->code through ttrpc_code_from_errno; message = err->msg. */
void ttrpc_call_reply_kc_err(ttrpc_call *c, const kc_err *err);

typedef void (*ttrpc_cancel_fn)(ttrpc_call *c, void *data);
/* Called (once) if the call dies before it is answered: deadline or disconnect.
 * After it returns the call is freed. */
void ttrpc_call_set_cancel(ttrpc_call *c, ttrpc_cancel_fn fn, void *data);

/* Streaming methods: data frames from the client arrive here. closed = the
 * client will send no more. */
typedef void (*ttrpc_stream_fn)(ttrpc_call *c, const uint8_t *data, size_t len, bool closed,
				void *ud);
void ttrpc_call_set_stream(ttrpc_call *c, ttrpc_stream_fn fn, void *ud);
/* Send one data frame to the client. Returns < 0 if the connection is gone. */
int ttrpc_call_send(ttrpc_call *c, const ProtobufCMessage *msg, bool close);
int ttrpc_call_send_raw(ttrpc_call *c, const uint8_t *data, size_t len, bool close);
/* Bytes waiting in the connection's send queue (for flow control). */
size_t ttrpc_call_pending_out(const ttrpc_call *c);

/* ---------------------------------------------------------------- client */

typedef struct ttrpc_client ttrpc_client;

struct ttrpc_status {
	int code;
	const char *message;
};

/* st->code != 0 on failure (including local ones: deadline, disconnect). */
typedef void (*ttrpc_reply_fn)(void *ud, const struct ttrpc_status *st, const uint8_t *payload,
			       size_t len);
typedef void (*ttrpc_client_close_fn)(ttrpc_client *c, void *ud);

/* Takes ownership of fd (a connected stream socket). */
int ttrpc_client_new(kc_loop *loop, int fd, ttrpc_client **ret, kc_err **err);
/* Fails every pending call with CANCELLED (their callbacks run) and closes. */
void ttrpc_client_free(ttrpc_client *c);
void ttrpc_client_set_close_cb(ttrpc_client *c, ttrpc_client_close_fn fn, void *ud);
bool ttrpc_client_closed(const ttrpc_client *c);
/* Metadata sent with every request (e.g. containerd-namespace-ttrpc). */
void ttrpc_client_set_metadata(ttrpc_client *c, const char *key, const char *value);

/* timeout_ns = 0: no deadline. Returns < 0 only if the request could not be
 * queued (connection closed); otherwise cb runs exactly once later. */
int ttrpc_client_call(ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, uint64_t timeout_ns, ttrpc_reply_fn cb, void *ud,
		      kc_err **err);
int ttrpc_client_call_raw(ttrpc_client *c, const char *service, const char *method,
			  const uint8_t *req, size_t req_len, uint64_t timeout_ns,
			  ttrpc_reply_fn cb, void *ud, kc_err **err);

/* Blocking convenience for top-level code: iterate the loop until the reply
 * arrives (never from inside a loop callback). resp_desc may
 * be NULL to ignore the payload. Remote failures come back as kc_err with
 * ttrpc_errno_from_code(code) and message "service/method: CODE: msg". */
int ttrpc_client_call_sync(ttrpc_client *c, const char *service, const char *method,
			   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
			   uint64_t timeout_ns, ProtobufCMessage **resp, kc_err **err);

/* Client side of a streaming call. on_data gets each data frame; on_done the
 * final status (exactly once). */
typedef struct ttrpc_cstream ttrpc_cstream;
typedef void (*ttrpc_cstream_data_fn)(ttrpc_cstream *s, const uint8_t *data, size_t len,
				      bool closed, void *ud);
int ttrpc_client_stream(ttrpc_client *c, const char *service, const char *method,
			const ProtobufCMessage *req, bool client_streams,
			ttrpc_cstream_data_fn on_data, ttrpc_reply_fn on_done, void *ud,
			ttrpc_cstream **ret, kc_err **err);
int ttrpc_cstream_send(ttrpc_cstream *s, const ProtobufCMessage *msg, bool close);
int ttrpc_cstream_close_send(ttrpc_cstream *s);

/* ----------------------------------------------------------------- helpers */

/* Pack a message into a malloc'd buffer. */
uint8_t *kc_pb_pack(const ProtobufCMessage *msg, size_t *len);
/* google.protobuf.Timestamp <-> CLOCK_REALTIME ns. kc_pb_timestamp also
 * initialises *ts and returns it. */
Google__Protobuf__Timestamp *kc_pb_timestamp(Google__Protobuf__Timestamp *ts, uint64_t ns);
uint64_t kc_pb_timestamp_ns(const Google__Protobuf__Timestamp *ts);
/* Unpack with an error naming the message type. */
int kc_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
		 ProtobufCMessage **ret, kc_err **err);
/* Unpack a request, or answer the call with INVALID_ARGUMENT naming the
 * message (the call is then gone) and return < 0. */
int ttrpc_call_unpack(ttrpc_call *c, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		      size_t len, ProtobufCMessage **ret);
#define KC_CALL_UNPACK(call, prefix, data, len, out)                                               \
	ttrpc_call_unpack(call, &prefix##__descriptor, data, len, (ProtobufCMessage **)&(out))

#endif
