/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_client.h"

#include <errno.h>

#include "agent_dial.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "kuasar/sandbox.pb-c.h"
#include "netmsg.h"
#include "rpc_call.h"
#include "util.h"

struct sbx_agent_op {
	kc_loop *loop;
	uint64_t deadline;
	kc_agent_dial *dial;
	ttrpc_client *cli;
	kc_timer *done_timer;
	kc_err *result;
	const struct sbx_netmsg *net; /* NETCFG: what to send */
	size_t calls_done;
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

static uint64_t left(const sbx_agent_op *op)
{
	uint64_t now = kc_now_ns();
	return op->deadline > now ? op->deadline - now : 1;
}

/* The network calls one after the other, in the order netmsg.h gives. */
static void netcfg_next(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	sbx_agent_op *op = ud;
	const struct sbx_netmsg *m = op->net;
	size_t i = op->calls_done;
	kc_err *e = NULL;
	(void)resp;

	if (op->cancelled || op->done_timer)
		return;
	if (err) {
		kc_err_set(&e, err->code, "%s: %s", m->methods[i - 1], err->msg);
		return done(op, e);
	}
	if (i == m->n_calls)
		return done(op, NULL);
	if (kc_rpc_call(op->cli, &grpc__sandbox_service__descriptor, m->methods[i], m->reqs[i],
			left(op), netcfg_next, op, &e) < 0)
		return done(op, e);
	op->calls_done++;
}

static void on_dialed(void *ud, ttrpc_client *cli, const kc_err *err)
{
	sbx_agent_op *op = ud;
	Containerd__Task__V2__ShutdownRequest req = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
	kc_err *e = NULL;

	op->dial = NULL;
	if (!cli)
		return done(op, copy_err(err));
	op->cli = cli;
	if (op->net)
		return netcfg_next(op, NULL, NULL);
	req.now = true;
	if (kc_rpc_call(cli, &containerd__task__v2__task__descriptor, "Shutdown", &req.base,
			left(op), on_shutdown, op, &e) < 0)
		done(op, e);
}

static sbx_agent_op *start(kc_loop *loop, bool check, const struct sbx_netmsg *net,
			   const struct kc_endpoint *ep, uint64_t deadline_ns, sbx_agent_fn cb,
			   void *ud)
{
	sbx_agent_op *op = xcalloc(1, sizeof(*op));

	op->net = net;
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
	return start(loop, true, NULL, ep, deadline_ns, cb, ud);
}

sbx_agent_op *sbx_agent_shutdown(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
				 sbx_agent_fn cb, void *ud)
{
	return start(loop, false, NULL, ep, deadline_ns, cb, ud);
}

sbx_agent_op *sbx_agent_netcfg(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			       const struct sbx_netmsg *m, sbx_agent_fn cb, void *ud)
{
	return start(loop, false, m, ep, deadline_ns, cb, ud);
}
