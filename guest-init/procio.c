/* SPDX-License-Identifier: Apache-2.0 */
#include "procio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accept.h"
#include "endpoint.h"
#include "log.h"
#include "peer.h"
#include "relaybuf.h"
#include "streams.h"
#include "util.h"

enum kind { S_NONE, S_FD, S_LISTEN };

/* As long as the guest's Streaming API holds a stream for a host that
 * went away (streams.c). */
#define HOLD_NS (60 * KC_NSEC_PER_SEC)

struct stream {
	kc_procio *io;
	bool output; /* process -> host */
	enum kind kind;
	int child_fd; /* our copy of the child's end (until close_child_fds) */
	int proc_fd;  /* our end: pipe or pty master */
	kc_acceptor *listener;
	kc_sclaim *sclaim; /* a Streaming API stream instead of a listener */
	char *listen_uri;  /* to listen again when the host went away */
	kc_timer *hold;    /* how long output waits for the host to come back */
	int conn_fd;
	char *unix_path; /* to unlink */
	kc_watch *w_conn, *w_proc;
	struct kc_relaybuf rb;
	bool done;
};

struct kc_procio {
	kc_loop *loop;
	struct stream s[3];
	bool terminal;
	int pty;
	kc_procio_fn drained_fn;
	void *drained_ud;
	bool drained_reported;
};

static void stream_update(struct stream *s);
static void on_accept(kc_acceptor *a, int c, void *ud);
static int stream_listen(struct stream *s, const char *uri, kc_err **err);

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void check_drained(kc_procio *io)
{
	if (io->drained_reported || !kc_procio_drained(io))
		return;
	io->drained_reported = true;
	if (io->drained_fn)
		io->drained_fn(io, io->drained_ud);
}

static void stop_listening(struct stream *s)
{
	kc_acceptor_free(s->listener);
	s->listener = NULL;
	kc_sclaim_cancel(s->sclaim);
	s->sclaim = NULL;
	if (s->unix_path) {
		unlink(s->unix_path);
		kc_freep(&s->unix_path);
	}
}

static void stream_finish(struct stream *s)
{
	stop_listening(s);
	kc_timer_cancel(s->hold);
	s->hold = NULL;
	kc_watch_free(s->w_conn);
	kc_watch_free(s->w_proc);
	s->w_conn = s->w_proc = NULL;
	if (s->conn_fd >= 0 && s->output)
		shutdown(s->conn_fd, SHUT_WR);
	close_fd(&s->conn_fd);
	close_fd(&s->proc_fd);
	kc_relaybuf_clear(&s->rb);
	s->done = true;
	/* Listeners parked at the fd limit may take connections again. */
	kc_acceptor_fds_freed();
	check_drained(s->io);
}

/* The fd data is read from and the one it is written to. */
static int src_fd(struct stream *s)
{
	return s->output ? s->proc_fd : s->conn_fd;
}

static int dst_fd(struct stream *s)
{
	return s->output ? s->conn_fd : s->proc_fd;
}

static void host_lost(struct stream *s);

static void pump(struct stream *s)
{
	if (s->done)
		return;
	if (kc_relaybuf_pump(&s->rb, src_fd(s), dst_fd(s))) {
		/* Input: EOF from the host closes the process's stdin (not a
		 * terminal's master, which also carries the output). */
		if (!s->output && s->io->terminal) {
			kc_watch_free(s->w_conn);
			s->w_conn = NULL;
			close_fd(&s->conn_fd);
			s->proc_fd = -1; /* shared with the output stream's dup */
			s->done = true;
			check_drained(s->io);
			return;
		}
		stream_finish(s);
		return;
	}
	if (s->rb.sink_broken) {
		host_lost(s);
		return;
	}
	stream_update(s);
}

static void on_io(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct stream *s = ud;
	(void)w;

	/* The host never writes to an output stream: readable means it closed
	 * (or broke) the connection, which we learn here even while idle. */
	if (s->listen_uri && fd == s->conn_fd &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		char junk[256];
		ssize_t r = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			host_lost(s);
			return;
		}
	}
	pump(s);
}

static void watch_set(struct stream *s, kc_watch **wp, int fd, uint32_t ev)
{
	if (fd < 0)
		return;
	if (!*wp) {
		if (ev && kc_loop_watch(s->io->loop, fd, ev, on_io, s, wp, NULL) < 0)
			*wp = NULL;
		return;
	}
	kc_watch_set_events(*wp, ev);
}

/* The host's end of an output stream went away before the output ended
 * (vmm-sandboxer restarting): keep the process's pipe and what we buffered,
 * listen on the same port again, and hold for HOLD_NS; the process blocks
 * once the pipe is full, nothing is lost. After that, drop output as for a
 * dead reader, so the process is never stuck for good. */
