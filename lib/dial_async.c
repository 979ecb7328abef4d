/* SPDX-License-Identifier: Apache-2.0 */
/* kc_dial on an event loop: each attempt is a non-blocking connect (+ hybrid
 * vsock handshake); a failed attempt is retried from a timer with backoff,
 * and the whole thing ends at the deadline. A handshake that gets no answer
 * within KC_HVSOCK_ATTEMPT_NS counts as a failed (retried) attempt: one
 * unanswered CONNECT must not use up the whole deadline silently, and the
 * final error then says "no answer to CONNECT" instead of a bare "deadline
 * exceeded" (seen with a wedged vhost-device-vsock 0.3.0). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include "endpoint.h"
#include "util.h"

#define KC_HVSOCK_ATTEMPT_NS (2 * KC_NSEC_PER_SEC)

struct kc_dialer {
	kc_loop *loop;
	struct kc_endpoint ep;
	uint64_t deadline;
	uint64_t backoff;
	kc_dial_fn cb;
	void *ud;
	int fd;
	kc_watch *watch;
	kc_timer *retry, *expire, *attempt;
	char line[64];
	size_t nline;
	bool connected;
	kc_err *last;
};

static void attempt(kc_dialer *d);

static void finish(kc_dialer *d, int fd, kc_err *err)
{
	kc_dial_fn cb = d->cb;
	void *ud = d->ud;

	kc_watch_free(d->watch);
	kc_timer_cancel(d->retry);
	kc_timer_cancel(d->expire);
	kc_timer_cancel(d->attempt);
	kc_err_free(d->last);
	free(d);
	cb(fd, err, ud);
	kc_err_free(err);
}

static void close_attempt(kc_dialer *d)
{
	kc_timer_cancel(d->attempt);
	d->attempt = NULL;
	kc_watch_free(d->watch);
	d->watch = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->nline = 0;
	d->connected = false;
}

static void on_retry(kc_timer *t, void *ud)
{
	kc_dialer *d = ud;
	(void)t;
	d->retry = NULL;
	attempt(d);
}

static void on_expire(kc_timer *t, void *ud)
{
	kc_dialer *d = ud;
	kc_err *e = NULL;
	(void)t;

	d->expire = NULL;
	close_attempt(d);
	if (d->last) {
		e = d->last;
		d->last = NULL;
		kc_err_wrap(&e, "gave up at deadline");
		if (e->code != ETIMEDOUT)
			e->code = ETIMEDOUT;
	} else {
		_cleanup_free_ char *a = kc_endpoint_format(&d->ep);
		kc_err_set(&e, ETIMEDOUT, "dial `%s`: deadline exceeded", a);
	}
	finish(d, -1, e);
}

static void failed(kc_dialer *d, int e, const char *what);

static void on_attempt(kc_timer *t, void *ud)
{
	kc_dialer *d = ud;
	(void)t;
	d->attempt = NULL;
	failed(d, ETIMEDOUT, "no answer to CONNECT");
}

/* The attempt failed with errno e: retry later if it means "not there yet". */
static void failed(kc_dialer *d, int e, const char *what)
{
	_cleanup_free_ char *a = kc_endpoint_format(&d->ep);

	close_attempt(d);
	kc_err_freep(&d->last);
	kc_err_set(&d->last, e, "dial `%s`: %s: %s", a, what, strerror(e));
	if (!kc_dial_retryable(e)) {
		kc_err *err = d->last;
		d->last = NULL;
		finish(d, -1, err);
		return;
	}
	d->retry = kc_timer_after(d->loop, d->backoff, on_retry, d);
	d->backoff =
	    d->backoff * 2 > 50 * KC_NSEC_PER_MSEC ? 50 * KC_NSEC_PER_MSEC : d->backoff * 2;
}

static void done_ok(kc_dialer *d)
{
	int fd = d->fd;
	d->fd = -1;
	kc_watch_free(d->watch);
	d->watch = NULL;
	kc_set_nonblock(fd, false);
	finish(d, fd, NULL);
}

static void on_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	kc_dialer *d = ud;
	(void)w;

	if (!d->connected) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr)
			return failed(d, soerr, "connect");
		d->connected = true;
		if (d->ep.kind != KC_EP_HVSOCK)
			return done_ok(d);
		{
			char buf[32];
			int n = snprintf(buf, sizeof(buf), "CONNECT %u\n", d->ep.port);
			/* A fresh unix socket always has room for 16 bytes. */
			if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				return failed(d, errno ? errno : EPIPE, "send CONNECT");
		}
		kc_watch_set_events(d->watch, EPOLLIN | EPOLLRDHUP);
		d->attempt = kc_timer_after(d->loop, KC_HVSOCK_ATTEMPT_NS, on_attempt, d);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		return;
	for (;;) {
		ssize_t n = read(fd, d->line + d->nline, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			return failed(d, errno, "handshake");
		if (n == 0)
			return failed(d, ECONNRESET, "handshake (guest not listening)");
		if (d->line[d->nline] == '\n') {
			d->line[d->nline] = '\0';
			if (strncmp(d->line, "OK", 2) != 0) {
				_cleanup_free_ char *a = kc_endpoint_format(&d->ep);
				kc_err *e = NULL;
				kc_err_set(&e, EPROTO, "dial `%s`: refused: `%s`", a, d->line);
				close_attempt(d);
				return finish(d, -1, e);
			}
			return done_ok(d);
		}
		if (++d->nline >= sizeof(d->line) - 1)
			return failed(d, EPROTO, "handshake answer too long");
	}
}

static void attempt(kc_dialer *d)
{
	int r;

	if (d->ep.kind == KC_EP_VSOCK) {
		struct sockaddr_vm sa = {
		    .svm_family = AF_VSOCK, .svm_cid = d->ep.cid, .svm_port = d->ep.port};
		d->fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (d->fd < 0)
			return failed(d, errno, "socket");
		r = connect(d->fd, (struct sockaddr *)&sa, sizeof(sa));
	} else {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		strcpy(sa.sun_path, d->ep.path);
		d->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (d->fd < 0)
			return failed(d, errno, "socket");
		r = connect(d->fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (r < 0 && errno != EINPROGRESS)
		return failed(d, errno, "connect");
	if (kc_loop_watch(d->loop, d->fd, EPOLLOUT, on_io, d, &d->watch, NULL) < 0)
		return failed(d, errno, "epoll");
}

kc_dialer *kc_dial_async(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			 kc_dial_fn cb, void *ud)
{
	kc_dialer *d = xcalloc(1, sizeof(*d));

	d->loop = loop;
	d->ep = *ep;
	d->deadline = deadline_ns;
	d->backoff = KC_NSEC_PER_MSEC;
	d->cb = cb;
	d->ud = ud;
	d->fd = -1;
	if (deadline_ns != UINT64_MAX)
		d->expire = kc_timer_at(loop, deadline_ns, on_expire, d);
	/* Start from the loop so cb never runs before this returns. */
	d->retry = kc_timer_after(loop, 0, on_retry, d);
	return d;
}

void kc_dialer_cancel(kc_dialer *d)
{
	if (!d)
		return;
	close_attempt(d); /* also cancels the attempt timer */
	kc_timer_cancel(d->retry);
	kc_timer_cancel(d->expire);
	kc_err_free(d->last);
	free(d);
}
