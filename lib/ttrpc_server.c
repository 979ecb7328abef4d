/* SPDX-License-Identifier: Apache-2.0 */
#include "ttrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "google/rpc/status.pb-c.h"
#include "log.h"
#include "pbcheck.h"
#include "ttrpc/request.pb-c.h"
#include "ttrpc_conn.h"

struct reg {
	const struct ttrpc_service *svc;
	void *data;
};

struct ttrpc_server {
	kc_loop *loop;
	struct reg *regs;
	size_t nregs;
	kc_acceptor *acceptor;
	kc_peer_fn filter;
	void *filter_ud;
	kc_list conns; /* struct sconn */
	size_t nconns;
	size_t ncalls;
	struct ttrpc_limits lim;
	struct ttrpc_budget budget; /* partial frames of all connections */
	bool warned_conns;          /* "connection limit reached" logged */
};

struct sconn {
	ttrpc_server *srv;
	ttrpc_conn *conn;
	kc_list node;
	kc_list calls; /* struct ttrpc_call, by arrival */
	size_t ncalls;
};

struct ttrpc_call {
	struct sconn *sc; /* NULL once the connection is gone */
	kc_list node;
	uint32_t stream_id;
	Ttrpc__Request *req;
	uint64_t deadline;
	kc_timer *timer;
	ttrpc_cancel_fn cancel;
	void *cancel_data;
	ttrpc_stream_fn on_data;
	void *stream_ud;
	bool streaming;
	bool remote_closed;
};

static void call_free(ttrpc_call *c)
{
	if (c->sc) {
		c->sc->ncalls--;
		c->sc->srv->ncalls--;
	}
	kc_list_del(&c->node);
	kc_timer_cancel(c->timer);
	if (c->req)
		ttrpc__request__free_unpacked(c->req, NULL);
	free(c);
}

static void call_cancel(ttrpc_call *c)
{
	ttrpc_cancel_fn fn = c->cancel;
	c->cancel = NULL;
	if (fn)
		fn(c, c->cancel_data);
	call_free(c);
}

int ttrpc_server_new(kc_loop *loop, ttrpc_server **ret, kc_err **err)
{
	ttrpc_server *s = xcalloc(1, sizeof(*s));
	(void)err;
	s->loop = loop;
	kc_list_init(&s->conns);
	ttrpc_server_set_limits(s, &(struct ttrpc_limits){0});
	*ret = s;
	return 0;
}

void ttrpc_server_set_limits(ttrpc_server *s, const struct ttrpc_limits *l)
{
	s->lim.max_conns = l->max_conns ? l->max_conns : TTRPC_DEFAULT_MAX_CONNS;
	s->lim.max_calls_per_conn =
	    l->max_calls_per_conn ? l->max_calls_per_conn : TTRPC_DEFAULT_MAX_CALLS_PER_CONN;
	s->lim.max_calls = l->max_calls ? l->max_calls : TTRPC_DEFAULT_MAX_CALLS;
	s->lim.max_pending_bytes =
	    l->max_pending_bytes ? l->max_pending_bytes : TTRPC_DEFAULT_MAX_PENDING_BYTES;
	s->lim.frame_deadline_ns =
	    l->frame_deadline_ns ? l->frame_deadline_ns : TTRPC_DEFAULT_FRAME_DEADLINE_NS;
	s->budget.max = s->lim.max_pending_bytes;
}

void ttrpc_server_set_peer_filter(ttrpc_server *s, kc_peer_fn fn, void *ud)
{
	s->filter = fn;
	s->filter_ud = ud;
	if (s->acceptor)
		kc_acceptor_set_filter(s->acceptor, fn, ud);
}

size_t ttrpc_server_n_calls(const ttrpc_server *s)
{
	return s->ncalls;
}

void ttrpc_server_register(ttrpc_server *s, const struct ttrpc_service *svc, void *data)
{
	s->regs = xrealloc(s->regs, (s->nregs + 1) * sizeof(*s->regs));
	s->regs[s->nregs].svc = svc;
	s->regs[s->nregs].data = data;
	s->nregs++;
}

size_t ttrpc_server_n_conns(const ttrpc_server *s)
{
	return s->nconns;
}

