/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc server and client over a socketpair on one loop: unary calls with real
 * Task API messages, out-of-order replies, deadlines, bad frames, streams. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "testutil.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

static kc_loop *loop;
static ttrpc_server *srv;
static ttrpc_client *cli;
static int raw_fd = -1; /* the client end, when a test speaks raw frames */

/* --- a test service ------------------------------------------------------ */

static ttrpc_call *parked[8];
static int nparked;
static int cancelled;

static void h_state(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Task__V2__StateRequest *req =
	    containerd__task__v2__state_request__unpack(NULL, n, p);
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	if (!req) {
		ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "bad StateRequest");
		return;
	}
	resp.id = req->id;
	resp.exec_id = req->exec_id;
	resp.pid = 4242;
	resp.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
	resp.bundle = (char *)(ttrpc_call_metadata(c, "containerd-namespace-ttrpc")
				   ? ttrpc_call_metadata(c, "containerd-namespace-ttrpc")
				   : "");
	ttrpc_call_reply(c, &resp.base);
	containerd__task__v2__state_request__free_unpacked(req, NULL);
}

static void on_cancel(ttrpc_call *c, void *d)
{
	for (int i = 0; i < nparked; i++)
		if (parked[i] == c)
			parked[i] = NULL;
	cancelled++;
}

/* Wait: park the call; the test answers it later (or lets it expire). */
static void h_wait(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	parked[nparked++] = c;
	ttrpc_call_set_cancel(c, on_cancel, NULL);
}

static void h_fail(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	kc_err *e = NULL;
	errno = EINVAL;
	kc_err_sys(&e, "mount `/rootfs`");
	ttrpc_call_reply_kc_err(c, e);
	kc_err_free(e);
}

/* Echo each data frame back, then finish with an empty response. */
static void on_stream(ttrpc_call *c, const uint8_t *data, size_t len, bool closed, void *ud)
{
	if (len)
		ttrpc_call_send_raw(c, data, len, false);
	if (closed)
		ttrpc_call_reply_raw(c, NULL, 0);
}

static void h_stream(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_set_stream(c, on_stream, NULL);
}

static const struct ttrpc_method methods[] = {
    {"State", h_state, 0},
    {"Wait", h_wait, 0},
    {"Fail", h_fail, 0},
    {"Stream", h_stream, TTRPC_METHOD_STREAMING},
};
static const struct ttrpc_service svc = {"containerd.task.v2.Task", methods, 4};

static void setup(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(ttrpc_server_new(loop, &srv, err_));
	ttrpc_server_register(srv, &svc, NULL);
	KC_OK(ttrpc_server_serve_fd(srv, sv[0], err_));
	raw_fd = sv[1];
	nparked = 0;
	cancelled = 0;
}

static void setup_client(void)
{
	setup();
	KC_OK(ttrpc_client_new(loop, raw_fd, &cli, err_));
	raw_fd = -1;
}

static void teardown(void)
{
	ttrpc_client_free(cli);
	cli = NULL;
	if (raw_fd >= 0)
		close(raw_fd);
	raw_fd = -1;
	ttrpc_server_free(srv);
	kc_loop_free(loop);
}

/* --- client-side helpers ------------------------------------------------- */

struct answer {
	bool done;
	int code;
	char msg[256];
	uint8_t payload[512];
	size_t len;
};

static void on_answer(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	struct answer *a = ud;
	a->done = true;
	a->code = st->code;
	snprintf(a->msg, sizeof(a->msg), "%s", st->message);
	if (len && len <= sizeof(a->payload))
		memcpy(a->payload, p, len);
	a->len = len;
}

static void state_call(const char *id, uint64_t timeout, struct answer *a)
{
	Containerd__Task__V2__StateRequest req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	req.id = (char *)id;
	KC_OK(ttrpc_client_call(cli, "containerd.task.v2.Task", "State", &req.base, timeout,
				on_answer, a, err_));
}

TestSuite(ttrpc, .init = setup_client, .fini = teardown);

