/* SPDX-License-Identifier: Apache-2.0 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "accept.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "id.h"
#include "log.h"
#include "mount.h"
#include "events.h"
#include "oom.h"
#include "podshm.h"
#include "sysctl.h"

struct kc_agent *kc_agent;

struct kc_ctr *kc_ctr_find(const char *id)
{
	if (!id)
		return NULL;
	kc_list_for_each (n, &kc_agent->ctrs) {
		struct kc_ctr *c = kc_container_of(n, struct kc_ctr, node);
		if (!strcmp(c->id, id))
			return c;
	}
	return NULL;
}

struct kc_proc *kc_proc_find(struct kc_ctr *c, const char *exec_id)
{
	if (!exec_id || !*exec_id)
		return c->init;
	kc_list_for_each (n, &c->execs) {
		struct kc_proc *p = kc_container_of(n, struct kc_proc, node);
		if (!strcmp(p->exec_id, exec_id))
			return p;
	}
	return NULL;
}

enum kc_status kc_proc_status(const struct kc_proc *p)
{
	/* published implies exited; a process that never started ended too. */
	if (p->exited)
		return KC_STATUS_STOPPED;
	if (!p->started)
		return KC_STATUS_CREATED;
	if (p->ctr->paused)
		return KC_STATUS_PAUSED;
	return KC_STATUS_RUNNING;
}

/* --------------------------------------------------------------- exits */

void kc_proc_reply_wait(struct kc_proc *p, ttrpc_call *call)
{
	Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	r.exit_status = (uint32_t)p->exit_status;
	kc_pb_timestamp(&ts, p->exited_at);
	r.exited_at = &ts;
	ttrpc_call_reply(call, &r.base);
}

static void waiter_cancelled(ttrpc_call *call, void *ud)
{
	struct kc_proc *p = ud;
	for (size_t i = 0; i < p->n_waiters; i++)
		if (p->waiters[i] == call) {
			p->waiters[i] = p->waiters[--p->n_waiters];
			return;
		}
}

void kc_proc_add_waiter(struct kc_proc *p, ttrpc_call *call)
{
	p->waiters = xrealloc(p->waiters, (p->n_waiters + 1) * sizeof(*p->waiters));
	p->waiters[p->n_waiters++] = call;
	ttrpc_call_set_cancel(call, waiter_cancelled, p);
}

static void publish(struct kc_proc *p)
{
	if (p->published)
		return;
	p->published = true;
	kc_timer_cancel(p->drain_timer);
	p->drain_timer = NULL;
	if (p->io) {
		kc_procio_free(p->io);
		p->io = NULL;
	}
	if (p->pidfd >= 0) {
		close(p->pidfd);
		p->pidfd = -1;
	}
	log_debug("%s%s%s exited with %d", p->ctr->id, p->exec_id ? "/" : "",
		  p->exec_id ? p->exec_id : "", p->exit_status);
	while (p->n_waiters > 0) {
		ttrpc_call *call = p->waiters[--p->n_waiters];
		ttrpc_call_set_cancel(call, NULL, NULL);
		kc_proc_reply_wait(p, call);
	}
}

static void on_drained(kc_procio *io, void *ud)
{
	struct kc_proc *p = ud;
	(void)io;
	if (p->exited)
		publish(p);
}

static void on_drain_timeout(kc_timer *t, void *ud)
{
	struct kc_proc *p = ud;
	(void)t;
	p->drain_timer = NULL;
	log_warn("%s%s%s: output not drained %llu ms after exit, closing it", p->ctr->id,
		 p->exec_id ? "/" : "", p->exec_id ? p->exec_id : "",
		 (unsigned long long)(kc_agent->drain_timeout_ns / KC_NSEC_PER_MSEC));
	if (p->io)
		kc_procio_abandon(p->io);
	publish(p);
}

