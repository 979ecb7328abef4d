/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for hot-plugged disks on the agent's loop (blkdev.h): no polling,
 * no blocking, so PID 1 keeps serving every other call meanwhile. */
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blkdev.h"
#include "util.h"

struct kc_blk_waiter {
	char *sysfs, *devdir;
	char (*bdfs)[KC_BLK_BDF_LEN + 1];
	size_t n;
	uint64_t timeout_ns;
	int fd;
	kc_watch *watch;
	kc_timer *timer;
	kc_blk_ready_fn fn;
	void *ud;
};

bool kc_blk_uevent_is_block_add(const char *buf, size_t len)
{
	bool block = false, add = false;

	/* The header line ("add@/devpath"), then NUL-separated KEY=VALUE. */
	for (size_t off = 0; off < len;) {
		const char *f = buf + off;
		size_t flen = strnlen(f, len - off);
		if (flen == 15 && !memcmp(f, "SUBSYSTEM=block", 15))
			block = true;
		else if ((flen == 10 && !memcmp(f, "ACTION=add", 10)) ||
			 (flen == 13 && !memcmp(f, "ACTION=change", 13)))
			add = true;
		off += flen + 1;
	}
	return block && add;
}

static int uevent_socket(kc_err **err)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	int fd =
	    socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	int sz = 1 << 20;

	if (fd < 0)
		return kc_err_sys(err, "uevent socket");
	/* A burst of uevents (many disks at once) must not overflow it; if it
	 * does anyway (ENOBUFS), we look at sysfs again. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = kc_err_sys(err, "bind uevent socket");
		close(fd);
		return r;
	}
	return fd;
}

/* 0: all there; -ENOENT: the first one missing is in *err, *missing. */
static int look_all(const kc_blk_waiter *w, size_t *missing, kc_err **err)
{
	for (size_t i = 0; i < w->n; i++) {
		struct kc_blk_dev d;
		_cleanup_free_ char *node = NULL;
		*missing = i;
		if (kc_blk_find(w->sysfs, w->devdir, w->bdfs[i], &d, &node, err) < 0)
			return kc_err_retp(err);
	}
	return 0;
}

static void teardown(kc_blk_waiter *w)
{
	kc_watch_free(w->watch);
	w->watch = NULL;
	kc_timer_cancel(w->timer);
	w->timer = NULL;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* The last thing a waiter does: fn may free it. */
static void finish(kc_blk_waiter *w, const kc_err *err, size_t which)
{
	kc_blk_ready_fn fn = w->fn;
	void *ud = w->ud;

	teardown(w);
	w->fn = NULL;
	fn(w, err, which, ud);
}

static void on_uevent(kc_watch *watch, int fd, uint32_t events, void *data)
{
	kc_blk_waiter *w = data;
	bool relevant = false;
	kc_err *e = NULL;
	char buf[8192];
	size_t miss;
	int r;

	(void)watch;
	(void)events;
	/* Drain what queued up; look again after any block add, or when messages
	 * were lost. Anyone may send us one (a container with CAP_NET_ADMIN in
	 * the VM's netns): a message only makes us look at sysfs again. */
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			relevant |= errno == ENOBUFS;
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;
		}
		relevant |= kc_blk_uevent_is_block_add(buf, (size_t)n);
	}
	if (!relevant)
		return;
	r = look_all(w, &miss, &e);
	if (r == -ENOENT) {
		kc_err_free(e);
		return;
	}
	finish(w, r < 0 ? e : NULL, miss);
	kc_err_free(e);
}

static void on_deadline(kc_timer *t, void *data)
{
	kc_blk_waiter *w = data;
	kc_err *e = NULL;
	size_t miss = 0;
	int r;

	(void)t;
	w->timer = NULL;            /* fired: freed by the loop */
	r = look_all(w, &miss, &e); /* a last look */
	if (r == -ENOENT) {
		kc_err *why = e;
		e = NULL;
		kc_err_set(&e, ETIMEDOUT, "pci:%s: not there after %llu ms (%s)", w->bdfs[miss],
			   (unsigned long long)(w->timeout_ns / KC_NSEC_PER_MSEC), why->msg);
		kc_err_free(why);
	}
	finish(w, r < 0 ? e : NULL, miss);
	kc_err_free(e);
}

int kc_blk_wait_async(kc_loop *loop, const char *sysfs, const char *devdir,
		      char (*bdfs)[KC_BLK_BDF_LEN + 1], size_t n, uint64_t timeout_ns,
		      kc_blk_ready_fn fn, void *ud, kc_blk_waiter **ret, kc_err **err)
{
	kc_blk_waiter *w = xcalloc(1, sizeof(*w));
	size_t miss;
	int r;

	*ret = NULL;
	w->sysfs = xstrdup(sysfs);
	w->devdir = devdir ? xstrdup(devdir) : NULL;
	w->bdfs = xmalloc((n ? n : 1) * sizeof(*w->bdfs));
	memcpy(w->bdfs, bdfs, n * sizeof(*w->bdfs));
	w->n = n;
	w->timeout_ns = timeout_ns;
	w->fn = fn;
	w->ud = ud;
	/* Opened before the first look: a disk added after it still reaches us. */
	w->fd = uevent_socket(err);
	if (w->fd < 0) {
		kc_blk_waiter_free(w);
		return kc_err_wrap(err, "wait for disks");
	}
	r = look_all(w, &miss, err);
	if (r != -ENOENT) {
		kc_blk_waiter_free(w);
		return r < 0 ? r : 1;
	}
	if (err)
		kc_err_freep(err);
	if (kc_loop_watch(loop, w->fd, EPOLLIN, on_uevent, w, &w->watch, err) < 0) {
		kc_blk_waiter_free(w);
		return kc_err_wrap(err, "wait for disks");
	}
	w->timer = kc_timer_after(loop, timeout_ns, on_deadline, w);
	*ret = w;
	return 0;
}

void kc_blk_waiter_free(kc_blk_waiter *w)
{
	if (!w)
		return;
	teardown(w);
	free(w->sysfs);
	free(w->devdir);
	free(w->bdfs);
	free(w);
}
