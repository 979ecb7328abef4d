/* SPDX-License-Identifier: Apache-2.0 */
/* What taskep.c and taskep_stream.c share. */
#ifndef SBX_TASKEP_INT_H
#define SBX_TASKEP_INT_H

#include "agent_dial.h"
#include "endpoint.h"
#include "taskep.h"
#include "tpod.h"

struct sbx_taskep {
	struct sandbox *s;
	struct tpod pod;
	ttrpc_server *srv;
	char *path;                  /* <base>/task.sock */
	struct kc_endpoint agent_ep; /* the guest's ttrpc (hybrid vsock) */
	kc_agent_dial *dial;
	sbx_done_fn ready_fn; /* the Start waiting for the agent */
	void *ready_ud;
	kc_list waiters;    /* vm_ensure callers while the agent is dialled */
	kc_list streams;    /* taskep_stream.c's proxies */
	kc_list disk_calls; /* disk attach/detach in flight (taskep.c) */
};

#endif