/* The agent maps memory.events watches to containers; oom.c only watches. */
static void oom_check(struct kc_ctr *c)
{
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
	uint64_t kills;

	if (!c->cgroup)
		return;
	kills = kc_cgroup_oom_kills(c->cgroup);
	if (kills <= c->oom_kills)
		return;
	c->oom_kills = kills;
	log_info("%s: OOM kill in its cgroup", c->id);
	ev.container_id = c->id;
	kc_events_push("/tasks/oom", "containerd.events.TaskOOM", &ev.base);
}

static void on_memory_events(void *ud)
{
	oom_check(ud);
}

static void oom_watch(struct kc_ctr *c)
{
	_cleanup_free_ char *f = xasprintf("%s/memory.events", c->cgroup->path);

	c->oom_kills = kc_cgroup_oom_kills(c->cgroup);
	c->oom = kc_oom_watch_add(f, on_memory_events, c);
}

static void oom_unwatch(struct kc_ctr *c)
{
	if (!c->oom)
		return;
	/* A last look: the kill may be why the container ended. */
	oom_check(c);
	kc_oom_watch_rm(c->oom);
	c->oom = NULL;
}

static void proc_exited(struct kc_proc *p, int status)
{
	if (p->exited)
		return;
	p->exited = true;
	p->exit_status = status;
	p->exited_at = kc_realtime_ns();
	if (!p->exec_id)
		oom_unwatch(p->ctr);
	if (!p->exec_id && p->ctr->cgroup) {
		/* The init is gone: nothing else in the container may outlive it
		 * (without a private PID namespace the kernel would not do it). */
		(void)kc_cgroup_kill(p->ctr->cgroup, NULL);
	}
	if (p->io)
		kc_procio_close_stdin(p->io);
	if (!p->io || kc_procio_drained(p->io))
		publish(p);
	else
		p->drain_timer =
		    kc_timer_after(kc_agent->loop, kc_agent->drain_timeout_ns, on_drain_timeout, p);
}

static struct kc_proc *find_by_pid(pid_t pid)
{
	kc_list_for_each (n, &kc_agent->ctrs) {
		struct kc_ctr *c = kc_container_of(n, struct kc_ctr, node);
		if (c->init && c->init->pid == pid && !c->init->exited)
			return c->init;
		kc_list_for_each (m, &c->execs) {
			struct kc_proc *p = kc_container_of(m, struct kc_proc, node);
			if (p->pid == pid && !p->exited)
				return p;
		}
	}
	return NULL;
}

void kc_agent_on_exit(pid_t pid, int status)
{
	struct kc_proc *p = NULL;

	if (kc_spawn_reaped(pid)) {
		/* A setup helper: its exit says nothing about a container. */
	} else if ((p = find_by_pid(pid))) {
		proc_exited(p, status);
	} else {
		/* Maybe an exec process whose pid we have not learned yet. */
		unsigned i = kc_agent->n_orphans++ % KC_ARRAY_SIZE(kc_agent->orphans);
		kc_agent->orphans[i].pid = pid;
		kc_agent->orphans[i].status = status;
	}
	kc_cgroup_retry_stale();
	/* An ended process may have freed fds (ENFILE is system-wide). */
	kc_acceptor_fds_freed();
}

static bool take_orphan(pid_t pid, int *status)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(kc_agent->orphans); i++)
		if (kc_agent->orphans[i].pid == pid) {
			kc_agent->orphans[i].pid = 0;
			*status = kc_agent->orphans[i].status;
			return true;
		}
	return false;
}

/* ------------------------------------------------------------- objects */

static struct kc_proc *proc_new(struct kc_ctr *c, const char *exec_id)
{
	struct kc_proc *p = xcalloc(1, sizeof(*p));
	p->ctr = c;
	p->exec_id = exec_id ? xstrdup(exec_id) : NULL;
	p->pidfd = -1;
	return p;
}

