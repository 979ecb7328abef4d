/* SPDX-License-Identifier: Apache-2.0 */
#include "chapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* Answers here are a status line, headers and at most a small JSON body. */
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
	sbx_chapi_body_fn bcb; /* instead of cb: the body is wanted */
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
	sbx_chapi_body_fn bcb = r->bcb;
	void *ud = r->ud;
	char *body = NULL;
	size_t blen = 0;

	if (bcb && status > 0) {
		char *p = strstr(r->buf, "\r\n\r\n");
		if (p) {
			blen = r->len - (size_t)(p + 4 - r->buf);
			body = xmalloc(blen + 1);
			memcpy(body, p + 4, blen);
			body[blen] = '\0';
		}
	}
	sbx_chapi_cancel(r);
	if (bcb)
		bcb(status, body ? body : "", blen, err, ud);
	else
		cb(status, err, ud);
	free(body);
	kc_err_free(err);
}

static void fail(sbx_chapi *r, int code, const char *what)
{
	kc_err *e = NULL;
	kc_err_set(&e, code, "cloud-hypervisor API `%s` (%s): %s", r->action, r->sock, what);
	finish(r, 0, e);
}

/* Returns true when the status line and headers (and, when the body is
 * wanted, the body: Content-Length bytes, or up to the close) are complete. */
static bool parse(sbx_chapi *r, int *status, bool eof)
{
	int st = 0;
	char *end, *cl;

	r->buf[r->len] = '\0';
	if (!(end = strstr(r->buf, "\r\n\r\n")))
		return false;
	if (r->bcb && !eof) {
		*end = '\0';
		cl = strcasestr(r->buf, "\r\nContent-Length:");
		*end = '\r';
		if (!cl || r->len - (size_t)(end + 4 - r->buf) < strtoul(cl + 17, NULL, 10))
			return false;
	}
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
		if (n == 0 && !(r->bcb && parse(r, &status, true)))
			return fail(r, ECONNRESET, "connection closed before an answer");
		r->len += (size_t)n;
		if (n == 0 || parse(r, &status, false)) {
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

char *sbx_chapi_request_text(const char *action, const char *body)
{
	if (!body)
		return xasprintf("PUT /api/v1/%s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
				 "Content-Length: 0\r\nConnection: close\r\n\r\n",
				 action);
	return xasprintf("PUT /api/v1/%s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 action, strlen(body), body);
}

static sbx_chapi *request(kc_loop *loop, const char *sock, const char *action, const char *body,
			  uint64_t deadline_ns, sbx_chapi_fn cb, sbx_chapi_body_fn bcb, void *ud)
{
	sbx_chapi *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->fd = -1;
	r->sock = xstrdup(sock);
	r->action = xstrdup(action);
	r->cb = cb;
	r->bcb = bcb;
	r->ud = ud;
	r->req = sbx_chapi_request_text(action, body);
	r->req_len = strlen(r->req);
	r->expire = kc_timer_at(loop, deadline_ns, on_expire, r);
	/* From the loop, so cb never runs before this returns. */
	r->start = kc_timer_after(loop, 0, on_start, r);
	return r;
}

sbx_chapi *sbx_chapi_put(kc_loop *loop, const char *sock, const char *action, uint64_t deadline_ns,
			 sbx_chapi_fn cb, void *ud)
{
	return request(loop, sock, action, NULL, deadline_ns, cb, NULL, ud);
}

sbx_chapi *sbx_chapi_put_json(kc_loop *loop, const char *sock, const char *action, const char *body,
			      uint64_t deadline_ns, sbx_chapi_body_fn cb, void *ud)
{
	return request(loop, sock, action, body, deadline_ns, NULL, cb, ud);
}
