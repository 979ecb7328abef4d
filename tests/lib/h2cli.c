/* SPDX-License-Identifier: Apache-2.0 */
#include "h2cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc.h"
#include "util.h"

static bool is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(p, s, n);
}

struct h2c_stream *h2c_get(struct h2c *c, int32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->streams[i]->id == id)
			return c->streams[i];
	return NULL;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct h2c_stream *st = h2c_get(ud, f->hd.stream_id);
	(void)s;
	(void)flags;

	if (!st || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (is(name, nl, ":status")) {
		_cleanup_free_ char *v = xstrndup((const char *)value, vl);
		st->http = atoi(v);
	} else if (is(name, nl, "content-type")) {
		free(st->ctype);
		st->ctype = xstrndup((const char *)value, vl);
	} else if (is(name, nl, "grpc-status")) {
		_cleanup_free_ char *v = xstrndup((const char *)value, vl);
		st->status = atoi(v);
		st->trailers_only = st->header_blocks == 0;
	} else if (is(name, nl, "grpc-message")) {
		free(st->message);
		free(st->raw_message);
		st->raw_message = xstrndup((const char *)value, vl);
		st->message = grpc_message_decode((const char *)value, vl);
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2c *c = ud;
	struct h2c_stream *st = h2c_get(c, f->hd.stream_id);
	(void)s;

	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (st)
			st->header_blocks++;
		break;
	case NGHTTP2_RST_STREAM:
		if (st) {
			st->rst_received = true;
			st->rst_code = f->rst_stream.error_code;
		}
		break;
	case NGHTTP2_GOAWAY:
		c->goaway = true;
		c->goaway_error = f->goaway.error_code;
		break;
	case NGHTTP2_PING:
		if (f->hd.flags & NGHTTP2_FLAG_ACK)
			c->ping_ack = true;
		break;
	case NGHTTP2_SETTINGS:
		if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
			c->settings = true;
		break;
	}
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	struct h2c_stream *st = h2c_get(ud, id);
	(void)s;
	(void)flags;

	if (st) {
		st->data = xrealloc(st->data, st->len + len + 1);
		memcpy(st->data + st->len, data, len);
		st->len += len;
	}
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t error, void *ud)
{
	struct h2c_stream *st = h2c_get(ud, id);
	(void)s;

	if (st) {
		st->closed = true;
		st->close_error = error;
	}
	return 0;
}

static void flush(struct h2c *c)
{
	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(c->s, &p);
		if (n <= 0)
			break;
		/* Blocking is fine here: the server reads as the loop runs, but a
		 * full socketpair would stall, so write what it takes and retry. */
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(c->fd, p + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN) {
				(void)kc_loop_iterate(c->loop, kc_now_ns() + KC_NSEC_PER_MSEC,
						      NULL);
				continue;
			}
			if (w < 0)
				return;
			off += w;
		}
	}
}

static void on_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct h2c *c = ud;
	uint8_t buf[65536];
	ssize_t n;
	(void)w;
	(void)events;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (nghttp2_session_mem_recv(c->s, buf, (size_t)n) < 0)
			break;
	if (n == 0 && !c->eof) {
		c->eof = true;
		kc_watch_set_events(c->watch, 0);
	}
}

void h2c_open(struct h2c *c, kc_loop *loop, int fd)
{
	nghttp2_session_callbacks *cbs;

	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = fd;
	kc_set_nonblock(fd, true);
	nghttp2_session_callbacks_new(&cbs);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
	nghttp2_session_client_new(&c->s, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0);
	(void)kc_loop_watch(loop, fd, EPOLLIN | EPOLLRDHUP, on_io, c, &c->watch, NULL);
	flush(c);
}

