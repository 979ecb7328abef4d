/* SPDX-License-Identifier: Apache-2.0 */
#include "oom.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "containerd/events/task.pb-c.h"
#include "containerd/types/event.pb-c.h"
#include "log.h"

#define MAX_QUEUED 256

static int ifd = -1;
static char *queue[MAX_QUEUED]; /* container ids, oldest first */
static size_t nqueue;
static ttrpc_call **waiters;
static size_t nwaiters;

static void reply_event(ttrpc_call *call, const char *id)
{
	Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	const char *ns = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");
	uint64_t now = kc_realtime_ns();

	ev.container_id = (char *)id;
	any.type_url = (char *)"containerd.events.TaskOOM";
	any.value.data = kc_pb_pack(&ev.base, &any.value.len);
	kc_pb_timestamp(&ts, now);
	env.timestamp = &ts;
	env.namespace_ = (char *)(ns ? ns : "k8s.io");
	env.topic = (char *)"/tasks/oom";
	env.event = &any;
	ttrpc_call_reply(call, &env.base);
	free(any.value.data);
}

static void waiter_gone(ttrpc_call *call, void *ud)
{
	(void)ud;
	for (size_t i = 0; i < nwaiters; i++)
		if (waiters[i] == call) {
			waiters[i] = waiters[--nwaiters];
			return;
		}
}

static void push(const char *id)
{
	if (nwaiters > 0) {
		ttrpc_call *call = waiters[0];
		memmove(waiters, waiters + 1, --nwaiters * sizeof(*waiters));
		ttrpc_call_set_cancel(call, NULL, NULL);
		reply_event(call, id);
		return;
	}
	if (nqueue == MAX_QUEUED) {
		/* Nobody is listening; keep the newest. */
		free(queue[0]);
		memmove(queue, queue + 1, --nqueue * sizeof(*queue));
	}
	queue[nqueue++] = xstrdup(id);
}

void kc_oom_get_event(ttrpc_call *call)
{
	if (nqueue > 0) {
		char *id = queue[0];
		memmove(queue, queue + 1, --nqueue * sizeof(*queue));
		reply_event(call, id);
		free(id);
		return;
	}
	waiters = xrealloc(waiters, (nwaiters + 1) * sizeof(*waiters));
	waiters[nwaiters++] = call;
	ttrpc_call_set_cancel(call, waiter_gone, NULL);
}

static void check(struct kc_ctr *c)
{
	uint64_t kills;
	if (!c->cgroup)
		return;
	kills = kc_cgroup_oom_kills(c->cgroup);
	if (kills > c->oom_kills) {
		c->oom_kills = kills;
		log_info("%s: OOM kill in its cgroup", c->id);
		push(c->id);
	}
}

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
			kc_list_for_each (it, &kc_agent->ctrs) {
				struct kc_ctr *c = kc_container_of(it, struct kc_ctr, node);
				if (c->oom_wd == ev->wd)
					check(c);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

int kc_oom_init(kc_loop *loop, kc_err **err)
{
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		return kc_err_sys(err, "inotify_init1");
	return kc_loop_watch(loop, ifd, EPOLLIN, on_inotify, NULL, NULL, err);
}

void kc_oom_watch(struct kc_ctr *c)
{
	_cleanup_free_ char *f = NULL;

	c->oom_wd = -1;
	if (ifd < 0 || !c->cgroup)
		return;
	f = xasprintf("%s/memory.events", c->cgroup->path);
	c->oom_kills = kc_cgroup_oom_kills(c->cgroup);
	c->oom_wd = inotify_add_watch(ifd, f, IN_MODIFY);
	if (c->oom_wd < 0)
		log_debug("%s: no memory.events to watch: %s", c->id, strerror(errno));
}

void kc_oom_unwatch(struct kc_ctr *c)
{
	if (ifd >= 0 && c->oom_wd >= 0) {
		/* A last look: the kill may be why the container ended. */
		check(c);
		inotify_rm_watch(ifd, c->oom_wd);
	}
	c->oom_wd = -1;
}
