/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C half of bench/ttrpc-rtt: our ttrpc client and server doing exactly
 * what tests/interop/go/src/kcinterop/bench does with containerd's Go ttrpc.
 *
 *   ttrpc-rtt serve unix:///path
 *   ttrpc-rtt client unix:///path CALLS WARMUP CONC
 *
 * The client prints one line:
 *   median_ns=N p99_ns=N rate1=N rateN=N conc=N req_bytes=N resp_bytes=N
 * Latency and rate1 come from CALLS sequential ttrpc_client_call_sync()s;
 * rateN from CALLS asynchronous calls kept CONC in flight on the loop.
 *
 *   ttrpc-rtt raw-serve unix:///path
 *   ttrpc-rtt raw-client unix:///path CALLS WARMUP
 *
 * The floor under any RPC here: the same bytes (one 148-byte request frame,
 * one 532-byte response frame) echoed with epoll_wait + read + send and no
 * ttrpc at all. Prints "median_ns=N p99_ns=N".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "endpoint.h"
#include "loop.h"
#include "serve.h"
#include "ttrpc.h"
#include "util.h"

#define TASK_SVC     "containerd.task.v2.Task"
#define NS_KEY       "containerd-namespace-ttrpc"
#define CONTAINER_ID "3f9a1c0e7b5d4a2f8e6c1b0a9d8f7e6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"
/* What Go's zero time.Time encodes to: gogo's non-nullable stdtime always
 * sends exited_at, so we do too and both servers answer the same bytes. */
#define GO_ZERO_TIME_SEC (-62135596800LL)

/* ------------------------------------------------------------------ server */

static void h_state(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Task__V2__StateRequest *req =
	    containerd__task__v2__state_request__unpack(NULL, n, p);
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp zero = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	char bundle[256], in[256], out[256], errp[256];

	if (!req) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "malformed StateRequest");
		return;
	}
	if (!ttrpc_call_metadata(c, NS_KEY)) {
		ttrpc_call_reply_error(c, TTRPC_FAILED_PRECONDITION,
				       "namespace is required: failed precondition");
		containerd__task__v2__state_request__free_unpacked(req, NULL);
		return;
	}
	snprintf(bundle, sizeof(bundle), "/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s",
		 req->id);
	snprintf(in, sizeof(in), "/run/containerd/fifo/1234567890/%s-stdin", req->id);
	snprintf(out, sizeof(out), "/run/containerd/fifo/1234567890/%s-stdout", req->id);
	snprintf(errp, sizeof(errp), "/run/containerd/fifo/1234567890/%s-stderr", req->id);
	zero.seconds = GO_ZERO_TIME_SEC;
	resp.id = req->id;
	resp.exec_id = req->exec_id;
	resp.bundle = bundle;
	resp.pid = 4242;
	resp.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
	resp.stdin = in;
	resp.stdout = out;
	resp.stderr = errp;
	resp.exited_at = &zero;
	ttrpc_call_reply(c, &resp.base);
	containerd__task__v2__state_request__free_unpacked(req, NULL);
}

static const struct ttrpc_method methods[] = {{"State", h_state, 0}};
static const struct ttrpc_service service = {TASK_SVC, methods, KC_ARRAY_SIZE(methods)};

/* ------------------------------------------------------------------ client */

struct bench {
	kc_loop *loop;
	ttrpc_client *cli;
	Containerd__Task__V2__StateRequest req;
	long target, issued, done;
	size_t resp_bytes;
	bool failed;
};

static bool check_resp(struct bench *b, const uint8_t *p, size_t len)
{
	Containerd__Task__V2__StateResponse *r =
	    containerd__task__v2__state_response__unpack(NULL, len, p);
	bool ok = r && !strcmp(r->id, CONTAINER_ID);

	if (r)
		containerd__task__v2__state_response__free_unpacked(r, NULL);
	b->resp_bytes = len;
	return ok;
}

