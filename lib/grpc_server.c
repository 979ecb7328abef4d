/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC on a ttrpc server (grpc.h): one nghttp2 server session per connection,
 * driven by the kc_loop (nghttp2 does no I/O: we read into
 * nghttp2_session_mem_recv and write what nghttp2_session_mem_send gives),
 * each request a ttrpc_call to the registered handlers.
 *
 * Re-entrancy: nghttp2 must not be asked to send from inside its own
 * callbacks, and a handler may answer a call of any connection from inside
 * them (a Stop answering another connection's Wait). So an answer submits
 * its frames and writes them at once only when that connection is not
 * inside nghttp2; otherwise they go when the callbacks return. A connection
 * is closed from the loop, never under a caller that is answering a call.
 */
#include <errno.h>
#include <stdarg.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc.h"
#include "log.h"
#include "ttrpc_int.h"
#include "util.h"

struct gsrv {
	ttrpc_server *srv;
	kc_loop *loop;
	kc_list conns; /* struct gconn */
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
};

struct gconn {
	struct gsrv *g;
	int fd;
	kc_watch *watch;
	nghttp2_session *h2;
	kc_list node;
	kc_list streams; /* struct gstream */
	size_t ncalls;   /* handed to handlers, not yet freed */
	size_t queued;   /* response bytes nghttp2 has not taken yet */
	uint8_t *out;    /* what the socket did not take of nghttp2's last chunk */
	size_t out_len, out_off;
	kc_timer *kick_timer; /* a write (or a close) from the loop */
	unsigned in_h2;       /* inside nghttp2 (its callbacks may run) */
	bool closed;
	bool fatal; /* close as soon as nghttp2 returns */
};

struct md {
	char *key, *value;
};

struct gstream {
	struct gconn *gc;
	int32_t id;
	kc_list node;
	/* the request */
	char *path;
	char *service; /* from path: service, then method in the same buffer */
	const char *method;
	struct md *md; /* grows: most requests carry a few */
	size_t n_md, md_cap, hdr_bytes;
	bool post, has_ctype, has_path;
	int err_code, err_http; /* the first problem with the headers */
	char err_msg[192];
	uint64_t deadline;
	struct grpc_deframer df;
	size_t charged;    /* of the server's budget */
	kc_timer *arrival; /* the request must arrive in full in time */
	ttrpc_call *call;  /* while a handler holds it */
	bool dispatched;   /* the handler has it (or had it) */
	bool responded;    /* our answer is submitted */
	/* the answer */
	uint8_t *resp;
	size_t resp_len, resp_off;
};

static void gc_kick(struct gconn *gc);
static void gc_close(struct gconn *gc);

/* ------------------------------------------------------------------ budget */

static void stream_charge(struct gstream *gs, size_t held)
{
	struct ttrpc_budget *b = ttrpc_server_budget(gs->gc->g->srv);

	b->used -= gs->charged;
	gs->charged = held;
	b->used += held;
	/* Like ttrpc: the connection that asked for the byte past the line goes. */
	if (b->used > b->max)
		gs->gc->fatal = true;
}

static void stream_release(struct gstream *gs)
{
	kc_timer_cancel(gs->arrival);
	gs->arrival = NULL;
	stream_charge(gs, 0);
}

/* ------------------------------------------------------------------ answers */

static void nv_add(nghttp2_nv *nv, size_t *n, const char *name, const char *value)
{
	nv[*n] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
			      NGHTTP2_NV_FLAG_NONE};
	(*n)++;
}

static ssize_t resp_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	struct gstream *gs = src->ptr;
	size_t n = gs->resp_len - gs->resp_off;
	(void)ud;

	if (n > len)
		n = len;
	memcpy(buf, gs->resp + gs->resp_off, n);
	gs->resp_off += n;
	gs->gc->queued -= n;
	if (gs->resp_off == gs->resp_len) {
		nghttp2_nv nv[1];
		size_t nn = 0;
		nv_add(nv, &nn, "grpc-status", "0");
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(h2, id, nv, nn) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	}
	return (ssize_t)n;
}

