/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sandbox's task endpoint, for containerd 2.x's sandbox mode: containerd
 * dials the address Controller.Start returned (version 3) and speaks
 * containerd.task.v3.Task to it. vmm-sandboxer serves it on
 * <base>/task.sock with the shim's Task API code (host/taskapi, one struct
 * tpod per sandbox) over its own agent connection, and proxies
 * containerd.services.streaming.v1.Streaming to the guest's. The VM is the
 * Controller's: Task.Shutdown never stops it.
 */
#ifndef SBX_TASKEP_H
#define SBX_TASKEP_H

#include "sandbox.h"

#define SBX_F_TASK_API     "task.sock"
#define SBX_F_TASKS        "tasks" /* the tasks' host state (host/taskapi/persist.h) */
#define SBX_TASK_API_V3    3
#define SBX_EVENTS_DEFAULT "/run/containerd/containerd.sock.ttrpc"

struct sbx_taskep;

/* Listen on <base>/task.sock and dial the agent at s->address (a running
 * VM); fn runs once the agent is connected (err NULL) or failed, from the
 * loop. ns: containerd's namespace (events, the agent's metadata). An
 * endpoint already serving a live agent is kept. */
int sbx_taskep_open(struct sandbox *s, const char *ns, sbx_done_fn fn, void *ud, kc_err **err);
/* ttrpc+unix://<base>/task.sock (malloc'd). */
char *sbx_taskep_address(const struct sandbox *s);
/* Serving (Status answers with its address). */
bool sbx_taskep_up(const struct sandbox *s);
/* Close the endpoint and everything on it; NULL is a no-op. */
void sbx_taskep_free(struct sbx_taskep *ep);

/* taskep_stream.c: containerd.services.streaming.v1.Streaming/Stream, each
 * stream proxied over a connection of its own to the guest's. */
void sbx_taskep_stream_register(struct sbx_taskep *ep, ttrpc_server *srv);
void sbx_taskep_streams_free(struct sbx_taskep *ep);

#endif
