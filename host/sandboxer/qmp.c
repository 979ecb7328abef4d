/* SPDX-License-Identifier: Apache-2.0 */
#include "qmp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* QEMU's answers here are small; a line this long is not one of them. */
#define QMP_MAX_LINE     (1u << 20)
#define GATE_INTERVAL_NS (10 * KC_NSEC_PER_MSEC)
#define GATE_SETTLE_NS   (50 * KC_NSEC_PER_MSEC)
#define DRIVER_OK_PREFIX "VIRTIO_CONFIG_S_DRIVER_OK"

struct pending {
	kc_list node;
	char *cmd;
	sbx_qmp_fn cb;
	void *ud;
};

struct sbx_qmp {
	kc_loop *loop;
	int fd;
	kc_watch *watch;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len;
	kc_list pending;
	unsigned depth; /* callbacks running: free is deferred */
	bool dead;
	bool broken;
	/* the gate */
	sbx_qmp_done_fn gate_cb;
	void *gate_ud;
	char *gate_substr, *gate_path;
	kc_timer *gate_poll, *gate_expire, *gate_settle;
	sbx_qmp_event_fn ev_fn;
	void *ev_ud;
};

static void really_free(sbx_qmp *q)
{
	while (!kc_list_empty(&q->pending)) {
		struct pending *p = kc_container_of(q->pending.next, struct pending, node);
		kc_list_del(&p->node);
		free(p->cmd);
		free(p);
	}
	free(q->in);
	free(q->out);
	free(q->gate_substr);
	free(q->gate_path);
	free(q);
}

static void gate_timers_cancel(sbx_qmp *q)
{
	kc_timer_cancel(q->gate_poll);
	kc_timer_cancel(q->gate_expire);
	kc_timer_cancel(q->gate_settle);
	q->gate_poll = q->gate_expire = q->gate_settle = NULL;
}

void sbx_qmp_free(sbx_qmp *q)
{
	if (!q || q->dead)
		return;
	q->dead = true;
	gate_timers_cancel(q);
	q->gate_cb = NULL;
	kc_watch_free(q->watch);
	q->watch = NULL;
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	if (!q->depth)
		really_free(q);
}

static void leave(sbx_qmp *q)
{
	if (--q->depth == 0 && q->dead)
		really_free(q);
}

static void gate_finish(sbx_qmp *q, kc_err *err)
{
	sbx_qmp_done_fn cb = q->gate_cb;
	void *ud = q->gate_ud;

	gate_timers_cancel(q);
	q->gate_cb = NULL;
	if (cb)
		cb(err, ud);
	kc_err_free(err);
}

/* The connection failed: every pending command and the gate learn why. */
static void fail_all(sbx_qmp *q, int code, const char *why)
{
	q->broken = true;
	kc_watch_free(q->watch);
	q->watch = NULL;
	while (!kc_list_empty(&q->pending) && !q->dead) {
		struct pending *p = kc_container_of(q->pending.next, struct pending, node);
		kc_err *e = NULL;
		kc_list_del(&p->node);
		kc_err_set(&e, code, "qmp `%s`: %s", p->cmd, why);
		p->cb(q, NULL, e, p->ud);
		kc_err_free(e);
		free(p->cmd);
		free(p);
	}
	if (!q->dead && q->gate_cb) {
		kc_err *e = NULL;
		kc_err_set(&e, code, "qmp: %s", why);
		gate_finish(q, e);
	}
	if (!q->dead && q->ev_fn)
		q->ev_fn(q, NULL, NULL, q->ev_ud);
}

void sbx_qmp_on_event(sbx_qmp *q, sbx_qmp_event_fn fn, void *ud)
{
	q->ev_fn = fn;
	q->ev_ud = ud;
}

bool sbx_qmp_closed(const sbx_qmp *q)
{
	return q->broken;
}

