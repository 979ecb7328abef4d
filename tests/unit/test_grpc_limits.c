/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC's share of the ttrpc server's limits and lifecycle: concurrent streams
 * (a conforming client, and raw frames from one that ignores the setting),
 * calls in flight in total, connections, bytes of partly received requests,
 * the time a request may take to arrive, telling gRPC from ttrpc by the first
 * bytes (a preface sent in pieces, one never finished, a ttrpc frame shorter
 * than the preface), PING, a hostile byte stream, the client leaving, and
 * GOAWAY when the server is freed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
static ttrpc_call *parked[256];
static int nparked, ncancelled;

static void h_echo(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_raw(c, p, n);
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
	parked[nparked++] = c;
	ttrpc_call_set_cancel(c, on_cancel, NULL);
}

static const struct ttrpc_method methods[] = {{"Echo", h_echo, 0}, {"Park", h_park, 0}};
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
	ttrpc_server_set_limits(srv, lim);
	ttrpc_server_register(srv, &svc, NULL);
	KC_OK(grpc_server_attach(srv, err_));
	C.fd = -1;
}

static void teardown(void)
{
	h2c_close(&C);
	ttrpc_server_free(srv);
	kc_loop_free(loop);
	srv = NULL;
	loop = NULL;
}

TestSuite(grpc_limits, .fini = teardown, .timeout = 60);

static void pump_ms(int ms)
{
	bool never = false;
	uint64_t end = kc_now_ns() + (uint64_t)ms * KC_NSEC_PER_MSEC;
	if (C.s) {
		h2c_pump(&C, &never, ms);
		return;
	}
	while (kc_now_ns() < end)
		(void)kc_loop_iterate(loop, end, NULL);
}

/* ------------------------------------------------------------------ raw frames */

static void frame(uint8_t *out, size_t *n, uint8_t type, uint8_t flags, uint32_t id,
		  const uint8_t *payload, size_t len)
{
	uint8_t *p = out + *n;
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)(id >> 24);
	p[6] = (uint8_t)(id >> 16);
	p[7] = (uint8_t)(id >> 8);
	p[8] = (uint8_t)id;
	if (len)
		memcpy(p + 9, payload, len);
	*n += 9 + len;
}

/* HEADERS of a Park request (HPACK by nghttp2's deflater) and its DATA. */
static void raw_request(nghttp2_hd_deflater *hd, uint8_t *out, size_t *n, uint32_t id)
{
	const char *h[] = {":method", "POST",    ":scheme",  "http",         ":authority",
			   "x",       ":path",   SVC "Park", "content-type", "application/grpc",
			   "te",      "trailers"};
	nghttp2_nv nv[6];
	uint8_t block[512];
	ssize_t bl;

	for (int i = 0; i < 6; i++)
		nv[i] = (nghttp2_nv){(uint8_t *)h[2 * i], (uint8_t *)h[2 * i + 1], strlen(h[2 * i]),
				     strlen(h[2 * i + 1]), NGHTTP2_NV_FLAG_NONE};
	bl = nghttp2_hd_deflate_hd(hd, block, sizeof(block), nv, 6);
	cr_assert_gt(bl, 0);
	frame(out, n, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, id, block, (size_t)bl);
	frame(out, n, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, id, (const uint8_t *)"\0\0\0\0\0", 5);
}

struct seen {
	uint32_t rst_id[64], rst_code[64];
	size_t n_rst;
	bool settings, goaway;
};

