/* SPDX-License-Identifier: Apache-2.0 */
/* Signals as events: every signal is blocked and read from a signalfd on the
 * loop (catatonit). SIGCHLD reaps every child with waitpid(-1, WNOHANG |
 * __WALL). */
#ifndef KC_REAPER_H
#define KC_REAPER_H

#include <sys/types.h>

#include "err.h"
#include "loop.h"

/* status: exit code, or 128 + signal number. */
typedef void (*kc_exit_fn)(pid_t pid, int status, void *ud);
/* SIGTERM/SIGINT/... (not SIGCHLD). */
typedef void (*kc_signal_fn)(int sig, void *ud);

int kc_reaper_init(kc_loop *loop, kc_exit_fn on_exit, kc_signal_fn on_signal, void *ud,
		   kc_err **err);
/* Stop watching and close the signalfd (host mode's exit). */
void kc_reaper_fini(void);
/* Reap now (e.g. after a SIGKILL whose SIGCHLD is still queued). */
void kc_reaper_reap(void);
int kc_wait_status_code(int wstatus);

#endif
