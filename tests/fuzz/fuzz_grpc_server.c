/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC on the ttrpc server (lib/grpc_server.c, grpc_wire.c, and nghttp2
 * under them) as vmm-sandboxer runs it, fed a hostile client's HTTP/2 byte
 * stream (after the client preface) over a socketpair: request headers,
 * grpc-timeout, metadata, message framing, dispatch, handlers that answer at
 * once, fail, unpack a real Controller request, or park until a later call
 * answers them or the stream or connection goes. What the server sends back
 * must be HTTP/2 frames whose header blocks decode, with valid :status,
 * grpc-status and percent-encoded grpc-message values.
 */
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "fuzz.h"
#include "fuzz_parked.h"
#include "grpc.h"
#include "ttrpc.h"
#include "util.h"

#define FUZZ_MAX_INPUT (256u << 10)

static void h_echo(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_raw(c, p, n);
}

static void h_status(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	Containerd__Services__Sandbox__V1__ControllerStatusRequest *req = NULL;
	Containerd__Services__Sandbox__V1__ControllerStatusResponse resp =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_RESPONSE__INIT;
	const char *ns = ttrpc_call_metadata(c, "containerd-namespace");

	if (KC_CALL_UNPACK(c, containerd__services__sandbox__v1__controller_status_request, p, n,
			   req) < 0)
		return;
	if (req->verbose) {
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "sandbox `%s` not found in %s",
				       req->sandbox_id, ns ? ns : "(none)");
	} else {
		resp.sandbox_id = req->sandbox_id;
		resp.state = (char *)(ns ? ns : "");
		ttrpc_call_reply(c, &resp.base);
	}
	containerd__services__sandbox__v1__controller_status_request__free_unpacked(req, NULL);
}

/* Wait: answered by a later Stop, or cancelled (deadline, reset, hang-up). */
static void h_wait(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	fuzz_park(c);
}

static void h_stop(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	for (ttrpc_call *w; (w = fuzz_unpark());)
		ttrpc_call_reply_raw(w, p, n);
	ttrpc_call_reply_raw(c, NULL, 0);
}

static void h_stream(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	ttrpc_call_reply_raw(c, NULL, 0);
}

static const struct ttrpc_method methods[] = {
    {"Platform", h_echo, 0},
    {"Status", h_status, 0},
    {"Wait", h_wait, 0},
    {"Stop", h_stop, 0},
    {"Stream", h_stream, TTRPC_METHOD_STREAMING},
};
static const struct ttrpc_service svc = {"containerd.services.sandbox.v1.Controller", methods,
					 KC_ARRAY_SIZE(methods)};

/* The server's bytes, frame by frame; header blocks through one inflater. */
struct out {
	uint8_t buf[1 << 17];
	size_t have;
	nghttp2_hd_inflater *hd;
	uint8_t block[1 << 17];
	size_t block_len;
};

static bool is(const nghttp2_nv *nv, const char *name)
{
	return nv->namelen == strlen(name) && !memcmp(nv->name, name, nv->namelen);
}

static int value_int(const nghttp2_nv *nv)
{
	int v = 0;
	FUZZ_CHECK(nv->valuelen > 0 && nv->valuelen <= 3);
	for (size_t i = 0; i < nv->valuelen; i++) {
		FUZZ_CHECK(nv->value[i] >= '0' && nv->value[i] <= '9');
		v = v * 10 + nv->value[i] - '0';
	}
	return v;
}

static void check_block(struct out *o)
{
	const uint8_t *in = o->block;
	size_t left = o->block_len;

	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(o->hd, &nv, &flags, in, left, 1);
		FUZZ_CHECK(r >= 0);
		in += r;
		left -= (size_t)r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			if (is(&nv, ":status")) {
				int s = value_int(&nv);
				FUZZ_CHECK(s == 200 || s == 405 || s == 415);
			} else if (is(&nv, "grpc-status")) {
				FUZZ_CHECK(value_int(&nv) <= TTRPC_UNAUTHENTICATED);
			} else if (is(&nv, "grpc-message")) {
				for (size_t i = 0; i < nv.valuelen; i++)
					FUZZ_CHECK(nv.value[i] >= 0x20 && nv.value[i] <= 0x7e);
				FUZZ_CHECK(nv.valuelen <= 3 * GRPC_MAX_STATUS_MESSAGE);
			}
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(o->hd);
			break;
		}
		if (!r && !left)
			break;
	}
	o->block_len = 0;
}

static void drain(int fd, struct out *o)
{
	ssize_t r;

	while ((r = read(fd, o->buf + o->have, sizeof(o->buf) - o->have)) > 0) {
		o->have += (size_t)r;
		while (o->have >= 9) {
			size_t len = (size_t)o->buf[0] << 16 | (size_t)o->buf[1] << 8 | o->buf[2];
			uint8_t type = o->buf[3], flags = o->buf[4];
			FUZZ_CHECK(len <= 16384); /* the default SETTINGS_MAX_FRAME_SIZE */
			if (o->have < 9 + len)
				break;
			if (type == NGHTTP2_HEADERS || type == NGHTTP2_CONTINUATION) {
				FUZZ_CHECK(o->block_len + len <= sizeof(o->block));
				memcpy(o->block + o->block_len, o->buf + 9, len);
				o->block_len += len;
				if (flags & NGHTTP2_FLAG_END_HEADERS)
					check_block(o);
			} else {
				FUZZ_CHECK(o->block_len == 0); /* no frame inside a header block */
				FUZZ_CHECK(type <= NGHTTP2_CONTINUATION);
			}
			memmove(o->buf, o->buf + 9 + len, o->have - 9 - len);
			o->have -= 9 + len;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct out o;
	kc_loop *loop = NULL;
	ttrpc_server *srv = NULL;
	size_t off = 0;
	int sv[2], rounds = 0;
	bool preface_sent = false;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
	    kc_loop_new(&loop, NULL) < 0 || ttrpc_server_new(loop, &srv, NULL) < 0 ||
	    grpc_server_attach(srv, NULL) < 0 || nghttp2_hd_inflate_new(&o.hd) != 0)
		abort();
	o.have = o.block_len = 0;
	ttrpc_server_register(srv, &svc, NULL);
	if (ttrpc_server_serve_fd(srv, sv[0], NULL) < 0)
		abort();
	fuzz_parked.n = 0;
	while (ttrpc_server_n_conns(srv) > 0) {
		if (!preface_sent) {
			preface_sent = send(sv[1], GRPC_PREFACE, GRPC_PREFACE_LEN, MSG_NOSIGNAL) ==
				       GRPC_PREFACE_LEN;
			FUZZ_CHECK(preface_sent);
			if (!size)
				shutdown(sv[1], SHUT_WR);
		} else if (off < size) {
			ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (w > 0 && (off += (size_t)w) == size)
				shutdown(sv[1], SHUT_WR);
		}
		if (kc_loop_iterate(loop, 0, NULL) < 0)
			abort();
		drain(sv[1], &o);
		/* The server must finish with a stream it has read to the end. */
		FUZZ_CHECK(++rounds < 100000);
	}
	FUZZ_CHECK(fuzz_parked.n == 0); /* the hang-up cancelled every parked call */
	FUZZ_CHECK(ttrpc_server_n_calls(srv) == 0);
	drain(sv[1], &o);
	ttrpc_server_free(srv);
	kc_loop_free(loop);
	close(sv[1]);
	nghttp2_hd_inflate_del(o.hd);
	return 0;
}
