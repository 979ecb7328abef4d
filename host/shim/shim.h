/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-kuasar-vmm-v2: containerd's shim v2 for kuasar-c. One shim
 * per pod (grouped by io.kubernetes.cri.sandbox-id; a plain `ctr run`
 * container is its own pod). On the pod's first task it asks vmm-sandboxer
 * for a VM, then forwards the Task API to vmm-task in the VM, relays stdio
 * between containerd's FIFOs and per-stream vsock connections, and publishes
 * task events to containerd.
 *
 * This header is the shim's state only; each module has its own header:
 * shim_vm.h (the pod's VM), shim_proc.h (processes, forwarding), bundle.h,
 * relay.h, events.h, service.h. Everything runs on one loop and no handler
 * ever waits: work that needs the VM parks until it is ready.
 */
#ifndef KC_SHIM_H
#define KC_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#include "evpub.h"
#include "loop.h"
#include "ttrpc.h"
#include "util.h"

#define SHIM_DEFAULT_SANDBOXER "/run/vmm-sandboxer.sock"
#define SHIM_GUEST_SHARED      "/run/kuasar/state"

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
	bool in_guest; /* the agent created it (false while the VM boots) */
	uint64_t gen;  /* tells a re-created task with the same id apart */
};

enum shim_vm_state {
	SHIM_VM_NONE,     /* no VM asked for yet (or the last start failed) */
	SHIM_VM_STARTING, /* Controller Create/Start and the agent dial in flight */
	SHIM_VM_READY,    /* agent connected */
	SHIM_VM_STOPPING, /* Controller Stop/Shutdown in flight */
	SHIM_VM_DEAD,     /* the agent connection broke: the VM is gone */
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
	/* the pod's VM (shim_vm.c) */
	enum shim_vm_state vm_state;
	char **vm_annotations; /* for Controller.Create: key, value, ... */
	size_t n_vm_annotations;
	char *vm_netns; /* the pod's network namespace path, for Controller.Create */
	struct shim_vm *vm;
	ttrpc_client *agent; /* set only in SHIM_VM_READY */
	char *agent_addr;
	char *vsock_uds;  /* the VMM's hybrid vsock socket */
	char *shared_dir; /* <sandbox>/mounts: host-only; the guest sees a read-only view */
	kc_list tasks;
	size_t n_tasks;
	uint64_t next_gen;
	kc_evpub *events; /* NULL when not started by containerd */
	bool shutting_down;
};

extern struct shim *shim;

#endif
