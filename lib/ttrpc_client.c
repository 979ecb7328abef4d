/* SPDX-License-Identifier: Apache-2.0 */
#include "ttrpc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "google/rpc/status.pb-c.h"
#include "ttrpc/request.pb-c.h"
#include "ttrpc_conn.h"

struct pending {
	kc_list node;
	uint32_t id;
	ttrpc_client *client;
	kc_timer *timer;
	ttrpc_reply_fn cb;
	void *ud;
	/* streaming calls only */
	ttrpc_cstream *stream;
};

struct ttrpc_cstream {
	struct pending *p;
	ttrpc_cstream_data_fn on_data;
	void *ud;
	bool local_closed;
};

struct ttrpc_client {
	kc_loop *loop;
	ttrpc_conn *conn;
	uint32_t next_id;
	kc_list pending;
	Ttrpc__KeyValue **md;
	size_t n_md;
	ttrpc_client_close_fn close_cb;
	void *close_ud;
	bool closed;
};

static void pending_done(struct pending *p, int code, const char *msg, const uint8_t *payload,
			 size_t len)
{
	struct ttrpc_status st = {.code = code, .message = msg ? msg : ""};
	ttrpc_reply_fn cb = p->cb;
	void *ud = p->ud;
	ttrpc_cstream *s = p->stream;

	kc_list_del(&p->node);
	kc_timer_cancel(p->timer);
	if (s)
		s->p = NULL;
	free(p);
	if (cb)
		cb(ud, &st, payload, len);
	/* A stream handle is valid until its final status has been delivered. */
	free(s);
}

static struct pending *find_pending(ttrpc_client *c, uint32_t id)
{
	kc_list_for_each (n, &c->pending) {
		struct pending *p = kc_container_of(n, struct pending, node);
		if (p->id == id)
			return p;
	}
	return NULL;
}

static void client_frame(ttrpc_conn *conn, struct ttrpc_frame *f, void *ud)
{
	ttrpc_client *c = ud;
	struct pending *p = find_pending(c, f->hdr.stream_id);
	(void)conn;

	if (!p)
		goto out; /* late answer to a call that timed out */
	if (f->hdr.type == TTRPC_TYPE_DATA) {
		bool closed = (f->hdr.flags & TTRPC_FLAG_REMOTE_CLOSED) != 0;
		uint32_t id = f->hdr.stream_id;
		if (p->stream && p->stream->on_data)
			p->stream->on_data(p->stream, f->oversize ? NULL : f->data,
					   f->oversize ? 0 : f->hdr.len, closed, p->stream->ud);
		/* The server's end of a stream is its end (Go's ttrpc sends
		 * no response after it): the call is done, OK. */
		if (closed && p->stream && (p = find_pending(c, id)))
			pending_done(p, TTRPC_OK, NULL, NULL, 0);
		goto out;
	}
	if (f->hdr.type != TTRPC_TYPE_RESPONSE)
		goto out;
	if (f->oversize) {
		pending_done(p, TTRPC_RESOURCE_EXHAUSTED,
			     "response exceeds the 4 MiB ttrpc message limit", NULL, 0);
		goto out;
	}
	{
		Ttrpc__Response *resp = ttrpc__response__unpack(NULL, f->hdr.len, f->data);
		if (!resp) {
			pending_done(p, TTRPC_INTERNAL, "malformed ttrpc response", NULL, 0);
			goto out;
		}
		if (resp->status && resp->status->code != 0)
			pending_done(p, resp->status->code, resp->status->message, NULL, 0);
		else
			pending_done(p, TTRPC_OK, NULL, resp->payload.data, resp->payload.len);
		ttrpc__response__free_unpacked(resp, NULL);
	}
out:
	free(f->data);
}

static void fail_all(ttrpc_client *c, int code, const char *msg)
{
	while (!kc_list_empty(&c->pending)) {
		struct pending *p = kc_container_of(c->pending.next, struct pending, node);
		pending_done(p, code, msg, NULL, 0);
	}
}

static void client_close(ttrpc_conn *conn, void *ud)
{
	ttrpc_client *c = ud;
	(void)conn;

	c->closed = true;
	fail_all(c, TTRPC_UNAVAILABLE, "ttrpc: connection closed");
	if (c->close_cb)
		c->close_cb(c, c->close_ud);
}