static int send_response(struct sconn *sc, uint32_t id, int code, const char *msg,
			 const uint8_t *payload, size_t len)
{
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n;

	st.code = code;
	st.message = (char *)(msg ? msg : "");
	resp.status = &st;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = payload ? len : 0;
	n = ttrpc__response__get_packed_size(&resp);
	if (n > TTRPC_MAX_DATA) {
		/* Never send what the peer must reject; tell it why instead. */
		st.code = TTRPC_RESOURCE_EXHAUSTED;
		st.message = "response exceeds the 4 MiB ttrpc message limit";
		resp.payload.len = 0;
		n = ttrpc__response__get_packed_size(&resp);
	}
	buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM; /* the peer waits for its deadline; we live on */
	ttrpc__response__pack(&resp, buf);
	return ttrpc_conn_send(sc->conn, id, TTRPC_TYPE_RESPONSE, 0, buf, n);
}

static void finish(ttrpc_call *c, int code, const char *msg, const uint8_t *payload, size_t len)
{
	if (c->sc)
		(void)send_response(c->sc, c->stream_id, code, msg, payload, len);
	c->cancel = NULL;
	call_free(c);
}

void ttrpc_call_reply_raw(ttrpc_call *c, const uint8_t *payload, size_t len)
{
	finish(c, TTRPC_OK, NULL, payload, len);
}

void ttrpc_call_reply(ttrpc_call *c, const ProtobufCMessage *msg)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = msg ? kc_pb_pack(msg, &len) : NULL;
	ttrpc_call_reply_raw(c, buf, len);
}

void ttrpc_call_reply_error(ttrpc_call *c, int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (code == TTRPC_OK)
		code = TTRPC_UNKNOWN;
	finish(c, code, msg ? msg : "error", NULL, 0);
}

void ttrpc_call_reply_kc_err(ttrpc_call *c, const kc_err *err)
{
	ttrpc_call_reply_error(c, ttrpc_code_from_errno(err ? err->code : 0), "%s",
			       kc_err_msg(err));
}

void ttrpc_call_set_cancel(ttrpc_call *c, ttrpc_cancel_fn fn, void *data)
{
	c->cancel = fn;
	c->cancel_data = data;
}

void ttrpc_call_set_stream(ttrpc_call *c, ttrpc_stream_fn fn, void *ud)
{
	c->on_data = fn;
	c->stream_ud = ud;
}

int ttrpc_call_send_raw(ttrpc_call *c, const uint8_t *data, size_t len, bool close)
{
	uint8_t flags = close ? TTRPC_FLAG_REMOTE_CLOSED : 0;
	if (!c->sc)
		return -EPIPE;
	if (!len)
		flags |= TTRPC_FLAG_NO_DATA;
	return ttrpc_conn_send(c->sc->conn, c->stream_id, TTRPC_TYPE_DATA, flags, data, len);
}

int ttrpc_call_send(ttrpc_call *c, const ProtobufCMessage *msg, bool close)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = msg ? kc_pb_pack(msg, &len) : NULL;
	return ttrpc_call_send_raw(c, buf, len, close);
}

size_t ttrpc_call_pending_out(const ttrpc_call *c)
{
	return c->sc ? c->sc->conn->queued : 0;
}

const char *ttrpc_call_method(const ttrpc_call *c)
{
	return c->req->method;
}

const char *ttrpc_call_metadata(const ttrpc_call *c, const char *key)
{
	for (size_t i = 0; i < c->req->n_metadata; i++)
		if (c->req->metadata[i]->key && !strcmp(c->req->metadata[i]->key, key))
			return c->req->metadata[i]->value;
	return NULL;
}

uint64_t ttrpc_call_deadline(const ttrpc_call *c)
{
	return c->deadline;
}

static void call_deadline(kc_timer *t, void *data)
{
	ttrpc_call *c = data;
	(void)t;
	c->timer = NULL; /* freed by the loop after this returns */
	if (c->sc)
		(void)send_response(c->sc, c->stream_id, TTRPC_DEADLINE_EXCEEDED,
				    "deadline exceeded", NULL, 0);
	call_cancel(c);
}

