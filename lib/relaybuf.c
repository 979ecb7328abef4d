/* SPDX-License-Identifier: Apache-2.0 */
#include "relaybuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

bool kc_relaybuf_pump(struct kc_relaybuf *b, int src, int dst)
{
	if (!b->buf)
		b->buf = xmalloc(KC_RELAYBUF_SIZE);
	/* Bounded work per wakeup keeps one busy stream from starving the rest. */
	for (int round = 0; round < 64 && !b->sink_broken; round++) {
		if (b->off < b->len) {
			ssize_t w = b->sink_dead ? (ssize_t)(b->len - b->off)
						 : write(dst, b->buf + b->off, b->len - b->off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				if (b->hold_on_error && !b->sink_dead) {
					b->sink_broken = true;
					break;
				}
				b->sink_dead = true;
				continue;
			}
			b->off += (size_t)w;
			if (b->off < b->len)
				continue;
			b->off = b->len = 0;
		}
		if (b->eof)
			break;
		{
			ssize_t r = read(src, b->buf, KC_RELAYBUF_SIZE);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r <= 0) {
				b->eof = true;
				break;
			}
			b->len = (size_t)r;
			b->off = 0;
		}
	}
	return b->eof && b->off >= b->len && !b->sink_broken;
}

void kc_relaybuf_events(const struct kc_relaybuf *b, uint32_t *src_ev, uint32_t *dst_ev)
{
	bool have = b->off < b->len && !b->sink_dead;
	if (b->sink_broken) {
		*src_ev = *dst_ev = 0;
		return;
	}
	*src_ev = !have && !b->eof ? EPOLLIN : 0;
	*dst_ev = have ? EPOLLOUT : 0;
}

void kc_relaybuf_clear(struct kc_relaybuf *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}
