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

#include "mount.h"
#include "procsetup.h"
#include "rootfs.h"
#include "seccomp.h"
#include "util.h"

#define SYNC_TEXT_MAX 1024

enum sync_type {
	SYNC_GO = 1, /* parent -> child: cgroup and id maps are in place */
	SYNC_READY,  /* child -> parent: set up, waiting for START */
	SYNC_START,  /* parent -> child: execve now */
	SYNC_PTY,    /* child -> parent: terminal master attached */
	SYNC_PID,    /* exec helper -> parent: pid of the process */
	SYNC_ERROR,  /* child -> parent: failed; err + text */
};

struct sync_msg {
	int32_t type;
	int32_t err;
	int32_t pid;
	char text[SYNC_TEXT_MAX];
};

struct kc_spawn {
	kc_loop *loop;
	kc_watch *watch;
	int sync_fd;
	pid_t pid;
	int pty;
	bool wait_start;
	bool ready;
	bool done; /* EXECED or FAILED delivered */
	kc_spawn_fn fn;
	void *ud;
};

/* ------------------------------------------------------------- child side */

static int sync_send(int fd, int type, int err, pid_t pid, const char *text, int pass_fd)
{
	struct sync_msg m = {.type = type, .err = err, .pid = pid};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	if (pass_fd >= 0) {
		struct cmsghdr *c;
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Blocking receive of one message, optionally with an fd. 0 = EOF. */
static ssize_t sync_recv(int fd, struct sync_msg *m, int *ret_fd)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf)};
	ssize_t n;

	if (ret_fd)
		*ret_fd = -1;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int fd2;
			memcpy(&fd2, CMSG_DATA(c), sizeof(int));
			if (ret_fd)
				*ret_fd = fd2;
			else
				close(fd2);
		}
	if ((size_t)n < offsetof(struct sync_msg, text))
		return -EPROTO;
	m->text[SYNC_TEXT_MAX - 1] = '\0';
	return n;
}

static _noreturn_ void child_fail(int sync, kc_err *err)
{
	(void)sync_send(sync, SYNC_ERROR, err ? err->code : 0, 0, kc_err_msg(err), -1);
	_exit(127);
}

static void child_reset_signals(void)
{
	sigset_t all;
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &dfl, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Allocate the terminal from the container's own devpts, hand the master to
 * the parent and make the slave our controlling terminal and stdio. */
static int child_terminal(int sync, const struct kc_process *p, kc_err **err)
{
	_cleanup_close_ int master = -1, slave = -1;
	char name[64];
	int unlock = 0;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return kc_err_sys(err, "open /dev/ptmx in the container");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return kc_err_sys(err, "unlock pty");
	/* TIOCGPTPEER opens the slave from the master, immune to /dev/pts
	 * tricks in the image. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return kc_err_sys(err, "open pty slave");
	if (p->console_width && p->console_height) {
		struct winsize ws = {.ws_row = (unsigned short)p->console_height,
				     .ws_col = (unsigned short)p->console_width};
		(void)ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (ioctl(master, TIOCGPTN, &unlock) == 0) {
		snprintf(name, sizeof(name), "/dev/pts/%d", unlock);
		/* Let the process find its terminal at /dev/console like runc. */
		(void)mount(name, "/dev/console", NULL, MS_BIND, NULL);
	}
	if (sync_send(sync, SYNC_PTY, 0, 0, NULL, master) < 0)
		return kc_err_sys(err, "send pty master");
	if (setsid() < 0)
		return kc_err_sys(err, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return kc_err_sys(err, "set controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return kc_err_sys(err, "dup terminal to fd %d", i);
	return 0;
}

static int child_stdio(const int stdio[3], kc_err **err)
{
	int fds[3];

	/* Move fds above 2 first so dup2 order cannot clobber one we need. */
	for (int i = 0; i < 3; i++) {
		if (stdio[i] < 0) {
			fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fds[i] < 0)
				fds[i] = -1; /* no /dev/null in an odd image: leave closed */
		} else {
			fds[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
			if (fds[i] < 0)
				return kc_err_sys(err, "dup stdio fd %d", stdio[i]);
		}
	}
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0) {
			close(i);
			continue;
		}
		if (dup2(fds[i], i) < 0)
			return kc_err_sys(err, "dup2 stdio %d", i);
	}
	return 0;
}