static ttrpc_call *find_call(struct sconn *sc, uint32_t id)
{
	kc_list_for_each (p, &sc->calls) {
		ttrpc_call *c = kc_container_of(p, ttrpc_call, node);
		if (c->stream_id == id)
			return c;
	}
	return NULL;
}

static void handle_request(struct sconn *sc, struct ttrpc_frame *f)
{
	const struct ttrpc_method *m = NULL;
	ttrpc_server *srv = sc->srv;
	void *svc_data = NULL;
	bool svc_found = false;
	ttrpc_call *c;
	Ttrpc__Request *req;

	if (f->nomem) {
		send_response(sc, f->hdr.stream_id, TTRPC_RESOURCE_EXHAUSTED,
			      "out of memory for the request", NULL, 0);
		return;
	}
	if (f->oversize) {
		char msg[128];
		snprintf(msg, sizeof(msg), "message length %u exceeds maximum message size of %u",
			 f->hdr.len, TTRPC_MAX_DATA);
		send_response(sc, f->hdr.stream_id, TTRPC_RESOURCE_EXHAUSTED, msg, NULL, 0);
		return;
	}
	if (f->hdr.stream_id % 2 == 0 || find_call(sc, f->hdr.stream_id)) {
		send_response(sc, f->hdr.stream_id, TTRPC_INVALID_ARGUMENT,
			      "invalid or duplicate stream id", NULL, 0);
		return;
	}
	/* Every parked call (Wait, GetEvents, a Create in progress) holds
	 * memory until answered: bound them per peer and in total. */
	if (sc->ncalls >= srv->lim.max_calls_per_conn || srv->ncalls >= srv->lim.max_calls) {
		char msg[128];
		bool conn_full = sc->ncalls >= srv->lim.max_calls_per_conn;
		snprintf(msg, sizeof(msg), "too many calls in flight (%zu %s)",
			 conn_full ? srv->lim.max_calls_per_conn : srv->lim.max_calls,
			 conn_full ? "on this connection" : "in total");
		send_response(sc, f->hdr.stream_id, TTRPC_RESOURCE_EXHAUSTED, msg, NULL, 0);
		return;
	}
	{
		_cleanup_err_ kc_err *e = NULL;
		if (kc_pb_check_strings(&ttrpc__request__descriptor, f->data, f->hdr.len, &e) < 0) {
			send_response(sc, f->hdr.stream_id, TTRPC_INVALID_ARGUMENT, e->msg, NULL,
				      0);
			return;
		}
	}
	req = ttrpc__request__unpack(NULL, f->hdr.len, f->data);
	if (!req) {
		send_response(sc, f->hdr.stream_id, TTRPC_INVALID_ARGUMENT,
			      "malformed ttrpc request", NULL, 0);
		return;
	}
	for (size_t i = 0; i < sc->srv->nregs && !m; i++) {
		const struct ttrpc_service *svc = sc->srv->regs[i].svc;
		if (strcmp(svc->name, req->service))
			continue;
		svc_found = true;
		for (size_t j = 0; j < svc->n_methods; j++)
			if (!strcmp(svc->methods[j].name, req->method)) {
				m = &svc->methods[j];
				svc_data = sc->srv->regs[i].data;
				break;
			}
	}
	if (!m) {
		char msg[600];
		if (svc_found)
			snprintf(msg, sizeof(msg), "%.256s: method %.256s not implemented",
				 req->service, req->method);
		else
			snprintf(msg, sizeof(msg), "service %.256s not implemented", req->service);
		send_response(sc, f->hdr.stream_id, TTRPC_UNIMPLEMENTED, msg, NULL, 0);
		ttrpc__request__free_unpacked(req, NULL);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		send_response(sc, f->hdr.stream_id, TTRPC_RESOURCE_EXHAUSTED,
			      "out of memory for the call", NULL, 0);
		ttrpc__request__free_unpacked(req, NULL);
		return;
	}
	c->sc = sc;
	sc->ncalls++;
	srv->ncalls++;
	c->stream_id = f->hdr.stream_id;
	c->req = req;
	c->deadline = UINT64_MAX;
	c->streaming = (m->flags & TTRPC_METHOD_STREAMING) != 0;
	c->remote_closed = !(f->hdr.flags & TTRPC_FLAG_REMOTE_OPEN);
	kc_list_add_tail(&sc->calls, &c->node);
	if (req->timeout_nano > 0) {
		c->deadline = kc_now_ns() + (uint64_t)req->timeout_nano;
		c->timer = kc_timer_at(sc->srv->loop, c->deadline, call_deadline, c);
	}
	m->fn(c, req->payload.data, req->payload.len, svc_data);
}