Test(ttrpc, unary_real_message)
{
	Containerd__Task__V2__StateRequest req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Containerd__Task__V2__StateResponse *resp = NULL;
	ProtobufCMessage *m = NULL;

	req.id = "c1";
	req.exec_id = "e1";
	ttrpc_client_set_metadata(cli, "containerd-namespace-ttrpc", "k8s.io");
	KC_OK(ttrpc_client_call_sync(cli, "containerd.task.v2.Task", "State", &req.base,
				     &containerd__task__v2__state_response__descriptor,
				     KC_NSEC_PER_SEC, &m, err_));
	resp = (Containerd__Task__V2__StateResponse *)m;
	cr_assert_str_eq(resp->id, "c1");
	cr_assert_str_eq(resp->exec_id, "e1");
	cr_assert_eq(resp->pid, 4242);
	cr_assert_eq(resp->status, CONTAINERD__V1__TYPES__STATUS__RUNNING);
	cr_assert_str_eq(resp->bundle, "k8s.io", "metadata must reach the handler");
	protobuf_c_message_free_unpacked(m, NULL);
}

Test(ttrpc, unknown_service_and_method)
{
	kc_err *e = NULL;
	int r = ttrpc_client_call_sync(cli, "no.such.Service", "X", NULL, NULL, KC_NSEC_PER_SEC,
				       NULL, &e);
	cr_assert_lt(r, 0);
	cr_assert_eq(e->code, ENOSYS);
	cr_assert(strstr(e->msg, "Unimplemented"), "%s", e->msg);
	kc_err_freep(&e);
	r = ttrpc_client_call_sync(cli, "containerd.task.v2.Task", "Nope", NULL, NULL,
				   KC_NSEC_PER_SEC, NULL, &e);
	cr_assert_lt(r, 0);
	cr_assert(strstr(e->msg, "method Nope"), "%s", e->msg);
	kc_err_free(e);
}

Test(ttrpc, errors_carry_code_and_message)
{
	kc_err *e = NULL;
	int r = ttrpc_client_call_sync(cli, "containerd.task.v2.Task", "Fail", NULL, NULL,
				       KC_NSEC_PER_SEC, NULL, &e);
	cr_assert_lt(r, 0);
	cr_assert_eq(e->code, EINVAL);
	cr_assert(strstr(e->msg, "InvalidArgument: mount `/rootfs`: Invalid argument"), "%s",
		  e->msg);
	kc_err_free(e);
}

Test(ttrpc, concurrent_calls_answered_out_of_order)
{
	struct answer a[3] = {0};
	Containerd__Task__V2__WaitResponse wr = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;

	for (int i = 0; i < 3; i++)
		KC_OK(ttrpc_client_call(cli, "containerd.task.v2.Task", "Wait", NULL, 0, on_answer,
					&a[i], err_));
	while (nparked < 3)
		kc_loop_iterate(loop, kc_now_ns() + KC_NSEC_PER_SEC, NULL);
	/* A unary call overtakes the parked ones. */
	struct answer s = {0};
	state_call("x", KC_NSEC_PER_SEC, &s);
	cr_assert(tu_loop_until(loop, &s.done, 1000));
	cr_assert_eq(s.code, 0);
	for (int i = 2; i >= 0; i--) {
		wr.exit_status = (uint32_t)(100 + i);
		ttrpc_call_reply(parked[i], &wr.base);
		cr_assert(tu_loop_until(loop, &a[i].done, 1000));
		for (int j = 0; j < i; j++)
			cr_assert_not(a[j].done, "answer %d delivered to call %d", i, j);
	}
	for (int i = 0; i < 3; i++) {
		Containerd__Task__V2__WaitResponse *r =
		    containerd__task__v2__wait_response__unpack(NULL, a[i].len, a[i].payload);
		cr_assert_not_null(r);
		cr_assert_eq(r->exit_status, 100 + (uint32_t)i);
		containerd__task__v2__wait_response__free_unpacked(r, NULL);
	}
}

Test(ttrpc, deadline_expires_on_both_sides)
{
	struct answer a = {0};
	uint64_t t0 = kc_now_ns();

	KC_OK(ttrpc_client_call(cli, "containerd.task.v2.Task", "Wait", NULL, 50 * KC_NSEC_PER_MSEC,
				on_answer, &a, err_));
	cr_assert(tu_loop_until(loop, &a.done, 2000));
	cr_assert_eq(a.code, TTRPC_DEADLINE_EXCEEDED);
	cr_assert_geq(kc_now_ns() - t0, 50 * KC_NSEC_PER_MSEC);
	/* The server saw the same timeout_nano and cancelled its call. */
	for (int i = 0; i < 50 && !cancelled; i++)
		kc_loop_iterate(loop, kc_now_ns() + 10 * KC_NSEC_PER_MSEC, NULL);
	cr_assert_eq(cancelled, 1);
	cr_assert_null(parked[0]);
	/* The connection is still fine. */
	struct answer s = {0};
	state_call("after", KC_NSEC_PER_SEC, &s);
	cr_assert(tu_loop_until(loop, &s.done, 1000));
	cr_assert_eq(s.code, 0);
}

