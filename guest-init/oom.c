/* SPDX-License-Identifier: Apache-2.0 */
#include "oom.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct kc_oom_watch {
	kc_list node;
	int wd;
	kc_oom_cb cb;
	void *ud;
};

static int ifd = -1;
static kc_watch *ifd_watch;
static kc_list watches = KC_LIST_INIT(watches);

static void on_inotify(kc_watch *w, int fd, uint32_t events, void *ud)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	(void)w;
	(void)events;
	(void)ud;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			/* A callback may remove its own watch: find, then call. */
			kc_oom_watch *hit = NULL;
			kc_list_for_each (it, &watches) {
				kc_oom_watch *x = kc_container_of(it, kc_oom_watch, node);
				if (x->wd == ev->wd) {
					hit = x;
					break;
				}
			}
			if (hit)
				hit->cb(hit->ud);
			p += sizeof(*ev) + ev->len;
		}
	}
}

int kc_oom_init(kc_loop *loop, kc_err **err)
{
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		return kc_err_sys(err, "inotify_init1");
	if (kc_loop_watch(loop, ifd, EPOLLIN, on_inotify, NULL, &ifd_watch, err) < 0) {
		close(ifd);
		ifd = -1;
		return -1;
	}
	return 0;
}

void kc_oom_fini(void)
{
	while (!kc_list_empty(&watches))
		kc_oom_watch_rm(kc_container_of(watches.next, kc_oom_watch, node));
	if (ifd_watch)
		kc_watch_free(ifd_watch);
	ifd_watch = NULL;
	if (ifd >= 0)
		close(ifd);
	ifd = -1;
}

kc_oom_watch *kc_oom_watch_add(const char *path, kc_oom_cb cb, void *ud)
{
	kc_oom_watch *w;
	int wd;

	if (ifd < 0)
		return NULL;
	wd = inotify_add_watch(ifd, path, IN_MODIFY);
	if (wd < 0) {
		log_debug("no %s to watch: %s", path, strerror(errno));
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->wd = wd;
	w->cb = cb;
	w->ud = ud;
	kc_list_add_tail(&watches, &w->node);
	return w;
}

void kc_oom_watch_rm(kc_oom_watch *w)
{
	if (!w)
		return;
	kc_list_del(&w->node);
	/* inotify reuses a wd only after it is removed: remove it last. */
	inotify_rm_watch(ifd, w->wd);
	free(w);
}
