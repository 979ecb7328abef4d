/* SPDX-License-Identifier: Apache-2.0 */
#include "ttrpc_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static void conn_io(kc_watch *w, int fd, uint32_t events, void *data);

int ttrpc_conn_new(kc_loop *loop, int fd, ttrpc_conn_frame_fn on_frame,
		   ttrpc_conn_close_fn on_close, void *ud, ttrpc_conn **ret, kc_err **err)
{
	ttrpc_conn *c = xcalloc(1, sizeof(*c));
	int r;

	c->loop = loop;
	c->fd = fd;
	c->outtail = &c->outq;
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->ud = ud;
	c->refs = 1;
	ttrpc_decoder_init(&c->dec, TTRPC_MAX_DATA);
	kc_set_nonblock(fd, true);
	r = kc_loop_watch(loop, fd, EPOLLIN | EPOLLRDHUP, conn_io, c, &c->watch, err);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void ttrpc_conn_set_limits(ttrpc_conn *c, struct ttrpc_budget *budget, uint64_t frame_deadline_ns)
{
	c->budget = budget;
	c->frame_deadline_ns = frame_deadline_ns;
}

/* Keep budget->used equal to the sum of the decoders' buffers. */
static void charge(ttrpc_conn *c)
{
	if (!c->budget)
		return;
	c->budget->used -= c->charged;
	c->charged = c->dec.cap;
	c->budget->used += c->charged;
}

void ttrpc_conn_ref(ttrpc_conn *c)
{
	c->refs++;
}

static void free_outq(ttrpc_conn *c)
{
	while (c->outq) {
		struct outbuf *b = c->outq;
		c->outq = b->next;
		free(b);
	}
	c->outtail = &c->outq;
	c->queued = 0;
}

void ttrpc_conn_unref(ttrpc_conn *c)
{
	if (!c || --c->refs > 0)
		return;
	free_outq(c);
	ttrpc_decoder_reset(&c->dec);
	charge(c);
	free(c);
}

void ttrpc_conn_close(ttrpc_conn *c)
{
	kc_timer *timer = c->close_timer;

	if (c->closed)
		return;
	c->closed = true;
	c->close_timer = NULL;
	kc_timer_cancel(timer); /* its reference is dropped last */
	kc_timer_cancel(c->frame_timer);
	c->frame_timer = NULL;
	kc_watch_free(c->watch);
	c->watch = NULL;
	close(c->fd);
	c->fd = -1;
	free_outq(c);
	/* A partial frame will never complete: give its bytes back now. */
	ttrpc_decoder_reset(&c->dec);
	charge(c);
	if (c->on_close) {
		ttrpc_conn_ref(c);
		c->on_close(c, c->ud);
		ttrpc_conn_unref(c); /* may free c */
	}
	if (timer)
		ttrpc_conn_unref(c);
}

static void update_events(ttrpc_conn *c)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP;
	if (c->outq)
		ev |= EPOLLOUT;
	if (c->watch)
		kc_watch_set_events(c->watch, ev);
}

