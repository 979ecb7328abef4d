/* SPDX-License-Identifier: Apache-2.0 */
/*
 * boot_probe - wait until a booting guest's agent answers, for bench/boot and
 * the smoke tests.
 *
 *   boot_probe [--ttrpc] [--timeout-ms N] [--interval-ms N] [--qmp SOCK] ADDR
 *   boot_probe [--ttrpc] [--timeout-ms N] [--interval-ms N] --vm DIR
 *
 * ADDR is an endpoint (hvsock:///dir/task.vsock:1024, vsock://3:1024, ...).
 * --vm DIR takes ADDR from DIR/agent.addr and uses DIR/qmp.sock (a VM started
 * by scripts/boot-qemu.sh). Without --ttrpc "ready" is a completed connection
 * (for hybrid vsock: the CONNECT/OK handshake, i.e. something listens on the
 * guest port); a greeting line from the guest, if any, is printed. With
 * --ttrpc it is an answered grpc.SandboxService/Check. Prints
 * "ready <CLOCK_REALTIME ns>" and exits 0, or exits 1 at the timeout.
 *
 * --qmp: first wait (over QEMU's QMP socket) until the guest driver has set
 * DRIVER_OK on the vsock device (tests/lib/qmpsync.h: a CONNECT that
 * vhost-device-vsock receives before its vrings are set up can wedge the
 * device for the rest of the boot).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "endpoint.h"
#include "kuasar/sandbox.pb-c.h"
#include "loop.h"
#include "qmpsync.h"
#include "ttrpc.h"
#include "util.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One Check call on a connected fd (taken). */
static int check(int fd, uint64_t deadline, kc_err **err)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	kc_loop *loop = NULL;
	ttrpc_client *c = NULL;
	uint64_t now = kc_now_ns();
	int r;

	if (kc_loop_new(&loop, err) < 0) {
		close(fd);
		return kc_err_retp(err);
	}
	r = ttrpc_client_new(loop, fd, &c, err);
	if (r == 0)
		r = ttrpc_client_call_sync(c, "grpc.SandboxService", "Check", &req.base, NULL,
					   deadline > now ? deadline - now : 1, NULL, err);
	ttrpc_client_free(c);
	kc_loop_free(loop);
	return r;
}

/* Print the guest's greeting if one arrives quickly; it is not required. */
static void show_greeting(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n;

	if (poll(&p, 1, 500) <= 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "boot_probe: guest says: %s", buf);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"ttrpc", no_argument, NULL, 't'},
					     {"timeout-ms", required_argument, NULL, 'T'},
					     {"interval-ms", required_argument, NULL, 'i'},
					     {"qmp", required_argument, NULL, 'q'},
					     {"vm", required_argument, NULL, 'v'},
					     {NULL, 0, NULL, 0}};
	struct kc_endpoint ep;
	kc_err *err = NULL;
	int64_t timeout_ms = 60000, interval_ms = 10;
	bool use_ttrpc = false;
	const char *qmp = NULL, *vm = NULL;
	_cleanup_free_ char *addr = NULL, *vm_qmp = NULL;
	uint64_t deadline;
	unsigned attempts = 0;
	/* KC_PROBE_VERBOSE=1: log every failed attempt (diagnosing flaky boots). */
	bool verbose = getenv("KC_PROBE_VERBOSE") != NULL;
	uint64_t t0;
	int opt;

	/* A guest that resets a half-open connection must not kill the probe. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			use_ttrpc = true;
			break;
		case 'T':
			if (kc_parse_i64(optarg, 1, 3600000, &timeout_ms) < 0)
				goto usage;
			break;
		case 'i':
			if (kc_parse_i64(optarg, 1, 1000, &interval_ms) < 0)
				goto usage;
			break;
		case 'q':
			qmp = optarg;
			break;
		case 'v':
			vm = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (vm) {
		_cleanup_free_ char *f = xasprintf("%s/agent.addr", vm);
		size_t len;
		if (optind != argc || kc_read_file(f, 4096, &addr, &len, &err) < 0)
			goto fail;
		addr[strcspn(addr, "\n")] = '\0';
		vm_qmp = xasprintf("%s/qmp.sock", vm);
		qmp = qmp ? qmp : vm_qmp;
	} else {
		if (optind != argc - 1)
			goto usage;
		addr = xstrdup(argv[optind]);
	}
	if (kc_endpoint_parse(addr, &ep, &err) < 0) {
		fprintf(stderr, "boot_probe: %s\n", kc_err_msg(err));
		kc_err_free(err);
		return 2;
	}

	/* A fixed short interval rather than kc_dial's growing backoff: the
	 * retry period bounds the measurement error. */
	t0 = kc_now_ns();
	deadline = t0 + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC;
	if (qmp && kc_qmp_wait_vsock_at(qmp, deadline, &err) < 0)
		goto fail;
	if (verbose && qmp)
		fprintf(stderr, "boot_probe: %.3f s: vsock driver ready\n",
			(double)(kc_now_ns() - t0) / 1e9);
	for (;;) {
		uint64_t attempt_deadline = kc_now_ns() + 2 * KC_NSEC_PER_SEC;
		int fd, r;

		attempts++;
		kc_err_freep(&err);
		fd = kc_dial_once(&ep, attempt_deadline < deadline ? attempt_deadline : deadline,
				  &err);
		if (fd >= 0) {
			if (!use_ttrpc) {
				printf("ready %llu\n", (unsigned long long)kc_realtime_ns());
				fflush(stdout);
				show_greeting(fd);
				close(fd);
				return 0;
			}
			r = check(fd, deadline, &err);
			if (r == 0) {
				printf("ready %llu\n", (unsigned long long)kc_realtime_ns());
				return 0;
			}
		}
		if (verbose)
			fprintf(stderr, "boot_probe: %.3f s: attempt %u: %s\n",
				(double)(kc_now_ns() - t0) / 1e9, attempts, kc_err_msg(err));
		if (kc_now_ns() + (uint64_t)interval_ms * KC_NSEC_PER_MSEC >= deadline)
			break;
		sleep_ms((unsigned)interval_ms);
	}
	fprintf(stderr, "boot_probe: %s not ready after %lld ms (%u attempts): %s\n", addr,
		(long long)timeout_ms, attempts, kc_err_msg(err));
	kc_err_free(err);
	return 1;

fail:
	fprintf(stderr, "boot_probe: %s\n", kc_err_msg(err));
	kc_err_free(err);
	return 1;

usage:
	fprintf(stderr,
		"usage: boot_probe [--ttrpc] [--timeout-ms N] [--interval-ms N] [--qmp SOCK] ADDR\n"
		"       boot_probe [--ttrpc] [--timeout-ms N] [--interval-ms N] --vm DIR\n");
	return 2;
}