static void proc_free(struct kc_proc *p)
{
	if (!p)
		return;
	if (p->pending) {
		ttrpc_call_set_cancel(p->pending, NULL, NULL);
		ttrpc_call_reply_error(p->pending, TTRPC_NOT_FOUND, "%s: deleted", p->ctr->id);
	}
	while (p->n_waiters > 0) {
		ttrpc_call *call = p->waiters[--p->n_waiters];
		ttrpc_call_set_cancel(call, NULL, NULL);
		ttrpc_call_reply_error(call, TTRPC_NOT_FOUND, "%s: deleted", p->ctr->id);
	}
	free(p->waiters);
	kc_spawn_free(p->spawn);
	kc_procio_free(p->io);
	kc_timer_cancel(p->drain_timer);
	if (p->pidfd >= 0)
		close(p->pidfd);
	kc_process_clear(&p->spec);
	free(p->exec_id);
	free(p->stdin_uri);
	free(p->stdout_uri);
	free(p->stderr_uri);
	free(p);
}

static void ctr_release(struct kc_ctr *c)
{
	kc_list_del(&c->node);
	kc_agent->n_ctrs--;
	while (!kc_list_empty(&c->execs)) {
		struct kc_proc *p = kc_container_of(c->execs.next, struct kc_proc, node);
		kc_list_del(&p->node);
		proc_free(p);
	}
	proc_free(c->init);
	oom_unwatch(c);
	if (c->cgroup) {
		(void)kc_cgroup_kill(c->cgroup, NULL);
		_cleanup_err_ kc_err *err = NULL;
		if (kc_cgroup_destroy(c->cgroup, &err) < 0)
			log_warn("%s: %s", c->id, err->msg);
	}
	if (c->rootfs_mounted) {
		if (umount2(c->rootfs, MNT_DETACH) < 0)
			log_warn("%s: unmount rootfs `%s`: %s", c->id, c->rootfs, strerror(errno));
		(void)rmdir(c->rootfs);
	}
	kc_blk_ctr_release(c->blk);
	if (c->spec)
		kc_podshm_release(kc_agent->root_dir, c->id, c->spec);
	kc_spec_free(c->spec);
	free(c->id);
	free(c->bundle);
	free(c->rootfs);
	free(c);
	kc_acceptor_fds_freed();
}

/* --------------------------------------------------------------- create */

static void reply_create(struct kc_proc *p)
{
	Containerd__Task__V2__CreateTaskResponse r =
	    CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	ttrpc_call *call = p->pending;

	p->pending = NULL;
	if (!call)
		return;
	ttrpc_call_set_cancel(call, NULL, NULL);
	r.pid = (uint32_t)p->pid;
	ttrpc_call_reply(call, &r.base);
}

static void fail_pending(struct kc_proc *p, const kc_err *err, const char *what)
{
	ttrpc_call *call = p->pending;
	p->pending = NULL;
	if (!call)
		return;
	ttrpc_call_set_cancel(call, NULL, NULL);
	ttrpc_call_reply_error(call, ttrpc_code_from_errno(err ? err->code : 0), "%s %s: %s", what,
			       p->exec_id ? p->exec_id : p->ctr->id, kc_err_msg(err));
}

static void reply_start(struct kc_proc *p)
{
	Containerd__Task__V2__StartResponse r = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	ttrpc_call *call = p->pending;

	p->pending = NULL;
	if (!call)
		return;
	ttrpc_call_set_cancel(call, NULL, NULL);
	r.pid = (uint32_t)p->pid;
	ttrpc_call_reply(call, &r.base);
}

/* The pid of an exec process is known only once its helper reported it, and
 * its exit may already have been reaped. */
static void adopt_pid(struct kc_proc *p, pid_t pid)
{
	int status;
	if (p->pid || pid <= 0)
		return;
	p->pid = pid;
	if (take_orphan(pid, &status))
		proc_exited(p, status);
}