int ttrpc_client_new(kc_loop *loop, int fd, ttrpc_client **ret, kc_err **err)
{
	ttrpc_client *c = xcalloc(1, sizeof(*c));
	int r;

	c->loop = loop;
	c->next_id = 1;
	kc_list_init(&c->pending);
	r = ttrpc_conn_new(loop, fd, client_frame, client_close, c, &c->conn, err);
	if (r < 0) {
		close(fd);
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void ttrpc_client_set_close_cb(ttrpc_client *c, ttrpc_client_close_fn fn, void *ud)
{
	c->close_cb = fn;
	c->close_ud = ud;
}

bool ttrpc_client_closed(const ttrpc_client *c)
{
	return c->closed;
}

void ttrpc_client_set_metadata(ttrpc_client *c, const char *key, const char *value)
{
	Ttrpc__KeyValue *kv;

	for (size_t i = 0; i < c->n_md; i++)
		if (!strcmp(c->md[i]->key, key)) {
			free(c->md[i]->value);
			c->md[i]->value = xstrdup(value);
			return;
		}
	kv = xmalloc(sizeof(*kv));
	ttrpc__key_value__init(kv);
	kv->key = xstrdup(key);
	kv->value = xstrdup(value);
	c->md = xrealloc(c->md, (c->n_md + 1) * sizeof(*c->md));
	c->md[c->n_md++] = kv;
}

void ttrpc_client_free(ttrpc_client *c)
{
	if (!c)
		return;
	c->close_cb = NULL;
	fail_all(c, TTRPC_CANCELLED, "ttrpc: client closed");
	if (!c->closed) {
		c->conn->on_close = NULL;
		ttrpc_conn_close(c->conn);
	}
	ttrpc_conn_unref(c->conn);
	for (size_t i = 0; i < c->n_md; i++) {
		free(c->md[i]->key);
		free(c->md[i]->value);
		free(c->md[i]);
	}
	free(c->md);
	free(c);
}

static void pending_deadline(kc_timer *t, void *data)
{
	struct pending *p = data;
	(void)t;
	p->timer = NULL;
	pending_done(p, TTRPC_DEADLINE_EXCEEDED, "ttrpc: deadline exceeded", NULL, 0);
}

static int start_call(ttrpc_client *c, const char *service, const char *method, const uint8_t *req,
		      size_t req_len, uint64_t timeout_ns, uint8_t flags, ttrpc_reply_fn cb,
		      void *ud, struct pending **ret, kc_err **err)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	_cleanup_free_ uint8_t *buf = NULL;
	struct pending *p;
	size_t n;
	int rc;

	if (c->closed)
		return kc_err_set(err, EPIPE, "%s/%s: ttrpc connection closed", service, method);
	r.service = (char *)service;
	r.method = (char *)method;
	r.payload.data = (uint8_t *)req;
	r.payload.len = req_len;
	r.timeout_nano = timeout_ns > INT64_MAX ? 0 : (int64_t)timeout_ns;
	r.metadata = c->md;
	r.n_metadata = c->n_md;
	n = ttrpc__request__get_packed_size(&r);
	if (n > TTRPC_MAX_DATA)
		return kc_err_set(err, EMSGSIZE, "%s/%s: request of %zu bytes exceeds 4 MiB",
				  service, method, n);
	buf = xmalloc(n);
	ttrpc__request__pack(&r, buf);

	p = xcalloc(1, sizeof(*p));
	p->id = c->next_id;
	c->next_id += 2;
	if (c->next_id > 0x7fffffff) /* wrap, keeping ids odd */
		c->next_id = 1;
	p->client = c;
	p->cb = cb;
	p->ud = ud;
	kc_list_add_tail(&c->pending, &p->node);
	if (timeout_ns)
		p->timer = kc_timer_after(c->loop, timeout_ns, pending_deadline, p);
	rc = ttrpc_conn_send(c->conn, p->id, TTRPC_TYPE_REQUEST, flags, buf, n);
	if (rc < 0) {
		/* The close callback already failed this call if the conn died. */
		if (kc_list_linked(&p->node)) {
			p->cb = NULL;
			pending_done(p, TTRPC_UNAVAILABLE, NULL, NULL, 0);
		}
		errno = -rc;
		return kc_err_sys(err, "%s/%s: send", service, method);
	}
	if (ret)
		*ret = p;
	return 0;
}

int ttrpc_client_call_raw(ttrpc_client *c, const char *service, const char *method,
			  const uint8_t *req, size_t req_len, uint64_t timeout_ns,
			  ttrpc_reply_fn cb, void *ud, kc_err **err)
{
	return start_call(c, service, method, req, req_len, timeout_ns, 0, cb, ud, NULL, err);
}

int ttrpc_client_call(ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, uint64_t timeout_ns, ttrpc_reply_fn cb, void *ud,
		      kc_err **err)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = req ? kc_pb_pack(req, &len) : NULL;
	return ttrpc_client_call_raw(c, service, method, buf, len, timeout_ns, cb, ud, err);
}