static int join_spec_namespaces(const struct kc_spec *spec, bool mount_last, kc_err **err)
{
	/* user first (it grants the rights for the others), mount last. */
	static const int order[] = {CLONE_NEWUSER, CLONE_NEWIPC,    CLONE_NEWUTS, CLONE_NEWNET,
				    CLONE_NEWPID,  CLONE_NEWCGROUP, CLONE_NEWNS};
	for (size_t i = 0; i < KC_ARRAY_SIZE(order); i++) {
		const struct kc_namespace *ns = kc_spec_namespace(spec, order[i]);
		_cleanup_close_ int fd = -1;
		if (!ns || !ns->path || (order[i] == CLONE_NEWNS && !mount_last))
			continue;
		fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kc_err_sys(err, "open namespace `%s`", ns->path);
		if (setns(fd, order[i]) < 0)
			return kc_err_sys(err, "join namespace `%s`", ns->path);
	}
	return 0;
}

static void child_common_tail(int sync, const struct kc_spawn_opts *o, bool wait_start)
{
	kc_err *err = NULL;
	const struct kc_process *p = o->proc;

	if (o->terminal) {
		if (child_terminal(sync, p, &err) < 0)
			child_fail(sync, err);
	} else if (child_stdio(o->stdio, &err) < 0) {
		child_fail(sync, err);
	}
	if (kc_proc_limits(p, &err) < 0)
		child_fail(sync, err);
	/* Without no_new_privs a filter needs CAP_SYS_ADMIN: load it before the
	 * capabilities go, as runc does (with it: last, in kc_proc_exec). */
	if (!p->no_new_privs && kc_seccomp_load(o->spec->seccomp, &err) < 0)
		child_fail(sync, err);
	if (kc_proc_identity(p, &err) < 0)
		child_fail(sync, err);
	if (wait_start) {
		struct sync_msg m;
		if (sync_send(sync, SYNC_READY, 0, 0, NULL, -1) < 0)
			_exit(127);
		if (sync_recv(sync, &m, NULL) <= 0 || m.type != SYNC_START)
			_exit(127); /* the agent gave up on us */
	}
	kc_proc_exec(p, p->no_new_privs ? o->spec->seccomp : NULL, &err);
	child_fail(sync, err);
}

static _noreturn_ void child_init(int sync, const struct kc_spawn_opts *o)
{
	const struct kc_spec *spec = o->spec;
	const struct kc_namespace *cgns = kc_spec_namespace(spec, CLONE_NEWCGROUP);
	kc_err *err = NULL;
	struct sync_msg m;

	child_reset_signals();
	/* If the agent dies while we are being set up, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (sync_recv(sync, &m, NULL) <= 0 || m.type != SYNC_GO)
		_exit(127);
	if (join_spec_namespaces(spec, false, &err) < 0)
		child_fail(sync, err);
	/* Now that the parent has moved us into the container's cgroup (see
	 * clone_flags_for): a new cgroup namespace is rooted there. */
	if (cgns && !cgns->path && unshare(CLONE_NEWCGROUP) < 0) {
		kc_err_sys(&err, "new cgroup namespace");
		child_fail(sync, err);
	}
	if (kc_spec_namespace(spec, CLONE_NEWUTS)) {
		if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0) {
			kc_err_sys(&err, "sethostname `%s`", spec->hostname);
			child_fail(sync, err);
		}
		if (spec->domainname &&
		    setdomainname(spec->domainname, strlen(spec->domainname)) < 0) {
			kc_err_sys(&err, "setdomainname `%s`", spec->domainname);
			child_fail(sync, err);
		}
	}
	if (kc_rootfs_setup(spec, o->rootfs, o->cgroup ? o->cgroup->path : NULL,
			    kc_spec_namespace(spec, CLONE_NEWUSER) != NULL, &err) < 0 ||
	    kc_apply_sysctl(spec, &err) < 0 || kc_rootfs_finish(spec, &err) < 0)
		child_fail(sync, err);
	child_common_tail(sync, o, o->wait_start);
	_exit(127);
}

static _noreturn_ void child_exec_helper(int sync, const struct kc_spawn_opts *o,
					 unsigned long ns_flags)
{
	kc_err *err = NULL;
	pid_t pid;

	child_reset_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (o->cgroup && kc_cgroup_add_pid(o->cgroup, 0, &err) < 0)
		child_fail(sync, err);
	if (setns(o->join_pidfd, (int)ns_flags) < 0) {
		kc_err_sys(&err, "join the container's namespaces");
		child_fail(sync, err);
	}
	pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		kc_err_sys(&err, "clone exec process");
		child_fail(sync, err);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		child_common_tail(sync, o, false);
		_exit(127);
	}
	(void)sync_send(sync, SYNC_PID, 0, pid, NULL, -1);
	_exit(0);
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

