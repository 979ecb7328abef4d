/* SPDX-License-Identifier: Apache-2.0 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "spawn_child.h"
#include "spawn_sync.h"
#include "util.h"

struct kc_spawn {
	kc_loop *loop;
	kc_watch *watch;
	int sync_fd;
	pid_t helper; /* forked helper (spawn_child.h), until SYNC_PID */
	pid_t pid;    /* the container process, from SYNC_PID on */
	int pty;
	const struct kc_spec *spec; /* id maps for SYNC_IDMAP */
	bool wait_start;
	bool ready;
	bool done; /* EXECED or FAILED delivered */
	kc_spawn_fn fn;
	void *ud;
};

/* Helpers not reaped yet: their exits are ours, not a container's. */
static pid_t *helpers;
static size_t n_helpers;

static void helper_add(pid_t pid)
{
	helpers = xrealloc(helpers, (n_helpers + 1) * sizeof(*helpers));
	helpers[n_helpers++] = pid;
}

static bool helper_alive(pid_t pid)
{
	for (size_t i = 0; i < n_helpers; i++)
		if (helpers[i] == pid)
			return true;
	return false;
}

bool kc_spawn_reaped(pid_t pid)
{
	for (size_t i = 0; i < n_helpers; i++)
		if (helpers[i] == pid) {
			helpers[i] = helpers[--n_helpers];
			if (!n_helpers)
				kc_freep(&helpers);
			return true;
		}
	return false;
}

/* ------------------------------------------------------------ parent side */

static void finish(kc_spawn *s, enum kc_spawn_event ev, const kc_err *err)
{
	if (ev != KC_SPAWN_READY) {
		s->done = true;
		kc_watch_free(s->watch);
		s->watch = NULL;
		if (s->sync_fd >= 0)
			close(s->sync_fd);
		s->sync_fd = -1;
	}
	s->fn(s, ev, err, s->ud);
}

static int write_idmap(pid_t pid, const char *file, const struct kc_idmap *m, size_t n,
		       kc_err **err)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
	_cleanup_free_ char *buf = xmalloc(n * 36 + 1); /* 3 u32 + 3 separators each */
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, 37, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	return kc_write_file(path, buf, len, O_WRONLY, 0, err);
}

static int write_idmaps(kc_spawn *s, kc_err **err)
{
	const struct kc_spec *spec = s->spec;
	if (write_idmap(s->helper, "uid_map", spec->uid_mappings, spec->n_uid_mappings, err) < 0 ||
	    write_idmap(s->helper, "gid_map", spec->gid_mappings, spec->n_gid_mappings, err) < 0)
		return kc_err_wrap(err, "user namespace");
	if (sync_send(s->sync_fd, SYNC_GO, 0, 0, NULL, -1) < 0)
		return kc_err_sys(err, "resume the container's setup");
	return 0;
}

/* The agent's side failed: stop the setup where it is. */
static void fail(kc_spawn *s, kc_err *err)
{
	if (s->helper > 0 && helper_alive(s->helper))
		kill(s->helper, SIGKILL);
	if (s->pid > 0)
		kill(s->pid, SIGKILL);
	finish(s, KC_SPAWN_FAILED, err);
	kc_err_free(err);
}

static void on_sync(kc_watch *w, int fd, uint32_t events, void *ud)
{
	kc_spawn *s = ud;
	struct sync_msg m;
	kc_err *err = NULL;
	int pfd;
	ssize_t n;

	(void)w;
	(void)events;
	n = sync_recv(fd, &m, &pfd);
	if (n == -EAGAIN)
		return;
	if (n < 0 && n != -EPROTO) {
		errno = (int)-n;
		kc_err_sys(&err, "container setup: sync socket");
		fail(s, err);
		return;
	}
	if (n == 0) {
		/* Every holder closed it: the process exec'd (CLOEXEC) or died. */
		if (!s->pid)
			kc_err_set(&err, ECHILD, "the container process was never started");
		else if (s->wait_start && !s->ready)
			kc_err_set(&err, ECHILD, "container init died during setup");
		if (err) {
			finish(s, KC_SPAWN_FAILED, err);
			kc_err_free(err);
		} else {
			finish(s, KC_SPAWN_EXECED, NULL);
		}
		return;
	}
	if (n < 0) /* a short message: ignore it, as an unknown type */
		return;
	switch (m.type) {
	case SYNC_PTY:
		if (s->pty >= 0)
			close(s->pty);
		s->pty = pfd;
		return;
	case SYNC_PID:
		if (!s->pid && m.pid > 0)
			s->pid = m.pid;
		return;
	case SYNC_IDMAP:
		if (write_idmaps(s, &err) < 0)
			fail(s, err);
		return;
	case SYNC_READY:
		s->ready = true;
		finish(s, KC_SPAWN_READY, NULL);
		return;
	case SYNC_ERROR:
		/* The sender exits by itself (127, which Wait reports). */
		kc_err_set(&err, m.err, "%s", m.text);
		finish(s, KC_SPAWN_FAILED, err);
		kc_err_free(err);
		return;
	default:
		if (pfd >= 0)
			close(pfd);
		return;
	}
}

