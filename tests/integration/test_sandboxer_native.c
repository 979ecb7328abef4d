/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-sandboxer's task endpoint (containerd 2.x's sandbox mode), black box,
 * with a real QEMU guest: Controller calls as containerd's sandbox proxy
 * makes them (`sandboxer` set), then the Task API at the address Start
 * returned, as containerd speaks it (containerd.task.v3.Task, a host bundle
 * with config.json, stdio as FIFOs or as Streaming streams opened first).
 *
 *   endpoint   Start/Status answer ttrpc+unix://<sandbox>/task.sock, version 3
 *              (our shim's requests still get the agent's address, version 2);
 *              a container with FIFO stdout and one with Streaming stdout and
 *              stderr through the endpoint's proxy: exact output, exit codes,
 *              Delete; Task.Shutdown leaves the VM running; the Controller's
 *              Shutdown removes the endpoint with the sandbox.
 *
 * Skips, with the reason, when root, QEMU or the guest image are missing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentctl.h"
#include "containerd/services/streaming/v1/streaming.pb-c.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "containerd/types/transfer/data.pb-c.h"
#include "endpoint.h"
#include "google/protobuf/any.pb-c.h"
#include "sbxctl.h"
#include "sclient.h"
#include "testutil.h"
#include "util.h"

#define V3      "containerd.task.v3.Task"
#define CALL_NS (60 * KC_NSEC_PER_SEC)

static struct sbxd D;
static char *work;

static void setup(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "native");
	D.events_addr = ""; /* never a real containerd's */
}

static void teardown(void)
{
	if (getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = sbxd_log(&D);
		fprintf(stderr, "--- sandboxer log ---\n%s\n", log);
	}
	if (work)
		tu_rmtree(work);
	free(work);
	sbxd_cleanup(&D);
}

TestSuite(native, .init = setup, .fini = teardown, .timeout = 300);

/* ------------------------------------------------------- v3 Task calls */

static void v3_create(struct agentctl *c, const char *id, const char *bundle, const char *out,
		      const char *errp)
{
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	kc_err *e = NULL;
	r.id = (char *)id;
	r.bundle = (char *)bundle;
	r.stdin = (char *)"";
	r.stdout = (char *)out;
	r.stderr = (char *)errp;
	cr_assert_eq(ttrpc_client_call_sync(c->cli, V3, "Create", &r.base,
					    &containerd__task__v2__create_task_response__descriptor,
					    CALL_NS, &resp, &e),
		     0, "v3 Create %s: %s", id, kc_err_msg(e));
	protobuf_c_message_free_unpacked(resp, NULL);
}

static void v3_simple(struct agentctl *c, const char *method, const char *id,
		      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp)
{
	/* Start, Wait and Delete requests share id (1) and exec_id (2). */
	Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
	kc_err *e = NULL;
	r.id = (char *)id;
	r.exec_id = (char *)"";
	cr_assert_eq(ttrpc_client_call_sync(c->cli, V3, method, &r.base, desc, CALL_NS, resp, &e),
		     0, "v3 %s %s: %s", method, id, kc_err_msg(e));
}

static uint32_t v3_run(struct agentctl *c, const char *id)
{
	Containerd__Task__V2__WaitResponse *w = NULL;
	ProtobufCMessage *m = NULL;
	uint32_t status;

	v3_simple(c, "Start", id, &containerd__task__v2__start_response__descriptor, &m);
	protobuf_c_message_free_unpacked(m, NULL);
	v3_simple(c, "Wait", id, &containerd__task__v2__wait_response__descriptor,
		  (ProtobufCMessage **)&w);
	status = w->exit_status;
	protobuf_c_message_free_unpacked(&w->base, NULL);
	return status;
}

