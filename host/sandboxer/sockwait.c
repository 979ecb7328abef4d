/* SPDX-License-Identifier: Apache-2.0 */
#include "sockwait.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util.h"

/* A socket file exists but listen() has not run yet: look again soon. The
 * window is the few instructions between bind() and listen(). */
#define RECHECK_NS (2 * KC_NSEC_PER_MSEC)
/* __SO_ACCEPTCON in /proc/net/unix's Flags column: a listening socket. */
#define UNIX_ACCEPTCON 0x10000UL

struct sbx_sockwait {
	kc_loop *loop;
	int ifd;
	kc_watch *watch;
	kc_timer *expire, *recheck, *start;
	char *dir;
	char *names[SBX_SOCKWAIT_MAX];
	pid_t owners[SBX_SOCKWAIT_MAX];
	bool ready[SBX_SOCKWAIT_MAX];
	size_t n;
	sbx_sockwait_fn cb;
	void *ud;
};

int sbx_unix_listening(pid_t pid, const char *path, kc_err **err)
{
	_cleanup_free_ char *f = xasprintf("/proc/%d/net/unix", pid);
	_cleanup_free_ char *text = NULL;
	size_t plen = strlen(path);

	if (kc_read_file(f, 64u << 20, &text, NULL, err) < 0)
		return kc_err_retp(err);
	/* "Num RefCount Protocol Flags Type St Inode Path" */
	for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
		unsigned long flags;
		char *p;

		eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		p = eol ? eol : line + strlen(line);
		if ((size_t)(p - line) < plen + 1 || strcmp(p - plen, path) || p[-plen - 1] != ' ')
			continue;
		if (sscanf(line, "%*s %*s %*s %lx", &flags) == 1 && (flags & UNIX_ACCEPTCON))
			return 1;
	}
	return 0;
}

static void finish(sbx_sockwait *w, kc_err *err)
{
	sbx_sockwait_fn cb = w->cb;
	void *ud = w->ud;

	sbx_sockwait_cancel(w);
	cb(err, ud);
	kc_err_free(err);
}

static void check_all(sbx_sockwait *w);

static void on_recheck(kc_timer *t, void *ud)
{
	sbx_sockwait *w = ud;
	(void)t;
	w->recheck = NULL;
	check_all(w);
}

static void check_all(sbx_sockwait *w)
{
	bool all = true, exists_not_listening = false;

	for (size_t i = 0; i < w->n; i++) {
		_cleanup_free_ char *path = NULL;
		kc_err *e = NULL;
		int r;

		if (w->ready[i])
			continue;
		path = xasprintf("%s/%s", w->dir, w->names[i]);
		if (access(path, F_OK) < 0) {
			all = false;
			continue;
		}
		r = sbx_unix_listening(w->owners[i], path, &e);
		if (r < 0) {
			/* The owner is gone: its pidfd watcher reports why. */
			kc_err_free(e);
			all = false;
			continue;
		}
		w->ready[i] = r == 1;
		if (!w->ready[i]) {
			all = false;
			exists_not_listening = true;
		}
	}
	if (all) {
		finish(w, NULL);
		return;
	}
	if (exists_not_listening && !w->recheck)
		w->recheck = kc_timer_after(w->loop, RECHECK_NS, on_recheck, w);
}

static void on_inotify(kc_watch *kw, int fd, uint32_t events, void *ud)
{
	sbx_sockwait *w = ud;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	ssize_t n;
	(void)kw;
	(void)events;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			for (size_t i = 0; i < w->n; i++)
				if (ev->len && !strcmp(ev->name, w->names[i]))
					relevant = true;
			if (ev->mask & IN_Q_OVERFLOW)
				relevant = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (relevant)
		check_all(w);
}

static void on_expire(kc_timer *t, void *ud)
{
	sbx_sockwait *w = ud;
	_cleanup_free_ char *missing = xstrdup("");
	kc_err *e = NULL;
	(void)t;

	w->expire = NULL;
	for (size_t i = 0; i < w->n; i++)
		if (!w->ready[i]) {
			char *m = xasprintf("%s%s%s", missing, *missing ? ", " : "", w->names[i]);
			free(missing);
			missing = m;
		}
	kc_err_set(&e, ETIMEDOUT, "nothing listens on %s/{%s} at the deadline", w->dir, missing);
	finish(w, e);
}

static void on_start(kc_timer *t, void *ud)
{
	sbx_sockwait *w = ud;
	(void)t;
	w->start = NULL;
	check_all(w);
}

int sbx_sockwait_start(kc_loop *loop, const char *dir, const char *const *names,
		       const pid_t *owners, size_t n, uint64_t deadline_ns, sbx_sockwait_fn cb,
		       void *ud, sbx_sockwait **ret, kc_err **err)
{
	sbx_sockwait *w;

	if (n > SBX_SOCKWAIT_MAX)
		return kc_err_set(err, EINVAL, "too many sockets to wait for");
	w = xcalloc(1, sizeof(*w));
	w->loop = loop;
	w->dir = xstrdup(dir);
	w->n = n;
	w->cb = cb;
	w->ud = ud;
	for (size_t i = 0; i < n; i++) {
		w->names[i] = xstrdup(names[i]);
		w->owners[i] = owners[i];
	}
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		int r = kc_err_sys(err, "inotify_init1");
		sbx_sockwait_cancel(w);
		return r;
	}
	/* Watch first, then look: a socket created in between is seen by one
	 * or the other. */
	if (inotify_add_watch(w->ifd, dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0 ||
	    kc_loop_watch(loop, w->ifd, EPOLLIN, on_inotify, w, &w->watch, NULL) < 0) {
		int r = kc_err_sys(err, "inotify `%s`", dir);
		sbx_sockwait_cancel(w);
		return r;
	}
	w->expire = kc_timer_at(loop, deadline_ns, on_expire, w);
	/* From the loop, so cb never runs before this returns. */
	w->start = kc_timer_after(loop, 0, on_start, w);
	*ret = w;
	return 0;
}

void sbx_sockwait_cancel(sbx_sockwait *w)
{
	if (!w)
		return;
	kc_watch_free(w->watch);
	if (w->ifd >= 0)
		close(w->ifd);
	kc_timer_cancel(w->expire);
	kc_timer_cancel(w->recheck);
	kc_timer_cancel(w->start);
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->dir);
	free(w);
}