static int one_sync(struct bench *b, kc_err **err)
{
	ProtobufCMessage *m = NULL;
	int r =
	    ttrpc_client_call_sync(b->cli, TASK_SVC, "State", &b->req.base,
				   &containerd__task__v2__state_response__descriptor, 0, &m, err);
	if (r < 0)
		return r;
	b->resp_bytes = protobuf_c_message_get_packed_size(m);
	r = strcmp(((Containerd__Task__V2__StateResponse *)m)->id, CONTAINER_ID) ? -1 : 0;
	protobuf_c_message_free_unpacked(m, NULL);
	return r < 0 ? kc_err_set(err, EPROTO, "State answered for another id") : 0;
}

static void issue(struct bench *b);

static void on_reply(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	struct bench *b = ud;

	b->done++;
	if (st->code != TTRPC_OK || !check_resp(b, p, len)) {
		fprintf(stderr, "State: %s: %s\n", ttrpc_code_name(st->code), st->message);
		b->failed = true;
		return;
	}
	if (b->issued < b->target)
		issue(b);
}

static void issue(struct bench *b)
{
	kc_err *e = NULL;

	b->issued++;
	if (ttrpc_client_call(b->cli, TASK_SVC, "State", &b->req.base, 0, on_reply, b, &e) < 0) {
		fprintf(stderr, "State: %s\n", kc_err_msg(e));
		kc_err_free(e);
		b->done++;
		b->failed = true;
	}
}

/* n calls, conc of them in flight; returns the elapsed ns or 0 on failure. */
static uint64_t run_async(struct bench *b, long n, long conc)
{
	uint64_t t0 = kc_now_ns();

	b->target = n;
	b->issued = b->done = 0;
	for (long i = 0; i < conc && b->issued < n; i++)
		issue(b);
	while (b->done < b->issued && !b->failed)
		if (kc_loop_iterate(b->loop, UINT64_MAX, NULL) < 0)
			return 0;
	return b->failed ? 0 : kc_now_ns() - t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int client(const char *addr, long calls, long warmup, long conc, kc_err **err)
{
	struct bench b = {.req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT};
	_cleanup_free_ uint64_t *lat = xcalloc((size_t)calls, sizeof(*lat));
	uint64_t t0, total, elapsed;
	int fd, r;

	b.req.id = CONTAINER_ID;
	r = kc_loop_new(&b.loop, err);
	if (r < 0)
		return r;
	fd = r = kc_dial_addr(addr, kc_now_ns() + 10 * KC_NSEC_PER_SEC, err);
	if (r >= 0)
		r = ttrpc_client_new(b.loop, fd, &b.cli, err);
	if (r < 0)
		goto out;
	ttrpc_client_set_metadata(b.cli, NS_KEY, "k8s.io");

	for (long i = 0; i < warmup && r >= 0; i++)
		r = one_sync(&b, err);
	t0 = kc_now_ns();
	for (long i = 0; i < calls && r >= 0; i++) {
		uint64_t t = kc_now_ns();
		r = one_sync(&b, err);
		lat[i] = kc_now_ns() - t;
	}
	if (r < 0)
		goto out;
	total = kc_now_ns() - t0;
	qsort(lat, (size_t)calls, sizeof(*lat), cmp_u64);

	if (!run_async(&b, warmup, conc) || !(elapsed = run_async(&b, calls, conc))) {
		r = kc_err_set(err, EPROTO, "asynchronous State calls failed");
		goto out;
	}
	printf("median_ns=%llu p99_ns=%llu rate1=%.0f rateN=%.0f conc=%ld req_bytes=%zu "
	       "resp_bytes=%zu\n",
	       (unsigned long long)lat[calls / 2], (unsigned long long)lat[calls * 99 / 100],
	       (double)calls * 1e9 / (double)total, (double)calls * 1e9 / (double)elapsed, conc,
	       protobuf_c_message_get_packed_size(&b.req.base), b.resp_bytes);
out:
	ttrpc_client_free(b.cli);
	kc_loop_free(b.loop);
	return r;
}

/* ------------------------------------------------------------------ raw */

#define RAW_REQ  148
#define RAW_RESP 532

/* Wait for input the way kc_loop does, then read exactly len bytes. */
static int raw_recv(int ep, int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct epoll_event ev;
		ssize_t n;

		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
			return -errno;
		n = read(fd, buf + got, len - got);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

static int raw_setup(int fd, kc_err **err)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = kc_err_sys(err, "epoll");
		if (ep >= 0)
			close(ep);
		return r;
	}
	kc_set_nonblock(fd, true);
	return ep;
}

