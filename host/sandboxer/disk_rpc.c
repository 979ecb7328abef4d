/* SPDX-License-Identifier: Apache-2.0 */
/* kuasarc.disk.v1.Disks on the sandboxer's ttrpc socket (proto/kuasarc/
 * disk.proto): the shim's way to disk_op.c. */
#include "disk_rpc.h"

#include <errno.h>
#include <string.h>

#include "disk.h"
#include "google/protobuf/empty.pb-c.h"
#include "kuasarc/disk.pb-c.h"
#include "log.h"
#include "sandbox.h"

struct rpc {
	ttrpc_call *call; /* NULL once the client gave up */
};

static void on_cancel(ttrpc_call *c, void *data)
{
	struct rpc *p = data;
	(void)c;
	p->call = NULL;
}

static struct rpc *rpc_new(ttrpc_call *call)
{
	struct rpc *p = xcalloc(1, sizeof(*p));
	p->call = call;
	ttrpc_call_set_cancel(call, on_cancel, p);
	return p;
}

static void on_attached(struct sandbox *s, const char *id, const char *addr, kc_err *err, void *ud)
{
	struct rpc *p = ud;
	Kuasarc__Disk__V1__AttachDiskResponse r = KUASARC__DISK__V1__ATTACH_DISK_RESPONSE__INIT;

	if (!p->call) {
		if (!err)
			sbx_disk_detach_unwanted(s, id);
	} else if (err) {
		ttrpc_call_set_cancel(p->call, NULL, NULL);
		ttrpc_call_reply_kc_err(p->call, err);
	} else {
		ttrpc_call_set_cancel(p->call, NULL, NULL);
		r.id = (char *)id;
		r.address = (char *)addr;
		log_info("sandbox %s: disk %s attached at %s", s->id, id, addr);
		ttrpc_call_reply(p->call, &r.base);
	}
	free(p);
}

static void on_detached(struct sandbox *s, const char *id, const char *addr, kc_err *err, void *ud)
{
	struct rpc *p = ud;
	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	(void)addr;

	if (p->call) {
		ttrpc_call_set_cancel(p->call, NULL, NULL);
		if (err)
			ttrpc_call_reply_kc_err(p->call, err);
		else
			ttrpc_call_reply(p->call, &e.base);
	}
	if (!err)
		log_info("sandbox %s: disk %s detached", s->id, id);
	free(p);
}

static struct sandbox *lookup(struct sbx_daemon *d, ttrpc_call *call, const char *id)
{
	struct sandbox *s = id && *id ? sbx_find(d, id) : NULL;
	if (!s)
		ttrpc_call_reply_error(call, TTRPC_NOT_FOUND, "sandbox %s not found", id ? id : "");
	return s;
}

static void h_attach(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Kuasarc__Disk__V1__AttachDiskRequest *r = NULL;
	struct sandbox *s;

	if (KC_CALL_UNPACK(call, kuasarc__disk__v1__attach_disk_request, data, len, r) < 0)
		return;
	if ((s = lookup(ud, call, r->sandbox_id)))
		sbx_disk_attach(s, r->path, r->read_only, on_attached, rpc_new(call));
	kuasarc__disk__v1__attach_disk_request__free_unpacked(r, NULL);
}

static void h_detach(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Kuasarc__Disk__V1__DetachDiskRequest *r = NULL;
	struct sandbox *s;

	if (KC_CALL_UNPACK(call, kuasarc__disk__v1__detach_disk_request, data, len, r) < 0)
		return;
	if ((s = lookup(ud, call, r->sandbox_id)))
		sbx_disk_detach(s, r->id, on_detached, rpc_new(call));
	kuasarc__disk__v1__detach_disk_request__free_unpacked(r, NULL);
}

static const struct ttrpc_method methods[] = {
    {"AttachDisk", h_attach, 0},
    {"DetachDisk", h_detach, 0},
};

static const struct ttrpc_service service = {
    .name = SBX_DISK_SERVICE,
    .methods = methods,
    .n_methods = KC_ARRAY_SIZE(methods),
};

void sbx_disk_rpc_register(ttrpc_server *srv, struct sbx_daemon *d)
{
	ttrpc_server_register(srv, &service, d);
}