/* Trailers-only: one HEADERS frame with the status, ending the stream. */
static void submit_error(struct gstream *gs, int code, const char *msg, int http)
{
	_cleanup_free_ char *enc = grpc_message_encode(msg ? msg : "", GRPC_MAX_STATUS_MESSAGE);
	char hs[12], st[12];
	nghttp2_nv nv[5];
	size_t n = 0;

	/* nghttp2 copies names and values. */
	snprintf(hs, sizeof(hs), "%d", http);
	snprintf(st, sizeof(st), "%d", code);
	nv_add(nv, &n, ":status", hs);
	nv_add(nv, &n, "content-type", "application/grpc");
	nv_add(nv, &n, "grpc-status", st);
	if (*enc)
		nv_add(nv, &n, "grpc-message", enc);
	if (code == TTRPC_UNIMPLEMENTED)
		nv_add(nv, &n, "grpc-accept-encoding", "identity");
	(void)nghttp2_submit_response(gs->gc->h2, gs->id, nv, n, NULL);
}

static void stream_respond(struct gstream *gs, int code, const char *msg, const uint8_t *payload,
			   size_t len, int http)
{
	struct gconn *gc = gs->gc;

	if (gs->responded || gc->closed)
		return;
	gs->responded = true;
	stream_release(gs); /* the request stays until the stream goes: the handler's payload */
	if (code == TTRPC_OK && len > GRPC_MAX_MESSAGE) {
		/* Never send what the peer must reject; tell it why instead. */
		code = TTRPC_RESOURCE_EXHAUSTED;
		msg = "response exceeds the 4 MiB message limit";
	}
	if (code == TTRPC_OK && gc->queued + len + 5 > TTRPC_MAX_QUEUED) {
		/* The peer stopped reading: as ttrpc, it loses the connection. */
		gc->fatal = true;
		gc_kick(gc);
		return;
	}
	if (code == TTRPC_OK) {
		nghttp2_data_provider dp = {.source.ptr = gs, .read_callback = resp_read};
		nghttp2_nv nv[2];
		size_t n = 0;

		gs->resp = malloc(len + 5);
		if (!gs->resp) {
			code = TTRPC_RESOURCE_EXHAUSTED;
			msg = "out of memory for the response";
		} else {
			grpc_prefix_encode(gs->resp, (uint32_t)len);
			if (len)
				memcpy(gs->resp + 5, payload, len);
			gs->resp_len = len + 5;
			gc->queued += gs->resp_len;
			nv_add(nv, &n, ":status", "200");
			nv_add(nv, &n, "content-type", "application/grpc");
			if (nghttp2_submit_response(gc->h2, gs->id, nv, n, &dp) != 0) {
				/* Not expected (answered once): at least end the stream. */
				gc->queued -= gs->resp_len;
				gs->resp_len = 0;
				(void)nghttp2_submit_rst_stream(gc->h2, NGHTTP2_FLAG_NONE, gs->id,
								NGHTTP2_INTERNAL_ERROR);
			}
		}
	}
	if (code != TTRPC_OK)
		submit_error(gs, code, msg, http);
	gc_kick(gc);
}

/* ------------------------------------------------------------------ the call */

static void t_respond(void *tp, int code, const char *msg, const uint8_t *payload, size_t len)
{
	stream_respond(tp, code, msg, payload, len, 200);
}

static void t_detach(void *tp)
{
	struct gstream *gs = tp;
	gs->call = NULL;
	gs->gc->ncalls--;
}

static const char *t_metadata(void *tp, const char *key)
{
	struct gstream *gs = tp;
	for (size_t i = 0; i < gs->n_md; i++)
		if (!strcmp(gs->md[i].key, key))
			return gs->md[i].value;
	return NULL;
}

static const struct ttrpc_transport transport = {
    .respond = t_respond,
    .detach = t_detach,
    .metadata = t_metadata,
};

