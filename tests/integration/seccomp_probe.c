/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp-probe: run inside a container (static, no libc assumptions about
 * the image); makes the syscalls tests/integration/test_agent_seccomp.c asks
 * about and prints "name=errno" per line (0: succeeded), the same under any
 * runtime, so outputs can be compared byte for byte. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

static int res(long r)
{
	return r < 0 ? errno : 0;
}

static int sock(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
	return res(fd);
}

static int raw_clone(long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return res(pid);
}

int main(void)
{
	/* Each is a syscall containerd's RuntimeDefault profile has a rule, or no
	 * rule, for (see docs/security.md). */
	printf("clone3=%d\n", res(syscall(SYS_clone3, NULL, 88UL)));
	printf("socket_vsock=%d\n", sock(AF_VSOCK));
	printf("socket_unix=%d\n", sock(AF_UNIX));
	printf("unshare0=%d\n", res(unshare(0)));
	printf("keyctl=%d\n", res(syscall(SYS_keyctl, 0L, -3L, 0L)));
	printf("nr500=%d\n", res(syscall(500, 0, 0, 0)));
	printf("mseal=%d\n", res(syscall(462, 0, 0, 0)));
	printf("clone_newuser=%d\n", raw_clone(CLONE_NEWUSER));
	printf("fork=%d\n", raw_clone(0));
	printf("personality_bad=%d\n", res(syscall(SYS_personality, 0x0400000L)));
	printf("personality_query=%d\n", res(syscall(SYS_personality, 0xffffffffL)));
	return 0;
}
