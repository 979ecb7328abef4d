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
#include "ttrpc_int.h"

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
	const struct ttrpc_alt_proto *alt;
	void *alt_ud;
	kc_list sniffs; /* struct sniff: connections not told apart yet */
};

struct sconn {
	ttrpc_server *srv;
	ttrpc_conn *conn;
	kc_list node;
	kc_list calls; /* struct ttrpc_call, by arrival */
	size_t ncalls;
};

struct ttrpc_call {
	ttrpc_server *srv;
	const struct ttrpc_transport *tp_ops; /* NULL: a ttrpc call */
	void *tp;
	const struct ttrpc_method *m;
	void *svc_data;
	const char *method;
	struct sconn *sc; /* ttrpc: NULL once the connection is gone */
	kc_list node;     /* ttrpc: in sc->calls */
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
	if (c->sc)
		c->sc->ncalls--;
	c->srv->ncalls--;
	kc_list_del(&c->node);
	kc_timer_cancel(c->timer);
	if (c->tp_ops)
		c->tp_ops->detach(c->tp);
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

void ttrpc_call_abort(ttrpc_call *c)
{
	call_cancel(c);
}

int ttrpc_server_new(kc_loop *loop, ttrpc_server **ret, kc_err **err)
{
	ttrpc_server *s = xcalloc(1, sizeof(*s));
	(void)err;
	s->loop = loop;
	kc_list_init(&s->conns);
	kc_list_init(&s->sniffs);
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

static void call_respond(ttrpc_call *c, int code, const char *msg, const uint8_t *payload,
			 size_t len)
{
	if (c->tp_ops)
		c->tp_ops->respond(c->tp, code, msg, payload, len);
	else if (c->sc)
		(void)send_response(c->sc, c->stream_id, code, msg, payload, len);
}

static void finish(ttrpc_call *c, int code, const char *msg, const uint8_t *payload, size_t len)
{
	/* A streaming call that ends well ends as Go's ttrpc server ends it:
	 * a data frame with REMOTE_CLOSED and no data. A response frame would
	 * reach a Go client's RecvMsg as one more (empty) message. */
	if (c->streaming && code == TTRPC_OK && !len && c->sc && !c->tp_ops)
		(void)ttrpc_conn_send(c->sc->conn, c->stream_id, TTRPC_TYPE_DATA,
				      TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
	else
		call_respond(c, code, msg, payload, len);
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
	if (c->tp_ops)
		return -EOPNOTSUPP; /* streams are ttrpc's only */
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
	return c->method;
}

const char *ttrpc_call_metadata(const ttrpc_call *c, const char *key)
{
	if (c->tp_ops)
		return c->tp_ops->metadata(c->tp, key);
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
	call_respond(c, TTRPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL, 0);
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

/* Every parked call (Wait, GetEvents, a Create in progress) holds memory
 * until answered: bound them per peer and in total. 0, or a status code. */
static int admit(const ttrpc_server *srv, size_t conn_calls, char *msg, size_t n)
{
	bool conn_full = conn_calls >= srv->lim.max_calls_per_conn;

	if (!conn_full && srv->ncalls < srv->lim.max_calls)
		return 0;
	snprintf(msg, n, "too many calls in flight (%zu %s)",
		 conn_full ? srv->lim.max_calls_per_conn : srv->lim.max_calls,
		 conn_full ? "on this connection" : "in total");
	return TTRPC_RESOURCE_EXHAUSTED;
}

static int find_method(const ttrpc_server *srv, const char *service, const char *method,
		       const struct ttrpc_method **ret, void **svc_data, char *msg, size_t n)
{
	bool svc_found = false;

	for (size_t i = 0; i < srv->nregs; i++) {
		const struct ttrpc_service *svc = srv->regs[i].svc;
		if (strcmp(svc->name, service))
			continue;
		svc_found = true;
		for (size_t j = 0; j < svc->n_methods; j++)
			if (!strcmp(svc->methods[j].name, method)) {
				*ret = &svc->methods[j];
				*svc_data = srv->regs[i].data;
				return 0;
			}
	}
	if (svc_found)
		snprintf(msg, n, "%.256s: method %.256s not implemented", service, method);
	else
		snprintf(msg, n, "service %.256s not implemented", service);
	return TTRPC_UNIMPLEMENTED;
}

static void handle_request(struct sconn *sc, struct ttrpc_frame *f)
{
	const struct ttrpc_method *m = NULL;
	ttrpc_server *srv = sc->srv;
	void *svc_data = NULL;
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
	{
		char msg[128];
		int code = admit(srv, sc->ncalls, msg, sizeof(msg));
		if (code) {
			send_response(sc, f->hdr.stream_id, code, msg, NULL, 0);
			return;
		}
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
	{
		char msg[600];
		int code =
		    find_method(srv, req->service, req->method, &m, &svc_data, msg, sizeof(msg));
		if (code) {
			send_response(sc, f->hdr.stream_id, code, msg, NULL, 0);
			ttrpc__request__free_unpacked(req, NULL);
			return;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		send_response(sc, f->hdr.stream_id, TTRPC_RESOURCE_EXHAUSTED,
			      "out of memory for the call", NULL, 0);
		ttrpc__request__free_unpacked(req, NULL);
		return;
	}
	c->srv = srv;
	c->sc = sc;
	sc->ncalls++;
	srv->ncalls++;
	c->stream_id = f->hdr.stream_id;
	c->req = req;
	c->method = req->method;
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

void ttrpc_server_conn_gone(ttrpc_server *s)
{
	s->nconns--;
	/* An fd was released: a listener parked at the fd limit may go on. */
	kc_acceptor_fds_freed();
}

static void sconn_close(ttrpc_conn *conn, void *ud)
{
	struct sconn *sc = ud;

	while (!kc_list_empty(&sc->calls)) {
		ttrpc_call *c = kc_container_of(sc->calls.next, ttrpc_call, node);
		sc->ncalls--;
		c->sc = NULL;
		call_cancel(c);
	}
	kc_list_del(&sc->node);
	ttrpc_conn_unref(conn);
	ttrpc_server_conn_gone(sc->srv);
	free(sc);
}

/* A ttrpc connection on fd (already counted in s->nconns); head: bytes
 * already read from it. On failure fd is closed and the count given back. */
static int sconn_start(ttrpc_server *s, int fd, const uint8_t *head, size_t n, kc_err **err)
{
	struct sconn *sc = xcalloc(1, sizeof(*sc));
	int r;

	sc->srv = s;
	kc_list_init(&sc->calls);
	r = ttrpc_conn_new(s->loop, fd, sconn_frame, sconn_close, sc, &sc->conn, err);
	if (r < 0) {
		close(fd);
		free(sc);
		ttrpc_server_conn_gone(s);
		return r;
	}
	ttrpc_conn_set_limits(sc->conn, &s->budget, s->lim.frame_deadline_ns);
	kc_list_add_tail(&s->conns, &sc->node);
	if (n)
		ttrpc_conn_feed(sc->conn, head, n); /* may close it */
	return 0;
}

/* ------------------------------------------------------------ telling apart */

/* A connection whose first bytes are not read yet (only with an alternative
 * transport). An idle one stays (a client may connect early and call later);
 * one that sent part of a preface has the frame deadline to send the rest. */
struct sniff {
	ttrpc_server *srv;
	int fd;
	kc_watch *watch;
	kc_timer *timer;
	kc_list node;
	size_t n;
	uint8_t head[TTRPC_PREFACE_MAX];
};

static int sniff_steal(struct sniff *sn)
{
	int fd = sn->fd;
	kc_list_del(&sn->node);
	kc_watch_free(sn->watch);
	kc_timer_cancel(sn->timer);
	free(sn);
	return fd;
}

static void sniff_drop(struct sniff *sn)
{
	ttrpc_server *s = sn->srv;
	close(sniff_steal(sn));
	ttrpc_server_conn_gone(s);
}

static void sniff_expired(kc_timer *t, void *ud)
{
	struct sniff *sn = ud;
	(void)t;
	sn->timer = NULL;
	sniff_drop(sn);
}

static void sniff_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct sniff *sn = ud;
	ttrpc_server *s = sn->srv;
	const struct ttrpc_alt_proto *p = s->alt;
	uint8_t head[TTRPC_PREFACE_MAX];
	_cleanup_err_ kc_err *err = NULL;
	ssize_t r;
	size_t n;
	(void)w;
	(void)events;

	/* Never more than the preface: what follows is the protocol's own. */
	r = read(fd, sn->head + sn->n, p->preface_len - sn->n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		sniff_drop(sn);
		return;
	}
	sn->n += (size_t)r;
	n = sn->n;
	memcpy(head, sn->head, n);
	if (memcmp(head, p->preface, n)) {
		(void)sconn_start(s, sniff_steal(sn), head, n, &err);
	} else if (n == p->preface_len) {
		if (p->serve(s->alt_ud, sniff_steal(sn), head, n, &err) < 0) {
			log_debug("%s", kc_err_msg(err));
			ttrpc_server_conn_gone(s);
		}
	} else if (!sn->timer) {
		sn->timer = kc_timer_after(s->loop, s->lim.frame_deadline_ns, sniff_expired, sn);
	}
}

static int sniff_start(ttrpc_server *s, int fd, kc_err **err)
{
	struct sniff *sn = xcalloc(1, sizeof(*sn));

	sn->srv = s;
	sn->fd = fd;
	kc_set_nonblock(fd, true);
	if (kc_loop_watch(s->loop, fd, EPOLLIN | EPOLLRDHUP, sniff_io, sn, &sn->watch, err) < 0) {
		free(sn);
		close(fd);
		ttrpc_server_conn_gone(s);
		return kc_err_retp(err);
	}
	kc_list_add_tail(&s->sniffs, &sn->node);
	return 0;
}

void ttrpc_server_set_alt(ttrpc_server *s, const struct ttrpc_alt_proto *p, void *ud)
{
	s->alt = p;
	s->alt_ud = ud;
}

/* ------------------------------------------------------------ serving */

int ttrpc_server_serve_fd(ttrpc_server *s, int fd, kc_err **err)
{
	if (s->nconns >= s->lim.max_conns) {
		close(fd);
		return kc_err_set(err, EMFILE, "ttrpc: %zu connections already open",
				  s->lim.max_conns);
	}
	s->nconns++;
	if (s->alt)
		return sniff_start(s, fd, err);
	return sconn_start(s, fd, NULL, 0, err);
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
	if (s->alt)
		s->alt->free(s->alt_ud);
	while (!kc_list_empty(&s->sniffs))
		sniff_drop(kc_container_of(s->sniffs.next, struct sniff, node));
	while (!kc_list_empty(&s->conns)) {
		struct sconn *sc = kc_container_of(s->conns.next, struct sconn, node);
		ttrpc_conn_close(sc->conn);
	}
	free(s->regs);
	free(s);
}

/* ------------------------------------------------------------ other transports */

kc_loop *ttrpc_server_loop(const ttrpc_server *s)
{
	return s->loop;
}

const struct ttrpc_limits *ttrpc_server_limits(const ttrpc_server *s)
{
	return &s->lim;
}

struct ttrpc_budget *ttrpc_server_budget(ttrpc_server *s)
{
	return &s->budget;
}

int ttrpc_server_call_new(ttrpc_server *s, size_t conn_calls, const char *service,
			  const char *method, uint64_t deadline, const struct ttrpc_transport *t,
			  void *tp, ttrpc_call **ret, char *msg, size_t msglen)
{
	const struct ttrpc_method *m = NULL;
	void *svc_data = NULL;
	ttrpc_call *c;
	int code;

	code = admit(s, conn_calls, msg, msglen);
	if (!code)
		code = find_method(s, service, method, &m, &svc_data, msg, msglen);
	if (code)
		return code;
	if (m->flags & TTRPC_METHOD_STREAMING) {
		snprintf(msg, msglen, "%.256s/%.256s: streaming methods are served over ttrpc only",
			 service, method);
		return TTRPC_UNIMPLEMENTED;
	}
	if (deadline != UINT64_MAX && deadline <= kc_now_ns()) {
		snprintf(msg, msglen, "deadline exceeded");
		return TTRPC_DEADLINE_EXCEEDED;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(msg, msglen, "out of memory for the call");
		return TTRPC_RESOURCE_EXHAUSTED;
	}
	c->srv = s;
	c->tp_ops = t;
	c->tp = tp;
	c->m = m;
	c->svc_data = svc_data;
	c->method = method;
	c->deadline = deadline;
	c->remote_closed = true;
	kc_list_init(&c->node);
	s->ncalls++;
	if (deadline != UINT64_MAX)
		c->timer = kc_timer_at(s->loop, deadline, call_deadline, c);
	*ret = c;
	return 0;
}

void ttrpc_server_call_run(ttrpc_call *c, const uint8_t *payload, size_t len)
{
	c->m->fn(c, payload, len, c->svc_data);
}