/* The request is complete (END_STREAM): hand it to its handler. */
static void stream_dispatch(struct gstream *gs)
{
	struct gconn *gc = gs->gc;
	char msg[600];
	const uint8_t *payload;
	size_t len;
	int code;

	if (gs->dispatched || gs->responded)
		return;
	gs->dispatched = true;
	code = grpc_deframer_finish(&gs->df, msg, sizeof(msg));
	if (code) {
		stream_respond(gs, code, msg, NULL, 0, 200);
		return;
	}
	stream_release(gs);
	code = ttrpc_server_call_new(gc->g->srv, gc->ncalls, gs->service, gs->method, gs->deadline,
				     &transport, gs, &gs->call, msg, sizeof(msg));
	if (code) {
		stream_respond(gs, code, msg, NULL, 0, 200);
		return;
	}
	gc->ncalls++;
	payload = grpc_deframer_msg(&gs->df, &len);
	ttrpc_server_call_run(gs->call, payload, len); /* may answer at once */
}

static void arrival_expired(kc_timer *t, void *ud)
{
	struct gstream *gs = ud;
	(void)t;
	gs->arrival = NULL;
	stream_respond(gs, TTRPC_DEADLINE_EXCEEDED, "request not received in time", NULL, 0, 200);
}

/* ------------------------------------------------------------------ streams */

static struct gstream *stream_get(struct gconn *gc, int32_t id)
{
	return nghttp2_session_get_stream_user_data(gc->h2, id);
}

static void stream_free(struct gstream *gs, const char *why)
{
	struct gconn *gc = gs->gc;

	/* A call still held by its handler dies with the stream. */
	if (gs->call) {
		log_debug("grpc: %s/%s %s", gs->service, gs->method, why);
		ttrpc_call_abort(gs->call);
	}
	stream_release(gs);
	(void)nghttp2_session_set_stream_user_data(gc->h2, gs->id, NULL);
	kc_list_del(&gs->node);
	gc->queued -= gs->resp_len - gs->resp_off;
	grpc_deframer_reset(&gs->df);
	for (size_t i = 0; i < gs->n_md; i++) {
		free(gs->md[i].key);
		free(gs->md[i].value);
	}
	free(gs->md);
	free(gs->path);
	free(gs->service);
	free(gs->resp);
	free(gs);
}

