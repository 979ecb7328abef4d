/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One stdio stream between containerd and the VM. containerd gives a FIFO
 * path, a file:// URI or a binary:// logger URI; the guest agent listens on a
 * vsock port and we dial it through the VMM's hybrid vsock socket. Output
 * streams end when the agent closes the connection, which it does only after
 * the process's last byte, so nothing is lost before the exit is published.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endpoint.h"
#include "log.h"
#include "relaybuf.h"
#include "relay.h"
#include "tpod.h"

struct relay {
	struct tpod *pod;
	int idx;
	int vfd, hfd;
	kc_dialer *dialer;
	kc_watch *wv, *wh;
	struct kc_relaybuf rb;
	bool done;
	relay_done_fn fn;
	void *ud;
};

static void pump(struct relay *r);

static void finish(struct relay *r)
{
	if (r->done)
		return;
	r->done = true;
	kc_watch_free(r->wv);
	kc_watch_free(r->wh);
	r->wv = r->wh = NULL;
	if (r->vfd >= 0)
		close(r->vfd);
	if (r->hfd >= 0)
		close(r->hfd);
	r->vfd = r->hfd = -1;
	kc_relaybuf_clear(&r->rb);
	if (r->fn)
		r->fn(r, r->ud);
}

static int src_fd(struct relay *r)
{
	return r->idx == 0 ? r->hfd : r->vfd;
}

static int dst_fd(struct relay *r)
{
	return r->idx == 0 ? r->vfd : r->hfd;
}

static void on_io(kc_watch *w, int fd, uint32_t ev, void *ud)
{
	(void)w;
	(void)fd;
	(void)ev;
	pump(ud);
}

static void set_watch(struct relay *r, kc_watch **w, int fd, uint32_t ev)
{
	if (!*w)
		(void)kc_loop_watch(r->pod->loop, fd, ev ? ev : EPOLLIN, on_io, r, w, NULL);
	if (*w)
		kc_watch_set_events(*w, ev);
}

static void pump(struct relay *r)
{
	uint32_t src_ev, dst_ev;

	if (r->done)
		return;
	if (kc_relaybuf_pump(&r->rb, src_fd(r), dst_fd(r))) {
		finish(r);
		return;
	}
	kc_relaybuf_events(&r->rb, &src_ev, &dst_ev);
	if (r->idx == 0) {
		set_watch(r, &r->wh, r->hfd, src_ev);
		set_watch(r, &r->wv, r->vfd, dst_ev);
	} else {
		set_watch(r, &r->wv, r->vfd, src_ev);
		set_watch(r, &r->wh, r->hfd, dst_ev);
	}
}

static void on_dialed(int fd, kc_err *err, void *ud)
{
	struct relay *r = ud;

	r->dialer = NULL;
	if (fd < 0) {
		log_error("stdio stream %d: %s", r->idx, kc_err_msg(err));
		finish(r);
		return;
	}
	if (r->done) {
		close(fd);
		return;
	}
	r->vfd = fd;
	kc_set_nonblock(fd, true);
	pump(r);
}

/* binary:///path?a=b : containerd's logging protocol. The logger gets the
 * stdout and stderr pipes as fds 3 and 4 and closes fd 5 when ready. */
