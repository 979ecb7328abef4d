/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-task's Streaming service (guest-init/streams.c) fed a hostile peer:
 * the input is a script of messages on up to three Stream calls, each message
 * an Any (StreamInit, Data, WindowUpdate or garbage) sent as a ttrpc data
 * frame; two stdio claims (an output and an input) wait for ids the script
 * may open, and their process sides write and read as a process would. The
 * service must end every call with a well-formed response, never send Data
 * beyond a grant, and free what it holds.
 *
 * Script byte layout, repeated: [op][len][len bytes]
 *   op % 8: 0 open a call   1 Any as is          2 StreamInit{bytes}
 *           3 Data{bytes}   4 WindowUpdate{int}  5 half-close a call
 *           6 hang up (all) 7 the claimed process sides write / close
 *   op / 8 % 3: which call.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "containerd/services/streaming/v1/streaming.pb-c.h"
#include "containerd/types/transfer/data.pb-c.h"
#include "frame.h"
#include "fuzz.h"
#include "google/protobuf/any.pb-c.h"
#include "streams.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

#define FUZZ_MAX_INPUT (64u << 10)

static struct kc_agent agent_storage;
struct kc_agent *kc_agent = &agent_storage;

static int claimed_fd[2] = {-1, -1};
static bool delivered[2]; /* the claim is done (and freed by the service) */

static void on_claim(int fd, void *ud)
{
	claimed_fd[(intptr_t)ud] = fd;
	delivered[(intptr_t)ud] = true;
}

static void send_frame(int fd, uint32_t sid, uint8_t type, uint8_t flags, const uint8_t *p,
		       size_t n)
{
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = {.len = (uint32_t)n, .stream_id = sid, .type = type, .flags = flags};

	ttrpc_hdr_encode(&h, hdr);
	(void)!send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL);
	if (n)
		(void)!send(fd, p, n, MSG_NOSIGNAL);
}

static void open_call(int fd, uint32_t sid)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	size_t n;
	_cleanup_free_ uint8_t *buf = NULL;

	r.service = "containerd.services.streaming.v1.Streaming";
	r.method = "Stream";
	buf = kc_pb_pack(&r.base, &n);
	send_frame(fd, sid, TTRPC_TYPE_REQUEST, TTRPC_FLAG_REMOTE_OPEN, buf, n);
}

static void send_any(int fd, uint32_t sid, const char *type, const ProtobufCMessage *m,
		     const uint8_t *raw, size_t raw_len)
{
	Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
	_cleanup_free_ uint8_t *v = NULL, *buf = NULL;
	size_t vn = 0, n;

	if (m)
		v = kc_pb_pack(m, &vn);
	a.type_url = (char *)type;
	a.value.data = m ? v : (uint8_t *)raw;
	a.value.len = m ? vn : raw_len;
	buf = kc_pb_pack(&a.base, &n);
	send_frame(fd, sid, TTRPC_TYPE_DATA, 0, buf, n);
}

