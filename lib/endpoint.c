/* SPDX-License-Identifier: Apache-2.0 */
#include "endpoint.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/vm_sockets.h>

#include "util.h"

#define HVSOCK_LINE_MAX 64

static int parse_port(const char *s, uint32_t *ret)
{
	int64_t v;
	if (kc_parse_i64(s, 0, UINT32_MAX, &v) < 0)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int kc_endpoint_parse(const char *addr, struct kc_endpoint *ep, kc_err **err)
{
	_cleanup_free_ char *s = NULL;
	const char *rest;
	char *colon, *q;

	memset(ep, 0, sizeof(*ep));
	if (!addr || !*addr)
		return kc_err_set(err, EINVAL, "empty address");
	if (kc_has_prefix(addr, "ttrpc+"))
		addr += strlen("ttrpc+");
	if (addr[0] == '/' || kc_has_prefix(addr, "unix://")) {
		rest = addr[0] == '/' ? addr : addr + strlen("unix://");
		if (!*rest)
			return kc_err_set(err, EINVAL, "address `%s`: empty path", addr);
		if (strlen(rest) >= sizeof(ep->path))
			return kc_err_set(err, ENAMETOOLONG, "address `%s`: path longer than %zu",
					  addr, sizeof(ep->path) - 1);
		ep->kind = KC_EP_UNIX;
		strcpy(ep->path, rest);
		return 0;
	}
	if (kc_has_prefix(addr, "vsock://")) {
		s = xstrdup(addr + strlen("vsock://"));
		if ((q = strchr(s, '?')))
			*q = '\0';
		colon = strrchr(s, ':');
		if (!colon)
			return kc_err_set(err, EINVAL, "address `%s`: expected vsock://CID:PORT",
					  addr);
		*colon = '\0';
		ep->kind = KC_EP_VSOCK;
		if (!strcmp(s, "-1") || !strcmp(s, "any"))
			ep->cid = KC_VSOCK_CID_ANY;
		else if (parse_port(s, &ep->cid) < 0)
			return kc_err_set(err, EINVAL, "address `%s`: bad CID `%s`", addr, s);
		if (parse_port(colon + 1, &ep->port) < 0)
			return kc_err_set(err, EINVAL, "address `%s`: bad port `%s`", addr,
					  colon + 1);
		return 0;
	}
	if (kc_has_prefix(addr, "hvsock://")) {
		s = xstrdup(addr + strlen("hvsock://"));
		if ((q = strchr(s, '?')))
			*q = '\0';
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return kc_err_set(err, EINVAL,
					  "address `%s`: expected hvsock://UDS_PATH:PORT", addr);
		*colon = '\0';
		ep->kind = KC_EP_HVSOCK;
		if (parse_port(colon + 1, &ep->port) < 0)
			return kc_err_set(err, EINVAL, "address `%s`: bad port `%s`", addr,
					  colon + 1);
		/* PATH_PORT must also fit, for the guest-initiated direction. */
		if (strlen(s) + 12 >= sizeof(ep->path))
			return kc_err_set(err, ENAMETOOLONG, "address `%s`: path too long", addr);
		strcpy(ep->path, s);
		return 0;
	}
	return kc_err_set(err, EINVAL,
			  "address `%s`: unknown scheme (want unix://, vsock:// or hvsock://)",
			  addr);
}

char *kc_endpoint_format(const struct kc_endpoint *ep)
{
	switch (ep->kind) {
	case KC_EP_UNIX:
		return xasprintf("unix://%s", ep->path);
	case KC_EP_VSOCK:
		if (ep->cid == KC_VSOCK_CID_ANY)
			return xasprintf("vsock://-1:%u", ep->port);
		return xasprintf("vsock://%u:%u", ep->cid, ep->port);
	case KC_EP_HVSOCK:
		return xasprintf("hvsock://%s:%u", ep->path, ep->port);
	}
	return xstrdup("?");
}

static int unix_addr(const char *path, struct sockaddr_un *sa, kc_err **err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return kc_err_set(err, ENAMETOOLONG, "socket path `%s` too long", path);
	strcpy(sa->sun_path, path);
	return 0;
}

static int listen_unix(const char *path, kc_err **err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (unix_addr(path, &sa, err) < 0)
		return kc_err_retp(err);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kc_err_sys(err, "socket");
	/* A socket file left by a dead process would make bind fail. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kc_err_sys(err, "bind `%s`", path);
	if (listen(fd, 128) < 0)
		return kc_err_sys(err, "listen `%s`", path);
	return steal_fd(&fd);
}

static int listen_vsock(uint32_t cid, uint32_t port, kc_err **err)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return kc_err_sys(err, "vsock socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kc_err_sys(err, "bind vsock port %u", port);
	if (listen(fd, 128) < 0)
		return kc_err_sys(err, "listen vsock port %u", port);
	return steal_fd(&fd);
}

int kc_listen(const struct kc_endpoint *ep, kc_err **err)
{
	switch (ep->kind) {
	case KC_EP_UNIX:
		return listen_unix(ep->path, err);
	case KC_EP_VSOCK:
		return listen_vsock(ep->cid, ep->port, err);
	case KC_EP_HVSOCK: {
		_cleanup_free_ char *p = xasprintf("%s_%u", ep->path, ep->port);
		return listen_unix(p, err);
	}
	}
	return kc_err_set(err, EINVAL, "bad endpoint");
}

int kc_vsock_peer(int fd, uint32_t *cid, uint32_t *port, kc_err **err)
{
	union {
		struct sockaddr sa;
		struct sockaddr_vm vm;
		struct sockaddr_storage ss;
	} a;
	socklen_t len = sizeof(a);

	memset(&a, 0, sizeof(a));
	if (getpeername(fd, &a.sa, &len) < 0)
		return kc_err_sys(err, "getpeername");
	if (a.sa.sa_family != AF_VSOCK)
		return 0;
	*cid = a.vm.svm_cid;
	*port = a.vm.svm_port;
	return 1;
}

int kc_listen_addr(const char *addr, kc_err **err)
{
	struct kc_endpoint ep;
	int r = kc_endpoint_parse(addr, &ep, err);
	return r < 0 ? r : kc_listen(&ep, err);
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = kc_now_ns();
	if (deadline == UINT64_MAX)
		return -1;
	if (deadline <= now)
		return 0;
	uint64_t ms = (deadline - now + KC_NSEC_PER_MSEC - 1) / KC_NSEC_PER_MSEC;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Read the handshake answer one byte at a time so no payload byte that
 * follows the line is consumed. */
static int hvsock_handshake(int fd, const struct kc_endpoint *ep, uint64_t deadline, kc_err **err)
{
	char line[HVSOCK_LINE_MAX];
	size_t n = 0;
	int len, r;

	len = snprintf(line, sizeof(line), "CONNECT %u\n", ep->port);
	/* MSG_NOSIGNAL: a VMM that resets the socket must not SIGPIPE us. */
	while (send(fd, line, (size_t)len, MSG_NOSIGNAL) != len) {
		if (errno == EINTR)
			continue;
		if (errno == EPIPE)
			errno = ECONNRESET; /* retryable: nobody listens yet */
		return kc_err_sys(err, "hvsock `%s`: send CONNECT %u", ep->path, ep->port);
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int t = remaining_ms(deadline);
		ssize_t got;

		r = poll(&pfd, 1, t);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kc_err_sys(err, "hvsock `%s`: poll", ep->path);
		if (r == 0)
			return kc_err_set(err, ETIMEDOUT, "hvsock `%s`: no answer to CONNECT %u",
					  ep->path, ep->port);
		got = read(fd, line + n, 1);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return kc_err_sys(err, "hvsock `%s` port %u", ep->path, ep->port);
		if (got == 0)
			/* The VMM resets the connection when nothing listens on the port. */
			return kc_err_set(err, ECONNRESET,
					  "hvsock `%s`: port %u: connection reset (guest not "
					  "listening)",
					  ep->path, ep->port);
		if (line[n] == '\n') {
			line[n] = '\0';
			break;
		}
		if (++n >= sizeof(line) - 1)
			return kc_err_set(err, EPROTO, "hvsock `%s`: answer line too long",
					  ep->path);
	}
	if (strncmp(line, "OK", 2) != 0)
		return kc_err_set(err, EPROTO, "hvsock `%s`: port %u refused: `%s`", ep->path,
				  ep->port, line);
	return 0;
}

int kc_dial_once(const struct kc_endpoint *ep, uint64_t deadline_ns, kc_err **err)
{
	_cleanup_close_ int fd = -1;

	if (ep->kind == KC_EP_VSOCK) {
		struct sockaddr_vm sa = {
		    .svm_family = AF_VSOCK, .svm_cid = ep->cid, .svm_port = ep->port};
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return kc_err_sys(err, "vsock socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return kc_err_sys(err, "connect vsock %u:%u", ep->cid, ep->port);
		return steal_fd(&fd);
	}
	{
		struct sockaddr_un sa;
		if (unix_addr(ep->path, &sa, err) < 0)
			return kc_err_retp(err);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return kc_err_sys(err, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return kc_err_sys(err, "connect `%s`", ep->path);
	}
	if (ep->kind == KC_EP_HVSOCK && hvsock_handshake(fd, ep, deadline_ns, err) < 0)
		return kc_err_retp(err);
	return steal_fd(&fd);
}

bool kc_dial_retryable(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == ECONNRESET || e == ETIMEDOUT ||
	       e == EAGAIN || e == EPIPE || e == ENODEV || e == EHOSTUNREACH;
}

int kc_dial(const struct kc_endpoint *ep, uint64_t deadline_ns, kc_err **err)
{
	uint64_t backoff = KC_NSEC_PER_MSEC;

	for (;;) {
		_cleanup_err_ kc_err *e = NULL;
		int fd = kc_dial_once(ep, deadline_ns, &e);
		uint64_t now;

		if (fd >= 0)
			return fd;
		now = kc_now_ns();
		if (!kc_dial_retryable(e->code) || now >= deadline_ns) {
			int r = kc_err_ret(e);
			if (err) {
				*err = steal_pointer(&e);
				if (kc_dial_retryable((*err)->code))
					kc_err_wrap(err, "gave up at deadline");
			}
			return r;
		}
		{
			uint64_t d = backoff;
			struct timespec ts;
			if (deadline_ns - now < d)
				d = deadline_ns - now;
			ts.tv_sec = (time_t)(d / KC_NSEC_PER_SEC);
			ts.tv_nsec = (long)(d % KC_NSEC_PER_SEC);
			nanosleep(&ts, NULL);
		}
		backoff = backoff * 2 > 50 * KC_NSEC_PER_MSEC ? 50 * KC_NSEC_PER_MSEC : backoff * 2;
	}
}

int kc_dial_addr(const char *addr, uint64_t deadline_ns, kc_err **err)
{
	struct kc_endpoint ep;
	int r = kc_endpoint_parse(addr, &ep, err);
	return r < 0 ? r : kc_dial(&ep, deadline_ns, err);
}
