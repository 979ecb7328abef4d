/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc client (lib/ttrpc_client.c, rpc_call.c) as the shim and the
 * sandboxer use it towards vmm-task, fed a hostile guest's byte stream: the
 * client has five calls in flight (stream ids 1, 3, 5, 7, 9: typed State,
 * Create and Wait calls, a raw call with a deadline that expires, a server
 * stream that sends back on every data frame), then reads the input as the
 * server's answers until the hang-up. Each callback must run exactly once.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "fuzz.h"
#include "rpc_call.h"
#include "ttrpc.h"
#include "util.h"

#define FUZZ_MAX_INPUT (256u << 10)
#define N_CALLS        5

static int done[N_CALLS];
static int data_frames;

static void on_rpc(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	int i = (int)(intptr_t)ud;
	done[i]++;
	/* An answer is either an error or a message of the method's type. */
	FUZZ_CHECK(!err != !*resp);
	if (err)
		FUZZ_CHECK(err->msg);
}

static void on_raw(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	int i = (int)(intptr_t)ud;
	done[i]++;
	FUZZ_CHECK(st->message);
	FUZZ_CHECK(!len || p);
}

static void on_data(ttrpc_cstream *s, const uint8_t *data, size_t len, bool closed, void *ud)
{
	Containerd__Task__V2__StateRequest req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	data_frames++;
	FUZZ_CHECK(!len || data);
	if (data_frames < 16)
		(void)ttrpc_cstream_send(s, &req.base, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Containerd__Task__V2__StateRequest st = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Containerd__Task__V2__CreateTaskRequest cr =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__WaitRequest wr = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	const ProtobufCServiceDescriptor *task = &containerd__task__v2__task__descriptor;
	kc_loop *loop = NULL;
	ttrpc_client *cli = NULL;
	ttrpc_cstream *stream = NULL;
	size_t off = 0;
	int sv[2], rounds = 0;
	char sink[65536];

	if (size > FUZZ_MAX_INPUT)
		return -1;
	memset(done, 0, sizeof(done));
	data_frames = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
	    kc_loop_new(&loop, NULL) < 0 || ttrpc_client_new(loop, sv[0], &cli, NULL) < 0)
		abort();
	ttrpc_client_set_metadata(cli, "containerd-namespace-ttrpc", "k8s.io");
	st.id = cr.id = wr.id = "c1";
	if (kc_rpc_call(cli, task, "State", &st.base, 0, on_rpc, (void *)0, NULL) < 0 ||
	    kc_rpc_call(cli, task, "Create", &cr.base, 0, on_rpc, (void *)1, NULL) < 0 ||
	    kc_rpc_call(cli, task, "Wait", &wr.base, 0, on_rpc, (void *)2, NULL) < 0 ||
	    ttrpc_client_call_raw(cli, "containerd.task.v2.Task", "Pids", NULL, 0, 1, on_raw,
				  (void *)3, NULL) < 0 ||
	    ttrpc_client_stream(cli, "containerd.task.v2.Task", "Stream", &st.base, true, on_data,
				on_raw, (void *)4, &stream, NULL) < 0)
		abort();
	if (!size)
		shutdown(sv[1], SHUT_WR);
	while (!ttrpc_client_closed(cli)) {
		if (off < size) {
			ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (w > 0 && (off += (size_t)w) == size)
				shutdown(sv[1], SHUT_WR);
		}
		if (kc_loop_iterate(loop, 0, NULL) < 0)
			abort();
		while (read(sv[1], sink, sizeof(sink)) > 0) /* the requests */
			;
		FUZZ_CHECK(++rounds < 100000);
	}
	for (int i = 0; i < N_CALLS; i++)
		FUZZ_CHECK(done[i] == 1);
	ttrpc_client_free(cli);
	kc_loop_free(loop);
	close(sv[1]);
	return 0;
}
