/* SPDX-License-Identifier: Apache-2.0 */
#include "qmpsync.h"

#include <errno.h>
#include <string.h>

#include "loop.h"
#include "qmp.h"
#include "util.h"

#define RETRY_NS (10 * KC_NSEC_PER_MSEC)

struct kc_qmp {
	kc_loop *loop;
	sbx_qmp *q;
	json_t *events; /* array of {"event", "data"} not yet waited for */
	bool closed;
};

struct result {
	bool done;
	json_t *ret;
	kc_err *err;
};

static void on_event(sbx_qmp *q, const char *name, json_t *data, void *ud)
{
	kc_qmp *s = ud;
	(void)q;
	if (!name) {
		s->closed = true;
		return;
	}
	json_array_append_new(
	    s->events, json_pack("{s:s,s:O}", "event", name, "data", data ? data : json_object()));
}

static void on_ret(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct result *r = ud;
	(void)q;
	r->done = true;
	if (err)
		kc_err_set(&r->err, err->code, "%s", err->msg);
	else
		r->ret = json_incref(ret);
}

static void on_done(kc_err *err, void *ud)
{
	struct result *r = ud;
	r->done = true;
	if (err)
		kc_err_set(&r->err, err->code, "%s", err->msg);
}

/* Iterate until *done or the deadline (top level: the loop is ours). */
static int run_until(kc_qmp *s, const bool *done, uint64_t deadline_ns, const char *what,
		     kc_err **err)
{
	while (!*done) {
		if (kc_now_ns() >= deadline_ns)
			return kc_err_set(err, ETIMEDOUT, "qmp: %s: deadline exceeded", what);
		if (kc_loop_iterate(s->loop, deadline_ns, err) < 0)
			return -1;
	}
	return 0;
}

json_t *kc_qmp_cmd(kc_qmp *s, const char *cmd, json_t *args, uint64_t deadline_ns, kc_err **err)
{
	struct result r = {0};

	sbx_qmp_exec(s->q, cmd, args, on_ret, &r);
	if (run_until(s, &r.done, deadline_ns, cmd, err) < 0) {
		/* r is on our stack: no callback may run after this. */
		sbx_qmp_free(s->q);
		s->q = NULL;
		s->closed = true;
		return NULL;
	}
	if (r.err) {
		if (err)
			*err = r.err;
		else
			kc_err_free(r.err);
		return NULL;
	}
	return r.ret;
}

void kc_qmp_close(kc_qmp *s)
{
	if (!s)
		return;
	sbx_qmp_free(s->q);
	/* Let the loop reap what the client freed. */
	(void)kc_loop_iterate(s->loop, 0, NULL);
	kc_loop_free(s->loop);
	json_decref(s->events);
	free(s);
}

int kc_qmp_connect(const char *sock, uint64_t deadline_ns, kc_qmp **ret, kc_err **err)
{
	kc_qmp *s = xcalloc(1, sizeof(*s));
	json_t *st;

	s->events = json_array();
	if (kc_loop_new(&s->loop, err) < 0) {
		json_decref(s->events);
		free(s);
		return -1;
	}
	for (;;) {
		kc_err *e = NULL;
		if (sbx_qmp_open(s->loop, sock, &s->q, &e) == 0)
			break;
		if ((e->code != ENOENT && e->code != ECONNREFUSED) || kc_now_ns() >= deadline_ns) {
			if (err)
				*err = e;
			else
				kc_err_free(e);
			kc_qmp_close(s);
			return -1;
		}
		kc_err_free(e);
		/* QEMU creates the socket soon after it starts: retry shortly. */
		(void)kc_loop_iterate(s->loop, kc_now_ns() + RETRY_NS, NULL);
	}
	sbx_qmp_on_event(s->q, on_event, s);
	/* Capabilities are negotiated first; an answer here proves it. */
	st = kc_qmp_cmd(s, "query-status", NULL, deadline_ns, err);
	if (!st) {
		kc_qmp_close(s);
		return -1;
	}
	json_decref(st);
	*ret = s;
	return 0;
}

json_t *kc_qmp_wait_event(kc_qmp *s, const char *name, uint64_t deadline_ns, kc_err **err)
{
	for (;;) {
		size_t i;
		json_t *ev;

		json_array_foreach(s->events, i, ev)
		{
			if (!strcmp(json_string_value(json_object_get(ev, "event")), name)) {
				json_incref(ev);
				json_array_remove(s->events, i);
				return ev;
			}
		}
		if (s->closed) {
			kc_err_set(err, ECONNRESET, "qmp: QEMU closed the socket before %s", name);
			return NULL;
		}
		if (kc_now_ns() >= deadline_ns) {
			kc_err_set(err, ETIMEDOUT, "qmp: no %s event before the deadline", name);
			return NULL;
		}
		if (kc_loop_iterate(s->loop, deadline_ns, err) < 0)
			return NULL;
	}
}

int kc_qmp_wait_vsock(kc_qmp *s, uint64_t deadline_ns, kc_err **err)
{
	struct result r = {0};

	sbx_qmp_wait_driver_ok(s->q, "vsock", deadline_ns, on_done, &r);
	/* The gate has its own deadline timer: it always finishes. */
	while (!r.done)
		if (kc_loop_iterate(s->loop, UINT64_MAX, err) < 0)
			return -1;
	if (r.err) {
		if (err)
			*err = r.err;
		else
			kc_err_free(r.err);
		return -1;
	}
	return 0;
}

int kc_qmp_wait_vsock_at(const char *sock, uint64_t deadline_ns, kc_err **err)
{
	kc_qmp *s;
	int r;

	if (kc_qmp_connect(sock, deadline_ns, &s, err) < 0)
		return -1;
	r = kc_qmp_wait_vsock(s, deadline_ns, err);
	kc_qmp_close(s);
	return r;
}
