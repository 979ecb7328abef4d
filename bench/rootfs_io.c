/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rootfs-io - bench/rootfs-io's reader, static (musl): it is the whole image
 * (with its data files), run as the container's command.
 *
 *   rootfs-io seq FILE            read FILE start to end in 1 MiB reads
 *   rootfs-io rand FILE N         N preads of 4 KiB at random aligned offsets
 *                                 (a fixed seed: the same offsets every run)
 *
 * Prints one line: "seq_mib_s RATE" or "rand_iops RATE p50_us P50". Each file
 * is read once per container, so the guest's page cache starts cold; the
 * host's (virtio-fs's backing files, the disk image) is whatever it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BUF  (1u << 20)
#define RAND_BUF 4096u
#define MAX_N    100000u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int seq(int fd)
{
	static char buf[SEQ_BUF];
	uint64_t total = 0, t0 = now_ns(), dt;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (uint64_t)n;
	if (n < 0)
		return perror("read"), 1;
	dt = now_ns() - t0;
	printf("seq_mib_s %.1f\n", (double)total / (1 << 20) / ((double)dt / 1e9));
	return 0;
}

static int rnd(int fd, unsigned n)
{
	static char buf[RAND_BUF];
	static uint64_t lat[MAX_N];
	struct stat st;
	uint64_t blocks, x = 0x9e3779b97f4a7c15ull, t0, total;

	if (fstat(fd, &st) < 0 || st.st_size < (off_t)RAND_BUF)
		return fprintf(stderr, "file too small\n"), 1;
	blocks = (uint64_t)st.st_size / RAND_BUF;
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = now_ns();
		/* xorshift64: reproducible offsets */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pread(fd, buf, RAND_BUF, (off_t)((x % blocks) * RAND_BUF)) != (ssize_t)RAND_BUF)
			return perror("pread"), 1;
		lat[i] = now_ns() - t;
	}
	total = now_ns() - t0;
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	printf("rand_iops %.0f p50_us %.1f\n", n / ((double)total / 1e9), lat[n / 2] / 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 3 || (strcmp(argv[1], "seq") && strcmp(argv[1], "rand")) ||
	    (!strcmp(argv[1], "rand") && argc < 4)) {
		fprintf(stderr, "usage: rootfs-io seq FILE | rand FILE N\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perror(argv[2]), 1;
	if (!strcmp(argv[1], "seq"))
		return seq(fd);
	{
		unsigned long n = strtoul(argv[3], NULL, 10);
		if (n == 0 || n > MAX_N)
			return fprintf(stderr, "N: 1..%u\n", MAX_N), 2;
		return rnd(fd, (unsigned)n);
	}
}
