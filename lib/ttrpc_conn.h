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
	bool broken;           /* a send failed; close_timer closes it from the loop */
	bool not_sock;         /* fd is not a socket (no MSG_NOSIGNAL): use writev */
	kc_timer *close_timer; /* holds a reference while pending */
	kc_list node;          /* owner's list */
};

int ttrpc_conn_new(kc_loop *loop, int fd, ttrpc_conn_frame_fn on_frame,
		   ttrpc_conn_close_fn on_close, void *ud, ttrpc_conn **ret, kc_err **err);
void ttrpc_conn_ref(ttrpc_conn *c);
void ttrpc_conn_unref(ttrpc_conn *c);
/* Queue a frame. Returns -EPIPE if closed, -ENOBUFS if the peer stopped reading.
 * A failed send never runs the close callback under its caller (who may be in
 * the middle of answering a call the callback would free): the connection is
 * marked broken and closed from the loop's next iteration. */
int ttrpc_conn_send(ttrpc_conn *c, uint32_t stream_id, uint8_t type, uint8_t flags,
		    const uint8_t *data, size_t len);
void ttrpc_conn_close(ttrpc_conn *c);

#endif
