/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC on the ttrpc server (lib/grpc_server.c), driven by nghttp2's client
 * (tests/lib/h2cli.c) over a socketpair: answers and trailers-only errors,
 * every kind of bad request, metadata, grpc-timeout, RST_STREAM as
 * cancellation, answers in any order and from later loop turns, the limits
 * (streams, calls, bytes, time), PING, GOAWAY at shutdown, and ttrpc still
 * served next to it on the same server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "grpc.h"
#include "h2cli.h"
#include "testutil.h"
#include "ttrpc.h"
#include "util.h"

#define SVC "/kc.test.Svc/"
#define MS  3000

static kc_loop *loop;
static ttrpc_server *srv;
static struct h2c C;

/* Calls parked by Park, answered by the tests. */
static ttrpc_call *parked[128];
static int nparked, ncancelled;
static uint64_t last_deadline;

static void h_echo(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_raw(c, p, n);
}

/* payload: a code byte and the message */
static void h_fail(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_error(c, n ? p[0] : 2, "%.*s", n ? (int)n - 1 : 0,
			       n ? (const char *)p + 1 : "");
}

static void h_meta(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_free_ char *key = xstrndup((const char *)p, n);
	const char *v = ttrpc_call_metadata(c, key);
	ttrpc_call_reply_raw(c, (const uint8_t *)(v ? v : "<none>"), strlen(v ? v : "<none>"));
}

static void on_cancel(ttrpc_call *c, void *d)
{
	for (int i = 0; i < nparked; i++)
		if (parked[i] == c)
			parked[i] = parked[--nparked];
	ncancelled++;
}

static void h_park(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	last_deadline = ttrpc_call_deadline(c);
	parked[nparked++] = c;
	ttrpc_call_set_cancel(c, on_cancel, NULL);
}

/* payload: the answer's size, 4 bytes big-endian */
static void h_big(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	_cleanup_free_ uint8_t *b = xcalloc(1, len ? len : 1);
	ttrpc_call_reply_raw(c, b, len);
}

static void h_unpack(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Services__Sandbox__V1__ControllerStatusRequest *req = NULL;
	if (KC_CALL_UNPACK(c, containerd__services__sandbox__v1__controller_status_request, p, n,
			   req) < 0)
		return;
	ttrpc_call_reply_raw(c, (const uint8_t *)req->sandbox_id, strlen(req->sandbox_id));
	containerd__services__sandbox__v1__controller_status_request__free_unpacked(req, NULL);
}

static void h_stream(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_raw(c, NULL, 0);
}

static const struct ttrpc_method methods[] = {
    {"Echo", h_echo, 0},
    {"Fail", h_fail, 0},
    {"Meta", h_meta, 0},
    {"Park", h_park, 0},
    {"Big", h_big, 0},
    {"Unpack", h_unpack, 0},
    {"Stream", h_stream, TTRPC_METHOD_STREAMING},
};
static const struct ttrpc_service svc = {"kc.test.Svc", methods, KC_ARRAY_SIZE(methods)};

static int serve_pair(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	KC_OK(ttrpc_server_serve_fd(srv, sv[0], err_));
	return sv[1];
}

static void start(const struct ttrpc_limits *lim)
{
	nparked = ncancelled = 0;
	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(ttrpc_server_new(loop, &srv, err_));
	if (lim)
		ttrpc_server_set_limits(srv, lim);
	ttrpc_server_register(srv, &svc, NULL);
	KC_OK(grpc_server_attach(srv, err_));
	h2c_open(&C, loop, serve_pair());
}

static void setup(void)
{
	start(NULL);
}

static void teardown(void)
{
	h2c_close(&C);
	ttrpc_server_free(srv);
	kc_loop_free(loop);
	srv = NULL;
	loop = NULL;
}

TestSuite(grpc, .init = setup, .fini = teardown, .timeout = 60);

/* Let both ends run for a while (for what must not happen, or settle). */
static void pump_ms(int ms)
{
	bool never = false;
	h2c_pump(&C, &never, ms);
}

