/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-task's state: containers and their processes, and the transitions the
 * Task API drives (create, start, exit, delete). RPC handlers live in
 * svc_*.c; this module owns the objects and their lifetimes. */
#ifndef KC_AGENT_H
#define KC_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "blkctr.h"
#include "cgroup.h"
#include "containerd/types/mount.pb-c.h"
#include "loop.h"
#include "spawn.h"
#include "spec.h"
#include "procio.h"
#include "ttrpc.h"
#include "util.h"

/* containerd.v1.types.Status values. */
enum kc_status {
	KC_STATUS_UNKNOWN = 0,
	KC_STATUS_CREATED = 1,
	KC_STATUS_RUNNING = 2,
	KC_STATUS_STOPPED = 3,
	KC_STATUS_PAUSED = 4,
};

struct kc_ctr;

struct kc_proc {
	struct kc_ctr *ctr;
	kc_list node;           /* ctr->execs (exec processes only) */
	char *exec_id;          /* NULL for the container's init */
	struct kc_process spec; /* exec processes: their own spec */
	char *stdin_uri, *stdout_uri, *stderr_uri;
	bool terminal;
	kc_procio *io;
	kc_spawn *spawn;
	pid_t pid;
	int pidfd;
	bool ready;     /* init: set up, waiting for Start */
	bool started;   /* execve succeeded */
	bool exited;    /* reaped */
	bool published; /* exited and output drained: Wait may return */
	int exit_status;
	uint64_t exited_at; /* CLOCK_REALTIME ns */
	kc_timer *drain_timer;
	ttrpc_call *pending;  /* Create or Start waiting for the spawn */
	ttrpc_call **waiters; /* Wait calls */
	size_t n_waiters;
};

struct kc_ctr {
	kc_list node;
	char *id;
	char *bundle;
	char *rootfs;
	bool rootfs_mounted;
	struct kc_blk_set *blk; /* its disks (blkctr.h), NULL if none */
	struct kc_spec *spec;
	struct kc_cgroup *cgroup;
	struct kc_proc *init;
	kc_list execs;
	bool paused;
	uint64_t oom_kills;       /* memory.events oom_kill seen so far */
	struct kc_oom_watch *oom; /* memory.events watch, NULL if none */
};

struct kc_agent {
	kc_loop *loop;
	ttrpc_server *server;
	kc_list ctrs;
	size_t n_ctrs;
	bool host_mode;    /* ordinary process on a host, not PID 1 of a VM */
	char *root_dir;    /* our state directory */
	char *cgroup_root; /* cgroup2 mount, NULL if none */
	char *init_error;  /* first PID-1 init step that failed, for Check */
	uint64_t drain_timeout_ns;
	bool shutting_down;
	/* exits of pids not yet known to any process (exec helper races) */
	struct {
		pid_t pid;
		int status;
	} orphans[64];
	unsigned n_orphans;
};

extern struct kc_agent *kc_agent;

struct kc_ctr *kc_ctr_find(const char *id);
/* Find a process: exec_id NULL or "" = the init. */
struct kc_proc *kc_proc_find(struct kc_ctr *c, const char *exec_id);
enum kc_status kc_proc_status(const struct kc_proc *p);

/* Lifecycle, used by the Task service. Each answers `call` itself when it
 * completes (possibly later, from the loop). */
void kc_ctr_create(ttrpc_call *call, const char *id, const char *bundle,
		   Containerd__Types__Mount *const *rootfs, size_t n_rootfs, bool terminal,
		   const char *in, const char *out, const char *err_uri);
void kc_proc_start(ttrpc_call *call, struct kc_proc *p);
int kc_exec_add(struct kc_ctr *c, const char *exec_id, bool terminal, const char *in,
		const char *out, const char *err_uri, const char *spec_json, size_t spec_len,
		kc_err **err);
/* Removes the container (stopped or never started) and everything it owns. */
void kc_ctr_delete(struct kc_ctr *c);
void kc_proc_delete(struct kc_proc *p);
int kc_proc_kill(struct kc_proc *p, int sig, bool all, kc_err **err);
/* Park a Wait call (answered when the process is published). */
void kc_proc_add_waiter(struct kc_proc *p, ttrpc_call *call);
void kc_proc_reply_wait(struct kc_proc *p, ttrpc_call *call);

/* Called by the reaper for every reaped pid. */
void kc_agent_on_exit(pid_t pid, int status);
/* Kill every container and release everything (Shutdown, poweroff). */
void kc_agent_kill_all(void);

#endif
