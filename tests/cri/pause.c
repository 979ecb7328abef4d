/* SPDX-License-Identifier: Apache-2.0 */
/* The CRI suite's pause image: a static PID 1 that holds the pod's namespaces,
 * reaps what it inherits and exits on SIGINT/SIGTERM (as Kubernetes' pause). */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (getpid() != 1)
		fprintf(stderr, "pause: not running as PID 1\n");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 1;
		if (sig == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			continue;
		}
		return 0;
	}
}