static void spawn_event(kc_spawn *s, enum kc_spawn_event ev, const kc_err *err, void *ud)
{
	struct kc_proc *p = ud;
	struct kc_ctr *c = p->ctr;
	kc_err *e = NULL;

	switch (ev) {
	case KC_SPAWN_READY: {
		int pty = kc_spawn_take_pty(s);
		if (pty >= 0 && kc_procio_attach_pty(p->io, pty, &e) < 0) {
			fail_pending(p, e, "create");
			kc_err_free(e);
			ctr_release(c);
			return;
		}
		p->ready = true;
		p->pid = kc_spawn_pid(s);
		p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
		reply_create(p);
		return;
	}
	case KC_SPAWN_EXECED: {
		int pty = kc_spawn_take_pty(s);
		adopt_pid(p, kc_spawn_pid(s));
		kc_spawn_free(p->spawn);
		p->spawn = NULL;
		if (pty >= 0 && kc_procio_attach_pty(p->io, pty, &e) < 0) {
			log_warn("%s: terminal: %s", c->id, kc_err_msg(e));
			kc_err_free(e);
		}
		p->started = true;
		reply_start(p);
		return;
	}
	case KC_SPAWN_FAILED:
		if (!p->exec_id && !p->ready) {
			/* Failed while being set up: Create fails, nothing remains. */
			fail_pending(p, err, "create");
			ctr_release(c);
			return;
		}
		adopt_pid(p, kc_spawn_pid(s));
		kc_spawn_free(p->spawn);
		p->spawn = NULL;
		fail_pending(p, err, "start");
		if (!p->pid)
			proc_exited(p, 255);
		return;
	}
}

static void pending_cancelled(ttrpc_call *call, void *ud)
{
	struct kc_proc *p = ud;
	(void)call;
	p->pending = NULL;
	/* A Create that timed out must leave nothing behind. */
	if (!p->exec_id && !p->ready)
		ctr_release(p->ctr);
}