static void on_sync(kc_watch *w, int fd, uint32_t events, void *ud)
{
	kc_spawn *s = ud;
	struct sync_msg m;
	kc_err *err = NULL;
	int pfd;
	ssize_t n;

	(void)w;
	n = sync_recv(fd, &m, &pfd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (!s->pid)
			kc_err_set(&err, ECHILD, "exec helper died before starting the process");
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
	switch (m.type) {
	case SYNC_PTY:
		if (s->pty >= 0)
			close(s->pty);
		s->pty = pfd;
		return;
	case SYNC_PID:
		s->pid = m.pid;
		return;
	case SYNC_READY:
		s->ready = true;
		finish(s, KC_SPAWN_READY, NULL);
		return;
	case SYNC_ERROR:
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
	} ns[] = {{"mnt", CLONE_NEWNS},   {"pid", CLONE_NEWPID}, {"uts", CLONE_NEWUTS},
		  {"ipc", CLONE_NEWIPC},  {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
		  {"user", CLONE_NEWUSER}};
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

static int write_idmap(pid_t pid, const char *file, const struct kc_idmap *m, size_t n,
		       kc_err **err)
{
	char buf[4096];
	size_t len = 0;
	_cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);

	for (size_t i = 0; i < n && len < sizeof(buf) - 40; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n",
					m[i].container_id, m[i].host_id, m[i].size);
	return kc_write_file(path, buf, len, O_WRONLY, 0, err);
}

static unsigned long clone_flags_for(const struct kc_spec *spec)
{
	unsigned long flags = 0;
	for (size_t i = 0; i < spec->n_namespaces; i++) {
		const struct kc_namespace *ns = &spec->namespaces[i];
		if (ns->path)
			continue; /* joined with setns in the child */
		flags |= (unsigned long)ns->type;
	}
	/* A cgroup namespace is rooted at its creator's cgroup, and the parent
	 * moves the child into the container's cgroup only after the clone:
	 * child_init unshares it after SYNC_GO, as runc does. */
	flags &= ~(unsigned long)CLONE_NEWCGROUP;
	/* The container always gets its own mount namespace: we pivot_root. */
	return flags | CLONE_NEWNS;
}

int kc_spawn_start(kc_loop *loop, const struct kc_spawn_opts *o, kc_spawn_fn fn, void *ud,
		   kc_spawn **ret, kc_err **err)
{
	int sv[2];
	bool is_exec = o->join_pidfd >= 0;
	unsigned long flags, join = 0;
	kc_spawn *s;
	pid_t pid;

	if (o->spec->has_hooks)
		return kc_err_set(err, EOPNOTSUPP,
				  "hooks: OCI hooks are not supported inside the guest");
	if (is_exec)
		join = ns_flags_to_join(o->join_pid);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return kc_err_sys(err, "socketpair");
	flags = is_exec ? 0 : clone_flags_for(o->spec);
	pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		int r = kc_err_sys(err, "clone (flags %#lx)", flags);
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		if (is_exec)
			child_exec_helper(sv[1], o, join);
		child_init(sv[1], o);
	}
	close(sv[1]);
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->sync_fd = sv[0];
	s->pty = -1;
	s->wait_start = o->wait_start && !is_exec;
	s->fn = fn;
	s->ud = ud;
	if (!is_exec) {
		s->pid = pid;
		if (o->cgroup && kc_cgroup_add_pid(o->cgroup, pid, err) < 0)
			goto fail;
		if (o->spec->n_uid_mappings && (write_idmap(pid, "uid_map", o->spec->uid_mappings,
							    o->spec->n_uid_mappings, err) < 0 ||
						write_idmap(pid, "gid_map", o->spec->gid_mappings,
							    o->spec->n_gid_mappings, err) < 0))
			goto fail;
		if (sync_send(s->sync_fd, SYNC_GO, 0, 0, NULL, -1) < 0) {
			kc_err_sys(err, "start container init");
			goto fail;
		}
	}
	kc_set_nonblock(s->sync_fd, true);
	if (kc_loop_watch(loop, s->sync_fd, EPOLLIN, on_sync, s, &s->watch, err) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	kill(pid, SIGKILL);
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