static int binary_logger(struct tpod *pod, const char *uri, int *out_w, int *err_w, kc_err **err)
{
	_cleanup_free_ char *s = xstrdup(uri + strlen("binary://"));
	char *q = strchr(s, '?');
	char *argv[34] = {0};
	int o[2], e[2], w[2];
	int argc = 0;
	pid_t pid;
	char c;

	if (q)
		*q++ = '\0';
	argv[argc++] = s;
	for (char *kv = q ? strtok(q, "&") : NULL; kv && argc < 32; kv = strtok(NULL, "&")) {
		char *eq = strchr(kv, '=');
		if (eq)
			*eq++ = '\0';
		argv[argc++] = kv;
		if (eq && *eq && argc < 32)
			argv[argc++] = eq;
	}
	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0 || pipe2(w, O_CLOEXEC) < 0)
		return kc_err_sys(err, "pipe for logger %s", s);
	pid = fork();
	if (pid < 0)
		return kc_err_sys(err, "fork logger %s", s);
	if (pid == 0) {
		setenv("CONTAINER_ID", pod->id, 1);
		setenv("CONTAINER_NAMESPACE", pod->ns, 1);
		dup2(o[0], 3);
		dup2(e[0], 4);
		dup2(w[1], 5);
		execv(s, argv);
		_exit(127);
	}
	close(o[0]);
	close(e[0]);
	close(w[1]);
	/* Wait until the logger is ready (or dead): it closes fd 5. */
	while (read(w[0], &c, 1) < 0 && errno == EINTR)
		;
	close(w[0]);
	*out_w = o[1];
	*err_w = e[1];
	return 0;
}

static int open_host(int idx, const char *uri, kc_err **err)
{
	const char *path = uri;
	struct stat st;
	int fd;

	if (kc_has_prefix(uri, "file://")) {
		path = uri + strlen("file://");
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	} else if (kc_has_prefix(uri, "fifo://") || uri[0] == '/') {
		if (kc_has_prefix(uri, "fifo://"))
			path = uri + strlen("fifo://");
		/* O_RDWR: never blocks for, or fails without, the other end. */
		fd = open(path,
			  (stat(path, &st) == 0 && S_ISFIFO(st.st_mode) ? O_RDWR
			   : idx == 0                                   ? O_RDONLY
				      : O_WRONLY | O_APPEND | O_CREAT) |
			      O_CLOEXEC | O_NONBLOCK,
			  0640);
	} else {
		return kc_err_set(err, EINVAL, "stdio `%s`: unsupported URI", uri);
	}
	if (fd < 0)
		return kc_err_sys(err, "open stdio `%s`", path);
	return fd;
}

static int logger_fds[2] = {-1, -1};

int relay_start(struct tpod *pod, int idx, const char *uri, uint32_t port, relay_done_fn fn,
		void *ud, struct relay **ret, kc_err **err)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	struct kc_endpoint ep = {.kind = KC_EP_HVSOCK, .port = port};
	int hfd;

	if (kc_has_prefix(uri, "binary://")) {
		/* One logger takes both output streams; start it with stdout. */
		if (idx == 1 && binary_logger(pod, uri, &logger_fds[0], &logger_fds[1], err) < 0) {
			free(r);
			return kc_err_retp(err);
		}
		hfd = idx >= 1 ? logger_fds[idx - 1] : -1;
		if (idx >= 1)
			logger_fds[idx - 1] = -1;
		if (hfd < 0) {
			free(r);
			return kc_err_set(err, EINVAL, "stdio `%s`: binary:// is for output", uri);
		}
		kc_set_nonblock(hfd, true);
	} else {
		hfd = open_host(idx, uri, err);
		if (hfd < 0) {
			free(r);
			return hfd;
		}
	}
	r->pod = pod;
	r->idx = idx;
	r->hfd = hfd;
	r->vfd = -1;
	r->fn = fn;
	r->ud = ud;
	snprintf(ep.path, sizeof(ep.path), "%s", pod->vsock_uds);
	r->dialer = kc_dial_async(pod->loop, &ep, kc_now_ns() + 30 * KC_NSEC_PER_SEC, on_dialed, r);
	*ret = r;
	return 0;
}

void relay_close_stdin(struct relay *r)
{
	if (!r || r->done || r->idx != 0)
		return;
	/* Whatever was read is still sent, then the agent sees EOF; still
	 * dialing: on_dialed pumps (and so closes) as soon as it connects. */
	r->rb.eof = true;
	if (r->vfd >= 0)
		pump(r);
	else if (!r->dialer)
		finish(r);
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	r->fn = NULL;
	kc_dialer_cancel(r->dialer);
	r->dialer = NULL;
	finish(r);
	free(r);
}
