/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One pod's Task API (containerd.task.v2/v3.Task as containerd sees it),
 * for the shim (one pod per process) and vmm-sandboxer's task endpoints
 * (host/sandboxer/taskep.c: one per sandbox, many in one process). Most calls are forwarded to
 * vmm-task in the pod's VM; Create/Exec/Start/Wait/Delete also manage the host side: the bundle the
 * guest sees (bundle.h), stdio relays (relay.h), exit tracking and events (proc.h). The owner of a
 * struct tpod provides its VM through struct tpod_ops; everything runs on the owner's loop and no
 * handler ever waits: work that needs the VM parks until it is ready.
 */
#ifndef KC_TPOD_H
#define KC_TPOD_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "evpub.h"
#include "loop.h"
#include "ttrpc.h"
#include "util.h"

/* Where the guest sees the pod's shared dir (virtio-fs). */
#define TPOD_GUEST_SHARED "/run/kuasar/state"

struct relay;
struct task;
struct tpod;

/* One process (a container's init or an exec) as the host sees it. */
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
	struct tpod *pod;
	char *id;
	char *bundle;   /* containerd's bundle on the host */
	char *host_dir; /* <shared>/<id>: the bundle the guest sees */
	char **mounts;  /* host mount points to undo, deepest last */
	size_t n_mounts;
	struct blk_plan *blk; /* disks hot-plugged for it (diskplan.h), or NULL */
	struct sproc *init;
	kc_list execs;
	bool in_guest; /* the agent created it (false while the VM boots) */
	bool pod_pid;  /* its init made the pod's PID namespace (no sandbox container) */
	uint64_t gen;  /* tells a re-created task with the same id apart */
	bool restored; /* read back from the pod's state dir (persist.h) */
};

enum tpod_vm_state {
	TPOD_VM_NONE,     /* no VM asked for yet (or the last start failed) */
	TPOD_VM_STARTING, /* the VM and the agent dial in flight */
	TPOD_VM_READY,    /* agent connected */
	TPOD_VM_STOPPING, /* being stopped */
	TPOD_VM_DEAD,     /* the agent connection broke: the VM is gone */
};

/* err == NULL: pod->agent is connected (ensure) / the VM is stopped (stop). */
typedef void (*tpod_vm_fn)(void *ud, const kc_err *err);
/* A disk attach or detach is done: id ("blk3") and addr ("pci:0000:00:13.0")
 * of the disk, or NULL with err. */
typedef void (*tpod_disk_fn)(void *ud, const char *id, const char *addr, const kc_err *err);

/* What the owner does for the Task API. */
struct tpod_ops {
	/* Call cb once the agent is connected or failed: exactly once, from
	 * the loop or (VM already ready or dead) before returning. */
	void (*vm_ensure)(struct tpod *pod, tpod_vm_fn cb, void *ud);
	/* Shutdown with no tasks left: stop the VM (or not), then cb. */
	void (*vm_stop)(struct tpod *pod, tpod_vm_fn cb, void *ud);
	/* Create of a task while no VM was asked for yet (may be NULL). */
	void (*first_create)(struct tpod *pod, const char *bundle);
	/* Shutdown done and its events handed over. */
	void (*quit)(struct tpod *pod);
	/* Hot-plug path (a regular file or a block device) into the running
	 * VM / unplug the disk named by id or address (diskplan.h). cb runs
	 * exactly once: from the loop, or before returning when the call
	 * fails at once; when the pod goes away first, with an error before
	 * tpod_release returns. NULL: the owner cannot hot-plug. */
	void (*disk_attach)(struct tpod *pod, const char *path, bool read_only, tpod_disk_fn cb,
			    void *ud);
	void (*disk_detach)(struct tpod *pod, const char *id, tpod_disk_fn cb, void *ud);
};

struct tpod {
	kc_loop *loop;
	const struct tpod_ops *ops;
	char *ns;
	char *id; /* the binary loggers' CONTAINER_ID */
	enum tpod_vm_state vm_state;
	ttrpc_client *agent; /* set only in TPOD_VM_READY */
	char *vsock_uds;     /* the VMM's hybrid vsock socket */
	char *shared_dir;    /* <sandbox>/mounts: host-only; the guest sees a read-only view */
	/* Written to each bundle's shim-binary-path (vmm-sandboxer's task
	 * endpoints, NULL for the shim): containerd 2.x reloads a task after
	 * its own restart only through a binary it can resolve (no shim here). */
	char *cleanup_binary;
	/* Where each task's host state is kept for a restart (persist.h);
	 * NULL: not kept. */
	char *state_dir;
	kc_list tasks;
	size_t n_tasks;
	uint64_t next_gen;
	kc_evpub *events; /* NULL: events are not published */
	bool shutting_down;
	/* tpod.c's own */
	ttrpc_client *dead_agent; /* freed from a timer, never in its callback */
	kc_timer *reap_timer;
};

/* loop, ops, ns and id set; the rest zeroed. */
void tpod_init(struct tpod *pod, kc_loop *loop, const struct tpod_ops *ops, const char *ns,
	       const char *id);
/* Free the tasks (their host mounts stay: the VM may outlive us) and
 * everything the pod holds (not the struct). */
void tpod_release(struct tpod *pod);
/* The agent is connected: the pod is ready, its OOM events are polled, and
 * losing the connection makes the VM dead (every started process exits). */
void tpod_agent_ready(struct tpod *pod, ttrpc_client *agent);
/* Close the agent connection ourselves (not from its own callback). */
void tpod_agent_drop(struct tpod *pod);
/* Publish to containerd (a no-op without pod->events). */
void events_publish(struct tpod *pod, const char *topic, const char *type,
		    const ProtobufCMessage *msg);

#endif
