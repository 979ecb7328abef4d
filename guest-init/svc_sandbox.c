/* SPDX-License-Identifier: Apache-2.0 */
/* Kuasar's grpc.SandboxService. Check is the readiness probe the host dials
 * first: it fails, naming the step, if any PID-1 init step failed. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "kuasar/sandbox.pb-c.h"
#include "events.h"
#include "netcfg.h"
#include "svc.h"

static void h_check(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	(void)data;
	(void)len;
	(void)ud;
	if (kc_agent->init_error) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION, "guest init failed: %s",
				       kc_agent->init_error);
		return;
	}
	svc_reply_empty(call);
}

static int64_t realtime_ns(void)
{
	return (int64_t)kc_realtime_ns();
}

/* Delta == 0: report our clock. Otherwise step it by Delta (signed: a guest
 * clock ahead of the host must go back, unlike Kuasar's unsigned cast). */
static void h_sync_clock(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Grpc__SyncClockPacket *r =
	    SVC_UNPACK(Grpc__SyncClockPacket, grpc__sync_clock_packet, call, data, len);
	(void)ud;
	if (!r)
		return;
	if (r->delta == 0) {
		r->clientarrivetime = realtime_ns();
		r->serversendtime = realtime_ns();
		ttrpc_call_reply(call, &r->base);
	} else {
		int64_t t = realtime_ns() + r->delta;
		struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			ttrpc_call_reply_error(call, TTRPC_INTERNAL, "set clock: %s",
					       strerror(errno));
		else
			ttrpc_call_reply(call, &r->base);
	}
	grpc__sync_clock_packet__free_unpacked(r, NULL);
}

static void h_get_events(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	(void)data;
	(void)len;
	(void)ud;
	kc_events_get(call);
}

static void h_update_interfaces(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Grpc__UpdateInterfacesRequest *r = NULL;
	kc_err *err = NULL;
	(void)ud;

	if (KC_CALL_UNPACK(call, grpc__update_interfaces_request, data, len, r) < 0)
		return;
	if (kc_netcfg_interfaces(r, &err) < 0) {
		ttrpc_call_reply_kc_err(call, err);
		kc_err_free(err);
	} else {
		svc_reply_empty(call);
	}
	grpc__update_interfaces_request__free_unpacked(r, NULL);
}

static void h_update_routes(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Grpc__UpdateRoutesRequest *r = NULL;
	kc_err *err = NULL;
	(void)ud;

	if (KC_CALL_UNPACK(call, grpc__update_routes_request, data, len, r) < 0)
		return;
	if (kc_netcfg_routes(r, &err) < 0) {
		ttrpc_call_reply_kc_err(call, err);
		kc_err_free(err);
	} else {
		svc_reply_empty(call);
	}
	grpc__update_routes_request__free_unpacked(r, NULL);
}

static void h_add_neighbors(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	Grpc__AddARPNeighborsRequest *r = NULL;
	kc_err *err = NULL;
	(void)ud;

	if (KC_CALL_UNPACK(call, grpc__add_arpneighbors_request, data, len, r) < 0)
		return;
	if (kc_netcfg_neighbors(r, &err) < 0) {
		ttrpc_call_reply_kc_err(call, err);
		kc_err_free(err);
	} else {
		svc_reply_empty(call);
	}
	grpc__add_arpneighbors_request__free_unpacked(r, NULL);
}

static void h_later(ttrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
	(void)data;
	(void)len;
	(void)ud;
	ttrpc_call_reply_error(call, TTRPC_UNIMPLEMENTED,
			       "grpc.SandboxService/%s: not implemented by this vmm-task yet",
			       ttrpc_call_method(call));
}

static const struct ttrpc_method sandbox_methods[] = {
    {"Check", h_check, 0},
    {"SyncClock", h_sync_clock, 0},
    {"UpdateInterfaces", h_update_interfaces, 0},
    {"UpdateRoutes", h_update_routes, 0},
    {"AddARPNeighbors", h_add_neighbors, 0},
    {"ExecVMProcess", h_later, 0},
    {"GetEvents", h_get_events, 0},
    {"SetupSandbox", h_later, 0},
};

const struct ttrpc_service kc_sandbox_service = {
    .name = "grpc.SandboxService",
    .methods = sandbox_methods,
    .n_methods = KC_ARRAY_SIZE(sandbox_methods),
};
