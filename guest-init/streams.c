/* SPDX-License-Identifier: Apache-2.0 */
#include "streams.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/services/streaming/v1/streaming.pb-c.h"
#include "containerd/types/transfer/data.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "agent.h"
#include "log.h"
#include "util.h"

#define T_INIT   "containerd.services.streaming.v1.StreamInit"
#define T_DATA   "containerd.types.transfer.Data"
#define T_WINDOW "containerd.types.transfer.WindowUpdate"
#define T_EMPTY  "google.protobuf.Empty"
/* A grant beyond this is a confused client: the window is bytes in flight. */
#define WINDOW_MAX (1 << 30)
/* A stream whose call went away and whose process has finished waits this
 * long for containerd to open it again (after its restart), then goes. */
#define HOLD_NS (60 * KC_NSEC_PER_SEC)

struct sstream {
	kc_list node;
	kc_loop *loop;
	char *id;
	struct scall *sc; /* the attached Stream call, or NULL (held for a re-open) */
	int fd;           /* our end of the socketpair */
	int peer;         /* the process side, until claimed */
	kc_watch *w;
	kc_timer *kick;   /* output: send now (from the loop, not from a callback) */
	kc_timer *expire; /* held, its process done: the re-open deadline */
	kc_sclaim *claim;
	bool claimed, output;
	int64_t window; /* output: bytes the client lets us send */
	/* output: read from the process, not yet sent (the call went away) */
	uint8_t *pend;
	size_t pend_len;
	/* input: received, not yet written to the process */
	uint8_t in[KC_STREAM_WINDOW];
	size_t in_len;
	size_t granted; /* input: granted and not yet received */
	bool in_eof;
};

/* One Stream call, before and after its StreamInit. */
struct scall {
	ttrpc_call *call;
	struct sstream *s;
};

struct kc_sclaim {
	kc_list node; /* in waiting, until the stream is there */
	kc_loop *loop;
	char *id;
	bool output;
	struct sstream *s;
	kc_timer *deliver;
	kc_sclaim_fn fn;
	void *ud;
};

static kc_list streams = KC_LIST_INIT(streams);
static kc_list waiting = KC_LIST_INIT(waiting);
static size_t n_streams;

static void update(struct sstream *s);
static void pump_output(struct sstream *s);

static void on_kick(kc_timer *t, void *ud)
{
	struct sstream *s = ud;
	(void)t;
	s->kick = NULL;
	pump_output(s);
}

/* Output may move (a grant, a new stream): try from the loop. */
static void kick(struct sstream *s)
{
	if (!s->kick && s->claimed && s->output)
		s->kick = kc_timer_after(s->loop, 0, on_kick, s);
}

size_t kc_streams_count(void)
{
	return n_streams;
}

static struct sstream *find(const char *id)
{
	kc_list_for_each (n, &streams) {
		struct sstream *s = kc_container_of(n, struct sstream, node);
		if (!strcmp(s->id, id))
			return s;
	}
	return NULL;
}

static int send_any(struct scall *sc, const char *type, const ProtobufCMessage *m)
{
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	if (m)
		buf = kc_pb_pack(m, &len);
	any.type_url = (char *)type;
	any.value.data = buf;
	any.value.len = len;
	return ttrpc_call_send(sc->call, &any.base, false);
}

static void detach(struct sstream *s)
{
	if (s->sc)
		s->sc->s = NULL;
	s->sc = NULL;
}

/* The end: the call (if any) is answered with status, the bridge freed. */
static void stream_free(struct sstream *s, int code, const char *msg)
{
	if (s->sc) {
		ttrpc_call *c = s->sc->call;
		struct scall *sc = s->sc;
		detach(s);
		free(sc);
		ttrpc_call_set_cancel(c, NULL, NULL);
		ttrpc_call_set_stream(c, NULL, NULL);
		if (code == TTRPC_OK)
			ttrpc_call_reply_raw(c, NULL, 0);
		else
			ttrpc_call_reply_error(c, code, "%s", msg);
	}
	if (s->claim)
		s->claim->s = NULL;
	kc_timer_cancel(s->kick);
	kc_timer_cancel(s->expire);
	kc_watch_free(s->w);
	if (s->fd >= 0)
		close(s->fd);
	if (s->peer >= 0)
		close(s->peer);
	kc_list_del(&s->node);
	n_streams--;
	free(s->pend);
	free(s->id);
	free(s);
}