/* What the server sent, frame by frame. */
static void raw_read(int fd, struct seen *s)
{
	static uint8_t buf[1 << 20];
	static size_t have;
	ssize_t r;

	while ((r = read(fd, buf + have, sizeof(buf) - have)) > 0)
		have += (size_t)r;
	while (have >= 9) {
		size_t len = (size_t)buf[0] << 16 | (size_t)buf[1] << 8 | buf[2];
		uint32_t id = ((uint32_t)buf[5] << 24 | (uint32_t)buf[6] << 16 |
			       (uint32_t)buf[7] << 8 | buf[8]) &
			      0x7fffffff;
		if (have < 9 + len)
			break;
		if (buf[3] == NGHTTP2_RST_STREAM && len == 4 && s->n_rst < 64) {
			s->rst_id[s->n_rst] = id;
			s->rst_code[s->n_rst++] = (uint32_t)buf[9] << 24 | (uint32_t)buf[10] << 16 |
						  (uint32_t)buf[11] << 8 | buf[12];
		}
		if (buf[3] == NGHTTP2_SETTINGS && !(buf[4] & NGHTTP2_FLAG_ACK))
			s->settings = true;
		if (buf[3] == NGHTTP2_GOAWAY)
			s->goaway = true;
		memmove(buf, buf + 9 + len, have - 9 - len);
		have -= 9 + len;
	}
}

/* ------------------------------------------------------------------ tests */

