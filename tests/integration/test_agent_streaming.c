/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process IO through containerd's Streaming API (io_type = "streaming")
 * against the real vmm-task in host mode, speaking the protocol as
 * containerd's client does: one connection per stream, Stream(stream Any)
 * opened with StreamInit{id}, one answer awaited, then Data under
 * WindowUpdate flow control; stdio URIs carry `?streaming_id=<id>`.
 *
 *   output_streams     stdout and stderr, exact bytes, stream ends OK
 *   stdin_stream       Data in (after the agent's grant), CloseSend = EOF
 *   window_respected   1 MiB out with small grants: never beyond the grant
 *   reopen_keeps_output  the reader's connection dies mid-output; a new
 *                      stream with the same id gets the rest, in order
 *   protocol_errors    Data before StreamInit, an empty id, Data on an
 *                      output stream beyond any grant: each ends the stream
 *                      with InvalidArgument / ResourceExhausted-like status
 *   task_v3            the Task API answers under containerd.task.v3.Task
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentctl.h"
#include "containerd/services/streaming/v1/streaming.pb-c.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "containerd/types/transfer/data.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "sclient.h"
#include "testutil.h"
#include "util.h"

static struct agentctl A;
static char *bin;

static void setup(void)
{
	kc_err *e = NULL;
	if (!tu_is_root())
		cr_skip_test("skipped: needs root to create namespaces and mounts");
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: %s", kc_err_msg(e));
	bin = getenv("KC_AGENT") ? xstrdup(getenv("KC_AGENT")) : tu_bin("vmm-task");
	if (access(bin, X_OK) < 0)
		cr_skip_test("skipped: %s not built", bin);
	cr_assert_eq(agentctl_start(&A, bin, NULL, &e), 0, "start agent: %s", kc_err_msg(e));
}

static void teardown(void)
{
	if (A.dir && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = agentctl_log(&A);
		fprintf(stderr, "--- agent log ---\n%s\n", log);
	}
	agentctl_stop(&A);
	free(bin);
}

TestSuite(streaming, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------- a client (tests/lib/sclient.h) */

static void send_any(struct sclient *c, const char *type, const ProtobufCMessage *m, bool close)
{
	kc_err *e = NULL;
	cr_assert_eq(sclient_send(c, type, m, close, &e), 0, "%s", kc_err_msg(e));
}

static void grant(struct sclient *c, int32_t n)
{
	kc_err *e = NULL;
	cr_assert_eq(sclient_grant(c, n, &e), 0, "%s", kc_err_msg(e));
}

/* A connection of its own and a Stream call; StreamInit{id} unless NULL. */
static void sopen(struct sclient *c, const char *id, int32_t grant_step)
{
	_cleanup_free_ char *addr = xasprintf("unix://%s/agent.sock", A.dir);
	kc_err *e = NULL;
	cr_assert_eq(sclient_open(c, A.loop, addr, id, grant_step, 5000, &e), 0, "%s",
		     kc_err_msg(e));
}

static void sclose(struct sclient *c)
{
	cr_assert_not(c->malformed, "a Streaming message did not unpack");
	sclient_close(c);
}

static char *uri(const char *id)
{
	/* What containerd passes: the task address plus the stream id. */
	return xasprintf("ttrpc+unix://%s/agent.sock?streaming_id=%s", A.dir, id);
}

static char *bundle_for(const char *id, const char *script)
{
	const char *args[] = {"/bin/sh", "-c", script, NULL};
	struct bundle_opts o = {.args = args};
	return agentctl_bundle(&A, id, &o);
}

/* ------------------------------------------------------------------ cases */

Test(streaming, output_streams)
{
	struct sclient out, err;
	_cleanup_free_ char *b = bundle_for("s1", "echo hello; echo oops >&2; printf 'no newline'");
	_cleanup_free_ char *uo = uri("s1-stdout"), *ue = uri("s1-stderr");
	kc_err *e = NULL;
	uint32_t status = 99;

	/* Opened first, as containerd does at CreateContainer. */
	sopen(&out, "s1-stdout", 65536);
	sopen(&err, "s1-stderr", 65536);
	cr_assert_eq(task_create(&A, "s1", b, false, NULL, uo, ue, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "s1", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "s1", NULL, &status, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(status, 0);
	cr_assert(tu_loop_until(A.loop, &out.done, 5000) && tu_loop_until(A.loop, &err.done, 5000),
		  "streams did not end");
	cr_assert_eq(out.code, 0, "%s", out.msg);
	cr_assert_str_eq((char *)out.got, "hello\nno newline");
	cr_assert_str_eq((char *)err.got, "oops\n");
	cr_assert_eq(task_delete(&A, "s1", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	sclose(&out);
	sclose(&err);
}

Test(streaming, stdin_stream)
{
	struct sclient in, out;
	_cleanup_free_ char *b = bundle_for("s2", "cat; echo done");
	_cleanup_free_ char *ui = uri("s2-stdin"), *uo = uri("s2-stdout");
	Containerd__Types__Transfer__Data d = CONTAINERD__TYPES__TRANSFER__DATA__INIT;
	const char *text = "line one\nline two\n";
	kc_err *e = NULL;
	uint32_t status = 99;

	sopen(&in, "s2-stdin", 0);
	sopen(&out, "s2-stdout", 65536);
	cr_assert_eq(task_create(&A, "s2", b, false, ui, uo, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "s2", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	/* A writer sends nothing before the agent grants a window. */
	for (int i = 0; i < 500 && in.window < (int64_t)strlen(text); i++)
		tu_loop_until(A.loop, &in.done, 10);
	cr_assert_geq(in.window, (int64_t)strlen(text), "no window granted for stdin");
	d.data.data = (uint8_t *)text;
	d.data.len = strlen(text);
	send_any(&in, "containerd.types.transfer.Data", &d.base, true);
	cr_assert_eq(task_wait(&A, "s2", NULL, &status, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(status, 0);
	cr_assert(tu_loop_until(A.loop, &out.done, 5000), "stdout did not end");
	cr_assert_str_eq((char *)out.got, "line one\nline two\ndone\n");
	cr_assert(tu_loop_until(A.loop, &in.done, 5000), "stdin stream did not end");
	cr_assert_eq(in.code, 0, "%s", in.msg);
	cr_assert_eq(task_delete(&A, "s2", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	sclose(&in);
	sclose(&out);
}

Test(streaming, window_respected)
{
	struct sclient out;
	_cleanup_free_ char *b =
	    bundle_for("s3", "i=0; while [ $i -lt 16 ]; do head -c 65536 /dev/zero | tr '\\0' x; "
			     "i=$((i+1)); done");
	_cleanup_free_ char *uo = uri("s3-stdout");
	kc_err *e = NULL;
	uint32_t status = 99;

	sopen(&out, "s3-stdout", 4096);
	cr_assert_eq(task_create(&A, "s3", b, false, NULL, uo, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "s3", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert(tu_loop_until(A.loop, &out.done, 30000), "stream did not end (%zu bytes)",
		  out.got_len);
	cr_assert_eq(task_wait(&A, "s3", NULL, &status, &e), 0, "%s", kc_err_msg(e));
	cr_assert_not(out.overrun, "the agent sent beyond the window");
	cr_assert_eq(out.got_len, 1 << 20);
	for (size_t i = 0; i < out.got_len; i++)
		if (out.got[i] != 'x')
			cr_assert_fail("byte %zu is %#x", i, out.got[i]);
	cr_assert_eq(task_delete(&A, "s3", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	sclose(&out);
}

Test(streaming, reopen_keeps_output)
{
	struct sclient out;
	_cleanup_free_ char *b = bundle_for(
	    "s4", "i=0; while [ $i -lt 100 ]; do printf '%02d-456789\\n' $i; i=$((i+1)); done");
	_cleanup_free_ char *uo = uri("s4-stdout");
	_cleanup_free_ char *want = xcalloc(1, 1001);
	_cleanup_free_ char *all = NULL;
	kc_err *e = NULL;
	uint32_t status = 99;

	for (int i = 0; i < 100; i++)
		sprintf(want + 10 * i, "%02d-456789\n", i);
	sopen(&out, "s4-stdout", 0);
	grant(&out, 25);
	cr_assert_eq(task_create(&A, "s4", b, false, NULL, uo, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "s4", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	for (int i = 0; i < 500 && out.got_len < 25; i++)
		tu_loop_until(A.loop, &out.done, 10);
	cr_assert_eq(out.got_len, 25, "got %zu bytes before the cut", out.got_len);
	all = xstrdup((char *)out.got);
	/* containerd restarts: its connection is gone. */
	sclose(&out);
	sopen(&out, "s4-stdout", 65536);
	cr_assert(tu_loop_until(A.loop, &out.done, 10000), "the re-opened stream did not end");
	cr_assert_eq(out.code, 0, "%s", out.msg);
	{
		_cleanup_free_ char *joined =
		    xasprintf("%s%s", all, out.got ? (char *)out.got : "");
		cr_assert_str_eq(joined, want);
	}
	cr_assert_eq(task_wait(&A, "s4", NULL, &status, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(status, 0);
	cr_assert_eq(task_delete(&A, "s4", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	sclose(&out);
}

Test(streaming, protocol_errors)
{
	struct sclient c;
	Containerd__Types__Transfer__Data d = CONTAINERD__TYPES__TRANSFER__DATA__INIT;
	Containerd__Services__Streaming__V1__StreamInit in =
	    CONTAINERD__SERVICES__STREAMING__V1__STREAM_INIT__INIT;

	d.data.data = (uint8_t *)"x";
	d.data.len = 1;
	sopen(&c, NULL, 0);
	send_any(&c, "containerd.types.transfer.Data", &d.base, false);
	cr_assert(tu_loop_until(A.loop, &c.done, 5000));
	cr_assert_eq(c.code, TTRPC_INVALID_ARGUMENT, "%d %s", c.code, c.msg);
	cr_assert(strstr(c.msg, "StreamInit"), "%s", c.msg);
	sclose(&c);

	sopen(&c, NULL, 0);
	in.id = "";
	send_any(&c, "containerd.services.streaming.v1.StreamInit", &in.base, false);
	cr_assert(tu_loop_until(A.loop, &c.done, 5000));
	cr_assert_eq(c.code, TTRPC_INVALID_ARGUMENT, "%d %s", c.code, c.msg);
	sclose(&c);

	/* Data nobody granted (the stream is not even claimed). */
	sopen(&c, "s5-stdin", 0);
	send_any(&c, "containerd.types.transfer.Data", &d.base, false);
	cr_assert(tu_loop_until(A.loop, &c.done, 5000));
	cr_assert_neq(c.code, 0);
	cr_assert(strstr(c.msg, "window"), "%s", c.msg);
	sclose(&c);
	/* The agent is fine afterwards. */
	{
		kc_err *e = NULL;
		cr_assert_eq(sandbox_check(&A, &e), 0, "%s", kc_err_msg(e));
	}
}

/* The same answer under both package names; an unknown one is refused. */
static int connect_as(const char *svc, Containerd__Task__V2__ConnectResponse **resp, kc_err **e)
{
	Containerd__Task__V2__ConnectRequest r = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	r.id = "none";
	return ttrpc_client_call_sync(A.cli, svc, "Connect", &r.base,
				      &containerd__task__v2__connect_response__descriptor,
				      5 * KC_NSEC_PER_SEC, (ProtobufCMessage **)resp, e);
}

Test(streaming, task_v3)
{
	Containerd__Task__V2__ConnectResponse *v2 = NULL, *v3 = NULL, *bad = NULL;
	kc_err *e = NULL;

	cr_assert_eq(connect_as("containerd.task.v2.Task", &v2, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(connect_as("containerd.task.v3.Task", &v3, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(v2->shim_pid, v3->shim_pid);
	cr_assert_eq(v2->version, v3->version);
	cr_assert_lt(connect_as("containerd.task.v9.Task", &bad, &e), 0);
	kc_err_free(e);
	protobuf_c_message_free_unpacked(&v2->base, NULL);
	protobuf_c_message_free_unpacked(&v3->base, NULL);
}