static void header_error(struct gstream *gs, int code, int http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void header_error(struct gstream *gs, int code, int http, const char *fmt, ...)
{
	va_list ap;

	if (gs->err_code)
		return; /* the first one is reported */
	gs->err_code = code;
	gs->err_http = http;
	va_start(ap, fmt);
	vsnprintf(gs->err_msg, sizeof(gs->err_msg), fmt, ap);
	va_end(ap);
}

static bool name_is(const uint8_t *name, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(name, s, n);
}

static void on_request_header(struct gstream *gs, const uint8_t *name, size_t nl,
			      const uint8_t *value, size_t vl)
{
	gs->hdr_bytes += nl + vl + 32;
	if (gs->hdr_bytes > GRPC_MAX_HEADER_BYTES) {
		header_error(gs, TTRPC_RESOURCE_EXHAUSTED, 200, "request headers exceed %d bytes",
			     GRPC_MAX_HEADER_BYTES);
		return;
	}
	stream_charge(gs, gs->hdr_bytes + gs->df.cap);
	if (name_is(name, nl, ":method")) {
		gs->post = vl == 4 && !memcmp(value, "POST", 4);
		if (!gs->post)
			header_error(gs, TTRPC_INTERNAL, 405, "method %.*s: gRPC requests are POST",
				     (int)(vl > 16 ? 16 : vl), (const char *)value);
	} else if (name_is(name, nl, ":path")) {
		gs->has_path = true;
		free(gs->path);
		gs->path = xstrndup((const char *)value, vl);
	} else if (name_is(name, nl, "content-type")) {
		int code = grpc_content_type_check((const char *)value, vl);
		gs->has_ctype = true;
		if (code)
			header_error(gs, code, code == TTRPC_UNIMPLEMENTED ? 200 : 415,
				     "content-type %.*s is not supported (application/grpc)",
				     (int)(vl > 64 ? 64 : vl), (const char *)value);
	} else if (name_is(name, nl, "grpc-timeout")) {
		uint64_t ns;
		if (grpc_timeout_parse((const char *)value, vl, &ns) < 0)
			header_error(gs, TTRPC_INVALID_ARGUMENT, 200, "malformed grpc-timeout %.*s",
				     (int)(vl > 16 ? 16 : vl), (const char *)value);
		else
			gs->deadline =
			    ns > UINT64_MAX - kc_now_ns() ? UINT64_MAX : kc_now_ns() + ns;
	} else if (name_is(name, nl, "grpc-encoding")) {
		if (!(vl == 8 && !memcmp(value, "identity", 8)))
			header_error(gs, TTRPC_UNIMPLEMENTED, 200,
				     "grpc-encoding %.*s is not supported (identity only)",
				     (int)(vl > 32 ? 32 : vl), (const char *)value);
	} else if (nl && (name[0] == ':' || name_is(name, nl, "te") ||
			  (nl > 5 && !memcmp(name, "grpc-", 5)))) {
		/* :authority, :scheme, te and gRPC's reserved headers: not metadata */
	} else if (gs->n_md == GRPC_MAX_METADATA) {
		header_error(gs, TTRPC_RESOURCE_EXHAUSTED, 200, "more than %d metadata entries",
			     GRPC_MAX_METADATA);
	} else {
		if (gs->n_md == gs->md_cap) {
			gs->md_cap = gs->md_cap ? 2 * gs->md_cap : 4;
			gs->md = xrealloc(gs->md, gs->md_cap * sizeof(*gs->md));
		}
		gs->md[gs->n_md].key = xstrndup((const char *)name, nl);
		gs->md[gs->n_md].value = xstrndup((const char *)value, vl);
		gs->n_md++;
	}
}

/* All request headers are in: answer a bad request now. */
static void on_request_headers(struct gstream *gs, bool end_stream)
{
	if (!gs->err_code && !gs->has_ctype)
		header_error(gs, TTRPC_INVALID_ARGUMENT, 415, "no content-type (application/grpc)");
	if (!gs->err_code && (!gs->has_path || grpc_path_split(gs->path, strlen(gs->path),
							       &gs->service, &gs->method) < 0))
		header_error(gs, TTRPC_UNIMPLEMENTED, 200, "malformed method name: %.200s",
			     gs->path ? gs->path : "");
	if (gs->err_code)
		stream_respond(gs, gs->err_code, gs->err_msg, NULL, 0, gs->err_http);
	else if (end_stream)
		stream_dispatch(gs);
}

/* ------------------------------------------------------------------ nghttp2 callbacks */

static int cb_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	struct gconn *gc = ud;
	struct gstream *gs;
	uint64_t fd_ns = ttrpc_server_limits(gc->g->srv)->frame_deadline_ns;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	gs = xcalloc(1, sizeof(*gs));
	gs->gc = gc;
	gs->id = f->hd.stream_id;
	gs->deadline = UINT64_MAX;
	grpc_deframer_init(&gs->df, GRPC_MAX_MESSAGE);
	kc_list_add_tail(&gc->streams, &gs->node);
	gs->arrival = kc_timer_after(gc->g->loop, fd_ns, arrival_expired, gs);
	return nghttp2_session_set_stream_user_data(h2, gs->id, gs) ? NGHTTP2_ERR_CALLBACK_FAILURE
								    : 0;
}

static int cb_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct gstream *gs = stream_get(ud, f->hd.stream_id);
	(void)h2;
	(void)flags;

	/* Request trailers carry nothing we use. */
	if (gs && f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    !gs->responded)
		on_request_header(gs, name, nl, value, vl);
	return 0;
}

static int cb_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	struct gstream *gs;
	bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	(void)h2;

	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	gs = stream_get(ud, f->hd.stream_id);
	if (!gs || gs->responded)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		on_request_headers(gs, end);
	else if (end)
		stream_dispatch(gs);
	return 0;
}

static int cb_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	struct gstream *gs = stream_get(ud, id);
	char msg[160];
	int code;
	(void)h2;
	(void)flags;

	if (!gs || gs->responded || gs->dispatched)
		return 0; /* after our answer the rest is dropped */
	code = grpc_deframer_feed(&gs->df, data, len, msg, sizeof(msg));
	if (code)
		stream_respond(gs, code, msg, NULL, 0, 200);
	else
		stream_charge(gs, gs->hdr_bytes + gs->df.cap);
	return 0;
}

