/* SPDX-License-Identifier: Apache-2.0 */
/* The copy loop of a one-way byte relay between two non-blocking fds, shared
 * by the agent's stdio streams and the shim's: read, write, and when the
 * reader went away keep draining the source (dropping the data) so the
 * writing process never blocks on a full pipe. The owner keeps the fds and
 * the epoll watches. */
#ifndef KC_RELAYBUF_H
#define KC_RELAYBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_RELAYBUF_SIZE (64 * 1024)

struct kc_relaybuf {
	uint8_t *buf; /* allocated on the first pump */
	size_t len, off;
	bool eof;       /* the source is finished (EOF, or an error such as a pty's EIO) */
	bool sink_dead; /* the destination failed: data is dropped from now on */
	/* Set by the owner: a failed destination stops the relay with the data
	 * kept (sink_broken) instead of dropping it, until the owner gives a
	 * new destination (clears sink_broken) or gives up (sets sink_dead). */
	bool hold_on_error;
	bool sink_broken;
};

/* Move what can move without blocking. Returns true once the relay is done:
 * the source is finished and every byte read was written (or dropped). */
bool kc_relaybuf_pump(struct kc_relaybuf *b, int src, int dst);
/* What to wait for next (nothing while sink_broken): EPOLLIN on the source, EPOLLOUT on the
 * destination (0: nothing on that side). */
void kc_relaybuf_events(const struct kc_relaybuf *b, uint32_t *src_ev, uint32_t *dst_ev);
void kc_relaybuf_clear(struct kc_relaybuf *b);

#endif
