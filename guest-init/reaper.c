/* SPDX-License-Identifier: Apache-2.0 */
#include "reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static kc_exit_fn exit_fn;
static kc_watch *sig_watch;
static int sig_fd = -1;
static kc_signal_fn signal_fn;
static void *reaper_ud;

int kc_wait_status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

void kc_reaper_reap(void)
{
	for (;;) {
		int st;
		/* __WALL: also children whose exit signal is not SIGCHLD (a
		 * "clone child"), which WNOHANG alone never reaps. */
		pid_t pid = waitpid(-1, &st, WNOHANG | __WALL);
		if (pid <= 0)
			break; /* 0: none left exited; -1/ECHILD: no children */
		if (exit_fn)
			exit_fn(pid, kc_wait_status_code(st), reaper_ud);
	}
}

static void on_signal(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct signalfd_siginfo si[16];
	ssize_t n;
	(void)w;
	(void)events;
	(void)ud;

	n = read(fd, si, sizeof(si));
	if (n <= 0)
		return;
	for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		if (si[i].ssi_signo == SIGCHLD)
			kc_reaper_reap();
		else if (signal_fn)
			signal_fn((int)si[i].ssi_signo, reaper_ud);
	}
}

void kc_reaper_fini(void)
{
	kc_watch_free(sig_watch);
	sig_watch = NULL;
	if (sig_fd >= 0)
		close(sig_fd);
	sig_fd = -1;
}

int kc_reaper_init(kc_loop *loop, kc_exit_fn on_exit, kc_signal_fn on_sig, void *ud, kc_err **err)
{
	/* Signals the kernel sends because *we* faulted must stay deliverable. */
	static const int keep[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS};
	sigset_t set;
	int fd;

	sigfillset(&set);
	for (size_t i = 0; i < KC_ARRAY_SIZE(keep); i++)
		sigdelset(&set, keep[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return kc_err_sys(err, "block signals");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return kc_err_sys(err, "signalfd");
	exit_fn = on_exit;
	signal_fn = on_sig;
	reaper_ud = ud;
	if (kc_loop_watch(loop, fd, EPOLLIN, on_signal, NULL, &sig_watch, err) < 0) {
		close(fd);
		return kc_err_retp(err);
	}
	sig_fd = fd;
	/* Children may have exited before the signalfd existed. */
	kc_reaper_reap();
	return 0;
}
