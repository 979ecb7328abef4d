/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon and its sandboxes: what every module of vmm-sandboxer shares.
 * One sandbox = one directory <dir>/<id> (sockets, logs, sandbox.json, the
 * virtio-fs share) and up to three processes (VMM, virtiofsd,
 * vhost-device-vsock), each followed by a pidfd on the daemon's loop.
 */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "disk.h"
#include "id.h"
#include "loop.h"
#include "ttrpc.h"
#include "util.h"

/* sandbox_id: bounded, and a path component (see sbx_id_check). */
#define SBX_ID_MAX KC_ID_MAX

enum sbx_state {
	SBX_CREATED,  /* directory ready, nothing runs */
	SBX_STARTING, /* processes spawned, waiting for the agent */
	SBX_RUNNING,
	SBX_STOPPING,
	SBX_STOPPED, /* everything exited; the directory stays until Shutdown */
};

enum sbx_proc_kind { SBX_PROC_VMM, SBX_PROC_FS, SBX_PROC_VSOCK, SBX_PROC_MAX };

struct sandbox;

struct sbx_proc {
	struct sandbox *s;
	enum sbx_proc_kind kind;
	pid_t pid; /* 0: none */
	uint64_t starttime;
	int pidfd;
	kc_watch *watch;
	bool ours; /* our child (reapable); false once adopted after a restart */
	bool running;
};

typedef void (*sbx_done_fn)(struct sandbox *s, kc_err *err, void *ud);

/* Someone waiting for the sandbox to reach SBX_STOPPED (Stop, Wait,
 * Shutdown). Embedded in the waiter's own context; kc_list_del cancels. */
struct sbx_waiter {
	kc_list node;
	sbx_done_fn fn;
	void *ud;
};

struct sbx_daemon {
	kc_loop *loop;
	struct sbx_config cfg;
	char *dir;
	kc_list sandboxes;
	size_t n_sandboxes;
	size_t n_recovering;
	ttrpc_server *srv;
	char *events_addr; /* containerd's ttrpc socket, for task endpoints' events ("": none) */
	/* QEMU host capabilities, probed once at startup. */
	bool kvm;
	bool vhost_user;
	bool vhost_net; /* /dev/vhost-net usable: QEMU's taps get vhost fds */
};

struct sbx_vm_op;  /* vm.c: an in-flight start, stop or recovery */
struct sbx_net;    /* podnet.h */
struct sbx_taskep; /* taskep.h */

struct sandbox {
	kc_list node;
	struct sbx_daemon *d;
	char *id;
	char *base; /* <dir>/<id> */
	enum sbx_state state;
	enum sbx_hv_type type;
	uint32_t vcpus, memory_mb;
	uint32_t cid;
	bool kvm, vhost_user;
	char *netns;
	struct sbx_net *net; /* the pod's interfaces carried into the VM, or NULL */
	char *hostname;
	char *address;             /* the task API address, once started */
	struct sbx_taskep *taskep; /* containerd 2.x's task endpoint, or NULL */
	char *task_ns; /* its containerd namespace, kept to serve it again after a restart */
	uint64_t created_at, started_at, exited_at; /* CLOCK_REALTIME ns */
	uint32_t exit_status;
	struct sbx_proc procs[SBX_PROC_MAX];
	struct sbx_vm_op *op;
	kc_list waiters;        /* struct sbx_waiter */
	struct sbx_disks disks; /* hot-plugged (disk.h) */
	kc_list disk_ops;       /* disk_op.c: queued attach/detach, the first one running */
};

const char *sbx_state_name(enum sbx_state st);
int sbx_state_parse(const char *name, enum sbx_state *ret);
const char *sbx_proc_name(enum sbx_proc_kind k);

/* A sandbox object (not yet on disk, not in the daemon's list). */
struct sandbox *sbx_new(struct sbx_daemon *d, const char *id);
void sbx_free(struct sandbox *s);
struct sandbox *sbx_find(struct sbx_daemon *d, const char *id);
/* Valid ids: 1..SBX_ID_MAX of [A-Za-z0-9_.-], not starting with '.', short
 * enough that every socket path of the sandbox fits in sun_path. */
int sbx_id_check(const struct sbx_daemon *d, const char *id, kc_err **err);
/* "<base>/<name>" (malloc'd). */
char *sbx_path(const struct sandbox *s, const char *name);

void sbx_waiter_add(struct sandbox *s, struct sbx_waiter *w, sbx_done_fn fn, void *ud);
/* Run (and unlink) every waiter. */
void sbx_waiters_fire(struct sandbox *s, kc_err *err);

#endif
