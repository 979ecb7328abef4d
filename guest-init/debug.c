/* SPDX-License-Identifier: Apache-2.0 */
#include "debug.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept.h"
#include "endpoint.h"
#include "peer.h"
#include "util.h"

static char *debug_shell;

/* Runs in its own process per connection: a pty, the shell on it, and a
 * plain poll() relay; nothing of it touches the agent's loop. */
static _noreturn_ void session(int conn)
{
	int master, slave, unlock = 0;
	sigset_t none;
	pid_t pid;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
		_exit(1);
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		_exit(1);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {debug_shell, NULL};
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0), dup2(slave, 1), dup2(slave, 2);
		execv(debug_shell, argv);
		dprintf(2, "debug console: exec %s: %m\n", debug_shell);
		_exit(127);
	}
	close(slave);
	for (;;) {
		struct pollfd p[2] = {{.fd = conn, .events = POLLIN},
				      {.fd = master, .events = POLLIN}};
		char buf[4096];
		ssize_t n;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			n = read(conn, buf, sizeof(buf));
			if (n <= 0 || kc_write_all(master, buf, (size_t)n) < 0)
				break;
		}
		if (p[1].revents) {
			n = read(master, buf, sizeof(buf));
			if (n <= 0 || kc_write_all(conn, buf, (size_t)n) < 0)
				break;
		}
	}
	kill(pid, SIGHUP);
	_exit(0);
}

static void on_accept(kc_acceptor *a, int c, void *ud)
{
	(void)a;
	(void)ud;
	/* The session polls a blocking socket. */
	kc_set_nonblock(c, false);
	/* The agent reaps the session process like any other child. */
	if (fork() == 0)
		session(c);
	close(c);
}

int kc_debug_console_start(kc_loop *loop, const char *shell, kc_err **err)
{
	struct kc_endpoint ep = {
	    .kind = KC_EP_VSOCK, .cid = KC_VSOCK_CID_ANY, .port = KC_DEBUG_PORT};
	kc_acceptor *a;
	int fd;

	debug_shell = xstrdup(shell && *shell ? shell : "/bin/sh");
	if (access(debug_shell, X_OK) < 0)
		return kc_err_sys(err, "debug shell `%s` (build the initramfs with DEBUG_SHELL=1)",
				  debug_shell);
	fd = kc_listen(&ep, err);
	if (fd < 0)
		return fd;
	if (kc_acceptor_new(loop, fd, on_accept, NULL, &a, err) < 0)
		return kc_err_retp(err);
	/* A root shell for the host only: never for a container in the VM. */
	kc_acceptor_set_filter(a, kc_peer_allowed, "debug console");
	return 0;
}
