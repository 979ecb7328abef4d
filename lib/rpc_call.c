/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc_call.h"

#include <errno.h>
#include <string.h>

#include "util.h"

struct rpc {
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor *m;
	kc_rpc_fn cb;
	void *ud;
};

static int find_method(const ProtobufCServiceDescriptor *svc, const char *method,
		       const ProtobufCMessage *req, const ProtobufCMethodDescriptor **ret,
		       kc_err **err)
{
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(svc, method);
	if (!m)
		return kc_err_set(err, EINVAL, "%s has no method %s", svc->name, method);
	if (req->descriptor != m->input)
		return kc_err_set(err, EINVAL, "%s/%s takes %s, not %s", svc->name, method,
				  m->input->name, req->descriptor->name);
	*ret = m;
	return 0;
}

static void on_reply(void *ud, const struct ttrpc_status *st, const uint8_t *payload, size_t len)
{
	struct rpc *x = ud;
	ProtobufCMessage *resp = NULL;
	kc_err *err = NULL;

	if (st->code != TTRPC_OK)
		kc_err_set(&err, ttrpc_errno_from_code(st->code), "%s/%s: %s: %s", x->svc->name,
			   x->m->name, ttrpc_code_name(st->code), st->message);
	else if (kc_pb_unpack(x->m->output, payload, len, &resp, &err) < 0)
		kc_err_wrap(&err, "%s/%s answer", x->svc->name, x->m->name);
	x->cb(x->ud, err, &resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	kc_err_free(err);
	free(x);
}

int kc_rpc_call(ttrpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
		const ProtobufCMessage *req, uint64_t timeout_ns, kc_rpc_fn cb, void *ud,
		kc_err **err)
{
	struct rpc *x;
	const ProtobufCMethodDescriptor *m;

	if (find_method(svc, method, req, &m, err) < 0)
		return -1;
	x = xcalloc(1, sizeof(*x));
	x->svc = svc;
	x->m = m;
	x->cb = cb;
	x->ud = ud;
	if (ttrpc_client_call(c, svc->name, m->name, req, timeout_ns, on_reply, x, err) < 0) {
		free(x);
		return -1;
	}
	return 0;
}

int kc_rpc_call_sync(ttrpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
		     const ProtobufCMessage *req, uint64_t timeout_ns, ProtobufCMessage **resp,
		     kc_err **err)
{
	const ProtobufCMethodDescriptor *m;

	if (find_method(svc, method, req, &m, err) < 0)
		return -1;
	return ttrpc_client_call_sync(c, svc->name, m->name, req, resp ? m->output : NULL,
				      timeout_ns, resp, err);
}