static void on_hold_expired(kc_timer *t, void *ud)
{
	struct stream *s = ud;
	(void)t;
	s->hold = NULL;
	log_warn("stdio %s: the host did not come back in %d s, dropping output", s->listen_uri,
		 (int)(HOLD_NS / KC_NSEC_PER_SEC));
	stop_listening(s);
	s->rb.sink_broken = false;
	s->rb.sink_dead = true;
	pump(s);
}

static void host_lost(struct stream *s)
{
	kc_err *err = NULL;

	kc_watch_free(s->w_conn);
	s->w_conn = NULL;
	close_fd(&s->conn_fd);
	kc_watch_free(s->w_proc);
	s->w_proc = NULL;
	s->rb.sink_broken = true;
	if (s->hold || s->listener)
		return;
	if (!s->listen_uri || stream_listen(s, s->listen_uri, &err) < 0) {
		log_warn("stdio %s: listen again: %s", s->listen_uri ? s->listen_uri : "?",
			 err ? kc_err_msg(err) : "not a listening stream");
		kc_err_free(err);
		on_hold_expired(NULL, s);
		return;
	}
	s->hold = kc_timer_after(s->io->loop, HOLD_NS, on_hold_expired, s);
}

/* Wait for whichever side can make progress. */
static void stream_update(struct stream *s)
{
	uint32_t src_ev, dst_ev;

	kc_relaybuf_events(&s->rb, &src_ev, &dst_ev);
	if (s->conn_fd < 0 && !(s->output && s->rb.sink_dead))
		return;
	if (s->output) {
		watch_set(s, &s->w_proc, s->proc_fd, src_ev);
		watch_set(s, &s->w_conn, s->conn_fd, dst_ev | (s->listen_uri ? EPOLLRDHUP : 0));
	} else {
		watch_set(s, &s->w_conn, s->conn_fd, src_ev);
		watch_set(s, &s->w_proc, s->proc_fd, dst_ev);
	}
}

static void on_accept(kc_acceptor *a, int c, void *ud)
{
	struct stream *s = ud;
	(void)a;

	/* One connection per stream (the first the peer filter let through):
	 * stop listening. */
	stop_listening(s);
	kc_timer_cancel(s->hold);
	s->hold = NULL;
	s->rb.sink_broken = false;
	s->conn_fd = c;
	if (s->proc_fd < 0 && !s->output && !s->io->terminal) {
		/* stdin already closed by CloseIO */
		stream_finish(s);
		return;
	}
	/* A terminal's master arrives later (kc_procio_attach_pty pumps then). */
	if (s->proc_fd >= 0)
		pump(s);
}

/* The Streaming API's stream for this stdio arrived: like a connection. */
static void on_stream_fd(int fd, void *ud)
{
	struct stream *s = ud;
	s->sclaim = NULL;
	on_accept(NULL, fd, s);
}

static int open_listener(const char *uri, char **unix_path, kc_err **err)
{
	struct kc_endpoint ep;
	int fd;

	if (kc_endpoint_parse(uri, &ep, err) < 0)
		return kc_err_retp(err);
	if (ep.kind == KC_EP_HVSOCK) {
		/* The UDS is the host's; inside the VM only the port matters. */
		ep.kind = KC_EP_VSOCK;
		ep.cid = KC_VSOCK_CID_ANY;
	} else if (ep.kind == KC_EP_VSOCK) {
		ep.cid = KC_VSOCK_CID_ANY;
	}
	fd = kc_listen(&ep, err);
	if (fd < 0)
		return fd;
	if (ep.kind == KC_EP_UNIX)
		*unix_path = xstrdup(ep.path);
	return fd;
}

/* Listen on uri for the host's connection (only the host's get through). */
static int stream_listen(struct stream *s, const char *uri, kc_err **err)
{
	int lfd = open_listener(uri, &s->unix_path, err);

	if (lfd < 0 || kc_acceptor_new(s->io->loop, lfd, on_accept, s, &s->listener, err) < 0)
		return -1;
	kc_acceptor_set_filter(s->listener, kc_peer_allowed, "stdio listener");
	return 0;
}

