/* SPDX-License-Identifier: Apache-2.0 */
#include "runcctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "testutil.h"
#include "util.h"

static const char *runc_bin(void)
{
	return getenv("KC_RUNC") ? getenv("KC_RUNC") : "runc";
}

bool runcctl_available(void)
{
	char *out;
	int st;
	pid_t pid;
	int p[2];

	if (!tu_is_root() || pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execlp(runc_bin(), runc_bin(), "--version", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	out = io_read_all(p[0], 10000, NULL);
	close(p[0]);
	free(out);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int runcctl_run(const char *state, const char *bundle, const char *id, char **out, char **err)
{
	int po[2], pe[2], st;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execlp(runc_bin(), runc_bin(), "--root", state, "run", "--bundle", bundle, id,
		       (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* Small outputs: reading one pipe to the end before the other is fine. */
	*out = io_read_all(po[0], 30000, NULL);
	*err = io_read_all(pe[0], 30000, NULL);
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