static int raw_serve(const char *addr, kc_err **err)
{
	_cleanup_close_ int lfd = kc_listen_addr(addr, err);
	uint8_t buf[RAW_RESP] = {0};

	if (lfd < 0)
		return lfd;
	kc_set_nonblock(lfd, false);
	for (;;) {
		_cleanup_close_ int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		_cleanup_close_ int ep = -1;

		if (fd < 0)
			return kc_err_sys(err, "accept");
		ep = raw_setup(fd, err);
		if (ep < 0)
			return ep;
		while (raw_recv(ep, fd, buf, RAW_REQ) == 0)
			if (send(fd, buf, RAW_RESP, MSG_NOSIGNAL) != RAW_RESP)
				break;
	}
}

static int raw_client(const char *addr, long calls, long warmup, kc_err **err)
{
	_cleanup_free_ uint64_t *lat = xcalloc((size_t)calls, sizeof(*lat));
	_cleanup_close_ int fd = kc_dial_addr(addr, kc_now_ns() + 10 * KC_NSEC_PER_SEC, err);
	_cleanup_close_ int ep = -1;
	uint8_t buf[RAW_RESP] = {0};

	if (fd < 0)
		return fd;
	ep = raw_setup(fd, err);
	if (ep < 0)
		return ep;
	for (long i = -warmup; i < calls; i++) {
		uint64_t t = kc_now_ns();
		if (send(fd, buf, RAW_REQ, MSG_NOSIGNAL) != RAW_REQ ||
		    raw_recv(ep, fd, buf, RAW_RESP) < 0)
			return kc_err_sys(err, "raw echo");
		if (i >= 0)
			lat[i] = kc_now_ns() - t;
	}
	qsort(lat, (size_t)calls, sizeof(*lat), cmp_u64);
	printf("median_ns=%llu p99_ns=%llu\n", (unsigned long long)lat[calls / 2],
	       (unsigned long long)lat[calls * 99 / 100]);
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_err_ kc_err *err = NULL;
	int64_t n[3];
	int r;

	if (argc == 3 && !strcmp(argv[1], "serve")) {
		r = tu_serve(argv[2], &service, NULL, &err);
	} else if (argc == 3 && !strcmp(argv[1], "raw-serve")) {
		r = raw_serve(argv[2], &err);
	} else if ((argc == 6 && !strcmp(argv[1], "client")) ||
		   (argc == 5 && !strcmp(argv[1], "raw-client"))) {
		for (int i = 0; i < argc - 3; i++)
			if (kc_parse_i64(argv[3 + i], 1, 100000000, &n[i]) < 0)
				goto usage;
		if (argc == 6)
			r = client(argv[2], (long)n[0], (long)n[1], (long)n[2], &err);
		else
			r = raw_client(argv[2], (long)n[0], (long)n[1], &err);
	} else {
		goto usage;
	}
	if (r < 0)
		fprintf(stderr, "ttrpc-rtt: %s\n", kc_err_msg(err));
	return r < 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: ttrpc-rtt serve|raw-serve ADDR | client ADDR CALLS WARMUP CONC |\n"
			"       raw-client ADDR CALLS WARMUP\n");
	return 2;
}
