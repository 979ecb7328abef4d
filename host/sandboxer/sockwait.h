/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wait, by inotify, until helper daemons (virtiofsd, vhost-device-vsock)
 * listen on their unix sockets. A probe connect() is not an option: a
 * vhost-user backend takes the first connection as its frontend. Instead,
 * when the socket file appears, the owner's /proc/PID/net/unix must list it
 * as listening.
 */
#ifndef SBX_SOCKWAIT_H
#define SBX_SOCKWAIT_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"

typedef struct sbx_sockwait sbx_sockwait;
/* err == NULL: every socket listens. Called once, from the loop. */
typedef void (*sbx_sockwait_fn)(kc_err *err, void *ud);

#define SBX_SOCKWAIT_MAX 4

/* Wait for dir/names[i], listened on by process owners[i]. */
int sbx_sockwait_start(kc_loop *loop, const char *dir, const char *const *names,
		       const pid_t *owners, size_t n, uint64_t deadline_ns, sbx_sockwait_fn cb,
		       void *ud, sbx_sockwait **ret, kc_err **err);
/* Never calls cb afterwards. NULL is a no-op. */
void sbx_sockwait_cancel(sbx_sockwait *w);

/* Is `path` a listening unix socket in process pid's network namespace? */
int sbx_unix_listening(pid_t pid, const char *path, kc_err **err);

#endif