static struct h2c_stream *call(const char *method, const void *msg, size_t len)
{
	_cleanup_free_ char *path = xasprintf(SVC "%s", method);
	int32_t id = h2c_unary(&C, path, msg, len, NULL);
	cr_assert(h2c_wait_closed(&C, id, MS), "%s: no answer", method);
	return h2c_get(&C, id);
}

static void assert_status(const struct h2c_stream *st, int http, int code, const char *msg)
{
	cr_assert_eq(st->http, http);
	cr_assert_str_eq(st->ctype, "application/grpc");
	cr_assert_eq(st->status, code, "grpc-status %d, want %d (%s)", st->status, code,
		     st->message ? st->message : "");
	if (msg)
		cr_assert(st->message && strstr(st->message, msg), "grpc-message '%s', want '%s'",
			  st->message ? st->message : "(none)", msg);
	if (code) {
		cr_assert(st->trailers_only, "an error is trailers-only");
		cr_assert_eq(st->len, 0, "no DATA with an error");
	}
}

Test(grpc, unary)
{
	struct h2c_stream *st = call("Echo", "hello", 5);
	const uint8_t *m;
	size_t n;

	assert_status(st, 200, 0, NULL);
	cr_assert_not(st->trailers_only);
	cr_assert_eq(st->header_blocks, 2, "headers, then trailers");
	cr_assert_null(st->message);
	m = h2c_msg(st, &n);
	cr_assert(m && n == 5 && !memcmp(m, "hello", 5));
	/* An empty answer is still one (empty) message. */
	st = call("Echo", NULL, 0);
	assert_status(st, 200, 0, NULL);
	cr_assert(h2c_msg(st, &n) && n == 0);
	cr_assert(C.settings, "the server sent its SETTINGS");
	cr_assert_eq(
	    nghttp2_session_get_remote_settings(C.s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
	    TTRPC_DEFAULT_MAX_CALLS_PER_CONN);
	cr_assert_eq(ttrpc_server_n_calls(srv), 0);
}

Test(grpc, errors_trailers_only_percent_encoded)
{
	const char msg[] = "\x05sandbox `x` not found: 100% gone\n\xc3\xa9";
	struct h2c_stream *st = call("Fail", msg, sizeof(msg) - 1);

	assert_status(st, 200, TTRPC_NOT_FOUND, msg + 1);
	cr_assert_str_eq(st->raw_message, "sandbox `x` not found: 100%25 gone%0A%C3%A9");
	cr_assert_str_eq(st->message, msg + 1);
	/* A handler's INVALID_ARGUMENT for a malformed protobuf, as over ttrpc. */
	st = call("Unpack", "\xff\xff\xff", 3);
	assert_status(st, 200, TTRPC_INVALID_ARGUMENT,
		      "Unpack: malformed containerd.services.sandbox.v1.ControllerStatusRequest");
	{
		Containerd__Services__Sandbox__V1__ControllerStatusRequest r =
		    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_REQUEST__INIT;
		size_t n;
		_cleanup_free_ uint8_t *b = NULL;
		r.sandbox_id = "pod-1";
		b = kc_pb_pack(&r.base, &n);
		st = call("Unpack", b, n);
		assert_status(st, 200, 0, NULL);
		cr_assert(h2c_msg(st, &n) && n == 5);
	}
	/* A long message is cut, still one header. */
	{
		_cleanup_free_ char *big = xmalloc(10001);
		memset(big, 'x', 10001);
		big[0] = TTRPC_INTERNAL;
		st = call("Fail", big, 10001);
		assert_status(st, 200, TTRPC_INTERNAL, NULL);
		cr_assert_eq(strlen(st->message), GRPC_MAX_STATUS_MESSAGE);
	}
}

static struct h2c_stream *request(const char *const *hdrs, const void *body, size_t len)
{
	int32_t id = h2c_request(&C, hdrs, body, len, true);
	cr_assert(h2c_wait_closed(&C, id, MS), "no answer");
	return h2c_get(&C, id);
}

#define BASE_HDRS(path) ":method", "POST", ":scheme", "http", ":authority", "x", ":path", path

Test(grpc, bad_requests)
{
	const uint8_t one[] = {0, 0, 0, 0, 1, 'x'};
	struct h2c_stream *st;

	st =
	    request((const char *[]){":method", "GET", ":scheme", "http", ":authority", "x",
				     ":path", SVC "Echo", "content-type", "application/grpc", NULL},
		    NULL, 0);
	assert_status(st, 405, TTRPC_INTERNAL, "gRPC requests are POST");
	st = request((const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "text/plain", NULL},
		     one, 6);
	assert_status(st, 415, TTRPC_INVALID_ARGUMENT, "content-type text/plain");
	st = request((const char *[]){BASE_HDRS(SVC "Echo"), NULL}, one, 6);
	assert_status(st, 415, TTRPC_INVALID_ARGUMENT, "no content-type");
	st = request(
	    (const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc+json", NULL},
	    one, 6);
	assert_status(st, 200, TTRPC_UNIMPLEMENTED, "application/grpc+json");
	st = request(
	    (const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc+proto", NULL},
	    one, 6);
	assert_status(st, 200, 0, NULL);
	st = request((const char *[]){BASE_HDRS("/nope"), "content-type", "application/grpc", NULL},
		     one, 6);
	assert_status(st, 200, TTRPC_UNIMPLEMENTED, "malformed method name: /nope");
	st = call("Nope", "x", 1);
	assert_status(st, 200, TTRPC_UNIMPLEMENTED, "kc.test.Svc: method Nope not implemented");
	{
		int32_t id = h2c_unary(&C, "/kc.Other/X", NULL, 0, NULL);
		cr_assert(h2c_wait_closed(&C, id, MS));
		assert_status(h2c_get(&C, id), 200, TTRPC_UNIMPLEMENTED,
			      "service kc.Other not implemented");
	}
	st = call("Stream", NULL, 0);
	assert_status(st, 200, TTRPC_UNIMPLEMENTED, "served over ttrpc only");
	st = request((const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc",
				      "grpc-encoding", "gzip", NULL},
		     one, 6);
	assert_status(st, 200, TTRPC_UNIMPLEMENTED, "grpc-encoding gzip");
	st = request((const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc",
				      "grpc-encoding", "identity", NULL},
		     one, 6);
	assert_status(st, 200, 0, NULL);
	st = request((const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc",
				      "grpc-timeout", "1s", NULL},
		     one, 6);
	assert_status(st, 200, TTRPC_INVALID_ARGUMENT, "malformed grpc-timeout 1s");
	/* Bodies: compressed, two messages, none, cut short. */
	st = request(
	    (const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc", NULL},
	    "\1\0\0\0\1x", 6);
	assert_status(st, 200, TTRPC_INTERNAL, "compressed");
	st = request(
	    (const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc", NULL},
	    "\0\0\0\0\1x\0\0\0\0\0", 11);
	assert_status(st, 200, TTRPC_INTERNAL, "more than one request message");
	st = request(
	    (const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc", NULL}, NULL,
	    0);
	assert_status(st, 200, TTRPC_INTERNAL, "no request message");
	st = request(
	    (const char *[]){BASE_HDRS(SVC "Echo"), "content-type", "application/grpc", NULL},
	    "\0\0\0\0\5ab", 7);
	assert_status(st, 200, TTRPC_INTERNAL, "cut short");
	cr_assert_eq(ttrpc_server_n_calls(srv), 0);
	cr_assert_eq(ttrpc_server_n_conns(srv), 1, "the connection survived all of them");
}

Test(grpc, message_limits)
{
	_cleanup_free_ uint8_t *big = xcalloc(1, GRPC_MAX_MESSAGE + 1);
	struct h2c_stream *st;
	const uint8_t *m;
	size_t n;

	/* 4 MiB each way is fine. */
	st = call("Echo", big, GRPC_MAX_MESSAGE);
	assert_status(st, 200, 0, NULL);
	cr_assert(h2c_msg(st, &n) && n == GRPC_MAX_MESSAGE);
	/* One more byte: refused at the prefix, the stream reset after the answer. */
	{
		int32_t id = h2c_unary(&C, SVC "Echo", big, GRPC_MAX_MESSAGE + 1, NULL);
		cr_assert(h2c_wait_closed(&C, id, MS));
		st = h2c_get(&C, id);
		assert_status(st, 200, TTRPC_RESOURCE_EXHAUSTED,
			      "received message larger than max (4194305 vs. 4194304)");
		cr_assert(st->rst_received && st->rst_code == NGHTTP2_NO_ERROR,
			  "RST_STREAM NO_ERROR after the early answer");
	}
	/* An answer over 4 MiB is never sent. */
	st = call("Big", "\0\x40\0\0", 4);
	assert_status(st, 200, 0, NULL);
	st = call("Big", "\0\x40\0\1", 4);
	assert_status(st, 200, TTRPC_RESOURCE_EXHAUSTED, "response exceeds the 4 MiB");
	m = h2c_msg(call("Echo", "ok", 2), &n);
	cr_assert(m && n == 2, "the connection goes on");
}

Test(grpc, metadata)
{
	const char *extra[] = {"x-key",  "value 1", "containerd-namespace", "k8s.io", "user-agent",
			       "test/1", NULL};
	const char *keys[][2] = {{"x-key", "value 1"},       {"containerd-namespace", "k8s.io"},
				 {"user-agent", "test/1"},   {":path", "<none>"},
				 {"te", "<none>"},           {"content-type", "<none>"},
				 {"grpc-timeout", "<none>"}, {"X-Key", "<none>"}};

	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		const char *ex[16];
		size_t k = 0, n;
		const uint8_t *m;
		int32_t id;
		for (; extra[k]; k++)
			ex[k] = extra[k];
		ex[k++] = "grpc-timeout";
		ex[k++] = "10S";
		ex[k] = NULL;
		id = h2c_unary(&C, SVC "Meta", keys[i][0], strlen(keys[i][0]), ex);
		cr_assert(h2c_wait_closed(&C, id, MS));
		m = h2c_msg(h2c_get(&C, id), &n);
		cr_assert(m && n == strlen(keys[i][1]) && !memcmp(m, keys[i][1], n), "%s: %.*s",
			  keys[i][0], m ? (int)n : 0, m ? (const char *)m : "");
	}
	/* Too many entries, too many bytes. */
	{
		const char *ex[2 * GRPC_MAX_METADATA + 4];
		char names[GRPC_MAX_METADATA + 1][16];
		int32_t id;
		for (int i = 0; i <= GRPC_MAX_METADATA; i++) {
			snprintf(names[i], sizeof(names[i]), "k%d", i);
			ex[2 * i] = names[i];
			ex[2 * i + 1] = "v";
		}
		ex[2 * GRPC_MAX_METADATA + 2] = NULL;
		id = h2c_unary(&C, SVC "Echo", NULL, 0, ex);
		cr_assert(h2c_wait_closed(&C, id, MS));
		assert_status(h2c_get(&C, id), 200, TTRPC_RESOURCE_EXHAUSTED, "metadata entries");
	}
	{
		_cleanup_free_ char *v = xmalloc(9000);
		const char *ex[] = {"a", v, "b", v, NULL};
		int32_t id;
		memset(v, 'v', 8999);
		v[8999] = '\0';
		id = h2c_unary(&C, SVC "Echo", NULL, 0, ex);
		cr_assert(h2c_wait_closed(&C, id, MS));
		assert_status(h2c_get(&C, id), 200, TTRPC_RESOURCE_EXHAUSTED,
			      "request headers exceed 16384 bytes");
	}
}

Test(grpc, deadline)
{
	const char *ex[] = {"grpc-timeout", "100m", NULL};
	uint64_t t0 = kc_now_ns();
	int32_t id = h2c_unary(&C, SVC "Park", NULL, 0, ex);
	struct h2c_stream *st;

	cr_assert(h2c_wait_closed(&C, id, MS));
	st = h2c_get(&C, id);
	assert_status(st, 200, TTRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	cr_assert_geq(kc_now_ns() - t0, 100 * KC_NSEC_PER_MSEC);
	cr_assert_gt(last_deadline, t0);
	cr_assert_leq(last_deadline, t0 + 150 * KC_NSEC_PER_MSEC);
	cr_assert_eq(ncancelled, 1, "the handler's cancel hook ran");
	cr_assert_eq(nparked, 0);
	/* No grpc-timeout: no deadline (a Wait stays open). */
	id = h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	cr_assert_not(h2c_wait_closed(&C, id, 300));
	cr_assert_eq(last_deadline, UINT64_MAX);
	cr_assert_eq(nparked, 1);
	/* Already past: never reaches the handler. */
	ex[1] = "0n";
	id = h2c_unary(&C, SVC "Park", NULL, 0, ex);
	cr_assert(h2c_wait_closed(&C, id, MS));
	assert_status(h2c_get(&C, id), 200, TTRPC_DEADLINE_EXCEEDED, NULL);
	cr_assert_eq(nparked, 1);
}

Test(grpc, cancel_by_reset)
{
	int32_t a = h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	int32_t b = h2c_unary(&C, SVC "Park", NULL, 0, NULL);

	pump_ms(100);
	cr_assert_eq(nparked, 2);
	cr_assert_eq(ttrpc_server_n_calls(srv), 2);
	h2c_reset(&C, a, NGHTTP2_CANCEL);
	cr_assert(h2c_wait_closed(&C, a, MS));
	pump_ms(50);
	cr_assert_eq(ncancelled, 1, "RST_STREAM cancels the call");
	cr_assert_eq(nparked, 1);
	cr_assert_eq(ttrpc_server_n_calls(srv), 1);
	/* The other goes on and is answered. */
	ttrpc_call_reply_raw(parked[0], (const uint8_t *)"b", 1);
	nparked = 0;
	cr_assert(h2c_wait_closed(&C, b, MS));
	assert_status(h2c_get(&C, b), 200, 0, NULL);
	cr_assert_eq(ttrpc_server_n_calls(srv), 0);
}

/* Answered later, from the test (not inside the handler), in reverse order. */
Test(grpc, answers_in_any_order)
{
	int32_t ids[10];

	for (int i = 0; i < 10; i++)
		ids[i] = h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	pump_ms(100);
	cr_assert_eq(nparked, 10);
	/* parked[] is in arrival order: answer the last first. */
	for (int i = 9; i >= 0; i--) {
		char v[8];
		snprintf(v, sizeof(v), "r%d", i);
		if (i % 3 == 0)
			ttrpc_call_reply_error(parked[i], TTRPC_ABORTED, "%s", v);
		else
			ttrpc_call_reply_raw(parked[i], (const uint8_t *)v, strlen(v));
	}
	nparked = 0;
	for (int i = 0; i < 10; i++) {
		struct h2c_stream *st;
		char v[8];
		size_t n;
		const uint8_t *m;
		snprintf(v, sizeof(v), "r%d", i);
		cr_assert(h2c_wait_closed(&C, ids[i], MS));
		st = h2c_get(&C, ids[i]);
		if (i % 3 == 0) {
			assert_status(st, 200, TTRPC_ABORTED, v);
		} else {
			assert_status(st, 200, 0, NULL);
			m = h2c_msg(st, &n);
			cr_assert(m && n == strlen(v) && !memcmp(m, v, n));
		}
	}
	cr_assert_eq(ttrpc_server_n_calls(srv), 0);
}
