/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's tasks and processes: lookups, stdio ports and relays, exit
 * tracking (the agent's Wait, then our relays draining, then the exit
 * event), and forwarding containerd's calls to the agent. */
#ifndef KC_TASKAPI_PROC_H
#define KC_TASKAPI_PROC_H

#include "tpod.h"

/* The agent's Task service (containerd may call us as v2 or v3). */
#define TASK_SVC      "containerd.task.v2.Task"
#define AGENT_TIMEOUT (60 * KC_NSEC_PER_SEC)
/* Stdio ports are random in [PORT_MIN, PORT_MAX] so a guest process cannot
 * guess another's before the host connects. */
#define TPOD_PORT_MIN 20000u
#define TPOD_PORT_MAX 65000u

/* An RPC from containerd in flight (at the agent, or parked until the VM is
 * ready). Processes are looked up by id when the answer comes, so nothing
 * dangles if they went away. */
struct pending {
	struct tpod *pod;
	ttrpc_call *call;
	char *id, *exec_id;
	uint64_t gen;
	void *data; /* the handler's own (e.g. the parked request) */
};

struct pending *pending_new(struct tpod *pod, ttrpc_call *call, const char *id,
			    const char *exec_id);
/* Detach and return the containerd call (NULL if it already went away). */
ttrpc_call *pending_take(struct pending *x);
void pending_free(struct pending *x);
struct task *find_task(struct tpod *pod, const char *id);
struct sproc *find_proc(struct tpod *pod, const char *id, const char *exec_id);
/* Unlink and free a task, its processes and its host bundle. */
void task_free(struct task *t);
/* ... leaving its host bundle mounted (the process exits, the VM may not). */
void task_forget(struct task *t);
void reply_empty(ttrpc_call *c);
void reply_status(ttrpc_call *c, const struct ttrpc_status *st);
struct sproc *sproc_new(struct task *t, const char *exec_id, bool terminal, const char *in,
			const char *out, const char *err);
void sproc_free(struct sproc *p);
/* hvsock://<VMM vsock socket>:<port> for stream i, containerd's URI for a
 * streaming one (`...?streaming_id=`), "" if none. */
char *guest_uri(const struct sproc *p, int i);
void reply_wait(ttrpc_call *c, struct sproc *p);
int start_relays(struct sproc *p, int from, int to, kc_err **err);
/* Wait at the agent ourselves, once per started process. */
void watch_exit(struct sproc *p);
void proc_agent_exited(struct sproc *p, uint32_t status, uint64_t exited_at);
/* The agent connection died: every started process has exited (255). */
void procs_agent_lost(struct tpod *pod);
/* What is left of a containerd call's deadline, for the agent call. */
uint64_t timeout_of(ttrpc_call *c);
/* Forward the raw request to the agent; cb (default: relay the answer). */
void forward(struct tpod *pod, ttrpc_call *c, const uint8_t *d, size_t n, ttrpc_reply_fn cb,
	     const char *id, const char *exec_id);

#endif