static int flush_out(sbx_qmp *q)
{
	while (q->out_len > 0) {
		ssize_t n = send(q->fd, q->out, q->out_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		memmove(q->out, q->out + n, q->out_len - (size_t)n);
		q->out_len -= (size_t)n;
	}
	if (q->watch)
		kc_watch_set_events(q->watch, EPOLLIN | (q->out_len ? EPOLLOUT : 0));
	return 0;
}

static void handle_line(sbx_qmp *q, const char *line, size_t len)
{
	json_t *j = json_loadb(line, len, 0, NULL);
	json_t *ret, *error;
	struct pending *p;

	if (!j)
		return;
	ret = json_object_get(j, "return");
	error = json_object_get(j, "error");
	if (json_is_string(json_object_get(j, "event"))) {
		if (q->ev_fn)
			q->ev_fn(q, json_string_value(json_object_get(j, "event")),
				 json_object_get(j, "data"), q->ev_ud);
		json_decref(j);
		return;
	}
	/* The greeting ("QMP") answers no command. */
	if ((!ret && !error) || kc_list_empty(&q->pending)) {
		json_decref(j);
		return;
	}
	p = kc_container_of(q->pending.next, struct pending, node);
	kc_list_del(&p->node);
	if (error) {
		const char *desc = json_string_value(json_object_get(error, "desc"));
		kc_err *e = NULL;
		kc_err_set(&e, EPROTO, "qmp `%s`: %s", p->cmd, desc ? desc : "error");
		p->cb(q, NULL, e, p->ud);
		kc_err_free(e);
	} else {
		p->cb(q, ret, NULL, p->ud);
	}
	free(p->cmd);
	free(p);
	json_decref(j);
}

static void on_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	sbx_qmp *q = ud;
	(void)w;

	q->depth++;
	if ((events & EPOLLOUT) && flush_out(q) < 0) {
		fail_all(q, ECONNRESET, "write failed");
		goto out;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		goto out;
	for (;;) {
		ssize_t n;
		char *nl;

		if (q->in_cap - q->in_len < 4096) {
			if (q->in_cap >= QMP_MAX_LINE) {
				fail_all(q, EPROTO, "answer line too long");
				goto out;
			}
			q->in_cap = q->in_cap ? q->in_cap * 2 : 8192;
			q->in = xrealloc(q->in, q->in_cap);
		}
		n = read(fd, q->in + q->in_len, q->in_cap - q->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			fail_all(q, ECONNRESET,
				 n == 0 ? "QEMU closed the socket" : strerror(errno));
			goto out;
		}
		q->in_len += (size_t)n;
		while (!q->dead && (nl = memchr(q->in, '\n', q->in_len))) {
			size_t len = (size_t)(nl - q->in) + 1;
			handle_line(q, q->in, len);
			if (q->dead)
				break;
			memmove(q->in, q->in + len, q->in_len - len);
			q->in_len -= len;
		}
		if (q->dead)
			break;
	}
out:
	leave(q);
}

void sbx_qmp_exec(sbx_qmp *q, const char *cmd, json_t *args, sbx_qmp_fn cb, void *ud)
{
	json_t *j = json_pack("{s:s}", "execute", cmd);
	struct pending *p = xcalloc(1, sizeof(*p));
	char *txt;
	size_t len;

	if (args)
		json_object_set_new(j, "arguments", args);
	txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!txt)
		abort();
	len = strlen(txt);
	q->out = xrealloc(q->out, q->out_len + len + 1);
	memcpy(q->out + q->out_len, txt, len);
	q->out[q->out_len + len] = '\n';
	q->out_len += len + 1;
	free(txt);
	p->cmd = xstrdup(cmd);
	p->cb = cb;
	p->ud = ud;
	kc_list_add_tail(&q->pending, &p->node);
	/* Failures surface from the loop (EPOLLOUT/EPOLLERR), never here. */
	if (!q->broken && q->watch)
		kc_watch_set_events(q->watch, EPOLLIN | EPOLLOUT);
}

static void caps_done(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	(void)q;
	(void)ret;
	(void)err;
	(void)ud;
	/* A failure here fails the commands queued after it as well. */
}

