/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A listening socket on the loop that hands each accepted connection (CLOEXEC,
 * NONBLOCK) to a callback. Two policies every listener needs live here once:
 *  - a peer filter: a connection the filter refuses is closed at once, and the
 *    listener keeps listening (vmm-task refuses vsock peers other than the host);
 *  - the fd limit: accept4 failing with EMFILE/ENFILE (or ENOMEM/ENOBUFS) leaves
 *    the connection in the backlog and a level-triggered listener would fire
 *    again at once. The acceptor stops watching instead ("parked") until
 *    kc_acceptor_fds_freed() says that fds were released (a connection closed,
 *    a process ended); then every parked acceptor listens again. No timers.
 */
#ifndef KC_ACCEPT_H
#define KC_ACCEPT_H

#include <stdbool.h>

#include "err.h"
#include "loop.h"

typedef struct kc_acceptor kc_acceptor;
/* fd is owned by the callee. */
typedef void (*kc_accept_fn)(kc_acceptor *a, int fd, void *ud);
/* true: keep the connection; false: it is closed. */
typedef bool (*kc_peer_fn)(int fd, void *ud);

/* Watch listen_fd (owned by the acceptor from now on, closed by kc_acceptor_free). */
int kc_acceptor_new(kc_loop *loop, int listen_fd, kc_accept_fn fn, void *ud, kc_acceptor **ret,
		    kc_err **err);
void kc_acceptor_set_filter(kc_acceptor *a, kc_peer_fn fn, void *ud);
/* Stop accepting for now (a connection cap is reached), or again. Independent
 * of parking at the fd limit. */
void kc_acceptor_pause(kc_acceptor *a, bool paused);
bool kc_acceptor_parked(const kc_acceptor *a);
void kc_acceptor_free(kc_acceptor *a);

/* Some fds were released: every parked acceptor listens again. Cheap when
 * nothing is parked. */
void kc_acceptor_fds_freed(void);

#endif