static void v3_delete(struct agentctl *c, const char *id)
{
	ProtobufCMessage *m = NULL;
	v3_simple(c, "Delete", id, &containerd__task__v2__delete_response__descriptor, &m);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* ------------------------------- a Streaming client (tests/lib/sclient.h) */

/* Its own connection to the endpoint, as containerd opens each stream. */
static void sopen(struct sclient *c, kc_loop *loop, const char *addr, const char *id)
{
	kc_err *e = NULL;
	cr_assert_eq(sclient_open(c, loop, addr, id, 65536, 20000, &e), 0, "%s", kc_err_msg(e));
}

/* ------------------------------------------------------------------ cases */

Test(native, endpoint)
{
	_cleanup_free_ char *why = NULL, *cfg = NULL, *id = NULL, *want = NULL, *b1 = NULL;
	_cleanup_free_ char *b2 = NULL, *fifo = NULL, *uo = NULL, *ue = NULL, *sock = NULL;
	const char *args1[] = {"sh", "-c", "echo via fifo; exit 4", NULL};
	const char *args2[] = {"sh", "-c", "echo hello; echo oops >&2; exit 5", NULL};
	struct sbx_started st = {0};
	struct sbx_status ss = {0};
	struct agentctl holder = {0}, c = {0};
	struct sclient out, err;
	char buf[256];
	ssize_t n;
	kc_err *e = NULL;
	int ffd;

	if (!tu_is_root())
		cr_skip_test("skipped: needs root (mounts)");
	cfg = sbxd_qemu_config("microvm", NULL, &why);
	if (!cfg)
		cr_skip_test("skipped: %s", why);
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: no busybox rootfs: %s", kc_err_msg(e));
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));
	work = tu_tmpdir("nativetest");
	holder.dir = work;

	id = xasprintf("native%d", (int)getpid());
	cr_assert_eq(sbx_create(&D, id, NULL, &e), 0, "Create: %s", kc_err_msg(e));
	cr_assert_eq(sbx_start_as(&D, id, "kuasar", &st, &e), 0, "Start: %s", kc_err_msg(e));
	want = xasprintf("ttrpc+unix://%s/%s/task.sock", D.dir, id);
	cr_assert_str_eq(st.address, want);
	cr_assert_eq(st.version, 3);
	cr_assert_eq(sbx_status_as(&D, id, "kuasar", &ss, &e), 0, "%s", kc_err_msg(e));
	cr_assert_str_eq(ss.address, want);
	cr_assert_eq(ss.version, 3);
	sbx_status_clear(&ss);
	cr_assert_eq(sbx_status(&D, id, &ss, &e), 0, "%s", kc_err_msg(e));
	cr_assert(kc_has_prefix(ss.address, "ttrpc+hvsock://"), "shim's address: %s", ss.address);
	cr_assert_eq(ss.version, 2);
	sbx_status_clear(&ss);

	/* containerd dials the address itself (ttrpc+unix:// -> unix://). */
	sock = xasprintf("unix://%s/%s/task.sock", D.dir, id);
	cr_assert_eq(agentctl_connect(&c, sock, &e), 0, "%s", kc_err_msg(e));

	/* FIFO stdio: the endpoint relays it as the shim does. */
	b1 = agentctl_bundle(&holder, "f1", &(struct bundle_opts){.args = args1});
	fifo = xasprintf("%s/f1.out", work);
	cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %m");
	ffd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	cr_assert(ffd >= 0);
	v3_create(&c, "f1", b1, fifo, "");
	cr_assert_eq(v3_run(&c, "f1"), 4);
	/* The exit is published once the output is through. */
	n = read(ffd, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0, "nothing in the FIFO");
	buf[n] = '\0';
	cr_assert_str_eq(buf, "via fifo\n");
	close(ffd);
	v3_delete(&c, "f1");

	/* Streaming: opened first, as containerd does at CreateContainer. */
	sopen(&out, c.loop, want, "s1-stdout");
	sopen(&err, c.loop, want, "s1-stderr");
	uo = xasprintf("%s?streaming_id=s1-stdout", want);
	ue = xasprintf("%s?streaming_id=s1-stderr", want);
	b2 = agentctl_bundle(&holder, "s1", &(struct bundle_opts){.args = args2});
	v3_create(&c, "s1", b2, uo, ue);
	cr_assert_eq(v3_run(&c, "s1"), 5);
	cr_assert(tu_loop_until(c.loop, &out.done, 10000) &&
		      tu_loop_until(c.loop, &err.done, 10000),
		  "streams did not end");
	cr_assert_eq(out.code, 0, "%s", out.msg);
	cr_assert_eq(err.code, 0, "%s", err.msg);
	cr_assert_str_eq(out.got ? (char *)out.got : "", "hello\n");
	cr_assert_str_eq(err.got ? (char *)err.got : "", "oops\n");
	cr_assert_not(out.malformed || err.malformed, "a Streaming message did not unpack");
	sclient_close(&out);
	sclient_close(&err);
	v3_delete(&c, "s1");

	/* containerd 2.x sends Shutdown after a delete: the VM stays. */
	cr_assert_eq(task_shutdown(&c, false, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sbx_status_as(&D, id, "kuasar", &ss, &e), 0, "%s", kc_err_msg(e));
	cr_assert_str_eq(ss.state, "SANDBOX_READY");
	sbx_status_clear(&ss);
	agentctl_stop(&c);

	cr_assert_eq(sbx_stop(&D, id, 10, &e), 0, "Stop: %s", kc_err_msg(e));
	cr_assert_eq(sbx_shutdown(&D, id, &e), 0, "Shutdown: %s", kc_err_msg(e));
	{
		_cleanup_free_ char *p = xasprintf("%s/%s/task.sock", D.dir, id);
		cr_assert(access(p, F_OK) < 0, "task.sock left after Shutdown");
	}
	sbx_started_clear(&st);
}