int sbx_qmp_open(kc_loop *loop, const char *path, sbx_qmp **ret, kc_err **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	sbx_qmp *q;

	if (strlen(path) >= sizeof(sa.sun_path))
		return kc_err_set(err, ENAMETOOLONG, "qmp socket `%s`: path too long", path);
	strcpy(sa.sun_path, path);
	q = xcalloc(1, sizeof(*q));
	q->loop = loop;
	kc_list_init(&q->pending);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0) {
		free(q);
		return kc_err_sys(err, "qmp: socket");
	}
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int r = kc_err_sys(err, "qmp: connect `%s`", path);
		close(q->fd);
		free(q);
		return r;
	}
	if (kc_loop_watch(loop, q->fd, EPOLLIN | EPOLLOUT, on_io, q, &q->watch, err) < 0) {
		close(q->fd);
		free(q);
		return kc_err_retp(err);
	}
	sbx_qmp_exec(q, "qmp_capabilities", NULL, caps_done, NULL);
	*ret = q;
	return 0;
}

/* ------------------------------------------------------------------ gate */

static void gate_query(sbx_qmp *q);

static void on_gate_settled(kc_timer *t, void *ud)
{
	sbx_qmp *q = ud;
	(void)t;
	q->gate_settle = NULL;
	gate_finish(q, NULL);
}

static void on_gate_poll(kc_timer *t, void *ud)
{
	sbx_qmp *q = ud;
	(void)t;
	q->gate_poll = NULL;
	gate_query(q);
}

static void on_gate_expire(kc_timer *t, void *ud)
{
	sbx_qmp *q = ud;
	kc_err *e = NULL;
	(void)t;
	q->gate_expire = NULL;
	kc_err_set(&e, ETIMEDOUT, "the guest's %s driver did not get ready (no DRIVER_OK)",
		   q->gate_substr);
	gate_finish(q, e);
}

static bool has_driver_ok(json_t *ret)
{
	json_t *st = json_object_get(json_object_get(ret, "status"), "statuses");
	json_t *v;
	size_t i;

	json_array_foreach(st, i, v)
	{
		const char *s = json_string_value(v);
		if (s && kc_has_prefix(s, DRIVER_OK_PREFIX))
			return true;
	}
	return false;
}

static void on_gate_status(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	(void)ud;
	if (!q->gate_cb)
		return;
	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		gate_finish(q, e);
		return;
	}
	if (has_driver_ok(ret))
		q->gate_settle = kc_timer_after(q->loop, GATE_SETTLE_NS, on_gate_settled, q);
	else
		q->gate_poll = kc_timer_after(q->loop, GATE_INTERVAL_NS, on_gate_poll, q);
}

static void gate_query(sbx_qmp *q)
{
	sbx_qmp_exec(q, "x-query-virtio-status", json_pack("{s:s}", "path", q->gate_path),
		     on_gate_status, NULL);
}

static void on_gate_list(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	json_t *v;
	size_t i;
	(void)ud;

	if (!q->gate_cb)
		return;
	if (err) {
		kc_err *e = NULL;
		kc_err_set(&e, err->code, "%s", kc_err_msg(err));
		gate_finish(q, e);
		return;
	}
	json_array_foreach(ret, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *path = json_string_value(json_object_get(v, "path"));
		if (name && path && strstr(name, q->gate_substr)) {
			q->gate_path = xstrdup(path);
			gate_query(q);
			return;
		}
	}
	{
		kc_err *e = NULL;
		kc_err_set(&e, ENODEV, "qmp: the VM has no %s device", q->gate_substr);
		gate_finish(q, e);
	}
}

void sbx_qmp_wait_driver_ok(sbx_qmp *q, const char *dev_substr, uint64_t deadline_ns,
			    sbx_qmp_done_fn cb, void *ud)
{
	q->gate_cb = cb;
	q->gate_ud = ud;
	free(q->gate_substr);
	q->gate_substr = xstrdup(dev_substr);
	q->gate_expire = kc_timer_at(q->loop, deadline_ns, on_gate_expire, q);
	sbx_qmp_exec(q, "x-query-virtio", NULL, on_gate_list, NULL);
}
