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
 * DRIVER_OK on the vsock device. A CONNECT that vhost-device-vsock receives
 * before its vrings are set up can wedge the device for the rest of the boot
 * (seen in about 1 of 12 boots under TCG); after DRIVER_OK it never did.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "endpoint.h"
#include "kuasar/sandbox.pb-c.h"
#include "loop.h"
#include "ttrpc.h"
#include "util.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ QMP */

#define QMP_SETTLE_MS 50

struct qmp {
	int fd;
	char buf[65536];
	size_t len;
};

/* Next JSON line from QEMU that answers a command (events are skipped). */
static json_t *qmp_reply(struct qmp *q, uint64_t deadline, kc_err **err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		uint64_t now;
		ssize_t n;

		if (nl) {
			json_t *j;
			*nl = '\0';
			j = json_loads(q->buf, 0, NULL);
			q->len -= (size_t)(nl + 1 - q->buf);
			memmove(q->buf, nl + 1, q->len);
			if (j && (json_object_get(j, "return") || json_object_get(j, "error")))
				return j;
			json_decref(j);
			continue;
		}
		if (q->len == sizeof(q->buf))
			return kc_err_set(err, EPROTO, "qmp: line too long"), NULL;
		now = kc_now_ns();
		if (now >= deadline)
			return kc_err_set(err, ETIMEDOUT, "qmp: no answer"), NULL;
		if (poll(&p, 1, (int)((deadline - now) / KC_NSEC_PER_MSEC) + 1) < 0 &&
		    errno != EINTR)
			return kc_err_sys(err, "qmp: poll"), NULL;
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n == 0)
			return kc_err_set(err, ECONNRESET, "qmp: QEMU closed the socket"), NULL;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return kc_err_sys(err, "qmp: read"), NULL;
		if (n > 0)
			q->len += (size_t)n;
	}
}

static json_t *qmp_cmd(struct qmp *q, const char *json, uint64_t deadline, kc_err **err)
{
	json_t *r;
	int w = kc_write_all(q->fd, json, strlen(json));
	if (w < 0)
		return kc_err_set(err, -w, "qmp: write: %s", strerror(-w)), NULL;
	r = qmp_reply(q, deadline, err);
	if (r && json_object_get(r, "error")) {
		const char *desc =
		    json_string_value(json_object_get(json_object_get(r, "error"), "desc"));
		kc_err_set(err, EPROTO, "qmp: %s", desc ? desc : "error");
		json_decref(r);
		return NULL;
	}
	return r;
}

static bool has_driver_ok(json_t *status_reply)
{
	json_t *st = json_object_get(
	    json_object_get(json_object_get(status_reply, "return"), "status"), "statuses");
	size_t i;
	json_t *v;

	json_array_foreach(st, i, v)
	{
		const char *s = json_string_value(v);
		if (s && kc_has_prefix(s, "VIRTIO_CONFIG_S_DRIVER_OK"))
			return true;
	}
	return false;
}

/* Wait until the guest driver of the (vhost-user-)vsock device is ready. */
static int qmp_wait_vsock(const char *sock, uint64_t deadline, kc_err **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ struct qmp *q = xcalloc(1, sizeof(*q));
	_cleanup_free_ char *status_cmd = NULL;
	_cleanup_close_ int fd = -1;
	json_t *r, *v;
	size_t i;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return kc_err_set(err, ENAMETOOLONG, "qmp socket path too long");
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kc_err_sys(err, "qmp: socket");
	/* QEMU creates the socket a moment after it starts. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if ((errno != ENOENT && errno != ECONNREFUSED) || kc_now_ns() >= deadline)
			return kc_err_sys(err, "qmp: connect %s", sock);
		sleep_ms(5);
	}
	q->fd = fd;
	/* The greeting has a "QMP" key only; the capabilities answer comes next. */
	r = qmp_cmd(q, "{\"execute\":\"qmp_capabilities\"}\n", deadline, err);
	if (!r)
		return kc_err_ret(*err);
	json_decref(r);
	r = qmp_cmd(q, "{\"execute\":\"x-query-virtio\"}\n", deadline, err);
	if (!r)
		return kc_err_ret(*err);
	json_array_foreach(json_object_get(r, "return"), i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *path = json_string_value(json_object_get(v, "path"));
		if (name && path && strstr(name, "vsock")) {
			json_t *c = json_pack("{s:s, s:{s:s}}", "execute", "x-query-virtio-status",
					      "arguments", "path", path);
			char *txt = json_dumps(c, JSON_COMPACT);
			status_cmd = xasprintf("%s\n", txt);
			free(txt);
			json_decref(c);
			break;
		}
	}
	json_decref(r);
	if (!status_cmd)
		return kc_err_set(err, ENODEV, "qmp: the VM has no vsock device");
	for (;;) {
		bool ok;
		r = qmp_cmd(q, status_cmd, deadline, err);
		if (!r)
			return kc_err_ret(*err);
		ok = has_driver_ok(r);
		json_decref(r);
		if (ok) {
			/* QEMU reports DRIVER_OK before vhost-device-vsock has
			 * processed the vring setup messages that follow it. */
			sleep_ms(QMP_SETTLE_MS);
			return 0;
		}
		if (kc_now_ns() >= deadline)
			return kc_err_set(err, ETIMEDOUT,
					  "the guest's vsock driver never got ready");
		sleep_ms(5);
	}
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
		return kc_err_ret(*err);
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
	if (qmp && qmp_wait_vsock(qmp, deadline, &err) < 0)
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