void h2c_close(struct h2c *c)
{
	kc_watch_free(c->watch);
	nghttp2_session_del(c->s);
	if (c->fd >= 0)
		close(c->fd);
	for (size_t i = 0; i < c->n; i++) {
		free(c->streams[i]->out);
		free(c->streams[i]->ctype);
		free(c->streams[i]->message);
		free(c->streams[i]->raw_message);
		free(c->streams[i]->data);
		free(c->streams[i]);
	}
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	struct h2c_stream *st = src->ptr;
	size_t n = st->out_len - st->out_off;
	(void)s;
	(void)id;
	(void)ud;

	if (n > len)
		n = len;
	memcpy(buf, st->out + st->out_off, n);
	st->out_off += n;
	if (st->out_off == st->out_len) {
		if (st->out_end)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		else if (!n)
			return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

int32_t h2c_request(struct h2c *c, const char *const *hdrs, const void *body, size_t len, bool end)
{
	struct h2c_stream *st = xcalloc(1, sizeof(*st));
	nghttp2_data_provider dp = {.source.ptr = st, .read_callback = body_read};
	nghttp2_nv nv[256];
	size_t n = 0;

	for (; hdrs[2 * n]; n++)
		nv[n] = (nghttp2_nv){(uint8_t *)hdrs[2 * n], (uint8_t *)hdrs[2 * n + 1],
				     strlen(hdrs[2 * n]), strlen(hdrs[2 * n + 1]),
				     NGHTTP2_NV_FLAG_NONE};
	st->status = -1;
	st->out = xmalloc(len + 1);
	if (len)
		memcpy(st->out, body, len);
	st->out_len = len;
	st->out_end = end;
	st->id = nghttp2_submit_request(c->s, NULL, nv, n, (len || !end) ? &dp : NULL, st);
	c->streams[c->n++] = st;
	flush(c);
	return st->id;
}

int32_t h2c_unary(struct h2c *c, const char *path, const void *msg, size_t len,
		  const char *const *extra)
{
	const char *h[512] = {":method",   "POST",    ":scheme", "http",         ":authority",
			      "localhost", ":path",   path,      "content-type", "application/grpc",
			      "te",        "trailers"};
	size_t n = 12;
	_cleanup_free_ uint8_t *body = xmalloc(len + 5);
	int32_t id;

	for (size_t i = 0; extra && extra[i]; i++)
		h[n++] = extra[i];
	h[n] = NULL;
	grpc_prefix_encode(body, (uint32_t)len);
	if (len)
		memcpy(body + 5, msg, len);
	id = h2c_request(c, h, body, len + 5, true);
	return id;
}

void h2c_send(struct h2c *c, int32_t id, const uint8_t *data, size_t len, bool end)
{
	struct h2c_stream *st = h2c_get(c, id);

	st->out = xrealloc(st->out, st->out_len + len + 1);
	memcpy(st->out + st->out_len, data, len);
	st->out_len += len;
	st->out_end = end;
	nghttp2_session_resume_data(c->s, id);
	flush(c);
}

void h2c_reset(struct h2c *c, int32_t id, uint32_t code)
{
	nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, id, code);
	flush(c);
}

void h2c_ping(struct h2c *c)
{
	nghttp2_submit_ping(c->s, NGHTTP2_FLAG_NONE, NULL);
	flush(c);
}

bool h2c_pump(struct h2c *c, const bool *flag, int timeout_ms)
{
	uint64_t end = kc_now_ns() + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC;

	flush(c); /* what nghttp2 queued since (requests held back by the limit) */
	while (!*flag && kc_now_ns() < end) {
		(void)kc_loop_iterate(c->loop, end, NULL);
		flush(c);
	}
	return *flag;
}

bool h2c_wait_closed(struct h2c *c, int32_t id, int timeout_ms)
{
	struct h2c_stream *st = h2c_get(c, id);
	return st && h2c_pump(c, &st->closed, timeout_ms);
}

const uint8_t *h2c_msg(const struct h2c_stream *st, size_t *len)
{
	uint32_t n;

	if (st->len < 5 || st->data[0] != 0)
		return NULL;
	n = (uint32_t)st->data[1] << 24 | (uint32_t)st->data[2] << 16 | (uint32_t)st->data[3] << 8 |
	    st->data[4];
	if (n != st->len - 5)
		return NULL;
	*len = n;
	return st->data + 5;
}
