/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_client.h"

#include <errno.h>

#include "agent_dial.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "rpc_call.h"
#include "util.h"

struct sbx_agent_op {
	kc_loop *loop;
	uint64_t deadline;
	kc_agent_dial *dial;
	ttrpc_client *cli;
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
	kc_agent_dial_cancel(op->dial);
	/* A pending Shutdown fails with CANCELLED into on_shutdown, which
	 * ignores a cancelled op. */
	ttrpc_client_free(op->cli);
	kc_timer_cancel(op->done_timer);
	kc_err_free(op->result);
	free(op);
}

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

/* From a timer: the client must not be freed inside its own reply callback. */
static void done(sbx_agent_op *op, kc_err *err)
{
	op->result = err;
	op->done_timer = kc_timer_after(op->loop, 0, on_done, op);
}

static kc_err *copy_err(const kc_err *err)
{
	kc_err *e = NULL;
	if (err)
		kc_err_set(&e, err->code, "%s", err->msg);
	return e;
}

static void on_checked(void *ud, ttrpc_client *cli, const kc_err *err)
{
	sbx_agent_op *op = ud;
	op->dial = NULL;
	op->cli = cli;
	done(op, copy_err(err));
}

static void on_shutdown(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	sbx_agent_op *op = ud;
	(void)resp;
	if (op->cancelled || op->done_timer)
		return;
	done(op, copy_err(err));
}

static void on_dialed(void *ud, ttrpc_client *cli, const kc_err *err)
{
	sbx_agent_op *op = ud;
	Containerd__Task__V2__ShutdownRequest req = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
	uint64_t now = kc_now_ns();
	kc_err *e = NULL;

	op->dial = NULL;
	if (!cli)
		return done(op, copy_err(err));
	op->cli = cli;
	req.now = true;
	if (kc_rpc_call(cli, &containerd__task__v2__task__descriptor, "Shutdown", &req.base,
			op->deadline > now ? op->deadline - now : 1, on_shutdown, op, &e) < 0)
		done(op, e);
}

static sbx_agent_op *start(kc_loop *loop, bool check, const struct kc_endpoint *ep,
			   uint64_t deadline_ns, sbx_agent_fn cb, void *ud)
{
	sbx_agent_op *op = xcalloc(1, sizeof(*op));

	op->loop = loop;
	op->deadline = deadline_ns;
	op->cb = cb;
	op->ud = ud;
	op->dial =
	    kc_agent_dial_start(loop, ep, deadline_ns, check, check ? on_checked : on_dialed, op);
	return op;
}

sbx_agent_op *sbx_agent_check(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			      sbx_agent_fn cb, void *ud)
{
	return start(loop, true, ep, deadline_ns, cb, ud);
}

sbx_agent_op *sbx_agent_shutdown(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
				 sbx_agent_fn cb, void *ud)
{
	return start(loop, false, ep, deadline_ns, cb, ud);
}
