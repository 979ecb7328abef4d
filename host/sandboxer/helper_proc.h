/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper processes of a sandbox (VMM, virtiofsd, vhost-device-vsock): spawn
 * them detached from the daemon (own session, stdio to a log file, so they
 * outlive a daemon restart), follow them by pidfd, and adopt them again after
 * a restart without mistaking a recycled pid for them.
 */
#ifndef SBX_HELPER_PROC_H
#define SBX_HELPER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* QMP, then up to 32 tap queues and as many vhost-net fds. */
#define SBX_SPAWN_MAX_FDS 72

struct sbx_spawn {
	char *const *argv;    /* argv[0]: absolute path of the binary */
	const char *log_path; /* stdout + stderr (appended); NULL: /dev/null */
	const char *netns;    /* network namespace to join first, or NULL */
	const int *fds;       /* fds[i] becomes fd 3 + i in the child */
	size_t n_fds;
};

/* Fork and exec. Returns only after the exec succeeded (or with the child's
 * own error: "exec: No such file or directory", "setns: ..."). ret_pidfd is
 * CLOEXEC; ret_starttime identifies the process (see sbx_proc_adopt). */
int sbx_spawn(const struct sbx_spawn *o, pid_t *ret_pid, int *ret_pidfd, uint64_t *ret_starttime,
	      kc_err **err);

/* Start time of a process in clock ticks since boot (/proc/PID/stat field
 * 22): with the pid, a unique identity for as long as the system runs. */
int sbx_proc_starttime(pid_t pid, uint64_t *ret, kc_err **err);

/* A pidfd for a recorded process, if it still is that process (pid and start
 * time match). ESRCH when it is gone or the pid now belongs to another. */
int sbx_proc_adopt(pid_t pid, uint64_t starttime, int *ret_pidfd, kc_err **err);

/* Collect the exit of a process whose pidfd polled readable: its exit code,
 * or 128 + the signal that killed it. -ECHILD: not our child (adopted after a
 * restart), its status is unknown. */
int sbx_proc_reap(int pidfd, int *ret_status);

/* 1 when every thread of the process is asleep (state S), 0 when one is
 * running or runnable, < 0 when the process is gone. */
int sbx_proc_idle(pid_t pid, kc_err **err);

/* Send a signal through a pidfd (no pid reuse race). 0 or -errno; ESRCH when
 * it has already exited. */
int sbx_proc_signal(int pidfd, int sig);
/* The same for the process and its process group (ours lead their own, see
 * sbx_spawn): helpers that fork (virtiofsd's sandbox child) go with it. The
 * group is only signalled while the pidfd shows the leader alive. */
int sbx_proc_signal_group(int pidfd, pid_t pid, int sig);

#endif
