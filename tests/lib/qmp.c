/* SPDX-License-Identifier: Apache-2.0 */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* After DRIVER_OK, before the first CONNECT (see qmp.h). */
#define QMP_SETTLE_MS 50
#define QMP_POLL_MS   5

struct kc_qmp {
	int fd;
	json_t *events; /* events not yet taken by kc_qmp_wait_event */
	size_t len;
	char buf[65536];
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The next message from QEMU that is not an event; events are queued. The
 * greeting ({"QMP": ...}) is dropped. Returns NULL with *err at EOF, on a
 * socket error or at the deadline. */
static json_t *read_msg(kc_qmp *q, bool want_event, uint64_t deadline, kc_err **err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		uint64_t now;
		ssize_t n;

		if (nl) {
			json_t *j;
			*nl = '\0';
			j = json_loads(q->buf, 0, NULL);
			q->len -= (size_t)(nl + 1 - q->buf);
			memmove(q->buf, nl + 1, q->len);
			if (j && json_object_get(j, "event")) {
				json_array_append_new(q->events, j);
				if (want_event)
					return NULL; /* the caller looks at the queue */
				continue;
			}
			if (j && (json_object_get(j, "return") || json_object_get(j, "error")))
				return j;
			json_decref(j);
			continue;
		}
		if (q->len == sizeof(q->buf))
			return kc_err_set(err, EPROTO, "qmp: line too long"), NULL;
		now = kc_now_ns();
		if (now >= deadline)
			return kc_err_set(err, ETIMEDOUT, "qmp: no answer in time"), NULL;
		if (poll(&p, 1, (int)((deadline - now) / KC_NSEC_PER_MSEC) + 1) < 0 &&
		    errno != EINTR)
			return kc_err_sys(err, "qmp: poll"), NULL;
		if (!p.revents)
			continue;
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n == 0)
			return kc_err_set(err, ECONNRESET, "qmp: QEMU closed the socket"), NULL;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return kc_err_sys(err, "qmp: read"), NULL;
		if (n > 0)
			q->len += (size_t)n;
	}
}

json_t *kc_qmp_cmd(kc_qmp *q, const char *json, uint64_t deadline_ns, kc_err **err)
{
	_cleanup_free_ char *line = xasprintf("%s\n", json);
	json_t *r, *ret;
	int w = kc_write_all(q->fd, line, strlen(line));

	if (w < 0)
		return kc_err_set(err, -w, "qmp: write: %s", strerror(-w)), NULL;
	r = read_msg(q, false, deadline_ns, err);
	if (!r)
		return NULL;
	if (json_object_get(r, "error")) {
		const char *desc =
		    json_string_value(json_object_get(json_object_get(r, "error"), "desc"));
		kc_err_set(err, EPROTO, "qmp: %s", desc ? desc : "error");
		json_decref(r);
		return NULL;
	}
	ret = json_incref(json_object_get(r, "return"));
	json_decref(r);
	return ret;
}

int kc_qmp_connect(const char *sock, uint64_t deadline_ns, kc_qmp **ret, kc_err **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	kc_qmp *q;
	json_t *r;
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return kc_err_set(err, ENAMETOOLONG, "qmp: socket path too long: %s", sock);
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kc_err_sys(err, "qmp: socket");
	/* QEMU creates the socket a moment after it starts. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if ((errno != ENOENT && errno != ECONNREFUSED) || kc_now_ns() >= deadline_ns) {
			int r2 = kc_err_sys(err, "qmp: connect %s", sock);
			close(fd);
			return r2;
		}
		sleep_ms(QMP_POLL_MS);
	}
	q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	q->events = json_array();
	/* The greeting has a "QMP" key only; the capabilities answer comes next. */
	r = kc_qmp_cmd(q, "{\"execute\":\"qmp_capabilities\"}", deadline_ns, err);
	if (!r) {
		kc_qmp_close(q);
		return err ? kc_err_retp(err) : -1;
	}
	json_decref(r);
	*ret = q;
	return 0;
}

void kc_qmp_close(kc_qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	json_decref(q->events);
	free(q);
}

json_t *kc_qmp_wait_event(kc_qmp *q, const char *name, uint64_t deadline_ns, kc_err **err)
{
	for (;;) {
		size_t i;
		json_t *ev;
		kc_err *e = NULL;

		json_array_foreach(q->events, i, ev)
		{
			const char *n = json_string_value(json_object_get(ev, "event"));
			if (n && !strcmp(n, name)) {
				json_incref(ev);
				json_array_remove(q->events, i);
				return ev;
			}
		}
		/* A reply without a command cannot come; anything else is queued. */
		json_decref(read_msg(q, true, deadline_ns, &e));
		if (e) {
			kc_err_wrap(&e, "waiting for event %s", name);
			if (err)
				*err = e;
			else
				kc_err_free(e);
			return NULL;
		}
	}
}

static bool has_driver_ok(json_t *status)
{
	json_t *st = json_object_get(json_object_get(status, "status"), "statuses");
	size_t i;
	json_t *v;

	json_array_foreach(st, i, v)
	{
		const char *s = json_string_value(v);
		if (s && kc_has_prefix(s, "VIRTIO_CONFIG_S_DRIVER_OK"))
			return true;
	}
	return false;
}

int kc_qmp_wait_vsock(kc_qmp *q, uint64_t deadline_ns, kc_err **err)
{
	_cleanup_free_ char *status_cmd = NULL;
	json_t *r, *v;
	size_t i;

	r = kc_qmp_cmd(q, "{\"execute\":\"x-query-virtio\"}", deadline_ns, err);
	if (!r)
		return err ? kc_err_retp(err) : -1;
	json_array_foreach(r, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *path = json_string_value(json_object_get(v, "path"));
		if (name && path && strstr(name, "vsock")) {
			json_t *c = json_pack("{s:s, s:{s:s}}", "execute", "x-query-virtio-status",
					      "arguments", "path", path);
			status_cmd = json_dumps(c, JSON_COMPACT);
			json_decref(c);
			break;
		}
	}
	json_decref(r);
	if (!status_cmd)
		return kc_err_set(err, ENODEV, "qmp: the VM has no vsock device");
	for (;;) {
		bool ok;
		r = kc_qmp_cmd(q, status_cmd, deadline_ns, err);
		if (!r)
			return err ? kc_err_retp(err) : -1;
		ok = has_driver_ok(r);
		json_decref(r);
		if (ok) {
			sleep_ms(QMP_SETTLE_MS);
			return 0;
		}
		if (kc_now_ns() >= deadline_ns)
			return kc_err_set(err, ETIMEDOUT,
					  "qmp: the guest's vsock driver never got ready");
		sleep_ms(QMP_POLL_MS);
	}
}

int kc_qmp_wait_vsock_at(const char *sock, uint64_t deadline_ns, kc_err **err)
{
	kc_qmp *q = NULL;
	int r;

	r = kc_qmp_connect(sock, deadline_ns, &q, err);
	if (r < 0)
		return r;
	r = kc_qmp_wait_vsock(q, deadline_ns, err);
	kc_qmp_close(q);
	return r;
}