static int cb_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	/* Our answer ended the stream before the client's request did: tell it
	 * to stop sending (the gRPC protocol's RST_STREAM NO_ERROR). */
	if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    !nghttp2_session_get_stream_remote_close(h2, f->hd.stream_id))
		(void)nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, f->hd.stream_id,
						NGHTTP2_NO_ERROR);
	return 0;
}

static int cb_stream_close(nghttp2_session *h2, int32_t id, uint32_t error, void *ud)
{
	struct gstream *gs = stream_get(ud, id);
	(void)h2;
	(void)error;

	/* A reset before our answer (the client cancelled) cancels the call. */
	if (gs)
		stream_free(gs, "cancelled by the client");
	return 0;
}

/* ------------------------------------------------------------------ I/O */

static void gc_watch_out(struct gconn *gc, bool out)
{
	(void)kc_watch_set_events(gc->watch, EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0));
}

/* Write what nghttp2 has for the peer, as far as the socket takes it. */
static int gc_flush(struct gconn *gc)
{
	for (;;) {
		const uint8_t *p;
		ssize_t n, w;

		if (gc->out_off < gc->out_len) {
			w = send(gc->fd, gc->out + gc->out_off, gc->out_len - gc->out_off,
				 MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN)
				break;
			if (w < 0)
				return -errno;
			gc->out_off += (size_t)w;
			continue;
		}
		gc->in_h2++;
		n = nghttp2_session_mem_send(gc->h2, &p);
		gc->in_h2--;
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			break;
		do
			w = send(gc->fd, p, (size_t)n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return -errno;
		if (w < 0)
			w = 0;
		if (w < n) {
			/* Keep the rest of this one chunk; ask nghttp2 for more later. */
			free(gc->out);
			gc->out = xmalloc((size_t)(n - w));
			memcpy(gc->out, p + w, (size_t)(n - w));
			gc->out_len = (size_t)(n - w);
			gc->out_off = 0;
		}
	}
	gc_watch_out(gc, gc->out_off < gc->out_len);
	return 0;
}

static void flush_later(kc_timer *t, void *ud)
{
	struct gconn *gc = ud;
	(void)t;
	gc->kick_timer = NULL;
	if (!gc->fatal && gc_flush(gc) < 0)
		gc->fatal = true;
	if (gc->fatal)
		gc_close(gc);
}

/* An answer was submitted: write it from the loop. Never at once: sending
 * can close the stream (nghttp2's callback frees it) while the caller is
 * still answering the call. Inside nghttp2 the frames go when it returns. */
static void gc_kick(struct gconn *gc)
{
	if (gc->closed || gc->in_h2 || gc->kick_timer)
		return;
	gc->kick_timer = kc_timer_after(gc->g->loop, 0, flush_later, gc);
}

static void gc_read(struct gconn *gc)
{
	uint8_t buf[65536];

	/* Bounded work per wakeup keeps one busy peer from starving the rest. */
	for (int round = 0; round < 16 && !gc->fatal; round++) {
		ssize_t n = read(gc->fd, buf, sizeof(buf)), r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			gc->fatal = true;
			break;
		}
		gc->in_h2++;
		r = nghttp2_session_mem_recv(gc->h2, buf, (size_t)n);
		gc->in_h2--;
		if (r < 0) {
			log_debug("grpc: closing a connection: %s", nghttp2_strerror((int)r));
			gc->fatal = true;
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
}

static void gc_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct gconn *gc = ud;
	(void)w;
	(void)fd;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
		gc_read(gc);
	if (!gc->fatal && gc_flush(gc) < 0)
		gc->fatal = true;
	/* Done: a GOAWAY both ways, everything written. */
	if (!gc->fatal && !nghttp2_session_want_read(gc->h2) &&
	    !nghttp2_session_want_write(gc->h2) && gc->out_off == gc->out_len)
		gc->fatal = true;
	if (gc->fatal)
		gc_close(gc);
}

static void gc_close(struct gconn *gc)
{
	ttrpc_server *srv = gc->g->srv;

	if (gc->closed)
		return;
	gc->closed = true;
	kc_timer_cancel(gc->kick_timer);
	kc_watch_free(gc->watch);
	/* Every call still held is cancelled (its handler's hook runs). */
	while (!kc_list_empty(&gc->streams))
		stream_free(kc_container_of(gc->streams.next, struct gstream, node),
			    "cancelled: connection closed");
	nghttp2_session_del(gc->h2);
	close(gc->fd);
	kc_list_del(&gc->node);
	free(gc->out);
	free(gc);
	ttrpc_server_conn_gone(srv);
}

/* ------------------------------------------------------------------ server */

static int g_serve(void *ud, int fd, const uint8_t *head, size_t n, kc_err **err)
{
	struct gsrv *g = ud;
	struct gconn *gc = xcalloc(1, sizeof(*gc));
	const struct ttrpc_limits *lim = ttrpc_server_limits(g->srv);
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)lim->max_calls_per_conn},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_BYTES},
	};
	ssize_t r;

	gc->g = g;
	gc->fd = fd;
	kc_list_init(&gc->streams);
	if (nghttp2_session_server_new2(&gc->h2, g->cbs, gc, g->opt) != 0) {
		free(gc);
		close(fd);
		return kc_err_set(err, ENOMEM, "grpc: no memory for an HTTP/2 session");
	}
	if (kc_loop_watch(g->loop, fd, EPOLLIN | EPOLLRDHUP, gc_io, gc, &gc->watch, err) < 0) {
		nghttp2_session_del(gc->h2);
		free(gc);
		close(fd);
		return kc_err_retp(err);
	}
	kc_list_add_tail(&g->conns, &gc->node);
	(void)nghttp2_submit_settings(gc->h2, NGHTTP2_FLAG_NONE, iv, KC_ARRAY_SIZE(iv));
	/* The preface the server read to tell the protocols apart. */
	gc->in_h2++;
	r = nghttp2_session_mem_recv(gc->h2, head, n);
	gc->in_h2--;
	if (r < 0 || gc_flush(gc) < 0) {
		gc_close(gc); /* gives the connection count back */
		return 0;
	}
	return 0;
}

