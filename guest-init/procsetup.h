/* SPDX-License-Identifier: Apache-2.0 */
/* The last steps in the child before execve: limits, identity, capabilities,
 * no_new_privs, umask, cwd, environment. */
#ifndef KC_PROCSETUP_H
#define KC_PROCSETUP_H

#include <sys/resource.h>

#include "err.h"
#include "spec.h"

/* The RLIMIT_NOFILE container processes start from when the agent raised its
 * own (PID 1); unset: they inherit the agent's. */
void kc_proc_set_base_nofile(const struct rlimit *rl);
/* rlimits: done while still fully privileged. (oom_score_adj is set by the
 * agent from outside, spawn.h.) */
int kc_proc_limits(const struct kc_process *p, kc_err **err);
/* Switch uid/gid/groups and set the capability sets (none without a
 * "capabilities" object). */
int kc_proc_identity(const struct kc_process *p, kc_err **err);
/* umask, cwd (verified to be inside the root), no_new_privs, then execve
 * with the process's env, looking the program up in the process's PATH; sc
 * (may be NULL) is loaded last before execve. Returns only on failure. */
int kc_proc_exec(const struct kc_process *p, const struct kc_seccomp *sc, kc_err **err);
/* Resolve argv[0] against PATH from env (as execvpe would, but with the
 * container's PATH, not ours). Returns a malloc'd path or NULL (errno). */
char *kc_find_program(const char *name, char *const *env);

#endif
