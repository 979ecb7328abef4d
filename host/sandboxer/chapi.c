/* SPDX-License-Identifier: Apache-2.0 */
#include "chapi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* Only the status line and headers are read; the body is never needed. */
#define HDR_MAX 8192

struct sbx_chapi {
	kc_loop *loop;
	int fd;
	kc_watch *watch;
	kc_timer *start, *expire;
	char *sock, *action;
	char *req;
	size_t req_len, req_off;
	char buf[HDR_MAX + 1];
	size_t len;
	sbx_chapi_fn cb;
	void *ud;
};

void sbx_chapi_cancel(sbx_chapi *r)
{
	if (!r)
		return;
	kc_watch_free(r->watch);
	if (r->fd >= 0)
		close(r->fd);
	kc_timer_cancel(r->start);
	kc_timer_cancel(r->expire);
	free(r->sock);
	free(r->action);
	free(r->req);
	free(r);
}

static void finish(sbx_chapi *r, int status, kc_err *err)
{
	sbx_chapi_fn cb = r->cb;
	void *ud = r->ud;

	sbx_chapi_cancel(r);
	cb(status, err, ud);
	kc_err_free(err);
}

static void fail(sbx_chapi *r, int code, const char *what)
{
	kc_err *e = NULL;
	kc_err_set(&e, code, "cloud-hypervisor API `%s` (%s): %s", r->action, r->sock, what);
	finish(r, 0, e);
}

/* Returns true when the status line and headers are complete. */
static bool parse(sbx_chapi *r, int *status)
{
	int st = 0;

	r->buf[r->len] = '\0';
	if (!strstr(r->buf, "\r\n\r\n"))
		return false;
	if (sscanf(r->buf, "HTTP/1.%*1[01] %3d", &st) != 1 || st < 100 || st > 599)
		*status = -1;
	else
		*status = st;
	return true;
}

static void on_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	sbx_chapi *r = ud;
	(void)w;

	if (r->req_off < r->req_len) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		ssize_t n;

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr)
			return fail(r, soerr, strerror(soerr));
		n = send(fd, r->req + r->req_off, r->req_len - r->req_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			return fail(r, errno, strerror(errno));
		r->req_off += (size_t)n;
		if (r->req_off == r->req_len)
			kc_watch_set_events(r->watch, EPOLLIN);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		int status;
		ssize_t n = read(fd, r->buf + r->len, HDR_MAX - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			return fail(r, errno, strerror(errno));
		if (n == 0)
			return fail(r, ECONNRESET, "connection closed before an answer");
		r->len += (size_t)n;
		if (parse(r, &status)) {
			kc_err *e = NULL;
			if (status < 0)
				return fail(r, EPROTO, "not an HTTP answer");
			if (status / 100 != 2)
				kc_err_set(&e, EIO, "cloud-hypervisor API `%s`: HTTP %d", r->action,
					   status);
			return finish(r, status, e);
		}
		if (r->len == HDR_MAX)
			return fail(r, EPROTO, "answer headers too long");
	}
}

static void on_start(kc_timer *t, void *ud)
{
	sbx_chapi *r = ud;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	(void)t;

	r->start = NULL;
	if (strlen(r->sock) >= sizeof(sa.sun_path))
		return fail(r, ENAMETOOLONG, "socket path too long");
	strcpy(sa.sun_path, r->sock);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return fail(r, errno, strerror(errno));
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return fail(r, errno, strerror(errno));
	if (kc_loop_watch(r->loop, r->fd, EPOLLOUT, on_io, r, &r->watch, NULL) < 0)
		return fail(r, errno, "epoll");
}

static void on_expire(kc_timer *t, void *ud)
{
	sbx_chapi *r = ud;
	(void)t;
	r->expire = NULL;
	fail(r, ETIMEDOUT, "no answer before the deadline");
}

sbx_chapi *sbx_chapi_put(kc_loop *loop, const char *sock, const char *action, uint64_t deadline_ns,
			 sbx_chapi_fn cb, void *ud)
{
	sbx_chapi *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->fd = -1;
	r->sock = xstrdup(sock);
	r->action = xstrdup(action);
	r->cb = cb;
	r->ud = ud;
	r->req = xasprintf("PUT /api/v1/%s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
			   "Content-Length: 0\r\nConnection: close\r\n\r\n",
			   action);
	r->req_len = strlen(r->req);
	r->expire = kc_timer_at(loop, deadline_ns, on_expire, r);
	/* From the loop, so cb never runs before this returns. */
	r->start = kc_timer_after(loop, 0, on_start, r);
	return r;
}