static void g_free(void *ud)
{
	struct gsrv *g = ud;

	/* GOAWAY to each client, as far as its socket takes it now. */
	while (!kc_list_empty(&g->conns)) {
		struct gconn *gc = kc_container_of(g->conns.next, struct gconn, node);
		if (!gc->fatal && nghttp2_session_terminate_session(gc->h2, NGHTTP2_NO_ERROR) == 0)
			(void)gc_flush(gc);
		gc_close(gc);
	}
	nghttp2_session_callbacks_del(g->cbs);
	nghttp2_option_del(g->opt);
	free(g);
}

static const uint8_t preface[] = GRPC_PREFACE;
static const struct ttrpc_alt_proto alt = {
    .preface = preface,
    .preface_len = GRPC_PREFACE_LEN,
    .serve = g_serve,
    .free = g_free,
};

int grpc_server_attach(ttrpc_server *s, kc_err **err)
{
	struct gsrv *g = xcalloc(1, sizeof(*g));

	g->srv = s;
	g->loop = ttrpc_server_loop(s);
	kc_list_init(&g->conns);
	if (nghttp2_session_callbacks_new(&g->cbs) != 0 || nghttp2_option_new(&g->opt) != 0) {
		nghttp2_session_callbacks_del(g->cbs);
		free(g);
		return kc_err_set(err, ENOMEM, "grpc: out of memory");
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(g->cbs, cb_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(g->cbs, cb_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(g->cbs, cb_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g->cbs, cb_data);
	nghttp2_session_callbacks_set_on_frame_send_callback(g->cbs, cb_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(g->cbs, cb_stream_close);
	/* Closed streams are kept only for priorities, which we ignore. */
	nghttp2_option_set_no_closed_streams(g->opt, 1);
	ttrpc_server_set_alt(s, &alt, g);
	return 0;
}
