/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-sandboxer's QMP client (host/sandboxer/qmp.c) fed what a compromised
 * QEMU could send on its control socket: the input is QEMU's side of the
 * conversation after the client has queued a command, `quit` (as vm_stop.c
 * does) and the vsock readiness gate (x-query-virtio, then
 * x-query-virtio-status). Replies, errors, events and garbage lines, until
 * QEMU hangs up. Every command's callback and the gate's must run exactly
 * once, and the event callback learns of the hang-up once. The socket lives
 * in a private temporary directory, removed at exit.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "loop.h"
#include "qmp.h"
#include "util.h"

#define FUZZ_MAX_INPUT (256u << 10)

static char dir[] = "/tmp/kc-fuzz-qmp.XXXXXX";
static char path[sizeof(dir) + 16];
static int listen_fd = -1;

static int answered[3], gate_done, hangups;

static void cleanup(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	(void)argc;
	(void)argv;

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	atexit(cleanup);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 4) < 0)
		abort();
	return 0;
}

static void on_ret(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	(void)q;
	answered[(intptr_t)ud]++;
	/* A reply or an error, never both or neither. */
	FUZZ_CHECK(!ret != !err);
	if (err)
		FUZZ_CHECK(err->msg);
}

static void on_gate(kc_err *err, void *ud)
{
	(void)err;
	(void)ud;
	gate_done++;
}

static void on_event(sbx_qmp *q, const char *name, json_t *data, void *ud)
{
	(void)q;
	(void)data;
	(void)ud;
	if (!name)
		hangups++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kc_loop *loop = NULL;
	sbx_qmp *q = NULL;
	size_t off = 0;
	int fd, rounds = 0;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	memset(answered, 0, sizeof(answered));
	gate_done = hangups = 0;
	if (kc_loop_new(&loop, NULL) < 0 || sbx_qmp_open(loop, path, &q, NULL) < 0)
		abort();
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		abort();
	sbx_qmp_on_event(q, on_event, NULL);
	sbx_qmp_exec(q, "query-status", NULL, on_ret, (void *)0);
	sbx_qmp_wait_driver_ok(q, "vsock", kc_now_ns() + 10 * KC_NSEC_PER_SEC, on_gate, NULL);
	sbx_qmp_exec(q, "quit", NULL, on_ret, (void *)1);
	if (!size)
		shutdown(fd, SHUT_WR);
	while (!sbx_qmp_closed(q)) {
		char sink[4096];
		if (off < size) {
			ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (w > 0 && (off += (size_t)w) == size)
				shutdown(fd, SHUT_WR);
		}
		if (kc_loop_iterate(loop, 0, NULL) < 0)
			abort();
		while (read(fd, sink, sizeof(sink)) > 0) /* the commands */
			;
		FUZZ_CHECK(++rounds < 100000);
	}
	FUZZ_CHECK(answered[0] == 1 && answered[1] == 1);
	FUZZ_CHECK(gate_done == 1);
	FUZZ_CHECK(hangups == 1);
	sbx_qmp_free(q);
	kc_loop_free(loop);
	close(fd);
	return 0;
}