Test(ttrpc, disconnect_fails_pending_and_cancels_server_calls)
{
	struct answer a = {0};
	KC_OK(ttrpc_client_call(cli, "containerd.task.v2.Task", "Wait", NULL, 0, on_answer, &a,
				err_));
	while (nparked < 1)
		kc_loop_iterate(loop, kc_now_ns() + KC_NSEC_PER_SEC, NULL);
	ttrpc_client_free(cli);
	cli = NULL;
	cr_assert(a.done);
	cr_assert_eq(a.code, TTRPC_CANCELLED);
	for (int i = 0; i < 50 && !cancelled; i++)
		kc_loop_iterate(loop, kc_now_ns() + 10 * KC_NSEC_PER_MSEC, NULL);
	cr_assert_eq(cancelled, 1);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
}

Test(ttrpc, streaming_echo)
{
	ttrpc_cstream *s;
	struct answer done = {0};
	static char got[64];
	static size_t ngot;
	ngot = 0;
	void on_data(ttrpc_cstream * st, const uint8_t *d, size_t l, bool closed, void *ud)
	{
		if (l) { /* the stream's end comes as a frame without data */
			memcpy(got + ngot, d, l);
			ngot += l;
		}
	}
	Containerd__Task__V2__StartRequest m = CONTAINERD__TASK__V2__START_REQUEST__INIT;

	KC_OK(ttrpc_client_stream(cli, "containerd.task.v2.Task", "Stream", NULL, true, on_data,
				  on_answer, &done, &s, err_));
	m.id = "a";
	cr_assert_eq(ttrpc_cstream_send(s, &m.base, false), 0);
	m.id = "b";
	cr_assert_eq(ttrpc_cstream_send(s, &m.base, false), 0);
	cr_assert_eq(ttrpc_cstream_close_send(s), 0);
	cr_assert(tu_loop_until(loop, &done.done, 1000));
	cr_assert_eq(done.code, 0);
	/* StartRequest{id:"a"} = 0a 01 61 */
	cr_assert_eq(ngot, 6);
	cr_assert_arr_eq(got,
			 "\x0a\x01"
			 "a"
			 "\x0a\x01"
			 "b",
			 6);
}

/* --- raw frames against the server --------------------------------------- */

TestSuite(ttrpc_raw, .init = setup, .fini = teardown);

static void send_frame(uint32_t id, uint8_t type, uint8_t flags, const uint8_t *d, uint32_t len,
		       bool bytewise)
{
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = {.len = len, .stream_id = id, .type = type, .flags = flags};
	ttrpc_hdr_encode(&h, hdr);
	if (!bytewise) {
		cr_assert_eq(kc_write_all(raw_fd, hdr, sizeof(hdr)), 0);
		if (len)
			cr_assert_eq(kc_write_all(raw_fd, d, len), 0);
		return;
	}
	/* One byte per loop iteration: the server sees every partial read. */
	for (size_t i = 0; i < sizeof(hdr) + len; i++) {
		uint8_t b = i < sizeof(hdr) ? hdr[i] : d[i - sizeof(hdr)];
		cr_assert_eq(write(raw_fd, &b, 1), 1);
		kc_loop_iterate(loop, 0, NULL);
	}
}