/* Write as much of the queue as the socket takes. Returns < 0 on fatal error. */
static int flush(ttrpc_conn *c)
{
	while (c->outq) {
		struct iovec iov[16];
		int n = 0;
		ssize_t w;

		for (struct outbuf *b = c->outq; b && n < 16; b = b->next, n++) {
			iov[n].iov_base = b->data + b->off;
			iov[n].iov_len = b->len - b->off;
		}
		if (!c->not_sock) {
			/* MSG_NOSIGNAL: a peer that hung up must not kill us with SIGPIPE. */
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
			w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
			if (w < 0 && errno == ENOTSOCK) {
				c->not_sock = true;
				continue;
			}
		} else {
			w = writev(c->fd, iov, n);
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->queued -= (size_t)w;
		while (w > 0) {
			struct outbuf *b = c->outq;
			size_t left = b->len - b->off;
			if ((size_t)w < left) {
				b->off += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			c->outq = b->next;
			if (!c->outq)
				c->outtail = &c->outq;
			free(b);
		}
	}
	update_events(c);
	return 0;
}

static void close_later(kc_timer *t, void *data)
{
	ttrpc_conn *c = data;
	(void)t;
	c->close_timer = NULL;
	ttrpc_conn_close(c);
	ttrpc_conn_unref(c);
}

/* See ttrpc_conn_send: stop all I/O now, run the close callback later. */
static void conn_break(ttrpc_conn *c)
{
	if (c->broken)
		return;
	c->broken = true;
	free_outq(c);
	ttrpc_conn_ref(c);
	c->close_timer = kc_timer_after(c->loop, 0, close_later, c);
}

int ttrpc_conn_send(ttrpc_conn *c, uint32_t stream_id, uint8_t type, uint8_t flags,
		    const uint8_t *data, size_t len)
{
	struct ttrpc_hdr h = {
	    .len = (uint32_t)len, .stream_id = stream_id, .type = type, .flags = flags};
	struct outbuf *b;

	if (c->closed || c->broken)
		return -EPIPE;
	if (len > TTRPC_MAX_DATA)
		return -EMSGSIZE;
	if (c->queued + len + TTRPC_HDR_LEN > TTRPC_MAX_QUEUED) {
		conn_break(c);
		return -ENOBUFS;
	}
	b = malloc(sizeof(*b) + TTRPC_HDR_LEN + len);
	if (!b) {
		/* Out of memory is this peer's problem, not a reason to abort. */
		conn_break(c);
		return -ENOMEM;
	}
	b->next = NULL;
	b->off = 0;
	b->len = TTRPC_HDR_LEN + len;
	ttrpc_hdr_encode(&h, b->data);
	if (len)
		memcpy(b->data + TTRPC_HDR_LEN, data, len);
	*c->outtail = b;
	c->outtail = &b->next;
	c->queued += b->len;
	if (flush(c) < 0) {
		conn_break(c);
		return -EPIPE;
	}
	return 0;
}

static void frame_expired(kc_timer *t, void *data)
{
	ttrpc_conn *c = data;
	(void)t;
	c->frame_timer = NULL;
	ttrpc_conn_close(c);
}

/* After reading: a frame left partial must complete within the deadline,
 * counted from when it began (frames completed meanwhile restart it). */
static void frame_timer_update(ttrpc_conn *c, bool completed)
{
	if (c->closed || !c->frame_deadline_ns)
		return;
	if (!ttrpc_decoder_partial(&c->dec) || completed) {
		kc_timer_cancel(c->frame_timer);
		c->frame_timer = NULL;
	}
	if (ttrpc_decoder_partial(&c->dec) && !c->frame_timer)
		c->frame_timer = kc_timer_after(c->loop, c->frame_deadline_ns, frame_expired, c);
}

/* Decode received bytes and hand over complete frames. Returns false once
 * the connection is closed. */
static bool consume(ttrpc_conn *c, const uint8_t *buf, size_t n, bool *completed)
{
	size_t off = 0;

	while (off < n && !c->closed) {
		struct ttrpc_frame f;
		bool got;
		off += ttrpc_decoder_feed(&c->dec, buf + off, n - off, &f, &got);
		charge(c);
		if (c->budget && c->budget->used > c->budget->max) {
			/* Too much half-sent data across all peers: this one
			 * asked for the byte that crossed the line. */
			if (got)
				free(f.data);
			ttrpc_conn_close(c);
			return false;
		}
		if (got) {
			*completed = true;
			c->on_frame(c, &f, c->ud);
		}
	}
	return !c->closed;
}

void ttrpc_conn_feed(ttrpc_conn *c, const uint8_t *data, size_t n)
{
	bool completed = false;

	ttrpc_conn_ref(c);
	if (consume(c, data, n, &completed))
		frame_timer_update(c, completed);
	ttrpc_conn_unref(c);
}

static void conn_read(ttrpc_conn *c)
{
	uint8_t buf[65536];
	bool completed = false;

	/* Bounded work per wakeup keeps one busy peer from starving the rest. */
	for (int round = 0; round < 16 && !c->closed; round++) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				ttrpc_conn_close(c);
			break;
		}
		if (n == 0) {
			ttrpc_conn_close(c);
			return;
		}
		if (!consume(c, buf, (size_t)n, &completed))
			return;
		if ((size_t)n < sizeof(buf))
			break;
	}
	frame_timer_update(c, completed);
}

static void conn_io(kc_watch *w, int fd, uint32_t events, void *data)
{
	ttrpc_conn *c = data;
	(void)w;
	(void)fd;

	ttrpc_conn_ref(c);
	if (c->broken) {
		ttrpc_conn_close(c);
		ttrpc_conn_unref(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (flush(c) < 0)
			ttrpc_conn_close(c);
	}
	if (!c->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		conn_read(c);
	ttrpc_conn_unref(c);
}