Test(grpc_limits, concurrent_streams)
{
	int32_t ids[6];

	start(&(struct ttrpc_limits){.max_calls_per_conn = 4});
	h2c_open(&C, loop, serve_pair());
	cr_assert(h2c_pump(&C, &C.settings, MS));
	cr_assert_eq(
	    nghttp2_session_get_remote_settings(C.s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 4);
	for (int i = 0; i < 6; i++)
		ids[i] = h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	pump_ms(100);
	/* The client holds back what the setting does not allow. */
	cr_assert_eq(nparked, 4);
	for (int i = 0; i < 6; i++)
		cr_assert_not(h2c_get(&C, ids[i])->closed);
	ttrpc_call_reply_raw(parked[0], NULL, 0);
	parked[0] = parked[--nparked];
	cr_assert(h2c_wait_closed(&C, ids[0], MS));
	pump_ms(50);
	cr_assert_eq(nparked, 4, "the fifth came in when the first ended");
	cr_assert_eq(ttrpc_server_n_calls(srv), 4);
}

Test(grpc_limits, streams_past_the_setting_are_refused)
{
	nghttp2_hd_deflater *hd;
	static uint8_t out[65536];
	size_t n = 0;
	struct seen s = {0};
	int fd;

	start(&(struct ttrpc_limits){.max_calls_per_conn = 4});
	fd = serve_pair();
	cr_assert_eq(nghttp2_hd_deflate_new(&hd, 4096), 0);
	memcpy(out, GRPC_PREFACE, GRPC_PREFACE_LEN);
	n = GRPC_PREFACE_LEN;
	frame(out, &n, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
	/* Six at once, without waiting for the server's SETTINGS. */
	for (uint32_t i = 0; i < 6; i++)
		raw_request(hd, out, &n, 1 + 2 * i);
	cr_assert_eq(write(fd, out, n), (ssize_t)n);
	pump_ms(100);
	raw_read(fd, &s);
	cr_assert(s.settings);
	cr_assert_eq(nparked, 4);
	cr_assert_eq(s.n_rst, 2, "%zu resets", s.n_rst);
	for (size_t i = 0; i < s.n_rst; i++) {
		cr_assert(s.rst_id[i] == 9 || s.rst_id[i] == 11, "reset of stream %u", s.rst_id[i]);
		cr_assert(s.rst_code[i] == NGHTTP2_REFUSED_STREAM ||
			      s.rst_code[i] == NGHTTP2_PROTOCOL_ERROR,
			  "code %u", s.rst_code[i]);
	}
	nghttp2_hd_deflate_del(hd);
	close(fd);
	pump_ms(50);
	cr_assert_eq(ncancelled, 4, "the hang-up cancelled the parked calls");
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
}

Test(grpc_limits, calls_in_total)
{
	struct h2c B = {.fd = -1};
	int32_t id;

	start(&(struct ttrpc_limits){.max_calls = 3});
	h2c_open(&C, loop, serve_pair());
	h2c_open(&B, loop, serve_pair());
	h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	h2c_unary(&B, SVC "Park", NULL, 0, NULL);
	pump_ms(100);
	h2c_pump(&B, &(bool){false}, 50);
	cr_assert_eq(nparked, 3);
	id = h2c_unary(&B, SVC "Park", NULL, 0, NULL);
	cr_assert(h2c_wait_closed(&B, id, MS));
	cr_assert_eq(h2c_get(&B, id)->status, TTRPC_RESOURCE_EXHAUSTED);
	cr_assert_str_eq(h2c_get(&B, id)->message, "too many calls in flight (3 in total)");
	h2c_close(&B);
	pump_ms(50);
	cr_assert_eq(ncancelled, 1);
	cr_assert_eq(ttrpc_server_n_conns(srv), 1);
}

Test(grpc_limits, connections)
{
	int sv[2];
	kc_err *e = NULL;

	start(&(struct ttrpc_limits){.max_conns = 2});
	h2c_open(&C, loop, serve_pair());
	(void)serve_pair(); /* not yet told apart: counts too */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_lt(ttrpc_server_serve_fd(srv, sv[0], &e), 0);
	cr_assert_eq(e->code, EMFILE);
	kc_err_free(e);
	cr_assert_eq(read(sv[1], (char[1]){0}, 1), 0, "refused at once");
	close(sv[1]);
	cr_assert_eq(ttrpc_server_n_conns(srv), 2);
	/* The gRPC one works. */
	{
		int32_t id = h2c_unary(&C, SVC "Echo", "x", 1, NULL);
		cr_assert(h2c_wait_closed(&C, id, MS));
		cr_assert_eq(h2c_get(&C, id)->status, 0);
	}
}

Test(grpc_limits, pending_bytes)
{
	_cleanup_free_ uint8_t *chunk = xcalloc(1, 200000);
	int32_t id;

	start(&(struct ttrpc_limits){.max_pending_bytes = 64 << 10});
	h2c_open(&C, loop, serve_pair());
	h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	pump_ms(50);
	cr_assert_eq(nparked, 1);
	/* A 1 MiB message, 200 KB of it sent: past the budget, the connection goes. */
	id = h2c_request(&C,
			 (const char *[]){":method", "POST", ":scheme", "http", ":authority", "x",
					  ":path", SVC "Echo", "content-type", "application/grpc",
					  NULL},
			 "\0\0\x10\0\0", 5, false);
	h2c_send(&C, id, chunk, 200000, false);
	cr_assert(h2c_pump(&C, &C.eof, MS), "the connection was not closed");
	pump_ms(20);
	cr_assert_eq(ncancelled, 1, "its parked call was cancelled");
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	cr_assert_eq(ttrpc_server_n_calls(srv), 0);
}

Test(grpc_limits, request_arrival_deadline)
{
	uint64_t t0;
	int32_t id;

	start(&(struct ttrpc_limits){.frame_deadline_ns = 100 * KC_NSEC_PER_MSEC});
	h2c_open(&C, loop, serve_pair());
	t0 = kc_now_ns();
	id = h2c_request(&C,
			 (const char *[]){":method", "POST", ":scheme", "http", ":authority", "x",
					  ":path", SVC "Echo", "content-type", "application/grpc",
					  NULL},
			 "\0\0\0\0\5ab", 7, false);
	cr_assert(h2c_wait_closed(&C, id, MS));
	cr_assert_geq(kc_now_ns() - t0, 100 * KC_NSEC_PER_MSEC);
	cr_assert_eq(h2c_get(&C, id)->status, TTRPC_DEADLINE_EXCEEDED);
	cr_assert_str_eq(h2c_get(&C, id)->message, "request not received in time");
	cr_assert(h2c_get(&C, id)->rst_received);
	/* A parked call is no request in progress: it stays. */
	h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	pump_ms(300);
	cr_assert_eq(nparked, 1);
	cr_assert_eq(ttrpc_server_n_conns(srv), 1);
}

Test(grpc_limits, preface_in_pieces)
{
	struct seen s = {0};
	uint8_t out[64];
	size_t n = 0;
	int fd;

	start(&(struct ttrpc_limits){.frame_deadline_ns = 200 * KC_NSEC_PER_MSEC});
	fd = serve_pair();
	for (size_t i = 0; i < GRPC_PREFACE_LEN; i++) {
		cr_assert_eq(write(fd, GRPC_PREFACE + i, 1), 1);
		(void)kc_loop_iterate(loop, 0, NULL);
	}
	frame(out, &n, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
	cr_assert_eq(write(fd, out, n), (ssize_t)n);
	pump_ms(50);
	raw_read(fd, &s);
	cr_assert(s.settings, "served as HTTP/2");
	close(fd);
	pump_ms(20);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	/* Half a preface, then nothing: closed at the frame deadline. */
	fd = serve_pair();
	cr_assert_eq(write(fd, GRPC_PREFACE, 10), 10);
	pump_ms(100);
	cr_assert_eq(ttrpc_server_n_conns(srv), 1);
	pump_ms(250);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	cr_assert_eq(read(fd, out, sizeof(out)), 0);
	close(fd);
	/* Nothing at all: an idle client may wait as long as it likes. */
	fd = serve_pair();
	pump_ms(400);
	cr_assert_eq(ttrpc_server_n_conns(srv), 1);
	close(fd);
}

static void on_reply(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t n)
{
	int *code = ud;
	*code = st->code;
}

Test(grpc_limits, ttrpc_next_to_grpc)
{
	ttrpc_client *cli = NULL;
	int code = -1;
	bool done = false;

	start(&(struct ttrpc_limits){0});
	h2c_open(&C, loop, serve_pair());
	KC_OK(ttrpc_client_new(loop, serve_pair(), &cli, err_));
	/* A request shorter than the HTTP/2 preface is told apart at once. */
	KC_OK(ttrpc_client_call_raw(cli, "a", "b", NULL, 0, 0, on_reply, &code, err_));
	while (code < 0 && !done)
		done = kc_loop_iterate(loop, kc_now_ns() + MS * KC_NSEC_PER_MSEC, NULL) == 0;
	cr_assert_eq(code, TTRPC_UNIMPLEMENTED);
	{
		kc_err *e = NULL;
		cr_assert_eq(ttrpc_client_call_sync(cli, "kc.test.Svc", "Echo", NULL, NULL,
						    MS * KC_NSEC_PER_MSEC, NULL, &e),
			     0, "%s", kc_err_msg(e));
	}
	{
		int32_t id = h2c_unary(&C, SVC "Echo", "x", 1, NULL);
		cr_assert(h2c_wait_closed(&C, id, MS));
		cr_assert_eq(h2c_get(&C, id)->status, 0);
	}
	cr_assert_eq(ttrpc_server_n_conns(srv), 2);
	ttrpc_client_free(cli);
}

Test(grpc_limits, ping_garbage_and_hangup)
{
	int fd;
	struct seen s = {0};
	uint8_t out[128];
	size_t n = 0;

	start(&(struct ttrpc_limits){0});
	h2c_open(&C, loop, serve_pair());
	h2c_ping(&C);
	cr_assert(h2c_pump(&C, &C.ping_ack, MS), "PING answered");
	/* The client goes with a call parked: cancelled. */
	h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	pump_ms(50);
	cr_assert_eq(nparked, 1);
	h2c_close(&C);
	pump_ms(50);
	cr_assert_eq(ncancelled, 1);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	/* Not HTTP/2 after the preface: closed. */
	fd = serve_pair();
	memcpy(out, GRPC_PREFACE, GRPC_PREFACE_LEN);
	n = GRPC_PREFACE_LEN;
	memset(out + n, 0xff, 40);
	cr_assert_eq(write(fd, out, n + 40), (ssize_t)(n + 40));
	pump_ms(50);
	raw_read(fd, &s);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	close(fd);
}

Test(grpc_limits, goaway_when_freed)
{
	start(&(struct ttrpc_limits){0});
	h2c_open(&C, loop, serve_pair());
	h2c_unary(&C, SVC "Park", NULL, 0, NULL);
	pump_ms(50);
	cr_assert_eq(nparked, 1);
	ttrpc_server_free(srv);
	srv = NULL;
	cr_assert_eq(ncancelled, 1, "the parked call was cancelled");
	cr_assert(h2c_pump(&C, &C.eof, MS));
	cr_assert(C.goaway, "GOAWAY before the close");
	cr_assert_eq(C.goaway_error, NGHTTP2_NO_ERROR);
}
