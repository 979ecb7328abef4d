/* SPDX-License-Identifier: Apache-2.0 */
#include "agent_dial.h"

#include <errno.h>

#include "kuasar/sandbox.pb-c.h"
#include "rpc_call.h"
#include "util.h"

struct kc_agent_dial {
	kc_loop *loop;
	uint64_t deadline;
	bool check;
	kc_dialer *dialer;
	ttrpc_client *cli;
	kc_timer *done;
	kc_err *err;
	kc_agent_dial_fn cb;
	void *ud;
};

void kc_agent_dial_cancel(kc_agent_dial *d)
{
	if (!d)
		return;
	kc_dialer_cancel(d->dialer);
	kc_timer_cancel(d->done);
	/* Freeing the client fails a pending Check into on_check: with cb
	 * cleared it does nothing. */
	d->cb = NULL;
	ttrpc_client_free(d->cli);
	kc_err_free(d->err);
	free(d);
}

static void on_done(kc_timer *t, void *ud)
{
	kc_agent_dial *d = ud;
	kc_agent_dial_fn cb = d->cb;
	void *cb_ud = d->ud;
	ttrpc_client *cli = d->err ? NULL : d->cli;
	kc_err *err = d->err;
	(void)t;

	d->done = NULL;
	d->err = NULL;
	if (cli)
		d->cli = NULL;
	kc_agent_dial_cancel(d);
	cb(cb_ud, cli, err);
	kc_err_free(err);
}

/* Finish from a timer: the client must not be freed inside its own callback. */
static void finish(kc_agent_dial *d, kc_err *err)
{
	d->err = err;
	if (!d->done)
		d->done = kc_timer_after(d->loop, 0, on_done, d);
}

static void on_check(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	kc_agent_dial *d = ud;
	kc_err *e = NULL;
	(void)resp;

	if (!d->cb)
		return;
	if (err)
		kc_err_set(&e, err->code, "agent not ready: %s", err->msg);
	finish(d, e);
}

static void on_dial(int fd, kc_err *err, void *ud)
{
	kc_agent_dial *d = ud;
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	uint64_t now = kc_now_ns();
	kc_err *e = NULL;

	d->dialer = NULL;
	if (fd < 0) {
		kc_err_set(&e, err ? err->code : EIO, "%s", kc_err_msg(err));
		return finish(d, e);
	}
	if (ttrpc_client_new(d->loop, fd, &d->cli, &e) < 0)
		return finish(d, e);
	if (!d->check)
		return finish(d, NULL);
	if (kc_rpc_call(d->cli, &grpc__sandbox_service__descriptor, "Check", &req.base,
			d->deadline > now ? d->deadline - now : 1, on_check, d, &e) < 0)
		finish(d, e);
}

kc_agent_dial *kc_agent_dial_start(kc_loop *loop, const struct kc_endpoint *ep,
				   uint64_t deadline_ns, bool check, kc_agent_dial_fn cb, void *ud)
{
	kc_agent_dial *d = xcalloc(1, sizeof(*d));

	d->loop = loop;
	d->deadline = deadline_ns;
	d->check = check;
	d->cb = cb;
	d->ud = ud;
	d->dialer = kc_dial_async(loop, ep, deadline_ns, on_dial, d);
	return d;
}
