/* SPDX-License-Identifier: Apache-2.0 */
#include "accept.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* Connections taken per wakeup: bounded work, the loop serves others. */
#define ACCEPT_BATCH 32

struct kc_acceptor {
	kc_loop *loop;
	int fd;
	kc_watch *watch;
	kc_accept_fn fn;
	void *ud;
	kc_peer_fn filter;
	void *filter_ud;
	bool paused;      /* by the owner (a cap) */
	bool parked;      /* by us (the fd limit) */
	bool dispatching; /* inside fn: a free is deferred to on_accept */
	bool freed;
	kc_list node; /* parked list */
};

/* Acceptors waiting for fds; one process, one loop thread. */
static kc_list parked = KC_LIST_INIT(parked);

static void update(kc_acceptor *a)
{
	(void)kc_watch_set_events(a->watch, a->paused || a->parked ? 0 : EPOLLIN);
}

static void park(kc_acceptor *a)
{
	if (a->parked)
		return;
	a->parked = true;
	kc_list_add_tail(&parked, &a->node);
	update(a);
}

static void on_accept(kc_watch *w, int fd, uint32_t events, void *ud)
{
	kc_acceptor *a = ud;
	(void)w;
	(void)events;

	for (int i = 0; i < ACCEPT_BATCH && !a->paused && !a->parked; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			switch (errno) {
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/* Not transient: the peer stays queued and EPOLLIN stays
				 * set. Wait for an fd to be released instead of spinning. */
				park(a);
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue; /* that peer gave up; try the next */
			default:
				return; /* EAGAIN: drained */
			}
		}
		if (a->filter && !a->filter(c, a->filter_ud)) {
			close(c);
			continue;
		}
		a->dispatching = true;
		a->fn(a, c, a->ud); /* may pause or free a */
		a->dispatching = false;
		if (a->freed) {
			free(a);
			return;
		}
	}
}

int kc_acceptor_new(kc_loop *loop, int listen_fd, kc_accept_fn fn, void *ud, kc_acceptor **ret,
		    kc_err **err)
{
	kc_acceptor *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->fd = listen_fd;
	a->fn = fn;
	a->ud = ud;
	kc_set_nonblock(listen_fd, true);
	if (kc_loop_watch(loop, listen_fd, EPOLLIN, on_accept, a, &a->watch, err) < 0) {
		close(listen_fd);
		free(a);
		return kc_err_retp(err);
	}
	*ret = a;
	return 0;
}

void kc_acceptor_set_filter(kc_acceptor *a, kc_peer_fn fn, void *ud)
{
	a->filter = fn;
	a->filter_ud = ud;
}

void kc_acceptor_pause(kc_acceptor *a, bool paused)
{
	a->paused = paused;
	update(a);
}

bool kc_acceptor_parked(const kc_acceptor *a)
{
	return a->parked;
}

void kc_acceptor_free(kc_acceptor *a)
{
	if (!a || a->freed)
		return;
	kc_list_del(&a->node);
	kc_watch_free(a->watch);
	a->watch = NULL;
	close(a->fd);
	a->fd = -1;
	if (a->dispatching)
		a->freed = true; /* on_accept frees it when fn returns */
	else
		free(a);
}

void kc_acceptor_fds_freed(void)
{
	while (!kc_list_empty(&parked)) {
		kc_acceptor *a = kc_container_of(parked.next, kc_acceptor, node);
		kc_list_del(&a->node);
		a->parked = false;
		update(a);
	}
}
