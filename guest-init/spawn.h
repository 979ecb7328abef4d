/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting container processes. The agent forks a short-lived helper that
 * enters the container's namespaces and clones the container process with
 * CLONE_PARENT (spawn_child.h has the order and what the child closes); the
 * process builds the container and reports over a CLOEXEC SOCK_SEQPACKET
 * socketpair: PID (from the helper), READY (set up, waiting for Start), PTY
 * (the terminal master, by SCM_RIGHTS), ERROR (errno + text, then it exits).
 * A successful execve closes the socket, which the agent sees as EOF. The
 * agent puts the helper in the container's cgroup, sets its oom_score_adj
 * and writes the id maps of a new user namespace, all from outside.
 *
 * The parent side is asynchronous (events on the loop); no RPC waits for a
 * container to set itself up.
 */
#ifndef KC_SPAWN_H
#define KC_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "err.h"
#include "loop.h"
#include "spec.h"

enum kc_spawn_event {
	KC_SPAWN_READY,  /* set up, blocked before execve (container init) */
	KC_SPAWN_EXECED, /* execve succeeded */
	KC_SPAWN_FAILED, /* err says why */
};

typedef struct kc_spawn kc_spawn;
typedef void (*kc_spawn_fn)(kc_spawn *s, enum kc_spawn_event ev, const kc_err *err, void *ud);

struct kc_spawn_opts {
	const struct kc_spec *spec;    /* the container */
	const struct kc_process *proc; /* what to run (spec->process for init) */
	const char *rootfs;            /* init only: absolute path of the root */
	int join_pidfd;                /* exec only: pidfd of the container's init, else -1 */
	pid_t join_pid;                /* exec only: its pid */
	struct kc_cgroup *cgroup;      /* may be NULL */
	int stdio[3];                  /* child's 0,1,2 (-1: /dev/null); ignored with a tty */
	bool terminal;
	bool wait_start; /* stop after setup until kc_spawn_release() */
};

/* Fork the helper. Events through fn; the pid is known from READY (init) or
 * EXECED/FAILED (exec) on. */
int kc_spawn_start(kc_loop *loop, const struct kc_spawn_opts *o, kc_spawn_fn fn, void *ud,
		   kc_spawn **ret, kc_err **err);
/* Let a READY child execve. The next event is EXECED or FAILED. */
int kc_spawn_release(kc_spawn *s, kc_err **err);
pid_t kc_spawn_pid(const kc_spawn *s);
/* The reaper reaped pid: true if it was a helper of ours (nothing to report). */
bool kc_spawn_reaped(pid_t pid);
/* The terminal master (ownership moves to the caller), -1 if none. */
int kc_spawn_take_pty(kc_spawn *s);
/* Stop listening; kill the child if it has not exec'd. */
void kc_spawn_free(kc_spawn *s);

/* Resize a terminal. */
int kc_pty_resize(int master, unsigned width, unsigned height, kc_err **err);

#endif
