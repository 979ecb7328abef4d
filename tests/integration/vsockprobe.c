/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsockprobe CID PORT: what a process in a container reaches over AF_VSOCK.
 * A static musl program the VM test copies into a container's rootfs. It
 * connects and, if that works, sends a ttrpc grpc.SandboxService/Check and
 * prints one word:
 *   refused  the connect failed (no transport, no listener, reset)
 *   closed   connected, then closed before any answer (the agent refused us)
 *   served   an answer came back: the control plane is open to containers
 *   silent   connected, no answer and no close within 3 s
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int say(const char *word, const char *why)
{
	printf("%s\n", word);
	if (why)
		fprintf(stderr, "vsockprobe: %s\n", why);
	return 0;
}

int main(int argc, char **argv)
{
	/* ttrpc frame: len, stream 1, REQUEST; Request{service, method}. */
	static const char req[] = "\x0a\x13grpc.SandboxService\x12\x05"
				  "Check";
	unsigned char frame[10 + sizeof(req) - 1];
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK};
	struct pollfd p;
	int fd, err = 0;
	socklen_t el = sizeof(err);
	unsigned char hdr[10];
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: vsockprobe CID PORT\n");
		return 2;
	}
	sa.svm_cid = (unsigned)strtoul(argv[1], NULL, 10);
	sa.svm_port = (unsigned)strtoul(argv[2], NULL, 10);
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return say("refused", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS)
			return say("refused", strerror(errno));
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 3000) != 1)
			return say("refused", "connect timed out");
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			return say("refused", strerror(err));
	}
	memset(frame, 0, 10);
	frame[3] = (unsigned char)(sizeof(req) - 1);
	frame[7] = 1;
	frame[8] = 1;
	memcpy(frame + 10, req, sizeof(req) - 1);
	if (send(fd, frame, sizeof(frame), MSG_NOSIGNAL) != (ssize_t)sizeof(frame))
		return say("closed", strerror(errno));
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 3000) != 1)
		return say("silent", NULL);
	n = recv(fd, hdr, sizeof(hdr), 0);
	if (n <= 0)
		return say("closed", n < 0 ? strerror(errno) : "EOF");
	return say("served", NULL);
}
