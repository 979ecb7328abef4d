/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox.h"

#include <errno.h>
#include <string.h>
#include <sys/un.h>

#include "argv.h"
#include "podnet.h"
#include "taskep.h"

static const char *const state_names[] = {
    [SBX_CREATED] = "created",   [SBX_STARTING] = "starting", [SBX_RUNNING] = "running",
    [SBX_STOPPING] = "stopping", [SBX_STOPPED] = "stopped",
};

const char *sbx_state_name(enum sbx_state st)
{
	return st <= SBX_STOPPED ? state_names[st] : "?";
}

int sbx_state_parse(const char *name, enum sbx_state *ret)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(state_names); i++)
		if (name && !strcmp(name, state_names[i])) {
			*ret = (enum sbx_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *sbx_proc_name(enum sbx_proc_kind k)
{
	switch (k) {
	case SBX_PROC_VMM:
		return "vmm";
	case SBX_PROC_FS:
		return "virtiofsd";
	case SBX_PROC_VSOCK:
		return "vsockd";
	case SBX_PROC_MAX:
		break;
	}
	return "?";
}

struct sandbox *sbx_new(struct sbx_daemon *d, const char *id)
{
	struct sandbox *s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->id = xstrdup(id);
	s->base = xasprintf("%s/%s", d->dir, id);
	s->type = d->cfg.type;
	s->netns = xstrdup("");
	s->hostname = xstrdup("");
	s->address = xstrdup("");
	s->cid = SBX_GUEST_CID;
	kc_list_init(&s->waiters);
	kc_list_init(&s->disk_ops);
	for (int i = 0; i < SBX_PROC_MAX; i++) {
		s->procs[i].s = s;
		s->procs[i].kind = (enum sbx_proc_kind)i;
		s->procs[i].pidfd = -1;
	}
	return s;
}

void sbx_free(struct sandbox *s)
{
	if (!s)
		return;
	kc_list_del(&s->node);
	sbx_taskep_free(s->taskep);
	sbx_disk_release(s);
	for (int i = 0; i < SBX_PROC_MAX; i++) {
		kc_watch_free(s->procs[i].watch);
		if (s->procs[i].pidfd >= 0)
			close(s->procs[i].pidfd);
	}
	free(s->id);
	free(s->base);
	if (s->net)
		sbx_net_close_fds(s->net);
	free(s->net);
	free(s->netns);
	free(s->hostname);
	free(s->task_ns);
	free(s->address);
	free(s);
}

struct sandbox *sbx_find(struct sbx_daemon *d, const char *id)
{
	kc_list_for_each (n, &d->sandboxes) {
		struct sandbox *s = kc_container_of(n, struct sandbox, node);
		if (!strcmp(s->id, id))
			return s;
	}
	return NULL;
}

int sbx_id_check(const struct sbx_daemon *d, const char *id, kc_err **err)
{
	size_t len;

	if (kc_id_check("sandbox_id", id, err) < 0)
		return -1;
	len = strlen(id);
	/* <dir>/<id>/<longest socket name>_<port> must fit in sun_path. */
	if (strlen(d->dir) + 1 + len + 1 + SBX_F_NAME_MAX >=
	    sizeof(((struct sockaddr_un *)0)->sun_path))
		return kc_err_set(err, ENAMETOOLONG,
				  "sandbox_id `%s`: %s/<id>/... would exceed the 107-byte unix "
				  "socket path limit",
				  id, d->dir);
	return 0;
}

char *sbx_path(const struct sandbox *s, const char *name)
{
	return xasprintf("%s/%s", s->base, name);
}

void sbx_waiter_add(struct sandbox *s, struct sbx_waiter *w, sbx_done_fn fn, void *ud)
{
	w->fn = fn;
	w->ud = ud;
	kc_list_add_tail(&s->waiters, &w->node);
}

void sbx_waiters_fire(struct sandbox *s, kc_err *err)
{
	/* A waiter may add or remove others: take them one at a time. */
	while (!kc_list_empty(&s->waiters)) {
		struct sbx_waiter *w = kc_container_of(s->waiters.next, struct sbx_waiter, node);
		kc_list_del(&w->node);
		w->fn(s, err, w->ud);
	}
}
