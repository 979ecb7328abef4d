/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A single-threaded epoll loop: fd watches and deadline timers. Every kuasar-c
 * daemon runs one. Timers are kept in a heap and feed epoll_wait's timeout, so
 * waiting is always for an event or a deadline, never a polling sleep.
 * Watches and timers may be freed from inside any callback.
 */
#ifndef KC_LOOP_H
#define KC_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "err.h"

typedef struct kc_loop kc_loop;
typedef struct kc_watch kc_watch;
typedef struct kc_timer kc_timer;

typedef void (*kc_io_fn)(kc_watch *w, int fd, uint32_t events, void *data);
typedef void (*kc_timer_fn)(kc_timer *t, void *data);

int kc_loop_new(kc_loop **ret, kc_err **err);
void kc_loop_free(kc_loop *loop);

/* Watch fd (not owned) for EPOLLIN/EPOLLOUT/... */
int kc_loop_watch(kc_loop *loop, int fd, uint32_t events, kc_io_fn fn, void *data, kc_watch **ret,
		  kc_err **err);
int kc_watch_set_events(kc_watch *w, uint32_t events);
/* Stop watching. Safe inside callbacks; NULL is a no-op. */
void kc_watch_free(kc_watch *w);

/* Fire once at deadline (CLOCK_MONOTONIC ns). Freed after it fires. */
kc_timer *kc_timer_at(kc_loop *loop, uint64_t deadline_ns, kc_timer_fn fn, void *data);
kc_timer *kc_timer_after(kc_loop *loop, uint64_t delay_ns, kc_timer_fn fn, void *data);
/* Cancel a pending timer. NULL is a no-op; must not be called after it fired. */
void kc_timer_cancel(kc_timer *t);

/* Run until kc_loop_quit(). */
int kc_loop_run(kc_loop *loop, kc_err **err);
/* One epoll_wait round, waiting at most until deadline_ns (0 = do not block,
 * UINT64_MAX = forever). Returns the number of events/timers handled or < 0.
 * Only from outside the loop's callbacks (top-level code, tests): called from
 * inside one it aborts, since the outer callback's objects may be freed. */
int kc_loop_iterate(kc_loop *loop, uint64_t deadline_ns, kc_err **err);
void kc_loop_quit(kc_loop *loop);
bool kc_loop_quitting(const kc_loop *loop);

#endif
