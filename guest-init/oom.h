/* SPDX-License-Identifier: Apache-2.0 */
/* OOM kills as events: inotify on each container's memory.events (cgroup v2),
 * queued for grpc.SandboxService/GetEvents (a long poll, as in Kuasar). */
#ifndef KC_OOM_H
#define KC_OOM_H

#include "agent.h"

int kc_oom_init(kc_loop *loop, kc_err **err);
/* Start/stop watching a container's cgroup. */
void kc_oom_watch(struct kc_ctr *c);
void kc_oom_unwatch(struct kc_ctr *c);
/* Answer a GetEvents call with the next event, now or when one happens. */
void kc_oom_get_event(ttrpc_call *call);

#endif