/* Every frame back must decode; Data never beyond what was granted. */
static void drain(int fd, struct ttrpc_decoder *dec, int64_t window[3])
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
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
			} else if (f.hdr.len) {
				Google__Protobuf__Any *a =
				    google__protobuf__any__unpack(NULL, f.hdr.len, f.data);
				FUZZ_CHECK(a);
				if (a->type_url &&
				    !strcmp(a->type_url, "containerd.types.transfer.Data") &&
				    f.hdr.stream_id / 2 < 3) {
					window[f.hdr.stream_id / 2] -= (int64_t)a->value.len;
					FUZZ_CHECK(window[f.hdr.stream_id / 2] >= -16);
				}
				google__protobuf__any__free_unpacked(a, NULL);
			}
			free(f.data);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ttrpc_decoder dec;
	ttrpc_server *srv = NULL;
	kc_sclaim *claim[2];
	int64_t window[3] = {0, 0, 0};
	int sv[2];

	if (size > FUZZ_MAX_INPUT)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
	    kc_loop_new(&kc_agent->loop, NULL) < 0 ||
	    ttrpc_server_new(kc_agent->loop, &srv, NULL) < 0)
		abort();
	ttrpc_server_register(srv, &kc_streaming_service, NULL);
	if (ttrpc_server_serve_fd(srv, sv[0], NULL) < 0)
		abort();
	ttrpc_decoder_init(&dec, TTRPC_MAX_DATA);
	claimed_fd[0] = claimed_fd[1] = -1;
	delivered[0] = delivered[1] = false;
	claim[0] = kc_streams_claim(kc_agent->loop, "o", true, on_claim, (void *)0, NULL);
	claim[1] = kc_streams_claim(kc_agent->loop, "i", false, on_claim, (void *)1, NULL);
	FUZZ_CHECK(claim[0] && claim[1]);
	for (size_t off = 0; off + 2 <= size;) {
		uint8_t op = data[off], len = data[off + 1];
		const uint8_t *p = data + off + 2;
		uint32_t sid = 2u * ((op / 8) % 3) + 1; /* client streams are odd */
		size_t n = len <= size - off - 2 ? len : size - off - 2;

		off += 2 + n;
		switch (op % 8) {
		case 0:
			open_call(sv[1], sid);
			break;
		case 1:
			send_frame(sv[1], sid, TTRPC_TYPE_DATA, 0, p, n);
			break;
		case 2: {
			Containerd__Services__Streaming__V1__StreamInit in =
			    CONTAINERD__SERVICES__STREAMING__V1__STREAM_INIT__INIT;
			_cleanup_free_ char *id = xstrndup((const char *)p, n);
			in.id = id;
			send_any(sv[1], sid, "containerd.services.streaming.v1.StreamInit",
				 &in.base, NULL, 0);
			break;
		}
		case 3: {
			Containerd__Types__Transfer__Data d =
			    CONTAINERD__TYPES__TRANSFER__DATA__INIT;
			d.data.data = (uint8_t *)p;
			d.data.len = n;
			send_any(sv[1], sid, "containerd.types.transfer.Data", &d.base, NULL, 0);
			break;
		}
		case 4: {
			Containerd__Types__Transfer__WindowUpdate w =
			    CONTAINERD__TYPES__TRANSFER__WINDOW_UPDATE__INIT;
			w.update = n ? (int32_t)(p[0] << 8 | len) - 64 : 0;
			window[sid / 2] += w.update > 0 ? w.update : 0;
			send_any(sv[1], sid, "containerd.types.transfer.WindowUpdate", &w.base,
				 NULL, 0);
			break;
		}
		case 5:
			send_frame(sv[1], sid, TTRPC_TYPE_DATA,
				   TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
			break;
		case 6:
			shutdown(sv[1], SHUT_WR);
			break;
		case 7:
			if (claimed_fd[0] >= 0)
				(void)!send(claimed_fd[0], p, n, MSG_NOSIGNAL);
			if (claimed_fd[1] >= 0) {
				uint8_t b[4096];
				(void)!read(claimed_fd[1], b, sizeof(b));
			}
			if (n && p[0] & 1 && claimed_fd[0] >= 0) {
				close(claimed_fd[0]);
				claimed_fd[0] = -1;
			}
			break;
		}
		for (int i = 0; i < 4; i++)
			if (kc_loop_iterate(kc_agent->loop, 0, NULL) < 0)
				abort();
		drain(sv[1], &dec, window);
	}
	/* The peer goes away: every call ends, unclaimed streams are freed. */
	shutdown(sv[1], SHUT_WR);
	for (int rounds = 0; ttrpc_server_n_conns(srv) > 0; rounds++) {
		if (kc_loop_iterate(kc_agent->loop, 0, NULL) < 0)
			abort();
		drain(sv[1], &dec, window);
		FUZZ_CHECK(rounds < 100000);
	}
	for (int i = 0; i < 2; i++) {
		if (claimed_fd[i] >= 0)
			close(claimed_fd[i]);
		if (!delivered[i])
			kc_sclaim_cancel(claim[i]);
	}
	/* Only claimed streams may be held (for a re-open); the rest are gone. */
	for (int i = 0; i < 16; i++)
		(void)kc_loop_iterate(kc_agent->loop, 0, NULL);
	FUZZ_CHECK(kc_streams_count() <= 2);
	kc_streams_fini();
	ttrpc_server_free(srv);
	kc_loop_free(kc_agent->loop);
	kc_agent->loop = NULL;
	close(sv[1]);
	ttrpc_decoder_reset(&dec);
	return 0;
}