static int stream_init(kc_procio *io, struct stream *s, int idx, const char *uri, kc_err **err)
{
	s->io = io;
	s->output = idx > 0;
	s->child_fd = s->proc_fd = s->conn_fd = -1;
	if (!uri || !*uri) {
		s->kind = S_NONE;
		s->done = true;
		return 0;
	}
	if (uri[0] == '/' || kc_has_prefix(uri, "file://")) {
		const char *path = uri[0] == '/' ? uri : uri + strlen("file://");
		struct stat st;
		int flags = s->output ? (O_WRONLY | O_APPEND | O_CREAT) : O_RDONLY;
		/* A fifo opened O_RDWR never blocks waiting for its other end. */
		if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
			flags = O_RDWR;
		s->kind = S_FD;
		s->child_fd = open(path, flags | O_CLOEXEC, 0640);
		if (s->child_fd < 0)
			return kc_err_sys(err, "open stdio `%s`", path);
		s->done = true;
		return 0;
	}
	s->kind = S_LISTEN;
	if (strstr(uri, "streaming_id=")) {
		_cleanup_free_ char *id = kc_streams_id_of(uri);
		s->sclaim = kc_streams_claim(io->loop, id, s->output, on_stream_fd, s, err);
		if (!s->sclaim)
			return kc_err_wrap(err, "stdio `%s`", uri);
	} else {
		if (s->output)
			s->listen_uri = xstrdup(uri);
		if (stream_listen(s, uri, err) < 0)
			return kc_err_wrap(err, "stdio `%s`", uri);
		s->rb.hold_on_error = s->output;
	}
	if (io->terminal && idx == 2) {
		/* A terminal merges stderr into stdout; nothing will come here. */
		s->done = true;
		return 0;
	}
	if (!io->terminal) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return kc_err_sys(err, "pipe");
		s->proc_fd = s->output ? p[0] : p[1];
		s->child_fd = s->output ? p[1] : p[0];
		kc_set_nonblock(s->proc_fd, true);
	}
	return 0;
}

int kc_procio_new(kc_loop *loop, const char *in, const char *out, const char *err_uri,
		  bool terminal, kc_procio **ret, kc_err **err)
{
	kc_procio *io = xcalloc(1, sizeof(*io));
	const char *uris[3] = {in, out, err_uri};

	io->loop = loop;
	io->terminal = terminal;
	io->pty = -1;
	for (int i = 0; i < 3; i++)
		io->s[i].child_fd = io->s[i].proc_fd = io->s[i].conn_fd = -1;
	for (int i = 0; i < 3; i++)
		if (stream_init(io, &io->s[i], i, uris[i], err) < 0) {
			kc_procio_free(io);
			return kc_err_retp(err);
		}
	*ret = io;
	return 0;
}

void kc_procio_child_fds(const kc_procio *io, int fds[3])
{
	for (int i = 0; i < 3; i++)
		fds[i] = io->s[i].child_fd;
}

void kc_procio_close_child_fds(kc_procio *io)
{
	for (int i = 0; i < 3; i++)
		close_fd(&io->s[i].child_fd);
}

int kc_procio_attach_pty(kc_procio *io, int master, kc_err **err)
{
	io->pty = master;
	kc_set_nonblock(master, true);
	/* Separate fds for the two directions: epoll watches fds, and each
	 * stream owns (and closes) its own. */
	if (io->s[1].kind == S_LISTEN) {
		io->s[1].proc_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		if (io->s[1].proc_fd < 0)
			return kc_err_sys(err, "dup terminal");
		if (io->s[1].conn_fd >= 0)
			pump(&io->s[1]);
	}
	if (io->s[0].kind == S_LISTEN) {
		io->s[0].proc_fd = master;
		if (io->s[0].conn_fd >= 0)
			pump(&io->s[0]);
	}
	return 0;
}

int kc_procio_pty(const kc_procio *io)
{
	return io->pty;
}

void kc_procio_close_stdin(kc_procio *io)
{
	struct stream *s = &io->s[0];
	if (s->done)
		return;
	if (io->terminal) {
		/* The master also carries output; only stop relaying input. */
		kc_watch_free(s->w_conn);
		s->w_conn = NULL;
		stop_listening(s);
		close_fd(&s->conn_fd);
		s->done = true;
		return;
	}
	stream_finish(s);
}

void kc_procio_on_drained(kc_procio *io, kc_procio_fn fn, void *ud)
{
	io->drained_fn = fn;
	io->drained_ud = ud;
}

bool kc_procio_drained(const kc_procio *io)
{
	return io->s[1].done && io->s[2].done;
}

void kc_procio_abandon(kc_procio *io)
{
	for (int i = 1; i < 3; i++) {
		struct stream *s = &io->s[i];
		if (s->done)
			continue;
		/* Relay what can be relayed without waiting, then stop: a
		 * background process may hold the pipe open forever, and a host
		 * that never connected will not see this output. */
		if (s->conn_fd >= 0)
			pump(s);
		if (!s->done)
			stream_finish(s);
	}
}

void kc_procio_free(kc_procio *io)
{
	if (!io)
		return;
	io->drained_fn = NULL;
	for (int i = 0; i < 3; i++) {
		struct stream *s = &io->s[i];
		if (i == 0 && io->terminal)
			s->proc_fd = -1; /* io->pty, closed below */
		stop_listening(s);
		kc_watch_free(s->w_conn);
		kc_watch_free(s->w_proc);
		close_fd(&s->conn_fd);
		close_fd(&s->proc_fd);
		close_fd(&s->child_fd);
		kc_relaybuf_clear(&s->rb);
		kc_timer_cancel(s->hold);
		free(s->listen_uri);
	}
	if (io->pty >= 0)
		close(io->pty);
	free(io);
	kc_acceptor_fds_freed();
}
