/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: one framed ttrpc connection (used by the server and the client). */
#ifndef KC_TTRPC_CONN_H
#define KC_TTRPC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "loop.h"
#include "util.h"

/* Output a peer does not drain beyond this closes the connection. */
#define TTRPC_MAX_QUEUED (64u << 20)

typedef struct ttrpc_conn ttrpc_conn;
/* Frame received. The callee owns frame->data. */
typedef void (*ttrpc_conn_frame_fn)(ttrpc_conn *c, struct ttrpc_frame *f, void *ud);
/* Connection closed (EOF, error, or ttrpc_conn_close). Called once. */
typedef void (*ttrpc_conn_close_fn)(ttrpc_conn *c, void *ud);

/* Bytes of partly received frames, shared by the connections of one server:
 * a connection whose partial frame would take the total past max is closed. */
struct ttrpc_budget {
	size_t used, max;
};

struct outbuf {
	struct outbuf *next;
	size_t len, off;
	uint8_t data[];
};

struct ttrpc_conn {
	kc_loop *loop;
	int fd;
	kc_watch *watch;
	struct ttrpc_decoder dec;
	struct outbuf *outq, **outtail;
	size_t queued;
	ttrpc_conn_frame_fn on_frame;
	ttrpc_conn_close_fn on_close;
	void *ud;
	unsigned refs;
	bool closed;
	bool broken;                 /* a send failed; close_timer closes it from the loop */
	bool not_sock;               /* fd is not a socket (no MSG_NOSIGNAL): use writev */
	kc_timer *close_timer;       /* holds a reference while pending */
	kc_list node;                /* owner's list */
	struct ttrpc_budget *budget; /* NULL: unlimited */
	size_t charged;              /* what this connection holds of budget->used */
	uint64_t frame_deadline_ns;  /* 0: a partial frame may wait forever */
	kc_timer *frame_timer;       /* armed while a frame is partial */
};

int ttrpc_conn_new(kc_loop *loop, int fd, ttrpc_conn_frame_fn on_frame,
		   ttrpc_conn_close_fn on_close, void *ud, ttrpc_conn **ret, kc_err **err);
/* Limits on what the peer may leave half-sent: bytes of partial frames (shared
 * budget, may be NULL) and how long one frame may take from its first byte
 * (0: forever). Exceeding either closes the connection. */
void ttrpc_conn_set_limits(ttrpc_conn *c, struct ttrpc_budget *budget, uint64_t frame_deadline_ns);
void ttrpc_conn_ref(ttrpc_conn *c);
void ttrpc_conn_unref(ttrpc_conn *c);
/* Queue a frame. Returns -EPIPE if closed, -ENOBUFS if the peer stopped reading.
 * A failed send never runs the close callback under its caller (who may be in
 * the middle of answering a call the callback would free): the connection is
 * marked broken and closed from the loop's next iteration. */
int ttrpc_conn_send(ttrpc_conn *c, uint32_t stream_id, uint8_t type, uint8_t flags,
		    const uint8_t *data, size_t len);
void ttrpc_conn_close(ttrpc_conn *c);
/* Bytes read from the fd before the connection was made (the server reads a
 * few to tell transports apart), handled as if just received. May close the
 * connection (the close callback runs). */
void ttrpc_conn_feed(ttrpc_conn *c, const uint8_t *data, size_t n);

#endif
