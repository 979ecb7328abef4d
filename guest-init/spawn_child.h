/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to spawn*.c: the child side. The agent forks a helper, which
 * enters the container's namespaces in runc's order (join the paths, user
 * namespace first and mount last, then create the new ones, the id maps
 * written by the agent in between), then clones the container process with
 * CLONE_PARENT and exits: the process is the agent's child, it is born in a
 * new pid or time namespace (both apply to children only), and PID 1 of a
 * joined pid namespace is not its reaper. For an exec the helper joins the
 * init's namespaces through its pidfd instead.
 *
 * From the fork on nothing is dumpable (no ptrace, no /proc/<pid>/fd from the
 * container) and the agent's fds are closed; before the user's program runs
 * only its stdio and the (CLOEXEC) sync socket are open, and the cwd it asked
 * for is verified to be inside its root (runc 1.1.12's check).
 */
#ifndef KC_SPAWN_CHILD_H
#define KC_SPAWN_CHILD_H

#include "spawn.h"
#include "util.h"

/* The helper's code: never returns. join: namespaces of the init to enter
 * (exec; 0 for a new container). */
_noreturn_ void spawn_helper(int sync, const struct kc_spawn_opts *o, unsigned long join);

#endif