static Ttrpc__Response *read_response(uint32_t want_id)
{
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h;
	uint8_t *buf;
	Ttrpc__Response *r;

	kc_set_nonblock(raw_fd, true);
	for (int i = 0; i < 200; i++) {
		kc_loop_iterate(loop, kc_now_ns() + 5 * KC_NSEC_PER_MSEC, NULL);
		if (recv(raw_fd, hdr, 1, MSG_PEEK) == 1)
			break;
	}
	kc_set_nonblock(raw_fd, false);
	cr_assert_eq(kc_read_all(raw_fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	ttrpc_hdr_decode(hdr, &h);
	cr_assert_eq(h.stream_id, want_id);
	cr_assert_eq(h.type, TTRPC_TYPE_RESPONSE);
	buf = xmalloc(h.len);
	cr_assert_eq(kc_read_all(raw_fd, buf, h.len), (ssize_t)h.len);
	r = ttrpc__response__unpack(NULL, h.len, buf);
	free(buf);
	cr_assert_not_null(r);
	return r;
}

static uint8_t *state_request(const char *id, size_t *len)
{
	Containerd__Task__V2__StateRequest sr = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	size_t n;
	uint8_t *inner;
	sr.id = (char *)id;
	inner = kc_pb_pack(&sr.base, &n);
	req.service = "containerd.task.v2.Task";
	req.method = "State";
	req.payload.data = inner;
	req.payload.len = n;
	uint8_t *out = kc_pb_pack(&req.base, len);
	free(inner);
	return out;
}

Test(ttrpc_raw, partial_writes_byte_by_byte)
{
	size_t len;
	_cleanup_free_ uint8_t *req = state_request("slow", &len);
	send_frame(1, TTRPC_TYPE_REQUEST, 0, req, (uint32_t)len, true);
	Ttrpc__Response *r = read_response(1);
	cr_assert_eq(r->status->code, 0);
	Containerd__Task__V2__StateResponse *sr =
	    containerd__task__v2__state_response__unpack(NULL, r->payload.len, r->payload.data);
	cr_assert_str_eq(sr->id, "slow");
	containerd__task__v2__state_response__free_unpacked(sr, NULL);
	ttrpc__response__free_unpacked(r, NULL);
}

Test(ttrpc_raw, oversize_frame_rejected_connection_survives)
{
	const uint32_t big = TTRPC_MAX_DATA + 1;
	uint8_t *junk = xcalloc(1, big);
	size_t len;
	_cleanup_free_ uint8_t *req = state_request("after", &len);
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = {.len = big, .stream_id = 3, .type = TTRPC_TYPE_REQUEST};
	size_t off = 0;

	ttrpc_hdr_encode(&h, hdr);
	cr_assert_eq(kc_write_all(raw_fd, hdr, sizeof(hdr)), 0);
	kc_set_nonblock(raw_fd, true);
	while (off < big) { /* the server drains while we write */
		ssize_t w = write(raw_fd, junk + off, big - off);
		if (w > 0)
			off += (size_t)w;
		kc_loop_iterate(loop, 0, NULL);
	}
	kc_set_nonblock(raw_fd, false);
	free(junk);
	Ttrpc__Response *r = read_response(3);
	cr_assert_eq(r->status->code, TTRPC_RESOURCE_EXHAUSTED);
	cr_assert(strstr(r->status->message, "exceeds maximum message size"));
	ttrpc__response__free_unpacked(r, NULL);
	send_frame(5, TTRPC_TYPE_REQUEST, 0, req, (uint32_t)len, false);
	r = read_response(5);
	cr_assert_eq(r->status->code, 0);
	ttrpc__response__free_unpacked(r, NULL);
}

Test(ttrpc_raw, corrupt_request_gets_error_not_crash)
{
	const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
	send_frame(7, TTRPC_TYPE_REQUEST, 0, garbage, sizeof(garbage), false);
	Ttrpc__Response *r = read_response(7);
	cr_assert_eq(r->status->code, TTRPC_INVALID_ARGUMENT);
	ttrpc__response__free_unpacked(r, NULL);
	/* Even stream ids are the server's and must be refused. */
	size_t len;
	_cleanup_free_ uint8_t *req = state_request("x", &len);
	send_frame(8, TTRPC_TYPE_REQUEST, 0, req, (uint32_t)len, false);
	r = read_response(8);
	cr_assert_eq(r->status->code, TTRPC_INVALID_ARGUMENT);
	ttrpc__response__free_unpacked(r, NULL);
}

Test(ttrpc_raw, random_garbage_never_crashes)
{
	/* Deterministic pseudo-random frames; the server may close on nonsense,
	 * but must not crash or leak. */
	uint32_t x = 12345;
	uint8_t buf[4096];
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < sizeof(buf); off += 64) {
		/* Keep lengths small so the server keeps parsing. */
		buf[off] = 0;
		buf[off + 1] = 0;
		buf[off + 2] = 0;
		buf[off + 3] = 40;
	}
	kc_set_nonblock(raw_fd, true);
	(void)!write(raw_fd, buf, sizeof(buf));
	for (int i = 0; i < 20; i++)
		kc_loop_iterate(loop, kc_now_ns() + KC_NSEC_PER_MSEC, NULL);
	cr_assert_leq(ttrpc_server_n_conns(srv), 1);
}

/* --- golden encodings: field numbers of real Task API messages ----------- */

Test(proto, kill_request_field_numbers)
{
	Containerd__Task__V2__KillRequest k = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	const uint8_t want[] = {0x0a, 0x01, 'a', 0x12, 0x01, 'e', 0x18, 0x09, 0x20, 0x01};
	size_t n;
	k.id = "a";
	k.exec_id = "e";
	k.signal = 9;
	k.all = true;
	_cleanup_free_ uint8_t *b = kc_pb_pack(&k.base, &n);
	cr_assert_eq(n, sizeof(want));
	cr_assert_arr_eq(b, want, n);
}

Test(proto, create_task_request_round_trip)
{
	Containerd__Task__V2__CreateTaskRequest c = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
	Containerd__Types__Mount *mounts[] = {&m};
	char *opts[] = {"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"};
	size_t n;

	c.id = "ctr";
	c.bundle = "/run/b";
	c.terminal = true;
	c.stdin = "hvsock:///run/x.vsock:2001";
	c.stdout = "hvsock:///run/x.vsock:2002";
	m.type = "overlay";
	m.source = "overlay";
	m.options = opts;
	m.n_options = 3;
	c.rootfs = mounts;
	c.n_rootfs = 1;
	_cleanup_free_ uint8_t *b = kc_pb_pack(&c.base, &n);
	Containerd__Task__V2__CreateTaskRequest *r =
	    containerd__task__v2__create_task_request__unpack(NULL, n, b);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->id, "ctr");
	cr_assert_str_eq(r->bundle, "/run/b");
	cr_assert(r->terminal);
	cr_assert_str_eq(r->stdout, "hvsock:///run/x.vsock:2002");
	cr_assert_eq(r->n_rootfs, 1);
	cr_assert_str_eq(r->rootfs[0]->type, "overlay");
	cr_assert_eq(r->rootfs[0]->n_options, 3);
	cr_assert_str_eq(r->rootfs[0]->options[2], "workdir=/w");
	containerd__task__v2__create_task_request__free_unpacked(r, NULL);
}