/* Input: grant what the buffer can take beyond what is in flight. */
static void grant(struct sstream *s)
{
	Containerd__Types__Transfer__WindowUpdate wu =
	    CONTAINERD__TYPES__TRANSFER__WINDOW_UPDATE__INIT;
	size_t room = sizeof(s->in) - s->in_len - s->granted;

	/* In big steps: one update per half window, not per write. */
	if (!s->sc || s->in_eof || room < sizeof(s->in) / 2)
		return;
	wu.update = (int32_t)room;
	if (send_any(s->sc, T_WINDOW, &wu.base) == 0)
		s->granted += room;
}

static void pump_input(struct sstream *s)
{
	while (s->in_len) {
		ssize_t n = send(s->fd, s->in, s->in_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* The process side is gone: its stdin needs no more. */
			s->in_len = 0;
			s->in_eof = true;
			break;
		}
		memmove(s->in, s->in + n, s->in_len - (size_t)n);
		s->in_len -= (size_t)n;
	}
	if (s->in_eof && !s->in_len)
		shutdown(s->fd, SHUT_WR);
	grant(s);
}

/* One Data; false when the connection is gone (the bytes are not sent). */
static bool send_chunk(struct sstream *s, const uint8_t *p, size_t n)
{
	Containerd__Types__Transfer__Data d = CONTAINERD__TYPES__TRANSFER__DATA__INIT;

	d.data.data = (uint8_t *)p;
	d.data.len = n;
	if (send_any(s->sc, T_DATA, &d.base) < 0)
		return false;
	s->window -= (int64_t)n;
	return true;
}

/* Output: send what the window allows, the held bytes first. */
static void pump_output(struct sstream *s)
{
	uint8_t buf[KC_STREAM_CHUNK];

	while (s->pend_len && s->sc && s->window > 0) {
		size_t n = s->pend_len < (size_t)s->window ? s->pend_len : (size_t)s->window;
		if (n > KC_STREAM_CHUNK)
			n = KC_STREAM_CHUNK;
		if (!send_chunk(s, s->pend, n))
			break; /* kept, in order, for the next stream */
		memmove(s->pend, s->pend + n, s->pend_len - n);
		s->pend_len -= n;
	}
	if (!s->pend_len)
		kc_freep(&s->pend);
	while (s->sc && !s->pend_len && s->window > 0) {
		size_t want = (size_t)s->window < sizeof(buf) ? (size_t)s->window : sizeof(buf);
		ssize_t n = read(s->fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* The process side finished: so does the stream. */
			stream_free(s, TTRPC_OK, NULL);
			return;
		}
		if (!send_chunk(s, buf, (size_t)n)) {
			/* Connection gone: keep the bytes for the next stream. */
			s->pend = xrealloc(s->pend, s->pend_len + (size_t)n);
			memcpy(s->pend + s->pend_len, buf, (size_t)n);
			s->pend_len += (size_t)n;
		}
	}
	update(s);
}

static void on_expire(kc_timer *t, void *ud)
{
	struct sstream *s = ud;
	(void)t;
	s->expire = NULL;
	stream_free(s, TTRPC_OK, NULL);
}

static void on_fd(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct sstream *s = ud;
	(void)w;
	(void)fd;

	if (s->output && !s->sc) {
		/* Held with nobody reading: the process is done; what it wrote
		 * stays in the socket for a re-open, until the deadline. */
		if (!s->expire)
			s->expire = kc_timer_after(s->loop, HOLD_NS, on_expire, s);
		update(s);
		return;
	}
	if (s->output) {
		pump_output(s);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		char drop[256];
		ssize_t n = read(s->fd, drop, sizeof(drop));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			/* The process's stdin was closed: nothing more to carry. */
			stream_free(s, TTRPC_OK, NULL);
			return;
		}
	}
	pump_input(s);
	update(s);
}

static void update(struct sstream *s)
{
	uint32_t ev = 0;

	if (!s->claimed)
		return;
	if (s->output && !s->sc)
		ev = s->expire ? 0 : EPOLLRDHUP;
	else if (s->output)
		ev = !s->pend_len && s->window > 0 ? EPOLLIN : 0;
	else
		ev = EPOLLIN | (s->in_len ? EPOLLOUT : 0);
	if (!s->w) {
		if (ev && kc_loop_watch(s->loop, s->fd, ev, on_fd, s, &s->w, NULL) < 0)
			s->w = NULL;
		return;
	}
	kc_watch_set_events(s->w, ev);
}

/* ------------------------------------------------------------------ claims */

static void on_deliver(kc_timer *t, void *ud)
{
	kc_sclaim *c = ud;
	struct sstream *s = c->s;
	int fd;
	(void)t;

	c->deliver = NULL;
	if (!s)
		return; /* the stream ended meanwhile */
	fd = steal_fd(&s->peer);
	s->claimed = true;
	s->output = c->output;
	s->claim = NULL;
	c->s = NULL;
	if (!s->output)
		grant(s);
	update(s);
	kick(s);
	c->fn(fd, c->ud);
	free(c->id);
	free(c);
}

