/* SPDX-License-Identifier: Apache-2.0 */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct kc_watch {
	kc_loop *loop;
	int fd;
	uint32_t events;
	kc_io_fn fn;
	void *data;
	bool dead;
	kc_watch *next_dead;
};

struct kc_timer {
	kc_loop *loop;
	uint64_t deadline;
	uint64_t seq; /* FIFO order among equal deadlines */
	size_t idx;   /* position in the heap */
	kc_timer_fn fn;
	void *data;
};

struct kc_loop {
	int depth; /* > 0 while callbacks run: re-entry is a bug */
	int epfd;
	bool quit;
	kc_timer **heap;
	size_t nheap, capheap;
	uint64_t seq;
	kc_watch *dead; /* freed after the current batch of events */
};

int kc_loop_new(kc_loop **ret, kc_err **err)
{
	kc_loop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return kc_err_sys(err, "epoll_create1");
	}
	*ret = l;
	return 0;
}

static void reap_dead(kc_loop *l)
{
	while (l->dead) {
		kc_watch *w = l->dead;
		l->dead = w->next_dead;
		free(w);
	}
}

void kc_loop_free(kc_loop *l)
{
	if (!l)
		return;
	reap_dead(l);
	for (size_t i = 0; i < l->nheap; i++)
		free(l->heap[i]);
	free(l->heap);
	close(l->epfd);
	free(l);
}

int kc_loop_watch(kc_loop *l, int fd, uint32_t events, kc_io_fn fn, void *data, kc_watch **ret,
		  kc_err **err)
{
	kc_watch *w = xcalloc(1, sizeof(*w));
	struct epoll_event ev = {.events = events, .data.ptr = w};

	w->loop = l;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->data = data;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return kc_err_sys(err, "epoll_ctl add fd %d", fd);
	}
	if (ret)
		*ret = w;
	return 0;
}

int kc_watch_set_events(kc_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (w->events == events)
		return 0;
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void kc_watch_free(kc_watch *w)
{
	if (!w || w->dead)
		return;
	/* The fd may already be closed (then epoll dropped it itself). */
	(void)epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
	w->next_dead = w->loop->dead;
	w->loop->dead = w;
}

static bool timer_less(const kc_timer *a, const kc_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_swap(kc_loop *l, size_t a, size_t b)
{
	kc_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a;
	l->heap[b]->idx = b;
}

static void heap_up(kc_loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!timer_less(l->heap[i], l->heap[p]))
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void heap_down(kc_loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < l->nheap && timer_less(l->heap[c], l->heap[m]))
			m = c;
		if (c + 1 < l->nheap && timer_less(l->heap[c + 1], l->heap[m]))
			m = c + 1;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

kc_timer *kc_timer_at(kc_loop *l, uint64_t deadline_ns, kc_timer_fn fn, void *data)
{
	kc_timer *t = xcalloc(1, sizeof(*t));

	t->loop = l;
	t->deadline = deadline_ns;
	t->seq = l->seq++;
	t->fn = fn;
	t->data = data;
	if (l->nheap == l->capheap) {
		l->capheap = l->capheap ? l->capheap * 2 : 16;
		l->heap = xrealloc(l->heap, l->capheap * sizeof(*l->heap));
	}
	t->idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->idx);
	return t;
}

kc_timer *kc_timer_after(kc_loop *l, uint64_t delay_ns, kc_timer_fn fn, void *data)
{
	uint64_t now = kc_now_ns();
	uint64_t at = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
	return kc_timer_at(l, at, fn, data);
}

static void heap_remove(kc_loop *l, kc_timer *t)
{
	size_t i = t->idx;

	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->idx = i;
		heap_down(l, i);
		heap_up(l, i);
	}
}

void kc_timer_cancel(kc_timer *t)
{
	if (!t)
		return;
	heap_remove(t->loop, t);
	free(t);
}

static int run_timers(kc_loop *l)
{
	uint64_t now = kc_now_ns();
	int n = 0;

	while (l->nheap > 0 && l->heap[0]->deadline <= now) {
		kc_timer *t = l->heap[0];
		heap_remove(l, t);
		t->fn(t, t->data);
		free(t);
		n++;
	}
	return n;
}

int kc_loop_iterate(kc_loop *l, uint64_t deadline_ns, kc_err **err)
{
	struct epoll_event evs[64];
	int timeout, n, handled;
	uint64_t now = kc_now_ns(), wake = deadline_ns;

	if (l->depth > 0) {
		/* A handler that spins the loop can have its own call, watch or
		 * timer freed under it: never allowed, so fail loudly. */
		fprintf(stderr, "kc_loop_iterate: called from inside a loop callback\n");
		abort();
	}
	if (l->nheap > 0 && l->heap[0]->deadline < wake)
		wake = l->heap[0]->deadline;
	if (wake == UINT64_MAX)
		timeout = -1;
	else if (wake <= now)
		timeout = 0;
	else {
		/* Round up so we never wake just before a deadline and spin. */
		uint64_t ms = (wake - now + KC_NSEC_PER_MSEC - 1) / KC_NSEC_PER_MSEC;
		timeout = ms > 3600000 ? 3600000 : (int)ms;
	}
	n = epoll_wait(l->epfd, evs, (int)KC_ARRAY_SIZE(evs), timeout);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return kc_err_sys(err, "epoll_wait");
	}
	l->depth++;
	for (int i = 0; i < n; i++) {
		kc_watch *w = evs[i].data.ptr;
		if (w->dead)
			continue;
		w->fn(w, w->fd, evs[i].events, w->data);
	}
	handled = n + run_timers(l);
	l->depth--;
	reap_dead(l);
	return handled;
}

int kc_loop_run(kc_loop *l, kc_err **err)
{
	l->quit = false;
	while (!l->quit) {
		int r = kc_loop_iterate(l, UINT64_MAX, err);
		if (r < 0)
			return r;
	}
	return 0;
}

void kc_loop_quit(kc_loop *l)
{
	l->quit = true;
}

bool kc_loop_quitting(const kc_loop *l)
{
	return l->quit;
}