struct sync_state {
	bool done;
	int code;
	char *msg;
	uint8_t *payload;
	size_t len;
};

static void sync_cb(void *ud, const struct ttrpc_status *st, const uint8_t *payload, size_t len)
{
	struct sync_state *s = ud;
	s->done = true;
	s->code = st->code;
	s->msg = xstrdup(st->message);
	if (len) {
		s->payload = xmalloc(len);
		memcpy(s->payload, payload, len);
	}
	s->len = len;
}

int ttrpc_client_call_sync(ttrpc_client *c, const char *service, const char *method,
			   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
			   uint64_t timeout_ns, ProtobufCMessage **resp, kc_err **err)
{
	struct sync_state s = {0};
	int r;

	r = ttrpc_client_call(c, service, method, req, timeout_ns, sync_cb, &s, err);
	if (r < 0)
		return r;
	while (!s.done) {
		r = kc_loop_iterate(c->loop, UINT64_MAX, err);
		if (r < 0)
			goto out;
	}
	if (s.code != TTRPC_OK) {
		r = kc_err_set(err, ttrpc_errno_from_code(s.code), "%s/%s: %s: %s", service, method,
			       ttrpc_code_name(s.code), s.msg);
		goto out;
	}
	if (resp_desc && resp)
		r = kc_pb_unpack(resp_desc, s.payload, s.len, resp, err);
	else
		r = 0;
out:
	if (!s.done) {
		/* The loop failed under us: make the pending callback harmless. */
		struct pending *p = NULL;
		kc_list_for_each (n, &c->pending) {
			struct pending *q = kc_container_of(n, struct pending, node);
			if (q->ud == &s)
				p = q;
		}
		if (p) {
			p->cb = NULL;
			pending_done(p, TTRPC_CANCELLED, NULL, NULL, 0);
		}
	}
	free(s.msg);
	free(s.payload);
	return r;
}

int ttrpc_client_stream(ttrpc_client *c, const char *service, const char *method,
			const ProtobufCMessage *req, bool client_streams,
			ttrpc_cstream_data_fn on_data, ttrpc_reply_fn on_done, void *ud,
			ttrpc_cstream **ret, kc_err **err)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = req ? kc_pb_pack(req, &len) : NULL;
	ttrpc_cstream *s = xcalloc(1, sizeof(*s));
	uint8_t flags = client_streams ? TTRPC_FLAG_REMOTE_OPEN : TTRPC_FLAG_REMOTE_CLOSED;
	struct pending *p;
	int r;

	s->on_data = on_data;
	s->ud = ud;
	s->local_closed = !client_streams;
	r = start_call(c, service, method, buf, len, 0, flags, on_done, ud, &p, err);
	if (r < 0) {
		free(s);
		return r;
	}
	p->stream = s;
	s->p = p;
	*ret = s;
	return 0;
}

int ttrpc_cstream_send(ttrpc_cstream *s, const ProtobufCMessage *msg, bool close)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = msg ? kc_pb_pack(msg, &len) : NULL;
	uint8_t flags = close ? TTRPC_FLAG_REMOTE_CLOSED : 0;

	if (!s->p || s->local_closed)
		return -EPIPE;
	if (!len)
		flags |= TTRPC_FLAG_NO_DATA;
	if (close)
		s->local_closed = true;
	return ttrpc_conn_send(s->p->client->conn, s->p->id, TTRPC_TYPE_DATA, flags, buf, len);
}

int ttrpc_cstream_close_send(ttrpc_cstream *s)
{
	return ttrpc_cstream_send(s, NULL, true);
}
