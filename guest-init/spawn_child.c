/* SPDX-License-Identifier: Apache-2.0 */
#include "spawn_child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "mount.h"
#include "procsetup.h"
#include "rootfs.h"
#include "seccomp.h"
#include "spawn_sync.h"
#include "sysctl.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE   1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* The sync socket's fd number in the container process, right above stdio. */
#define SYNC_FD 3

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

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd >= 3 except those in keep: the agent's listeners,
 * connections, cgroup dirfds, pidfds and pty masters of other containers
 * are CLOEXEC, but the container's setup runs before execve. */
static int close_fds_except(const int *keep_in, size_t n, kc_err **err)
{
	int keep[8];
	unsigned lo = 3;

	if (n > KC_ARRAY_SIZE(keep))
		return kc_err_set(err, EINVAL, "too many fds to keep");
	memcpy(keep, keep_in, n * sizeof(int));
	qsort(keep, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue; /* stdio, or a duplicate */
		if ((unsigned)keep[i] > lo && syscall(SYS_close_range, lo, keep[i] - 1, 0) < 0)
			return kc_err_sys(err, "close inherited fds");
		lo = (unsigned)keep[i] + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		return kc_err_sys(err, "close inherited fds");
	return 0;
}

/* ---------------------------------------------------- the container process */

/* /dev/console is the terminal, bound from the slave fd itself (open_tree
 * clones its mount), never from a /dev/pts path the image could replace. */
static int bind_console(int slave, kc_err **err)
{
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int target = -1, tree = -1;
	struct stat st;

	if (root < 0)
		return kc_err_sys(err, "open /");
	target = kc_open_in_root(root, "/dev/console", O_PATH | O_NOFOLLOW, 0, NULL);
	if (target < 0)
		return 0; /* no /dev of ours: nothing to bind onto, as before */
	if (fstat(target, &st) < 0)
		return kc_err_sys(err, "stat /dev/console");
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		return kc_err_set(err, EINVAL, "/dev/console is neither a file nor a device");
	tree = (int)syscall(SYS_open_tree, slave, "",
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return kc_err_sys(err, "clone the terminal's mount");
	if (syscall(SYS_move_mount, tree, "", target, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return kc_err_sys(err, "bind the terminal on /dev/console");
	return 0;
}

/* Allocate the terminal from the container's own devpts, hand the master to
 * the agent and make the slave our controlling terminal and stdio. */
static int child_terminal(int sync, const struct kc_process *p, kc_err **err)
{
	_cleanup_close_ int master = -1, slave = -1;
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
	if (bind_console(slave, err) < 0)
		return kc_err_retp(err);
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

/* From here on the process holds 0, 1, 2 and the sync socket (as SYNC_FD,
 * CLOEXEC) and nothing else. */
static int keep_only_stdio(int *sync, kc_err **err)
{
	if (*sync != SYNC_FD) {
		if (dup3(*sync, SYNC_FD, O_CLOEXEC) < 0)
			return kc_err_sys(err, "move the sync socket");
		*sync = SYNC_FD;
	}
	if (syscall(SYS_close_range, SYNC_FD + 1, ~0U, 0) < 0)
		return kc_err_sys(err, "close inherited fds");
	return 0;
}

static _noreturn_ void child_common_tail(int sync, const struct kc_spawn_opts *o, bool wait_start)
{
	kc_err *err = NULL;
	const struct kc_process *p = o->proc;

	if (o->terminal) {
		if (child_terminal(sync, p, &err) < 0)
			child_fail(sync, err);
	} else if (child_stdio(o->stdio, &err) < 0) {
		child_fail(sync, err);
	}
	if (keep_only_stdio(&sync, &err) < 0 || kc_proc_limits(p, &err) < 0)
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

/* The container's init, inside all its namespaces (see spawn_helper). */
static _noreturn_ void child_init(int sync, const struct kc_spawn_opts *o)
{
	const struct kc_spec *spec = o->spec;
	kc_err *err = NULL;

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
	/* sysctls go through the agent's procfs, before any container mount
	 * exists; the namespaces they apply to are already ours. */
	if (spec->n_sysctl) {
		_cleanup_close_ int procsys = kc_sysctl_open_procsys(&err);
		if (procsys < 0 || kc_sysctl_apply(spec, procsys, &err) < 0)
			child_fail(sync, err);
	}
	if (kc_rootfs_setup(spec, o->rootfs, o->cgroup ? o->cgroup->path : NULL,
			    kc_spec_namespace(spec, CLONE_NEWUSER) != NULL, &err) < 0 ||
	    kc_rootfs_finish(spec, &err) < 0)
		child_fail(sync, err);
	child_common_tail(sync, o, o->wait_start);
}

/* ------------------------------------------------------------------ helper */

static void wait_go(int sync)
{
	struct sync_msg m;
	if (sync_recv(sync, &m, NULL) <= 0 || m.type != SYNC_GO)
		_exit(127); /* the agent gave up on us */
}

/* Clone the container process as the agent's child, tell the agent its pid,
 * and leave: the process goes on only once the agent has heard of it, so no
 * message of its own can overtake SYNC_PID. */
static _noreturn_ void start_process(int sync, const struct kc_spawn_opts *o, bool init)
{
	kc_err *err = NULL;
	int gate[2];
	pid_t pid;

	if (pipe2(gate, O_CLOEXEC) < 0) {
		kc_err_sys(&err, "pipe");
		child_fail(sync, err);
	}
	pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		kc_err_sys(&err, "clone the container process");
		child_fail(sync, err);
	}
	if (pid == 0) {
		char c;
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		/* Our parent is the agent now: die with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (init)
			child_init(sync, o);
		child_common_tail(sync, o, false);
	}
	close(gate[0]);
	if (sync_send(sync, SYNC_PID, 0, pid, NULL, -1) < 0) {
		kill(pid, SIGKILL);
		_exit(127);
	}
	_exit(0); /* closes gate[1]: the process goes on */
}

/* Namespace paths are all opened before the first setns: joining a user or
 * mount namespace changes what we may open and what a path means. */
static const int join_order[] = {CLONE_NEWUSER, CLONE_NEWIPC,    CLONE_NEWUTS,  CLONE_NEWNET,
				 CLONE_NEWPID,  CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS};

static int write_time_offsets(int fd, const struct kc_spec *spec, kc_err **err)
{
	char buf[128];
	int n = 0;

	if (spec->time_monotonic.set)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "monotonic %lld %u\n",
			      (long long)spec->time_monotonic.secs, spec->time_monotonic.nanosecs);
	if (spec->time_boottime.set)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "boottime %lld %u\n",
			      (long long)spec->time_boottime.secs, spec->time_boottime.nanosecs);
	if (n && write(fd, buf, (size_t)n) != n)
		return kc_err_sys(err, "write linux.timeOffsets");
	return 0;
}

static _noreturn_ void helper_init(int sync, const struct kc_spawn_opts *o)
{
	const struct kc_spec *spec = o->spec;
	const struct kc_namespace *time_ns = kc_spec_namespace(spec, CLONE_NEWTIME);
	const struct kc_namespace *cg_ns = kc_spec_namespace(spec, CLONE_NEWCGROUP);
	int fds[KC_ARRAY_SIZE(join_order)];
	_cleanup_close_ int offsets = -1;
	unsigned long flags = CLONE_NEWNS;
	kc_err *err = NULL;

	for (size_t i = 0; i < KC_ARRAY_SIZE(join_order); i++) {
		const struct kc_namespace *ns = kc_spec_namespace(spec, join_order[i]);
		fds[i] = -1;
		if (ns && !ns->path && join_order[i] != CLONE_NEWCGROUP &&
		    join_order[i] != CLONE_NEWTIME)
			flags |= (unsigned long)join_order[i];
		if (!ns || !ns->path)
			continue;
		fds[i] = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			kc_err_sys(&err, "open namespace `%s`", ns->path);
			child_fail(sync, err);
		}
	}
	if (time_ns && !time_ns->path) {
		/* Our own entry in the agent's procfs, while it is the one we see. */
		offsets = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (offsets < 0) {
			kc_err_sys(&err, "time namespace: open /proc/self/timens_offsets");
			child_fail(sync, err);
		}
	}
	/* 1. Join: user first (it grants the rights for the others), mount last. */
	for (size_t i = 0; i < KC_ARRAY_SIZE(join_order); i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], join_order[i]) < 0) {
			kc_err_sys(&err, "join namespace `%s`",
				   kc_spec_namespace(spec, join_order[i])->path);
			child_fail(sync, err);
		}
		close(fds[i]);
	}
	/* 2. Create. A private mount namespace always (a copy of a joined one):
	 * pivot_root must not change a namespace anyone else uses. New pid and
	 * time namespaces are for our children: the container process. */
	if (unshare((int)flags) < 0) {
		kc_err_sys(&err, "create namespaces (flags %#lx)", flags);
		child_fail(sync, err);
	}
	if (flags & CLONE_NEWUSER) {
		/* Only the agent may write our maps (we are not root outside). */
		if (sync_send(sync, SYNC_IDMAP, 0, 0, NULL, -1) < 0)
			_exit(127);
		wait_go(sync);
	}
	/* The agent moved us into the container's cgroup before SYNC_GO: a new
	 * cgroup namespace is rooted there (runc does the same). */
	if (cg_ns && !cg_ns->path && unshare(CLONE_NEWCGROUP) < 0) {
		kc_err_sys(&err, "new cgroup namespace");
		child_fail(sync, err);
	}
	if (offsets >= 0) {
		/* Offsets can only be set before a process enters the namespace:
		 * unshare makes it our children's, the clone below is the first. */
		if (unshare(CLONE_NEWTIME) < 0) {
			kc_err_sys(&err, "new time namespace");
			child_fail(sync, err);
		}
		if (write_time_offsets(offsets, spec, &err) < 0)
			child_fail(sync, err);
	}
	start_process(sync, o, true);
}

static _noreturn_ void helper_exec(int sync, const struct kc_spawn_opts *o, unsigned long join)
{
	kc_err *err = NULL;

	if (join && setns(o->join_pidfd, (int)join) < 0) {
		kc_err_sys(&err, "join the container's namespaces");
		child_fail(sync, err);
	}
	close(o->join_pidfd);
	start_process(sync, o, false);
}

_noreturn_ void spawn_helper(int sync, const struct kc_spawn_opts *o, unsigned long join)
{
	kc_err *err = NULL;
	int keep[5];
	size_t n = 0;

	/* Nobody may ptrace us or open our /proc entries while we hold what
	 * we hold; execve restores the normal rules for the program. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	child_reset_signals();
	/* If the agent dies while we are being set up, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	keep[n++] = sync;
	for (int i = 0; i < 3; i++)
		if (!o->terminal && o->stdio[i] >= 0)
			keep[n++] = o->stdio[i];
	if (o->join_pidfd >= 0)
		keep[n++] = o->join_pidfd;
	if (close_fds_except(keep, n, &err) < 0)
		child_fail(sync, err);
	wait_go(sync);
	if (o->join_pidfd >= 0)
		helper_exec(sync, o, join);
	helper_init(sync, o);
}
