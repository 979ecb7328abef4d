/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gRPC client for tests, on nghttp2's client API: it lives on the same
 * kc_loop as the server under test (a watch on its end of a socketpair), so
 * h2c_pump() drives both until something happens. It sends whatever headers
 * and bodies a test asks for (bad ones too) and records every response:
 * status, headers, trailers, data, resets.
 */
#ifndef KC_H2CLI_H
#define KC_H2CLI_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct h2c_stream {
	int32_t id;
	/* what we send */
	uint8_t *out;
	size_t out_len, out_off;
	bool out_end;
	/* what came back */
	int http;           /* :status, 0 until the headers */
	char *ctype;        /* content-type */
	int status;         /* grpc-status, -1 until it came */
	char *message;      /* grpc-message, percent-decoded */
	char *raw_message;  /* as sent */
	bool trailers_only; /* grpc-status came in the first HEADERS */
	unsigned header_blocks;
	uint8_t *data; /* DATA bytes, message prefix included */
	size_t len;
	bool closed;
	uint32_t close_error; /* the stream's error code when closed */
	bool rst_received;
	uint32_t rst_code;
};

struct h2c {
	kc_loop *loop;
	int fd;
	kc_watch *watch;
	nghttp2_session *s;
	struct h2c_stream *streams[256];
	size_t n;
	bool eof, goaway, ping_ack, settings;
	uint32_t goaway_error;
};

/* Takes fd; sends the preface and a SETTINGS frame. */
void h2c_open(struct h2c *c, kc_loop *loop, int fd);
void h2c_close(struct h2c *c);
/* A request with exactly these headers (name, value, ..., NULL) and this
 * body (sent as is, not framed); end: END_STREAM after the body. */
int32_t h2c_request(struct h2c *c, const char *const *hdrs, const void *body, size_t len, bool end);
/* A well-formed unary call of path with msg framed; extra headers may be NULL. */
int32_t h2c_unary(struct h2c *c, const char *path, const void *msg, size_t len,
		  const char *const *extra);
/* More body on an open request. */
void h2c_send(struct h2c *c, int32_t id, const uint8_t *data, size_t len, bool end);
void h2c_reset(struct h2c *c, int32_t id, uint32_t code);
void h2c_ping(struct h2c *c);
struct h2c_stream *h2c_get(struct h2c *c, int32_t id);
/* Drive loop and client until the stream is closed (true) or timeout. */
bool h2c_wait_closed(struct h2c *c, int32_t id, int timeout_ms);
/* Until *flag or timeout. */
bool h2c_pump(struct h2c *c, const bool *flag, int timeout_ms);
/* The reply's message (after the 5-byte prefix), or NULL if malformed. */
const uint8_t *h2c_msg(const struct h2c_stream *st, size_t *len);

#endif
