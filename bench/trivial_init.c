/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trivial_init - the smallest useful PID 1 for boot benchmarks and smoke tests:
 * loads the modules listed in /lib/modules/load.list (a distro kernel needs
 * them for vsock), reports how long the kernel took to reach userspace, then
 * accepts connections on vsock port 1024 and greets each one. It mounts
 * nothing, so the only difference to vmm-task is what the agent itself does.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define AGENT_PORT 1024

static void load_modules(void)
{
	char line[256];
	FILE *f = fopen("/lib/modules/load.list", "re");
	int n = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char path[300];
		int fd;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(path, sizeof(path), "/lib/modules/%s", line);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("trivial-init: open %s: %s\n", path, strerror(errno));
			continue;
		}
		/* EEXIST: built in or already loaded, which is fine. */
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			printf("trivial-init: load %s: %s\n", line, strerror(errno));
		else
			n++;
		close(fd);
	}
	fclose(f);
	printf("trivial-init: %d modules loaded\n", n);
}

static double boottime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	printf("trivial-init: %s: %s; powering off\n", what, strerror(errno));
	fflush(stdout);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

int main(void)
{
	struct sockaddr_vm addr = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = AGENT_PORT};
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("trivial-init: userspace reached %.3f s after kernel start\n", boottime());
	load_modules();
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket(AF_VSOCK)");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		fail("bind vsock port 1024");
	if (listen(fd, 16) < 0)
		fail("listen");
	printf("trivial-init: listening on vsock port %d at %.3f s\n", AGENT_PORT, boottime());
	for (;;) {
		static const char hello[] = "hello from trivial-init\n";
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fail("accept");
		}
		if (write(c, hello, sizeof(hello) - 1) < 0)
			printf("trivial-init: write: %s\n", strerror(errno));
		close(c);
	}
}
