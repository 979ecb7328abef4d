/* SPDX-License-Identifier: Apache-2.0 */
/* Watch files for modification with one inotify fd on the agent's loop: the
 * agent watches each container's memory.events (cgroup v2) to see OOM kills.
 * The watcher knows paths and callbacks only; who owns a watch is the caller's. */
#ifndef KC_OOM_H
#define KC_OOM_H

#include "err.h"
#include "loop.h"

typedef struct kc_oom_watch kc_oom_watch;
typedef void (*kc_oom_cb)(void *ud);

int kc_oom_init(kc_loop *loop, kc_err **err);
void kc_oom_fini(void);
/* Call cb(ud) whenever `path` is modified. NULL when it cannot be watched
 * (no inotify, no such file): the caller then simply sees no events. */
kc_oom_watch *kc_oom_watch_add(const char *path, kc_oom_cb cb, void *ud);
void kc_oom_watch_rm(kc_oom_watch *w);

#endif
