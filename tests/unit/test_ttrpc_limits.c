/* SPDX-License-Identifier: Apache-2.0 */
/* What a ttrpc server lets its peers hold: connections, calls in flight,
 * half-sent frames (bytes and time), the fd limit, and the peer filter. Each
 * test drives a real listener on a unix socket with raw frames. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "accept.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "endpoint.h"
#include "testutil.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

static kc_loop *loop;
static ttrpc_server *srv;
static char *dir, *path;
static ttrpc_call *parked[16];
static int nparked;

static void h_state(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	(void)p, (void)n, (void)d;
	resp.id = "ok";
	ttrpc_call_reply(c, &resp.base);
}

static void on_cancel(ttrpc_call *c, void *d)
{
	(void)d;
	for (int i = 0; i < nparked; i++)
		if (parked[i] == c)
			parked[i] = NULL;
}

static void h_wait(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	(void)p, (void)n, (void)d;
	cr_assert_lt(nparked, 16);
	parked[nparked++] = c;
	ttrpc_call_set_cancel(c, on_cancel, NULL);
}

static const struct ttrpc_method methods[] = {{"State", h_state, 0}, {"Wait", h_wait, 0}};
static const struct ttrpc_service svc = {"containerd.task.v2.Task", methods, 2};

static void start(const struct ttrpc_limits *lim, kc_peer_fn filter)
{
	_cleanup_free_ char *addr = NULL;
	int lfd;

	dir = tu_tmpdir("limits");
	path = xasprintf("%s/s.sock", dir);
	addr = xasprintf("unix://%s", path);
	nparked = 0;
	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(ttrpc_server_new(loop, &srv, err_));
	if (lim)
		ttrpc_server_set_limits(srv, lim);
	if (filter)
		ttrpc_server_set_peer_filter(srv, filter, NULL);
	ttrpc_server_register(srv, &svc, NULL);
	KC_OK((lfd = kc_listen_addr(addr, err_)));
	KC_OK(ttrpc_server_listen(srv, lfd, err_));
}

static void stop(void)
{
	ttrpc_server_free(srv);
	srv = NULL;
	kc_loop_free(loop);
	loop = NULL;
	if (dir)
		tu_rmtree(dir);
	kc_freep(&dir);
	kc_freep(&path);
}

TestSuite(limits, .fini = stop, .timeout = 30);

/* A connected client socket, or -1 with errno. */
static int dial(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Run the loop for ms milliseconds; returns the events and timers handled. */
static int spin(int ms)
{
	uint64_t end = kc_now_ns() + (uint64_t)ms * KC_NSEC_PER_MSEC;
	int n = 0;
	while (kc_now_ns() < end) {
		int r = kc_loop_iterate(loop, end, NULL);
		cr_assert_geq(r, 0);
		n += r;
	}
	return n;
}

static void send_request(int fd, uint32_t id, const char *method)
{
	Containerd__Task__V2__StateRequest sr = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	_cleanup_free_ uint8_t *inner = NULL, *out = NULL;
	uint8_t hdr[TTRPC_HDR_LEN];
	size_t n, len;

	sr.id = "x";
	inner = kc_pb_pack(&sr.base, &n);
	req.service = "containerd.task.v2.Task";
	req.method = (char *)method;
	req.payload.data = inner;
	req.payload.len = n;
	out = kc_pb_pack(&req.base, &len);
	ttrpc_hdr_encode(
	    &(struct ttrpc_hdr){.len = (uint32_t)len, .stream_id = id, .type = TTRPC_TYPE_REQUEST},
	    hdr);
	cr_assert_eq(kc_write_all(fd, hdr, sizeof(hdr)), 0);
	cr_assert_eq(kc_write_all(fd, out, len), 0);
}

/* The next response on fd (the loop runs meanwhile): its status code. */
static int response_code(int fd, uint32_t want_id, char *msg, size_t msgsz)
{
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h;
	_cleanup_free_ uint8_t *buf = NULL;
	Ttrpc__Response *r;
	int code;

	for (int i = 0; i < 400; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		kc_loop_iterate(loop, kc_now_ns() + 5 * KC_NSEC_PER_MSEC, NULL);
		if (poll(&p, 1, 0) == 1)
			break;
	}
	cr_assert_eq(kc_read_all(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr), "no response");
	ttrpc_hdr_decode(hdr, &h);
	cr_assert_eq(h.stream_id, want_id);
	buf = xmalloc(h.len + 1);
	cr_assert_eq(kc_read_all(fd, buf, h.len), (ssize_t)h.len);
	r = ttrpc__response__unpack(NULL, h.len, buf);
	cr_assert_not_null(r);
	code = r->status ? r->status->code : 0;
	if (msg)
		snprintf(msg, msgsz, "%s",
			 r->status && r->status->message ? r->status->message : "");
	ttrpc__response__free_unpacked(r, NULL);
	return code;
}

/* EOF on fd within ms, with the loop running (the server closed it). */
static bool closed_by_server(int fd, int ms)
{
	char b;
	kc_set_nonblock(fd, true);
	for (int i = 0; i < ms; i++) {
		ssize_t n = read(fd, &b, 1);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		kc_loop_iterate(loop, kc_now_ns() + KC_NSEC_PER_MSEC, NULL);
	}
	return false;
}

Test(limits, connections_past_the_cap_are_closed_at_once)
{
	int fds[10];

	start(&(struct ttrpc_limits){.max_conns = 4}, NULL);
	for (int i = 0; i < 10; i++) {
		fds[i] = dial();
		cr_assert_geq(fds[i], 0, "connect: %s", strerror(errno));
		spin(2);
	}
	cr_assert_eq(ttrpc_server_n_conns(srv), 4);
	for (int i = 4; i < 10; i++)
		cr_assert(closed_by_server(fds[i], 200), "connection %d not closed", i);
	/* The first ones are served; one closing makes room for a new one. */
	send_request(fds[0], 1, "State");
	cr_assert_eq(response_code(fds[0], 1, NULL, 0), 0);
	close(fds[1]);
	spin(5);
	cr_assert_eq(ttrpc_server_n_conns(srv), 3);
	fds[1] = dial();
	spin(5);
	send_request(fds[1], 1, "State");
	cr_assert_eq(response_code(fds[1], 1, NULL, 0), 0);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
}

Test(limits, calls_in_flight_are_capped_per_connection_and_in_total)
{
	char msg[256];
	int a, b;

	start(&(struct ttrpc_limits){.max_calls_per_conn = 3, .max_calls = 5}, NULL);
	a = dial();
	b = dial();
	for (uint32_t id = 1; id <= 7; id += 2)
		send_request(a, id, "Wait");
	/* The fourth call on one connection is refused, not parked. */
	cr_assert_eq(response_code(a, 7, msg, sizeof(msg)), TTRPC_RESOURCE_EXHAUSTED);
	cr_assert(strstr(msg, "3 on this connection"), "%s", msg);
	cr_assert_eq(ttrpc_server_n_calls(srv), 3);
	send_request(b, 1, "Wait");
	send_request(b, 3, "Wait");
	spin(5);
	cr_assert_eq(ttrpc_server_n_calls(srv), 5);
	send_request(b, 5, "State");
	cr_assert_eq(response_code(b, 5, msg, sizeof(msg)), TTRPC_RESOURCE_EXHAUSTED);
	cr_assert(strstr(msg, "5 in total"), "%s", msg);
	/* Answering frees the slots. */
	ttrpc_call_reply_raw(parked[0], NULL, 0);
	cr_assert_eq(response_code(a, 1, NULL, 0), 0);
	send_request(b, 7, "State");
	cr_assert_eq(response_code(b, 7, NULL, 0), 0);
	/* A connection that goes away gives its calls back. */
	close(a);
	spin(10);
	cr_assert_eq(ttrpc_server_n_calls(srv), 2);
	close(b);
	spin(10);
	cr_assert_eq(ttrpc_server_n_calls(srv), 0);
}

/* A header announcing len bytes (none if len is 0), then part bytes. */
static void partial_frame(int fd, uint32_t len, size_t part)
{
	uint8_t hdr[TTRPC_HDR_LEN];
	uint8_t *junk = xcalloc(1, part ? part : 1);

	ttrpc_hdr_encode(&(struct ttrpc_hdr){.len = len, .stream_id = 1, .type = 1}, hdr);
	if (len)
		cr_assert_eq(kc_write_all(fd, hdr, sizeof(hdr)), 0);
	kc_set_nonblock(fd, true);
	for (size_t off = 0; off < part;) {
		ssize_t w = send(fd, junk + off, part - off, MSG_NOSIGNAL);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			break; /* closed by the server */
		kc_loop_iterate(loop, 0, NULL);
	}
	kc_set_nonblock(fd, false);
	free(junk);
	spin(5);
}

Test(limits, half_sent_frames_share_one_byte_budget)
{
	int fds[4];

	start(&(struct ttrpc_limits){.max_pending_bytes = 3u << 20}, NULL);
	for (int i = 0; i < 4; i++)
		fds[i] = dial();
	spin(5);
	/* Headers alone cost nothing: the buffer grows with the data. */
	for (int i = 0; i < 4; i++)
		partial_frame(fds[i], TTRPC_MAX_DATA, 0);
	cr_assert_eq(ttrpc_server_n_conns(srv), 4);
	/* 1 MiB each: the fourth crosses 3 MiB and is dropped. */
	for (int i = 0; i < 4; i++)
		partial_frame(fds[i], 0, 1u << 20);
	cr_assert(closed_by_server(fds[3], 200));
	cr_assert_eq(ttrpc_server_n_conns(srv), 3);
	/* The others are intact: completing a frame answers it (malformed). */
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	spin(10);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	/* All budget returned: a big frame fits again. */
	fds[0] = dial();
	spin(5);
	partial_frame(fds[0], 2u << 20, 2u << 20);
	cr_assert_eq(response_code(fds[0], 1, NULL, 0), TTRPC_INVALID_ARGUMENT);
	close(fds[0]);
}

Test(limits, a_frame_left_half_sent_is_dropped_after_the_deadline)
{
	int slow, idle;

	start(&(struct ttrpc_limits){.frame_deadline_ns = 100 * KC_NSEC_PER_MSEC}, NULL);
	slow = dial();
	idle = dial();
	spin(5);
	partial_frame(slow, 1000, 10);
	spin(50);
	cr_assert_eq(ttrpc_server_n_conns(srv), 2);
	cr_assert(closed_by_server(slow, 300), "half-sent frame kept past the deadline");
	/* An idle connection (no frame started) is not affected. */
	cr_assert_eq(ttrpc_server_n_conns(srv), 1);
	send_request(idle, 1, "State");
	cr_assert_eq(response_code(idle, 1, NULL, 0), 0);
	close(slow);
	close(idle);
}

Test(limits, at_the_fd_limit_the_listener_parks_instead_of_spinning)
{
	struct rlimit old, rl;
	int fds[16], n = 0, handled;
	int extra;

	start(NULL, NULL);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* Room for exactly 3 more accepted connections. */
	extra = tu_count_fds();
	rl = old;
	rl.rlim_cur = (rlim_t)extra + 3 + 8; /* the 8 client ends below */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (n = 0; n < 8; n++) {
		fds[n] = dial();
		cr_assert_geq(fds[n], 0, "%s", strerror(errno));
	}
	spin(20);
	cr_assert_eq(ttrpc_server_n_conns(srv), 3);
	/* Parked: the loop idles although 5 peers wait in the backlog. */
	handled = spin(100);
	cr_assert_lt(handled, 10, "the listener spins at the fd limit (%d wakeups)", handled);
	/* A connection that closes lets the next ones in: two fds came free
	 * here (both ends live in this process). */
	close(fds[0]);
	spin(20);
	cr_assert_eq(ttrpc_server_n_conns(srv), 4, "%zu connections after one closed",
		     ttrpc_server_n_conns(srv));
	send_request(fds[3], 1, "State");
	cr_assert_eq(response_code(fds[3], 1, NULL, 0), 0);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 1; i < n; i++)
		close(fds[i]);
}

static int refused;
static bool refuse_all(int fd, void *ud)
{
	(void)fd, (void)ud;
	refused++;
	return false;
}

Test(limits, a_refused_peer_is_closed_and_the_listener_goes_on)
{
	int a, b;

	refused = 0;
	start(NULL, refuse_all);
	a = dial();
	b = dial();
	cr_assert(closed_by_server(a, 200));
	cr_assert(closed_by_server(b, 200));
	cr_assert_eq(refused, 2);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	close(a);
	close(b);
}
