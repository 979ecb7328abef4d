/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_client.h"

#include <errno.h>
#include <string.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "kuasar/sandbox.pb-c.h"
#include "ttrpc.h"
#include "util.h"

enum op_kind { OP_CHECK, OP_SHUTDOWN };

struct sbx_agent_op {
	kc_loop *loop;
	enum op_kind kind;
	uint64_t deadline;
	kc_dialer *dialer;
	ttrpc_client *client;
	kc_timer *done_timer;
	kc_err *result;
	bool cancelled;
	sbx_agent_fn cb;
	void *ud;
};

void sbx_agent_cancel(sbx_agent_op *op)
{
	if (!op)
		return;
	op->cancelled = true;
	kc_dialer_cancel(op->dialer);
	/* Its pending call fails with CANCELLED into on_reply, which ignores
	 * a cancelled op. */
	ttrpc_client_free(op->client);
	kc_timer_cancel(op->done_timer);
	kc_err_free(op->result);
	free(op);
}

/* Freeing the client from its own reply callback is not allowed: finish
 * from the loop. */
static void on_done(kc_timer *t, void *ud)
{
	sbx_agent_op *op = ud;
	sbx_agent_fn cb = op->cb;
	void *cb_ud = op->ud;
	kc_err *res = op->result;
	(void)t;

	op->done_timer = NULL;
	op->result = NULL;
	sbx_agent_cancel(op);
	cb(res, cb_ud);
	kc_err_free(res);
}

static void done(sbx_agent_op *op, kc_err *err)
{
	op->result = err;
	op->done_timer = kc_timer_after(op->loop, 0, on_done, op);
}

static void on_reply(void *ud, const struct ttrpc_status *st, const uint8_t *payload, size_t len)
{
	sbx_agent_op *op = ud;
	kc_err *e = NULL;
	(void)payload;
	(void)len;

	if (op->cancelled || op->done_timer)
		return;
	if (st->code != TTRPC_OK)
		kc_err_set(&e, ttrpc_errno_from_code(st->code), "agent %s: %s: %s",
			   op->kind == OP_CHECK ? "grpc.SandboxService/Check"
						: "containerd.task.v2.Task/Shutdown",
			   ttrpc_code_name(st->code), st->message);
	done(op, e);
}

static void on_dial(int fd, kc_err *err, void *ud)
{
	sbx_agent_op *op = ud;
	uint64_t now = kc_now_ns();
	uint64_t timeout = op->deadline > now ? op->deadline - now : 1;
	kc_err *e = NULL;
	int r;

	op->dialer = NULL;
	if (fd < 0) {
		kc_err_set(&e, err ? err->code : EIO, "%s", kc_err_msg(err));
		return done(op, e);
	}
	if (ttrpc_client_new(op->loop, fd, &op->client, &e) < 0)
		return done(op, e);
	if (op->kind == OP_CHECK) {
		Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
		r = ttrpc_client_call(op->client, "grpc.SandboxService", "Check", &req.base,
				      timeout, on_reply, op, &e);
	} else {
		Containerd__Task__V2__ShutdownRequest req =
		    CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
		req.now = true;
		r = ttrpc_client_call(op->client, "containerd.task.v2.Task", "Shutdown", &req.base,
				      timeout, on_reply, op, &e);
	}
	if (r < 0)
		done(op, e);
}

static sbx_agent_op *start(kc_loop *loop, enum op_kind kind, const struct kc_endpoint *ep,
			   uint64_t deadline_ns, sbx_agent_fn cb, void *ud)
{
	sbx_agent_op *op = xcalloc(1, sizeof(*op));

	op->loop = loop;
	op->kind = kind;
	op->deadline = deadline_ns;
	op->cb = cb;
	op->ud = ud;
	op->dialer = kc_dial_async(loop, ep, deadline_ns, on_dial, op);
	return op;
}

sbx_agent_op *sbx_agent_check(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			      sbx_agent_fn cb, void *ud)
{
	return start(loop, OP_CHECK, ep, deadline_ns, cb, ud);
}

sbx_agent_op *sbx_agent_shutdown(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
				 sbx_agent_fn cb, void *ud)
{
	return start(loop, OP_SHUTDOWN, ep, deadline_ns, cb, ud);
}
