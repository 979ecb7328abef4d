/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-sandboxer's Controller over gRPC, next to ttrpc on the same socket: the
 * real daemon, a real gRPC client (Debian's python3-grpcio, as stock
 * containerd 2.x is a gRPC client; tests/integration/grpc_controller.py).
 *
 *   controller   no VM: Platform, error codes and messages, a garbage body,
 *                oversize, 50 concurrent calls, a Wait open across other calls
 *                and answered by Stop, a Wait the client cancels, deadlines,
 *                connections given back; then ttrpc on the same socket (the
 *                connection made before, and a new one) sees what gRPC made;
 *                a clean exit with nothing reported (ASan builds: leaks)
 *   vm_start     Create + Start of a QEMU guest over gRPC, Stop, Wait, Shutdown
 *
 * Skips, with the reason, without /usr/bin/python3 + grpcio + protobuf or
 * protoc; vm_start also without what the sandboxer's VM tests need.
 * KC_SANDBOXER picks the daemon binary (the ASan build in make test-asan).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

static struct sbxd D;

static void setup(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "sbxgrpc");
}

static void teardown(void)
{
	sbxd_cleanup(&D);
}

TestSuite(sandboxer_grpc, .init = setup, .fini = teardown, .timeout = 300);

/* Missing kernel and initrd only warn: no VM is started in `controller`. */
static const char no_vm_config[] = "[sandbox]\nlog_level = \"debug\"\n\n"
				   "[hypervisor]\ntype = \"qemu\"\n"
				   "kernel_path = \"/nonexistent/vmlinux\"\n"
				   "initrd_path = \"/nonexistent/initrd.img\"\n";

static int run(char *const argv[], const char *out_path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void skip_without_client(void)
{
	_cleanup_free_ char *out = xasprintf("%s/probe.out", D.root);
	char *probe[] = {"/usr/bin/python3", "-c", "import grpc, google.protobuf", NULL};
	char *protoc[] = {"/usr/bin/protoc", "--version", NULL};

	if (access("/usr/bin/python3", X_OK) < 0)
		cr_skip_test("skipped: no /usr/bin/python3 (scripts/setup-deps.sh cri)");
	if (run(probe, out) != 0)
		cr_skip_test("skipped: python3-grpcio / python3-protobuf missing "
			     "(scripts/setup-deps.sh cri)");
	if (run(protoc, out) != 0)
		cr_skip_test("skipped: no protoc (protobuf-compiler, scripts/setup-deps.sh cri)");
}

/* The client for one case; its output is in the failure message. */
static void client(const char *kase)
{
	const char *top = getenv("KC_TOP") ? getenv("KC_TOP") : ".";
	_cleanup_free_ char *script = xasprintf("%s/tests/integration/grpc_controller.py", top);
	_cleanup_free_ char *proto = xasprintf("%s/proto", top);
	_cleanup_free_ char *gen = xasprintf("%s/py", D.root);
	_cleanup_free_ char *pid = xasprintf("%d", (int)D.pid);
	_cleanup_free_ char *out_path = xasprintf("%s/client.out", D.root);
	_cleanup_free_ char *out = NULL, *log = NULL;
	char *argv[] = {"/usr/bin/python3",
			script,
			"--socket",
			D.sock,
			"--proto",
			proto,
			"--gen",
			gen,
			"--pid",
			pid,
			"--log",
			D.log,
			"--dir",
			D.dir,
			"--case",
			(char *)kase,
			NULL};
	int rc = run(argv, out_path);

	(void)kc_read_file(out_path, 1 << 20, &out, NULL, NULL);
	if (rc != 0) {
		log = sbxd_log(&D);
		cr_assert_fail("grpc_controller.py --case %s: exit %d\n%s\n--- daemon log ---\n%s",
			       kase, rc, out ? out : "", log);
	}
	fprintf(stderr, "%s", out ? out : "");
}

/* SIGTERM: a clean exit, and nothing a sanitizer would say in the log. */
static void assert_clean_exit(void)
{
	_cleanup_free_ char *log = NULL;
	int status = 0;

	cr_assert_eq(kill(D.pid, 0), 0, "the daemon died");
	kill(D.pid, SIGTERM);
	cr_assert_eq(waitpid(D.pid, &status, 0), D.pid);
	D.pid = 0;
	log = sbxd_log(&D);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %#x\n%s", status,
		  log);
	cr_assert(!strstr(log, "Sanitizer") && !strstr(log, "runtime error:"), "%s", log);
}

Test(sandboxer_grpc, controller)
{
	_cleanup_free_ char *os = NULL, *arch = NULL;
	struct sbx_status st = {0};
	kc_err *e = NULL;

	skip_without_client();
	cr_assert_eq(sbxd_start(&D, no_vm_config, &e), 0, "%s", kc_err_msg(e));
	client("api");

	/* ttrpc on the same socket: the connection made before the gRPC calls. */
	cr_assert_eq(sbx_platform(&D, &os, &arch, &e), 0, "%s", kc_err_msg(e));
	cr_assert_str_eq(os, "linux");
	cr_assert_str_eq(arch, "amd64");
	cr_assert_eq(sbx_status(&D, "grpc-ttrpc", &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_str_eq(st.state, "SANDBOX_NOTREADY");
	sbx_status_clear(&st);
	/* And a new one. */
	cr_assert_eq(sbxd_reconnect(&D, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sbx_shutdown(&D, "grpc-ttrpc", &e), 0, "%s", kc_err_msg(e));
	cr_assert_lt(sbx_status(&D, "grpc-ttrpc", &st, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "NotFound"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	assert_clean_exit();
}

Test(sandboxer_grpc, vm_start)
{
	_cleanup_free_ char *why = NULL, *cfg = sbxd_qemu_config("microvm", NULL, &why);
	kc_err *e = NULL;

	if (!cfg)
		cr_skip_test("skipped: %s", why);
	skip_without_client();
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));
	client("vm");
	assert_clean_exit();
}