Test(proto, ttrpc_request_field_numbers)
{
	/* Request{service=1, method=2, payload=3, timeout_nano=4, metadata=5} */
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	Ttrpc__KeyValue *md[] = {&kv};
	const uint8_t want[] = {0x0a, 0x01, 's',  0x12, 0x01, 'm', 0x1a, 0x01, 'p', 0x20,
				0x05, 0x2a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v'};
	size_t n;
	r.service = "s";
	r.method = "m";
	r.payload.data = (uint8_t *)"p";
	r.payload.len = 1;
	r.timeout_nano = 5;
	kv.key = "k";
	kv.value = "v";
	r.metadata = md;
	r.n_metadata = 1;
	_cleanup_free_ uint8_t *b = kc_pb_pack(&r.base, &n);
	cr_assert_eq(n, sizeof(want));
	cr_assert_arr_eq(b, want, n);
}

/* A stream that ends well ends as Go's ttrpc server ends one: a data frame
 * with REMOTE_CLOSED | NO_DATA, no response frame (a Go client would take
 * that for one more, empty, message). */
Test(ttrpc_raw, stream_ends_with_closed_data_frame)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h;
	size_t len;
	_cleanup_free_ uint8_t *buf = NULL;

	req.service = "containerd.task.v2.Task";
	req.method = "Stream";
	buf = kc_pb_pack(&req.base, &len);
	send_frame(1, TTRPC_TYPE_REQUEST, TTRPC_FLAG_REMOTE_OPEN, buf, (uint32_t)len, false);
	send_frame(1, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0,
		   false);
	kc_set_nonblock(raw_fd, true);
	for (int i = 0; i < 200; i++) {
		kc_loop_iterate(loop, kc_now_ns() + 5 * KC_NSEC_PER_MSEC, NULL);
		if (recv(raw_fd, hdr, 1, MSG_PEEK) == 1)
			break;
	}
	kc_set_nonblock(raw_fd, false);
	cr_assert_eq(kc_read_all(raw_fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	ttrpc_hdr_decode(hdr, &h);
	cr_assert_eq(h.stream_id, 1);
	cr_assert_eq(h.type, TTRPC_TYPE_DATA);
	cr_assert_eq(h.flags, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA);
	cr_assert_eq(h.len, 0);
}
