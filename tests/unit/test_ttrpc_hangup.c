/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc sends to a peer that has hung up: no SIGPIPE, and the connection's
 * close never runs under a handler that is answering (found by the Go interop
 * test: a client that sends requests and closes at once). */
#include <criterion/criterion.h>
#include <sys/socket.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "testutil.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

static int answered;

static void h_state(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	/* Answer synchronously, as most handlers do; the peer is already gone. */
	ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "task not found");
	answered++;
}

static const struct ttrpc_method methods[] = {{"State", h_state, 0}};
static const struct ttrpc_service svc = {"containerd.task.v2.Task", methods, 1};

Test(ttrpc_hangup, server_answers_peer_that_closed)
{
	kc_loop *loop;
	ttrpc_server *srv;
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	size_t n;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(ttrpc_server_new(loop, &srv, err_));
	ttrpc_server_register(srv, &svc, NULL);
	KC_OK(ttrpc_server_serve_fd(srv, sv[0], err_));

	req.service = "containerd.task.v2.Task";
	req.method = "State";
	_cleanup_free_ uint8_t *body = kc_pb_pack(&req.base, &n);
	for (uint32_t id = 1; id < 20; id += 2) {
		uint8_t hdr[TTRPC_HDR_LEN];
		struct ttrpc_hdr h = {.len = (uint32_t)n, .stream_id = id, .type = 1};
		ttrpc_hdr_encode(&h, hdr);
		cr_assert_eq(kc_write_all(sv[1], hdr, sizeof(hdr)), 0);
		cr_assert_eq(kc_write_all(sv[1], body, n), 0);
	}
	close(sv[1]);
	for (int i = 0; i < 100 && ttrpc_server_n_conns(srv) > 0; i++)
		kc_loop_iterate(loop, kc_now_ns() + 10 * KC_NSEC_PER_MSEC, NULL);
	cr_assert_eq(ttrpc_server_n_conns(srv), 0);
	cr_assert_geq(answered, 1);
	ttrpc_server_free(srv);
	kc_loop_free(loop);
}

static int cb_runs;

static void on_answer(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	cb_runs++;
}

Test(ttrpc_hangup, client_call_to_closed_peer_fails_once)
{
	kc_loop *loop;
	ttrpc_client *cli;
	kc_err *e = NULL;
	int sv[2], r;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(ttrpc_client_new(loop, sv[0], &cli, err_));
	close(sv[1]);
	/* Either the call is refused now (and its callback never runs), or it is
	 * queued and the callback reports the failure later: never both. */
	r = ttrpc_client_call_raw(cli, "containerd.task.v2.Task", "State", NULL, 0, 0, on_answer,
				  NULL, &e);
	cr_assert_eq(cb_runs, 0, "callback ran inside ttrpc_client_call");
	for (int i = 0; i < 100 && !ttrpc_client_closed(cli); i++)
		kc_loop_iterate(loop, kc_now_ns() + 10 * KC_NSEC_PER_MSEC, NULL);
	cr_assert(ttrpc_client_closed(cli));
	cr_assert_eq(cb_runs, r < 0 ? 0 : 1);
	kc_err_free(e);
	ttrpc_client_free(cli);
	kc_loop_free(loop);
}

Test(ttrpc_hangup, client_freed_before_the_loop_closes_it)
{
	kc_loop *loop;
	ttrpc_client *cli;
	kc_err *e = NULL;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(ttrpc_client_new(loop, sv[0], &cli, err_));
	close(sv[1]);
	/* The failed send leaves the close pending on the loop; freeing the
	 * client first must cancel it (ASan/LSan check the rest). */
	(void)ttrpc_client_call_raw(cli, "containerd.task.v2.Task", "State", NULL, 0, 0, on_answer,
				    NULL, &e);
	kc_err_free(e);
	ttrpc_client_free(cli);
	kc_loop_iterate(loop, 0, NULL);
	kc_loop_free(loop);
}
