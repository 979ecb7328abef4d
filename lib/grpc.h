/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC (HTTP/2) on a ttrpc server's sockets, for clients that speak only gRPC
 * (stock containerd 2.x's sandbox proxy plugins). A connection that opens with
 * the HTTP/2 client preface is gRPC, any other is ttrpc; both reach the same
 * registered services and handlers (lib/ttrpc_int.h). HTTP/2 itself is
 * nghttp2's (grpc_server.c, host binaries only); gRPC on top of it is ours:
 * message framing, request and response headers, status trailers
 * (grpc_wire.c, no nghttp2, so tests and fuzzers use it directly).
 *
 * Served: unary methods, request metadata, grpc-timeout as the call's
 * deadline, RST_STREAM as the call's cancellation, identity encoding only.
 * Limits are the ttrpc server's: connections, calls in flight per connection
 * (also SETTINGS_MAX_CONCURRENT_STREAMS) and in total, bytes of partly
 * received requests, how long a request may take to arrive; 4 MiB messages.
 */
#ifndef KC_GRPC_H
#define KC_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ttrpc.h"

#define GRPC_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define GRPC_PREFACE_LEN 24
/* Largest request or response message, as ttrpc's frames. */
#define GRPC_MAX_MESSAGE TTRPC_MAX_DATA
/* Request header bytes per stream (name + value + 32 each, as HPACK counts). */
#define GRPC_MAX_HEADER_BYTES 16384
/* Request metadata entries per stream. */
#define GRPC_MAX_METADATA 64
/* Longest status message sent (before percent-encoding); longer ones are cut. */
#define GRPC_MAX_STATUS_MESSAGE 2048

/* From now on, connections to s that begin with the HTTP/2 preface are
 * served as gRPC. Freed with the server (a GOAWAY to each connection). */
int grpc_server_attach(ttrpc_server *s, kc_err **err);

/* ---------------------------------------------------------------- wire */

/* grpc-timeout: 1..8 digits and a unit (H M S m u n) -> ns, saturating.
 * Returns 0 or -EINVAL. */
int grpc_timeout_parse(const char *v, size_t n, uint64_t *ns);
/* grpc-message: bytes outside 0x20..0x7e and '%' as %XX, the message first
 * cut to max bytes at a UTF-8 boundary. malloc'd. */
char *grpc_message_encode(const char *msg, size_t max);
/* The reverse; a '%' not followed by two hex digits stays as it is. */
char *grpc_message_decode(const char *v, size_t n);
/* content-type: 0 for application/grpc and application/grpc+proto (with or
 * without ;parameters); TTRPC_UNIMPLEMENTED for another application/grpc+...
 * codec; TTRPC_INVALID_ARGUMENT (HTTP 415) for anything else. */
int grpc_content_type_check(const char *v, size_t n);
/* :path "/pkg.Service/Method" -> service and method (malloc'd, NUL-terminated
 * in one buffer: *service, then *method inside it). Returns 0 or -EINVAL. */
int grpc_path_split(const char *path, size_t n, char **service, const char **method);

/* A unary request body: exactly one length-prefixed message (1-byte
 * compressed flag, 4-byte big-endian length). The buffer grows as the
 * message arrives: an announced length costs nothing until sent. */
struct grpc_deframer {
	uint8_t hdr[5];
	size_t hdr_n;
	uint32_t len; /* of the message being read */
	uint8_t *buf;
	size_t have, cap;
	unsigned count; /* complete messages */
	size_t max;
	bool in_body; /* the header is read, the message is not complete */
	bool failed;
};
void grpc_deframer_init(struct grpc_deframer *d, size_t max);
void grpc_deframer_reset(struct grpc_deframer *d);
/* 0, or a status code with msg: a compressed message (INTERNAL: we accept no
 * encoding), one over max (RESOURCE_EXHAUSTED), a second message (INTERNAL),
 * out of memory (RESOURCE_EXHAUSTED). After an error the rest is ignored. */
int grpc_deframer_feed(struct grpc_deframer *d, const uint8_t *data, size_t n, char *msg,
		       size_t msglen);
/* At the end of the request: 0 when exactly one whole message came, else
 * INTERNAL with msg. */
int grpc_deframer_finish(struct grpc_deframer *d, char *msg, size_t msglen);
/* The message (after finish returned 0); owned by the deframer. */
const uint8_t *grpc_deframer_msg(const struct grpc_deframer *d, size_t *len);
/* Encode the 5-byte prefix of an uncompressed message of len bytes. */
void grpc_prefix_encode(uint8_t out[5], uint32_t len);

#endif
