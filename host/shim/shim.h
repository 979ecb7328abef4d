/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-kuasar-vmm-v2: containerd's shim v2 for kuasar-c. One shim
 * per pod (grouped by io.kubernetes.cri.sandbox-id; a plain `ctr run`
 * container is its own pod). On the pod's first task it asks vmm-sandboxer
 * for a VM, then forwards the Task API to vmm-task in the VM, relays stdio
 * between containerd's FIFOs and per-stream vsock connections, and publishes
 * task events to containerd.
 */
#ifndef KC_SHIM_H
#define KC_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#include "containerd/types/mount.pb-c.h"
#include "loop.h"
#include "ttrpc.h"
#include "util.h"

#define SHIM_DEFAULT_SANDBOXER "/run/vmm-sandboxer.sock"
#define SHIM_GUEST_SHARED      "/run/kuasar/state"
#define SHIM_FIRST_PORT        20000u

struct relay;
struct task;

/* One process (a container's init or an exec) as the shim sees it. */
struct sproc {
	struct task *task;
	kc_list node;   /* task->execs */
	char *exec_id;  /* NULL: init */
	char *stdio[3]; /* containerd's IO URIs */
	bool terminal;
	uint32_t ports[3]; /* guest vsock ports, 0 = none */
	struct relay *relay[3];
	int open_relays;
	uint32_t pid;
	bool started;
	bool agent_exited; /* agent's Wait answered */
	bool exited;       /* ... and our relays are drained: published */
	uint32_t exit_status;
	uint64_t exited_at;
	ttrpc_call **waiters;
	size_t n_waiters;
};

struct task {
	kc_list node;
	char *id;
	char *bundle;   /* containerd's bundle on the host */
	char *host_dir; /* <shared>/<id>: the bundle the guest sees */
	char **mounts;  /* host mount points to undo, deepest last */
	size_t n_mounts;
	struct sproc *init;
	kc_list execs;
};

struct shim {
	kc_loop *loop;
	ttrpc_server *server;
	char *ns;
	char *id;
	char *group; /* pod = sandbox id */
	char *containerd_addr;
	char *ttrpc_addr; /* containerd's ttrpc socket, for events */
	char *sandboxer_addr;
	char *socket_path;
	/* the pod's VM */
	ttrpc_client *sbx;
	ttrpc_client *agent;
	char *agent_addr;
	char *vsock_uds;  /* the VMM's hybrid vsock socket */
	char *shared_dir; /* host side of the guest's /run/kuasar/state */
	bool vm_started;
	bool vm_dead;
	uint32_t next_port;
	kc_list tasks;
	size_t n_tasks;
	ttrpc_client *events;
};

extern struct shim *shim;

/* pod.c */
int pod_ensure_vm(kc_err **err);
/* Find the pod's running VM (the `delete` verb, after a shim crash). */
int pod_attach_existing(kc_err **err);
void pod_stop_vm(void);
uint32_t pod_alloc_port(void);
/* the agent connection died: fail every process */
void pod_on_agent_lost(void);

/* bundle.c: mount the rootfs and host bind sources under the shared dir and
 * write the rewritten config.json there. */
int bundle_prepare(struct task *t, Containerd__Types__Mount *const *mounts, size_t n_rootfs,
		   kc_err **err);
void bundle_cleanup(struct task *t);
/* Unmount and remove <shared>/<id>; true if no other container remains. */
bool bundle_cleanup_dir(const char *shared, const char *id);
/* The pod id of a bundle: its sandbox-id annotation, else the container id. */
char *bundle_group_id(const char *bundle, const char *id);

/* relay.c: containerd IO URI <-> vsock port. */
struct relay;
typedef void (*relay_done_fn)(struct relay *r, void *ud);
/* idx 0 = stdin (uri -> port), 1/2 = stdout/stderr (port -> uri). */
int relay_start(int idx, const char *uri, const char *vsock_uds, uint32_t port, relay_done_fn fn,
		void *ud, struct relay **ret, kc_err **err);
void relay_close_stdin(struct relay *r);
void relay_free(struct relay *r);

/* events.c */
void events_publish(const char *topic, const char *type, const ProtobufCMessage *msg);

/* service.c */
extern const struct ttrpc_service shim_task_service;
void proc_agent_exited(struct sproc *p, uint32_t status, uint64_t exited_at);

#endif