static int mount_rootfs(struct kc_ctr *c, Containerd__Types__Mount *const *mounts, size_t n,
			kc_err **err)
{
	_cleanup_close_ int bfd = open(c->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int rfd = -1;

	c->rootfs = xasprintf("%s/rootfs", c->bundle);
	if (bfd < 0)
		return kc_err_sys(err, "open bundle `%s`", c->bundle);
	/* <bundle>/rootfs must be a directory of the bundle: a symlink there
	 * would put the rootfs mounts anywhere. */
	if (mkdirat(bfd, "rootfs", 0711) < 0 && errno != EEXIST)
		return kc_err_sys(err, "mkdir `%s`", c->rootfs);
	rfd = openat(bfd, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0)
		return kc_err_sys(err, "`%s` (must be a directory, not a symlink)", c->rootfs);
	for (size_t i = 0; i < n; i++) {
		if (kc_mount_pb(mounts[i], c->rootfs, err) < 0) {
			if (c->rootfs_mounted)
				(void)umount2(c->rootfs, MNT_DETACH);
			c->rootfs_mounted = false;
			return kc_err_wrap(err, "rootfs mount %zu", i);
		}
		c->rootfs_mounted = true;
	}
	return 0;
}

/* A container's cgroup is its own: not another's, nor a parent or a child of
 * another's (Kill writes cgroup.kill there). */
static int cgroup_in_use(const struct kc_ctr *self, const char *path, kc_err **err)
{
	size_t n = strlen(path);

	kc_list_for_each (it, &kc_agent->ctrs) {
		const struct kc_ctr *c = kc_container_of(it, struct kc_ctr, node);
		size_t m;
		if (c == self || !c->cgroup)
			continue;
		m = strlen(c->cgroup->path);
		if (!strncmp(path, c->cgroup->path, n < m ? n : m) &&
		    (n == m || (n < m ? c->cgroup->path[n] : path[m]) == '/'))
			return kc_err_set(err, EBUSY,
					  "linux.cgroupsPath: %s overlaps the cgroup of %s", path,
					  c->id);
	}
	return 0;
}

static int resolve_root(struct kc_ctr *c, kc_err **err)
{
	struct stat st;
	const char *rp = c->spec->root_path;

	if (!rp || !*rp)
		return kc_err_set(err, EINVAL,
				  "no rootfs: neither rootfs mounts nor root.path were given");
	c->rootfs = rp[0] == '/' ? xstrdup(rp) : xasprintf("%s/%s", c->bundle, rp);
	if (stat(c->rootfs, &st) < 0)
		return kc_err_sys(err, "rootfs `%s`", c->rootfs);
	if (!S_ISDIR(st.st_mode))
		return kc_err_set(err, ENOTDIR, "rootfs `%s`: not a directory", c->rootfs);
	return 0;
}

/* The rest of Create, once the container's disks (if any) are there: mount
 * them, the cgroup, stdio, the spawn (which answers the pending Create). */
static int create_finish(struct kc_ctr *c, kc_err **err)
{
	struct kc_spawn_opts o = {.join_pidfd = -1};
	struct kc_proc *p = c->init;
	_cleanup_free_ char *root = NULL;

	/* Before the cgroup: device numbers must be the guest's in its rules. */
	if (kc_blk_ctr_mount(c->blk, c->spec, &root, err) < 0)
		return kc_err_retp(err);
	if (root) {
		free(c->rootfs);
		c->rootfs = steal_pointer(&root);
	}
	if (kc_agent->cgroup_root) {
		_cleanup_free_ char *path = NULL;
		if (kc_cgroup_path_for(kc_agent->cgroup_root, c->spec->cgroups_path, c->id, &path,
				       err) < 0 ||
		    cgroup_in_use(c, path, err) < 0)
			return kc_err_retp(err);
		if (kc_cgroup_create(kc_agent->cgroup_root, path, &c->spec->resources, &c->cgroup,
				     err) < 0)
			return kc_err_retp(err);
		oom_watch(c);
	}
	if (kc_procio_new(kc_agent->loop, p->stdin_uri, p->stdout_uri, p->stderr_uri, p->terminal,
			  &p->io, err) < 0)
		return kc_err_retp(err);
	kc_procio_on_drained(p->io, on_drained, p);
	o.spec = c->spec;
	o.proc = &c->spec->process;
	o.rootfs = c->rootfs;
	o.cgroup = c->cgroup;
	o.terminal = p->terminal;
	o.wait_start = true;
	kc_procio_child_fds(p->io, o.stdio);
	if (kc_spawn_start(kc_agent->loop, &o, spawn_event, p, &p->spawn, err) < 0)
		return kc_err_retp(err);
	kc_procio_close_child_fds(p->io);
	return 0;
}

static void on_disks(const kc_err *err, void *ud)
{
	struct kc_proc *p = ud;
	kc_err *e = NULL;

	if (!err && create_finish(p->ctr, &e) == 0)
		return;
	fail_pending(p, err ? err : e, "create");
	kc_err_free(e);
	ctr_release(p->ctr);
}

void kc_ctr_create(ttrpc_call *call, const char *id, const char *bundle,
		   Containerd__Types__Mount *const *rootfs, size_t n_rootfs, bool terminal,
		   const char *in, const char *out, const char *err_uri)
{
	struct kc_ctr *c;
	struct kc_proc *p;
	kc_err *err = NULL;
	struct stat st;
	int r;

	if (kc_id_check("container id", id, &err) < 0) {
		ttrpc_call_reply_error(call, TTRPC_INVALID_ARGUMENT, "create: %s", err->msg);
		kc_err_free(err);
		return;
	}
	if (kc_ctr_find(id)) {
		ttrpc_call_reply_error(call, TTRPC_ALREADY_EXISTS, "create %s: already exists", id);
		return;
	}
	if (kc_agent->shutting_down) {
		ttrpc_call_reply_error(call, TTRPC_UNAVAILABLE, "create %s: agent is shutting down",
				       id);
		return;
	}
	if (!bundle || bundle[0] != '/' || stat(bundle, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ttrpc_call_reply_error(
		    call, TTRPC_INVALID_ARGUMENT,
		    "create %s: bundle `%s` is not an existing absolute directory", id,
		    bundle ? bundle : "");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = xstrdup(id);
	c->bundle = xstrdup(bundle);
	kc_list_init(&c->execs);
	kc_list_add_tail(&kc_agent->ctrs, &c->node);
	kc_agent->n_ctrs++;
	p = c->init = proc_new(c, NULL);
	p->terminal = terminal;
	p->stdin_uri = xstrdup(in ? in : "");
	p->stdout_uri = xstrdup(out ? out : "");
	p->stderr_uri = xstrdup(err_uri ? err_uri : "");

	if (kc_spec_load(bundle, &c->spec, &err) < 0 ||
	    kc_podshm_prepare(kc_agent->root_dir, id, c->spec, &err) < 0)
		goto fail;
	/* Inside a VM our own namespaces are the pod's (sysctl.h). */
	if (kc_sysctl_check(c->spec, !kc_agent->host_mode, &err) < 0)
		goto fail;
	if (c->spec->process.terminal != terminal) {
		/* containerd passes the same flag in both; trust the request. */
		c->spec->process.terminal = terminal;
	}
	/* A disk rootfs replaces root.path (blkctr.h). */
	if (kc_blk_ctr_new(kc_agent->root_dir, id, rootfs, n_rootfs, c->spec, kc_agent->host_mode,
			   &c->blk, &err) < 0)
		goto fail;
	if (!kc_blk_ctr_has_root(c->blk) &&
	    (n_rootfs > 0 ? mount_rootfs(c, rootfs, n_rootfs, &err) < 0
			  : resolve_root(c, &err) < 0))
		goto fail;
	/* Answered once the init is set up, after its disks are there. */
	p->pending = call;
	ttrpc_call_set_cancel(call, pending_cancelled, p);
	r = kc_blk_ctr_wait(c->blk, kc_agent->loop, on_disks, p, &err);
	if (r == 0) {
		log_debug("%s: waiting for its disks", id);
		return;
	}
	if (r < 0 || create_finish(c, &err) < 0) {
		fail_pending(p, err, "create");
		kc_err_free(err);
		ctr_release(c);
	}
	return;
fail:
	ttrpc_call_reply_error(call, ttrpc_code_from_errno(err ? err->code : 0), "create %s: %s",
			       id, kc_err_msg(err));
	kc_err_free(err);
	ctr_release(c);
}

/* ---------------------------------------------------------------- start */

void kc_proc_start(ttrpc_call *call, struct kc_proc *p)
{
	struct kc_ctr *c = p->ctr;
	struct kc_spawn_opts o = {.join_pidfd = -1};
	kc_err *err = NULL;

	if (p->started || p->exited || p->pending) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION, "start %s: already %s",
				       p->exec_id ? p->exec_id : c->id,
				       p->exited    ? "exited"
				       : p->pending ? "starting"
						    : "started");
		return;
	}
	if (!p->exec_id) {
		if (kc_spawn_release(p->spawn, &err) < 0)
			goto fail;
		p->pending = call;
		ttrpc_call_set_cancel(call, pending_cancelled, p);
		return;
	}
	if (!c->init->started || c->init->exited || c->init->pidfd < 0) {
		ttrpc_call_reply_error(call, TTRPC_FAILED_PRECONDITION,
				       "start %s in %s: container is not running", p->exec_id,
				       c->id);
		return;
	}
	if (kc_procio_new(kc_agent->loop, p->stdin_uri, p->stdout_uri, p->stderr_uri, p->terminal,
			  &p->io, &err) < 0)
		goto fail;
	kc_procio_on_drained(p->io, on_drained, p);
	o.spec = c->spec;
	o.proc = &p->spec;
	o.join_pidfd = c->init->pidfd;
	o.join_pid = c->init->pid;
	o.cgroup = c->cgroup;
	o.terminal = p->terminal;
	kc_procio_child_fds(p->io, o.stdio);
	if (kc_spawn_start(kc_agent->loop, &o, spawn_event, p, &p->spawn, &err) < 0) {
		kc_procio_free(p->io);
		p->io = NULL;
		goto fail;
	}
	kc_procio_close_child_fds(p->io);
	p->pending = call;
	ttrpc_call_set_cancel(call, pending_cancelled, p);
	return;
fail:
	ttrpc_call_reply_error(call, ttrpc_code_from_errno(err ? err->code : 0), "start %s: %s",
			       p->exec_id ? p->exec_id : c->id, kc_err_msg(err));
	kc_err_free(err);
}

int kc_exec_add(struct kc_ctr *c, const char *exec_id, bool terminal, const char *in,
		const char *out, const char *err_uri, const char *spec_json, size_t spec_len,
		kc_err **err)
{
	struct kc_proc *p;

	if (kc_id_check("exec id", exec_id, err) < 0)
		return kc_err_retp(err);
	if (kc_proc_find(c, exec_id))
		return kc_err_set(err, EEXIST, "exec %s: already exists in %s", exec_id, c->id);
	if (!c->init->started || c->init->exited)
		return kc_err_set(err, EBUSY, "exec %s: container %s is not running", exec_id,
				  c->id);
	p = proc_new(c, exec_id);
	if (kc_process_parse(spec_json, spec_len, &p->spec, err) < 0) {
		proc_free(p);
		return kc_err_wrap(err, "exec %s", exec_id);
	}
	/* runc: an exec without capabilities gets the container's. */
	if (!p->spec.caps.set)
		p->spec.caps = c->spec->process.caps;
	p->terminal = terminal;
	p->spec.terminal = terminal;
	p->stdin_uri = xstrdup(in ? in : "");
	p->stdout_uri = xstrdup(out ? out : "");
	p->stderr_uri = xstrdup(err_uri ? err_uri : "");
	kc_list_add_tail(&c->execs, &p->node);
	return 0;
}

/* ----------------------------------------------------------- kill/delete */

int kc_proc_kill(struct kc_proc *p, int sig, bool all, kc_err **err)
{
	const char *name = p->exec_id ? p->exec_id : p->ctr->id;

	if (sig <= 0 || sig >= 65)
		return kc_err_set(err, EINVAL, "kill %s: invalid signal %d", name, sig);
	if (all && !p->exec_id && p->ctr->cgroup) {
		pid_t *pids = NULL;
		size_t n = 0;
		if (sig == SIGKILL)
			return kc_cgroup_kill(p->ctr->cgroup, err);
		if (kc_cgroup_pids(p->ctr->cgroup, &pids, &n, err) < 0)
			return kc_err_retp(err);
		for (size_t i = 0; i < n; i++)
			(void)kill(pids[i], sig);
		free(pids);
		return 0;
	}
	if (p->exited || !p->pid)
		return kc_err_set(err, ESRCH, "kill %s: process already finished", name);
	if (kill(p->pid, sig) < 0)
		return kc_err_sys(err, "kill %s (pid %d)", name, (int)p->pid);
	return 0;
}

void kc_proc_delete(struct kc_proc *p)
{
	kc_list_del(&p->node);
	proc_free(p);
}

void kc_ctr_delete(struct kc_ctr *c)
{
	/* Freeing the init's spawn kills a child still waiting to start. */
	ctr_release(c);
}

void kc_agent_kill_all(void)
{
	while (!kc_list_empty(&kc_agent->ctrs)) {
		struct kc_ctr *c = kc_container_of(kc_agent->ctrs.next, struct kc_ctr, node);
		if (c->init->pid > 0 && !c->init->exited)
			(void)kill(c->init->pid, SIGKILL);
		ctr_release(c);
	}
}
