/* SPDX-License-Identifier: Apache-2.0 */
#include "helper_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "util.h"

/* What a child that failed before exec tells its parent (crun style: the
 * CLOEXEC pipe stays silent when exec succeeds). */
struct child_report {
	int err;
	char step[32];
};

static _noreturn_ void child_fail(int fd, const char *step)
{
	struct child_report r = {.err = errno};
	snprintf(r.step, sizeof(r.step), "%s", step);
	(void)!write(fd, &r, sizeof(r));
	_exit(127);
}

static _noreturn_ void child(const struct sbx_spawn *o, int errfd, int devnull, int logfd, int nsfd)
{
	sigset_t none;
	int hi = 3 + (int)o->n_fds;
	int moved[SBX_SPAWN_MAX_FDS];

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Own session: no signal aimed at the daemon's group or terminal
	 * reaches the VM, and it outlives the daemon. */
	if (setsid() < 0)
		child_fail(errfd, "setsid");
	if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
		child_fail(errfd, "setns");
	/* Move everything we still need above the fds we hand over. */
	errfd = fcntl(errfd, F_DUPFD_CLOEXEC, hi);
	if (errfd < 0)
		_exit(127);
	for (size_t i = 0; i < o->n_fds; i++)
		if ((moved[i] = fcntl(o->fds[i], F_DUPFD_CLOEXEC, hi)) < 0)
			child_fail(errfd, "dup");
	if (dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		child_fail(errfd, "dup2 stdio");
	for (size_t i = 0; i < o->n_fds; i++)
		if (dup2(moved[i], 3 + (int)i) < 0)
			child_fail(errfd, "dup2");
	/* Nothing else of the daemon's leaks into the VMM. */
	if (syscall(SYS_close_range, (unsigned)hi, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(errfd, "close_range");
	execv(o->argv[0], o->argv);
	child_fail(errfd, "exec");
}

int sbx_spawn(const struct sbx_spawn *o, pid_t *ret_pid, int *ret_pidfd, uint64_t *ret_starttime,
	      kc_err **err)
{
	_cleanup_close_ int devnull = -1, logfd = -1, nsfd = -1, pidfd = -1;
	int pipefd[2];
	struct child_report rep;
	ssize_t n;
	pid_t pid;

	if (o->n_fds > SBX_SPAWN_MAX_FDS)
		return kc_err_set(err, EINVAL, "spawn `%s`: too many fds", o->argv[0]);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return kc_err_sys(err, "open /dev/null");
	if (o->log_path) {
		logfd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (logfd < 0)
			return kc_err_sys(err, "open `%s`", o->log_path);
	}
	if (o->netns && *o->netns) {
		nsfd = open(o->netns, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			return kc_err_sys(err, "open netns `%s`", o->netns);
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return kc_err_sys(err, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return kc_err_sys(err, "fork");
	}
	if (pid == 0) {
		close(pipefd[0]);
		child(o, pipefd[1], devnull, logfd >= 0 ? logfd : devnull, nsfd);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n != 0) {
		int e = n == (ssize_t)sizeof(rep) ? rep.err : EIO;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		rep.step[sizeof(rep.step) - 1] = '\0';
		return kc_err_set(err, e, "run `%s`: %s: %s", o->argv[0],
				  n == (ssize_t)sizeof(rep) ? rep.step : "child", strerror(e));
	}
	/* Race-free: an unreaped child's pid cannot be reused. */
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		int r = kc_err_sys(err, "pidfd_open %d", pid);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	kc_set_cloexec(pidfd, true);
	if (sbx_proc_starttime(pid, ret_starttime, NULL) < 0)
		*ret_starttime = 0; /* already exited: the pidfd tells */
	*ret_pid = pid;
	*ret_pidfd = steal_fd(&pidfd);
	return 0;
}

int sbx_proc_starttime(pid_t pid, uint64_t *ret, kc_err **err)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", pid);
	_cleanup_free_ char *text = NULL;
	char *p;
	unsigned long long v;

	if (kc_read_file(path, 4096, &text, NULL, err) < 0)
		return kc_err_retp(err);
	/* "pid (comm) state ppid ...": comm may hold spaces and parens. */
	p = strrchr(text, ')');
	if (!p)
		return kc_err_set(err, EPROTO, "%s: unexpected format", path);
	/* Field 22; the one after ')' is field 3. */
	for (int field = 3; field <= 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return kc_err_set(err, EPROTO, "%s: unexpected format", path);
	}
	if (sscanf(p + 1, "%llu", &v) != 1)
		return kc_err_set(err, EPROTO, "%s: unexpected format", path);
	*ret = v;
	return 0;
}

int sbx_proc_adopt(pid_t pid, uint64_t starttime, int *ret_pidfd, kc_err **err)
{
	_cleanup_close_ int pidfd = -1;
	uint64_t now = 0;

	if (pid <= 0)
		return kc_err_set(err, ESRCH, "no process recorded");
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return kc_err_sys(err, "pid %d", pid);
	/* The pidfd pins whatever process has the pid now; it is ours only if
	 * it started when ours did. */
	if (sbx_proc_starttime(pid, &now, NULL) < 0 || now != starttime)
		return kc_err_set(err, ESRCH,
				  "pid %d: gone (the pid now belongs to another process)", pid);
	kc_set_cloexec(pidfd, true);
	*ret_pidfd = steal_fd(&pidfd);
	return 0;
}

int sbx_proc_reap(int pidfd, int *ret_status)
{
	siginfo_t si = {0};

	if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0)
		return -errno;
	if (si.si_pid == 0)
		return -EAGAIN;
	*ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	return 0;
}

int sbx_proc_signal(int pidfd, int sig)
{
	return pidfd_send_signal(pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int sbx_proc_signal_group(int pidfd, pid_t pid, int sig)
{
	int r = sbx_proc_signal(pidfd, sig);
	if (r == 0)
		(void)kill(-pid, sig);
	return r;
}

int sbx_proc_idle(pid_t pid, kc_err **err)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d/task", pid);
	DIR *d = opendir(dir);
	struct dirent *de;
	int idle = 1;

	if (!d)
		return kc_err_sys(err, "open `%s`", dir);
	while (idle && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *text = NULL;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s/stat", dir, de->d_name);
		if (kc_read_file(path, 4096, &text, NULL, NULL) < 0)
			continue; /* the thread just ended */
		p = strrchr(text, ')');
		idle = p && p[1] == ' ' && p[2] == 'S';
	}
	closedir(d);
	return idle;
}