static void handle_data(struct sconn *sc, struct ttrpc_frame *f)
{
	ttrpc_call *c = find_call(sc, f->hdr.stream_id);
	bool closed = (f->hdr.flags & TTRPC_FLAG_REMOTE_CLOSED) != 0;

	/* Data for unknown or finished streams is dropped, as in Go ttrpc. */
	if (!c || !c->streaming || c->remote_closed)
		return;
	if (closed)
		c->remote_closed = true;
	if (c->on_data)
		c->on_data(c, f->oversize ? NULL : f->data, f->oversize ? 0 : f->hdr.len, closed,
			   c->stream_ud);
}

static void sconn_frame(ttrpc_conn *conn, struct ttrpc_frame *f, void *ud)
{
	struct sconn *sc = ud;
	(void)conn;

	switch (f->hdr.type) {
	case TTRPC_TYPE_REQUEST:
		handle_request(sc, f);
		break;
	case TTRPC_TYPE_DATA:
		handle_data(sc, f);
		break;
	default:
		/* Responses are not expected by a server; ignore like Go ttrpc. */
		break;
	}
	free(f->data);
}

static void sconn_close(ttrpc_conn *conn, void *ud)
{
	struct sconn *sc = ud;

	while (!kc_list_empty(&sc->calls)) {
		ttrpc_call *c = kc_container_of(sc->calls.next, ttrpc_call, node);
		sc->ncalls--;
		sc->srv->ncalls--;
		c->sc = NULL;
		call_cancel(c);
	}
	kc_list_del(&sc->node);
	sc->srv->nconns--;
	ttrpc_conn_unref(conn);
	free(sc);
	/* An fd was released: a listener parked at the fd limit may go on. */
	kc_acceptor_fds_freed();
}

int ttrpc_server_serve_fd(ttrpc_server *s, int fd, kc_err **err)
{
	struct sconn *sc;
	int r;

	if (s->nconns >= s->lim.max_conns) {
		close(fd);
		return kc_err_set(err, EMFILE, "ttrpc: %zu connections already open",
				  s->lim.max_conns);
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->srv = s;
	kc_list_init(&sc->calls);
	r = ttrpc_conn_new(s->loop, fd, sconn_frame, sconn_close, sc, &sc->conn, err);
	if (r < 0) {
		close(fd);
		free(sc);
		return r;
	}
	ttrpc_conn_set_limits(sc->conn, &s->budget, s->lim.frame_deadline_ns);
	kc_list_add_tail(&s->conns, &sc->node);
	s->nconns++;
	return 0;
}

static void on_accept(kc_acceptor *a, int fd, void *data)
{
	ttrpc_server *s = data;
	_cleanup_err_ kc_err *err = NULL;
	(void)a;

	/* Past the cap the peer is closed at once (it sees EOF) rather than
	 * left in the backlog: the listener never stalls behind it. */
	if (ttrpc_server_serve_fd(s, fd, &err) < 0 && !s->warned_conns) {
		s->warned_conns = true;
		log_warn("%s; refusing new ones (logged once)", kc_err_msg(err));
	}
}

int ttrpc_server_listen(ttrpc_server *s, int listen_fd, kc_err **err)
{
	if (kc_acceptor_new(s->loop, listen_fd, on_accept, s, &s->acceptor, err) < 0)
		return kc_err_retp(err);
	if (s->filter)
		kc_acceptor_set_filter(s->acceptor, s->filter, s->filter_ud);
	return 0;
}

void ttrpc_server_free(ttrpc_server *s)
{
	if (!s)
		return;
	kc_acceptor_free(s->acceptor);
	while (!kc_list_empty(&s->conns)) {
		struct sconn *sc = kc_container_of(s->conns.next, struct sconn, node);
		ttrpc_conn_close(sc->conn);
	}
	free(s->regs);
	free(s);
}