/* The claim still waiting for stream id, or NULL. */
static kc_sclaim *find_waiting(const char *id)
{
	kc_list_for_each (n, &waiting) {
		kc_sclaim *c = kc_container_of(n, kc_sclaim, node);
		if (!strcmp(c->id, id))
			return c;
	}
	return NULL;
}

static void match(kc_sclaim *c, struct sstream *s)
{
	kc_list_del(&c->node);
	c->s = s;
	s->claim = c;
	c->deliver = kc_timer_after(c->loop, 0, on_deliver, c);
}

char *kc_streams_id_of(const char *uri)
{
	const char *p = uri ? strstr(uri, "streaming_id=") : NULL;
	size_t n;

	if (!p)
		return NULL;
	p += strlen("streaming_id=");
	n = strcspn(p, "&");
	return xstrndup(p, n);
}

kc_sclaim *kc_streams_claim(kc_loop *loop, const char *id, bool output, kc_sclaim_fn fn, void *ud,
			    kc_err **err)
{
	struct sstream *s = find(id);
	kc_sclaim *c;

	if (!*id || strlen(id) > KC_STREAM_ID_MAX) {
		kc_err_set(err, EINVAL, "stream id `%.64s`: 1 to %d bytes", id, KC_STREAM_ID_MAX);
		return NULL;
	}
	if (s ? s->claimed || s->claim : find_waiting(id) != NULL) {
		kc_err_set(err, EBUSY, "stream `%.64s` is already used by another process", id);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->id = xstrdup(id);
	c->output = output;
	c->fn = fn;
	c->ud = ud;
	kc_list_init(&c->node);
	if (s)
		match(c, s);
	else
		kc_list_add_tail(&waiting, &c->node);
	return c;
}

void kc_sclaim_cancel(kc_sclaim *c)
{
	if (!c)
		return;
	kc_list_del(&c->node);
	kc_timer_cancel(c->deliver);
	if (c->s)
		c->s->claim = NULL;
	free(c->id);
	free(c);
}

void kc_streams_fini(void)
{
	while (!kc_list_empty(&streams))
		stream_free(kc_container_of(streams.next, struct sstream, node), TTRPC_CANCELLED,
			    "the agent is exiting");
	/* Claims belong to their processes' stdio, which cancels them. */
}

/* ------------------------------------------------------------------ the service */

static void call_gone(ttrpc_call *call, void *data)
{
	struct scall *sc = data;
	struct sstream *s = sc->s;
	(void)call;

	free(sc);
	if (!s)
		return;
	s->sc = NULL;
	/* The next stream starts from its own grants. */
	s->granted = 0;
	s->window = 0;
	/* Unclaimed: nobody will miss it. Claimed: held for a re-open. */
	if (!s->claimed && !s->claim)
		stream_free(s, TTRPC_OK, NULL);
	else
		update(s);
}

static int on_init(struct scall *sc, const uint8_t *v, size_t n, kc_err **err)
{
	Containerd__Services__Streaming__V1__StreamInit *init =
	    containerd__services__streaming__v1__stream_init__unpack(NULL, n, v);
	struct sstream *s;
	int sp[2];

	if (!init || !init->id || !*init->id || strlen(init->id) > KC_STREAM_ID_MAX) {
		containerd__services__streaming__v1__stream_init__free_unpacked(init, NULL);
		return kc_err_set(err, EINVAL, "StreamInit needs an id of 1 to %d bytes",
				  KC_STREAM_ID_MAX);
	}
	s = find(init->id);
	if (s && s->sc) {
		/* A re-open while the old call looks alive: the newest wins. */
		struct scall *old = s->sc;
		ttrpc_call *oc = old->call;
		detach(s);
		free(old);
		ttrpc_call_set_cancel(oc, NULL, NULL);
		ttrpc_call_set_stream(oc, NULL, NULL);
		ttrpc_call_reply_error(oc, TTRPC_ABORTED, "stream %s was opened again", init->id);
	}
	if (!s) {
		if (n_streams >= KC_STREAMS_MAX) {
			containerd__services__streaming__v1__stream_init__free_unpacked(init, NULL);
			return kc_err_set(err, EMFILE, "more than %d streams", KC_STREAMS_MAX);
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
			containerd__services__streaming__v1__stream_init__free_unpacked(init, NULL);
			return kc_err_sys(err, "socketpair");
		}
		s = xcalloc(1, sizeof(*s));
		s->loop = kc_agent->loop;
		s->id = xstrdup(init->id);
		s->fd = sp[0];
		s->peer = sp[1];
		kc_list_add_tail(&streams, &s->node);
		n_streams++;
	}
	containerd__services__streaming__v1__stream_init__free_unpacked(init, NULL);
	sc->s = s;
	s->sc = sc;
	kc_timer_cancel(s->expire);
	s->expire = NULL;
	/* containerd waits for one message of any type before going on. */
	if (send_any(sc, T_EMPTY, NULL) < 0)
		return kc_err_set(err, EPIPE, "stream %s: connection gone", s->id);
	{
		kc_sclaim *c = find_waiting(s->id);
		if (c)
			match(c, s);
	}
	if (s->claimed && !s->output)
		grant(s);
	kick(s);
	return 0;
}

static bool is_type(const char *url, const char *name)
{
	const char *slash = url ? strrchr(url, '/') : NULL;
	return url && !strcmp(slash ? slash + 1 : url, name);
}

static int on_any(struct scall *sc, const uint8_t *p, size_t n, kc_err **err)
{
	Google__Protobuf__Any *a = google__protobuf__any__unpack(NULL, n, p);
	struct sstream *s = sc->s;
	int r = 0;

	if (!a)
		return kc_err_set(err, EINVAL, "malformed Any (%zu bytes)", n);
	if (!s) {
		if (is_type(a->type_url, T_INIT))
			r = on_init(sc, a->value.data, a->value.len, err);
		else
			r = kc_err_set(err, EINVAL,
				       "the first message must be StreamInit, not %.64s",
				       a->type_url ? a->type_url : "");
	} else if (is_type(a->type_url, T_WINDOW)) {
		Containerd__Types__Transfer__WindowUpdate *w =
		    containerd__types__transfer__window_update__unpack(NULL, a->value.len,
								       a->value.data);
		if (!w || w->update < 0 || s->window + w->update > WINDOW_MAX)
			r = kc_err_set(err, EINVAL, "stream %s: bad WindowUpdate", s->id);
		else
			s->window += w->update;
		containerd__types__transfer__window_update__free_unpacked(w, NULL);
		if (r == 0)
			kick(s);
	} else if (is_type(a->type_url, T_DATA)) {
		Containerd__Types__Transfer__Data *d =
		    containerd__types__transfer__data__unpack(NULL, a->value.len, a->value.data);
		if (!d)
			r = kc_err_set(err, EINVAL, "stream %s: malformed Data", s->id);
		else if (s->output || !s->claimed || d->data.len > s->granted ||
			 d->data.len > sizeof(s->in) - s->in_len)
			r = kc_err_set(err, ENOSPC, "stream %s: Data beyond the window granted",
				       s->id);
		else {
			if (d->data.len) /* an empty Data has no buffer */
				memcpy(s->in + s->in_len, d->data.data, d->data.len);
			s->in_len += d->data.len;
			s->granted -= d->data.len;
			pump_input(s);
			update(s);
		}
		containerd__types__transfer__data__free_unpacked(d, NULL);
	}
	/* Anything else is ignored, as containerd's own server does. */
	google__protobuf__any__free_unpacked(a, NULL);
	return r;
}

static void on_data(ttrpc_call *call, const uint8_t *data, size_t len, bool closed, void *ud)
{
	struct scall *sc = ud;
	_cleanup_err_ kc_err *e = NULL;
	(void)call;

	if (data && len && on_any(sc, data, len, &e) < 0) {
		if (sc->s)
			stream_free(sc->s, ttrpc_code_from_errno(e->code), e->msg);
		else {
			ttrpc_call_set_cancel(sc->call, NULL, NULL);
			ttrpc_call_set_stream(sc->call, NULL, NULL);
			ttrpc_call_reply_kc_err(sc->call, e);
			free(sc);
		}
		return;
	}
	if (closed && sc->s && !sc->s->output) {
		/* stdin's writer is done (CloseSend): EOF once the rest is in. */
		sc->s->in_eof = true;
		pump_input(sc->s);
	}
}

static void h_stream(ttrpc_call *call, const uint8_t *p, size_t n, void *ud)
{
	struct scall *sc = xcalloc(1, sizeof(*sc));
	(void)ud;

	sc->call = call;
	ttrpc_call_set_cancel(call, call_gone, sc);
	ttrpc_call_set_stream(call, on_data, sc);
	if (n)
		on_data(call, p, n, false, sc);
}

static const struct ttrpc_method methods[] = {
    {"Stream", h_stream, TTRPC_METHOD_STREAMING},
};

const struct ttrpc_service kc_streaming_service = {
    .name = "containerd.services.streaming.v1.Streaming",
    .methods = methods,
    .n_methods = KC_ARRAY_SIZE(methods),
};
