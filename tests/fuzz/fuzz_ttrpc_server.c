/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc server (lib/ttrpc_server.c, ttrpc_conn.c, frame.c) as vmm-task and
 * the shim run it, fed a hostile client's byte stream over a socketpair: frame
 * decoding, request unpacking, dispatch by service and method, metadata,
 * deadlines, streams, calls answered later or cancelled by the hang-up. The
 * test services unpack real Task API requests. Everything the server sends
 * back must be well-formed frames: responses that unpack, or stream data.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "fuzz.h"
#include "fuzz_parked.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

#define FUZZ_MAX_INPUT (256u << 10)

static void h_state(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Task__V2__StateRequest *req = NULL;
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	const char *ns = ttrpc_call_metadata(c, "containerd-namespace-ttrpc");

	if (KC_CALL_UNPACK(c, containerd__task__v2__state_request, p, n, req) < 0)
		return;
	resp.id = req->id;
	resp.exec_id = req->exec_id;
	resp.bundle = (char *)(ns ? ns : "");
	ttrpc_call_reply(c, &resp.base);
	containerd__task__v2__state_request__free_unpacked(req, NULL);
}

static void h_create(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Task__V2__CreateTaskRequest *req = NULL;

	if (KC_CALL_UNPACK(c, containerd__task__v2__create_task_request, p, n, req) < 0)
		return;
	ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "create %s: bundle `%s` not found", req->id,
			       req->bundle);
	containerd__task__v2__create_task_request__free_unpacked(req, NULL);
}

/* Wait: answered by a later Kill, or cancelled by a deadline or the hang-up. */
static void h_wait(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	fuzz_park(c);
}

static void h_kill(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Task__V2__WaitResponse wr = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;

	for (ttrpc_call *w; (w = fuzz_unpark());)
		ttrpc_call_reply(w, &wr.base);
	ttrpc_call_reply_raw(c, NULL, 0);
}

static void on_stream(ttrpc_call *c, const uint8_t *data, size_t len, bool closed, void *ud)
{
	if (len)
		(void)ttrpc_call_send_raw(c, data, len, false);
	if (closed)
		ttrpc_call_reply_raw(c, NULL, 0);
}

static void h_stream(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_set_stream(c, on_stream, NULL);
}

static void h_check(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_raw(c, p, n);
}

static const struct ttrpc_method task_methods[] = {
    {"State", h_state, 0},
    {"Create", h_create, 0},
    {"Wait", h_wait, 0},
    {"Kill", h_kill, 0},
    {"Stream", h_stream, TTRPC_METHOD_STREAMING},
};
static const struct ttrpc_service task_svc = {"containerd.task.v2.Task", task_methods,
					      KC_ARRAY_SIZE(task_methods)};
static const struct ttrpc_method sandbox_methods[] = {{"Check", h_check, 0}};
static const struct ttrpc_service sandbox_svc = {"grpc.SandboxService", sandbox_methods, 1};

/* Read what the server sent; every frame must be one a client can take. */
static void drain(int fd, struct ttrpc_decoder *dec)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (size_t off = 0; off < (size_t)n;) {
			struct ttrpc_frame f;
			bool got;
			off += ttrpc_decoder_feed(dec, buf + off, (size_t)n - off, &f, &got);
			if (!got)
				continue;
			FUZZ_CHECK(!f.oversize);
			if (f.hdr.type == TTRPC_TYPE_RESPONSE) {
				Ttrpc__Response *r =
				    ttrpc__response__unpack(NULL, f.hdr.len, f.data);
				FUZZ_CHECK(r);
				ttrpc__response__free_unpacked(r, NULL);
			} else {
				FUZZ_CHECK(f.hdr.type == TTRPC_TYPE_DATA);
			}
			free(f.data);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ttrpc_decoder dec;
	kc_loop *loop = NULL;
	ttrpc_server *srv = NULL;
	size_t off = 0;
	int sv[2], rounds = 0;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
	    kc_loop_new(&loop, NULL) < 0 || ttrpc_server_new(loop, &srv, NULL) < 0)
		abort();
	ttrpc_server_register(srv, &task_svc, NULL);
	ttrpc_server_register(srv, &sandbox_svc, NULL);
	if (ttrpc_server_serve_fd(srv, sv[0], NULL) < 0)
		abort();
	ttrpc_decoder_init(&dec, TTRPC_MAX_DATA);
	fuzz_parked.n = 0;
	if (!size)
		shutdown(sv[1], SHUT_WR);
	while (ttrpc_server_n_conns(srv) > 0) {
		if (off < size) {
			ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (w > 0 && (off += (size_t)w) == size)
				shutdown(sv[1], SHUT_WR);
		}
		if (kc_loop_iterate(loop, 0, NULL) < 0)
			abort();
		drain(sv[1], &dec);
		/* The server must finish with a stream it has read to the end. */
		FUZZ_CHECK(++rounds < 100000);
	}
	FUZZ_CHECK(fuzz_parked.n == 0); /* the hang-up cancelled every parked call */
	drain(sv[1], &dec);
	ttrpc_server_free(srv);
	kc_loop_free(loop);
	close(sv[1]);
	ttrpc_decoder_reset(&dec);
	return 0;
}
