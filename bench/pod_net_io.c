/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pod-net-io - bench/pod-net's TCP peer, static (musl) so that the same binary
 * runs in any container image and on the node.
 *
 *   pod-net-io serve PORT             in the pod: one connection at a time, on [::]:PORT
 *   pod-net-io rtt ADDR PORT N SIZE   N round trips of SIZE bytes (TCP_NODELAY)
 *   pod-net-io put ADDR PORT MIB      node -> pod: MIB MiB, until the server acknowledges
 *   pod-net-io get ADDR PORT MIB      pod -> node: MIB MiB, until the server closes
 *
 * A connection's first byte says what it is: 'E' echo, 'S' sink (answers
 * with the 8-byte count it read once the client shuts its side down), 'G'
 * followed by an 8-byte count: that many bytes, then close. The client prints
 * one line: "rtt_us MEDIAN P99 MIN" or "mib_s RATE".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 << 10)
#define MAX_RTT  1000000
#define MAX_SIZE (64 << 10)
#define MAX_MIB  65536

static char buf[BUF_SIZE];

static void die(const char *what)
{
	fprintf(stderr, "pod-net-io: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0 || v > max) {
		fprintf(stderr, "pod-net-io: %s: not a number in 1..%ld\n", s, max);
		exit(2);
	}
	return v;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The client's: a failed write ends the measurement. */
static void send_all(int fd, const void *p, size_t n)
{
	if (write_all(fd, p, n) < 0)
		die("write");
}

/* Exactly n bytes, or fewer at EOF or on an error: the count read. */
static size_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* A connection's errors end that connection only. */
static void serve_one(int c)
{
	uint64_t n = 0, want;
	unsigned char cmd;
	ssize_t r;

	if (read_full(c, &cmd, 1) != 1)
		return;
	switch (cmd) {
	case 'E':
		while ((r = read(c, buf, sizeof(buf))) > 0)
			if (write_all(c, buf, (size_t)r) < 0)
				return;
		break;
	case 'S':
		while ((r = read(c, buf, sizeof(buf))) > 0)
			n += (uint64_t)r;
		(void)write_all(c, &n, sizeof(n));
		break;
	case 'G':
		if (read_full(c, &want, sizeof(want)) != sizeof(want) || want > (uint64_t)MAX_MIB
										    << 20)
			return;
		while (n < want) {
			size_t k = want - n < sizeof(buf) ? (size_t)(want - n) : sizeof(buf);
			if (write_all(c, buf, k) < 0)
				return;
			n += k;
		}
		break;
	}
}

static _Noreturn void serve(const char *port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct timeval idle = {.tv_sec = 60};
	int one = 1, zero = 0;
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket");
	signal(SIGPIPE, SIG_IGN);
	sa.sin6_port = htons((uint16_t)arg(port, 65535));
	/* Both families on one socket (v4-mapped), whatever the sysctl default. */
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0)
		die("bind/listen");
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		/* A client that goes quiet does not hold the server forever. */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve_one(c);
		close(c);
	}
}

static int dial(const char *addr, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
	int one = 1, fd, e;

	e = getaddrinfo(addr, port, &hints, &ai);
	if (e != 0) {
		fprintf(stderr, "pod-net-io: %s: %s\n", addr, gai_strerror(e));
		exit(2);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect");
	freeaddrinfo(ai);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int rtt(int fd, long n, long size)
{
	double *us = calloc((size_t)n, sizeof(*us));
	long i;

	if (!us)
		die("calloc");
	memset(buf, 'r', (size_t)size);
	send_all(fd, "E", 1);
	for (i = 0; i < n; i++) {
		double t0 = now();
		send_all(fd, buf, (size_t)size);
		if (read_full(fd, buf, (size_t)size) != (size_t)size) {
			fprintf(stderr, "pod-net-io: rtt: the echo ended after %ld round trips\n",
				i);
			return 1;
		}
		us[i] = (now() - t0) * 1e6;
	}
	qsort(us, (size_t)n, sizeof(*us), cmp_double);
	printf("rtt_us %.1f %.1f %.1f\n", us[n / 2], us[(n * 99) / 100], us[0]);
	free(us);
	return 0;
}

static int put(int fd, long mib)
{
	uint64_t total = (uint64_t)mib << 20, sent, ack = 0;
	double t0 = now();

	send_all(fd, "S", 1);
	for (sent = 0; sent < total; sent += sizeof(buf))
		send_all(fd, buf, sizeof(buf));
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	if (read_full(fd, &ack, sizeof(ack)) != sizeof(ack) || ack != total) {
		fprintf(stderr, "pod-net-io: put: the server counted %llu of %llu bytes\n",
			(unsigned long long)ack, (unsigned long long)total);
		return 1;
	}
	printf("mib_s %.1f\n", (double)mib / (now() - t0));
	return 0;
}

static int get(int fd, long mib)
{
	uint64_t want = (uint64_t)mib << 20, got = 0;
	char req[1 + sizeof(want)] = {'G'};
	double t0 = now();
	ssize_t r;

	memcpy(req + 1, &want, sizeof(want));
	send_all(fd, req, sizeof(req));
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		got += (uint64_t)r;
	if (r < 0)
		die("read");
	if (got != want) {
		fprintf(stderr, "pod-net-io: get: %llu of %llu bytes\n", (unsigned long long)got,
			(unsigned long long)want);
		return 1;
	}
	printf("mib_s %.1f\n", (double)mib / (now() - t0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		serve(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "rtt"))
		return rtt(dial(argv[2], argv[3]), arg(argv[4], MAX_RTT), arg(argv[5], MAX_SIZE));
	if (argc == 5 && !strcmp(argv[1], "put"))
		return put(dial(argv[2], argv[3]), arg(argv[4], MAX_MIB));
	if (argc == 5 && !strcmp(argv[1], "get"))
		return get(dial(argv[2], argv[3]), arg(argv[4], MAX_MIB));
	fprintf(stderr, "usage: pod-net-io serve PORT | rtt ADDR PORT N SIZE | put ADDR PORT MIB"
			" | get ADDR PORT MIB\n");
	return 2;
}