static unsigned long ns_flags_to_join(pid_t target)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} ns[] = {{"mnt", CLONE_NEWNS},    {"pid", CLONE_NEWPID},  {"uts", CLONE_NEWUTS},
		  {"ipc", CLONE_NEWIPC},   {"net", CLONE_NEWNET},  {"cgroup", CLONE_NEWCGROUP},
		  {"user", CLONE_NEWUSER}, {"time", CLONE_NEWTIME}};
	unsigned long flags = 0;

	for (size_t i = 0; i < KC_ARRAY_SIZE(ns); i++) {
		char a[64];
		struct stat sa, sb;
		snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)target, ns[i].name);
		if (stat(a, &sa) < 0)
			continue;
		snprintf(a, sizeof(a), "/proc/self/ns/%s", ns[i].name);
		if (stat(a, &sb) < 0)
			continue;
		if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
			flags |= ns[i].flag;
	}
	return flags;
}

/* Values the agent sets from outside, in its own procfs: the container's
 * /proc is not looked at. The helper's oom_score_adj is inherited. */
static int prepare_helper(kc_spawn *s, const struct kc_spawn_opts *o, kc_err **err)
{
	if (o->cgroup && kc_cgroup_add_pid(o->cgroup, s->helper, err) < 0)
		return kc_err_retp(err);
	if (o->proc->has_oom_score_adj) {
		char path[40], val[16];
		int n = snprintf(val, sizeof(val), "%d", o->proc->oom_score_adj);
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)s->helper);
		if (kc_write_file(path, val, (size_t)n, O_WRONLY, 0, err) < 0)
			return kc_err_wrap(err, "process.oomScoreAdj");
	}
	if (sync_send(s->sync_fd, SYNC_GO, 0, 0, NULL, -1) < 0)
		return kc_err_sys(err, "start the container's setup");
	return 0;
}

int kc_spawn_start(kc_loop *loop, const struct kc_spawn_opts *o, kc_spawn_fn fn, void *ud,
		   kc_spawn **ret, kc_err **err)
{
	int sv[2];
	bool is_exec = o->join_pidfd >= 0;
	unsigned long join = 0;
	kc_spawn *s;
	pid_t pid;

	if (o->spec->has_hooks)
		return kc_err_set(err, EOPNOTSUPP,
				  "hooks: OCI hooks are not supported inside the guest");
	if (!is_exec && (o->spec->time_monotonic.set || o->spec->time_boottime.set)) {
		const struct kc_namespace *t = kc_spec_namespace(o->spec, CLONE_NEWTIME);
		if (!t || t->path)
			return kc_err_set(
			    err, EINVAL,
			    "linux.timeOffsets: time namespace offsets specified, but "
			    "no new time namespace is (they apply to a new one only)");
	}
	if (is_exec)
		join = ns_flags_to_join(o->join_pid);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return kc_err_sys(err, "socketpair");
	pid = fork();
	if (pid < 0) {
		int r = kc_err_sys(err, "fork");
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		spawn_helper(sv[1], o, join);
	}
	close(sv[1]);
	helper_add(pid);
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->sync_fd = sv[0];
	s->helper = pid;
	s->pty = -1;
	s->spec = o->spec;
	s->wait_start = o->wait_start && !is_exec;
	s->fn = fn;
	s->ud = ud;
	if (kc_set_nonblock(s->sync_fd, true) < 0) {
		kc_err_sys(err, "container setup: sync socket");
		goto fail;
	}
	if (prepare_helper(s, o, err) < 0 ||
	    kc_loop_watch(loop, s->sync_fd, EPOLLIN, on_sync, s, &s->watch, err) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	kill(pid, SIGKILL); /* reaped as a helper */
	close(s->sync_fd);
	free(s);
	return kc_err_retp(err);
}

int kc_spawn_release(kc_spawn *s, kc_err **err)
{
	if (!s->ready || s->done)
		return kc_err_set(err, EINVAL, "process is not waiting to start");
	if (sync_send(s->sync_fd, SYNC_START, 0, 0, NULL, -1) < 0)
		return kc_err_sys(err, "release container init");
	return 0;
}

pid_t kc_spawn_pid(const kc_spawn *s)
{
	return s->pid;
}

int kc_spawn_take_pty(kc_spawn *s)
{
	return steal_fd(&s->pty);
}

void kc_spawn_free(kc_spawn *s)
{
	if (!s)
		return;
	if (!s->done && s->pid > 0)
		kill(s->pid, SIGKILL);
	if (!s->done && helper_alive(s->helper))
		kill(s->helper, SIGKILL);
	kc_watch_free(s->watch);
	if (s->sync_fd >= 0)
		close(s->sync_fd);
	if (s->pty >= 0)
		close(s->pty);
	free(s);
}

int kc_pty_resize(int master, unsigned width, unsigned height, kc_err **err)
{
	struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		return kc_err_sys(err, "resize terminal");
	return 0;
}
