/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-task in host mode, driven through its real socket with the Task API:
 * real containers (namespaces, pivot_root, cgroups) from a busybox rootfs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentctl.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "testutil.h"
#include "util.h"

static struct agentctl A;
static char *bin;

static void setup(void)
{
	kc_err *e = NULL;
	if (!tu_is_root())
		cr_skip_test("skipped: needs root to create namespaces and mounts");
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: %s", kc_err_msg(e));
	bin = getenv("KC_AGENT") ? xstrdup(getenv("KC_AGENT")) : tu_bin("vmm-task");
	if (access(bin, X_OK) < 0)
		cr_skip_test("skipped: %s not built", bin);
	const char *extra[] = {"--log-level", "debug", NULL};
	cr_assert_eq(agentctl_start(&A, bin, extra, &e), 0, "start agent: %s", kc_err_msg(e));
}

static void teardown(void)
{
	if (A.dir) {
		_cleanup_free_ char *log = agentctl_log(&A);
		if (criterion_current_test && getenv("KC_TEST_VERBOSE"))
			fprintf(stderr, "--- agent log ---\n%s\n", log);
	}
	agentctl_stop(&A);
	free(bin);
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 60);

/* Run a container to completion, returning its exit status and output. */
static uint32_t run(const char *id, const struct bundle_opts *o, char **out, char **err_out)
{
	_cleanup_free_ char *bundle = agentctl_bundle(&A, id, o);
	_cleanup_free_ char *sout = xasprintf("unix://%s/%s.out", A.dir, id);
	_cleanup_free_ char *serr = xasprintf("unix://%s/%s.err", A.dir, id);
	kc_err *e = NULL;
	uint32_t pid = 0, status = 99;
	int fo, fe;

	cr_assert_eq(task_create(&A, id, bundle, false, NULL, sout, serr, &pid, &e), 0,
		     "create: %s", kc_err_msg(e));
	cr_assert_gt(pid, 0);
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	fe = io_dial(serr, &e);
	cr_assert_geq(fe, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_start(&A, id, NULL, NULL, &e), 0, "start: %s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, id, NULL, &status, &e), 0, "wait: %s", kc_err_msg(e));
	*out = io_read_all(fo, 5000, NULL);
	if (err_out)
		*err_out = io_read_all(fe, 5000, NULL);
	close(fo);
	close(fe);
	cr_assert_eq(task_delete(&A, id, NULL, NULL, &e), 0, "delete: %s", kc_err_msg(e));
	return status;
}

Test(agent, check_answers)
{
	kc_err *e = NULL;
	cr_assert_eq(sandbox_check(&A, &e), 0, "%s", kc_err_msg(e));
}

Test(agent, stdout_stderr_exact_and_exit_zero)
{
	const char *args[] = {"/bin/sh", "-c", "echo hello; echo oops >&2; printf 'no newline'",
			      NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *out = NULL, *err = NULL;
	uint32_t st = run("c-out", &o, &out, &err);
	cr_assert_eq(st, 0);
	cr_assert_str_eq(out, "hello\nno newline");
	cr_assert_str_eq(err, "oops\n");
}

Test(agent, exit_code_42)
{
	const char *args[] = {"/bin/sh", "-c", "exit 42", NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(run("c42", &o, &out, NULL), 42);
}

Test(agent, sigkill_gives_137_and_kill_all)
{
	const char *args[] = {"/bin/sh", "-c", "sleep 100 & sleep 100; echo never", NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "c137", &o);
	kc_err *e = NULL;
	uint32_t st = 0;
	int s = 0;
	size_t n = 0;

	cr_assert_eq(task_create(&A, "c137", bundle, false, NULL, NULL, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_state(&A, "c137", NULL, &s, NULL, &e), 0);
	cr_assert_eq(s, 1 /* CREATED */);
	cr_assert_eq(task_start(&A, "c137", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_state(&A, "c137", NULL, &s, NULL, &e), 0);
	cr_assert_eq(s, 2 /* RUNNING */);
	/* Delete of a running task must fail and change nothing. */
	cr_assert_lt(task_delete(&A, "c137", NULL, NULL, &e), 0);
	cr_assert(strstr(e->msg, "FailedPrecondition"), "%s", e->msg);
	kc_err_freep(&e);
	for (int i = 0; i < 100 && n < 3; i++) {
		cr_assert_eq(task_pids(&A, "c137", &n, &e), 0, "%s", kc_err_msg(e));
		usleep(10000);
	}
	cr_assert_eq(n, 3, "sh and two sleeps");
	cr_assert_eq(task_kill(&A, "c137", NULL, SIGKILL, true, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "c137", NULL, &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(st, 137);
	cr_assert_eq(task_state(&A, "c137", NULL, &s, NULL, &e), 0);
	cr_assert_eq(s, 3 /* STOPPED */);
	/* Killing a finished process is NotFound, like containerd's shims. */
	cr_assert_lt(task_kill(&A, "c137", NULL, SIGTERM, false, &e), 0);
	cr_assert(strstr(e->msg, "NotFound") && strstr(e->msg, "already finished"), "%s", e->msg);
	kc_err_freep(&e);
	cr_assert_eq(task_delete(&A, "c137", NULL, &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(st, 137);
	cr_assert_lt(task_state(&A, "c137", NULL, &s, NULL, &e), 0);
	cr_assert(strstr(e->msg, "NotFound"), "%s", e->msg);
	kc_err_free(e);
}

Test(agent, exec_while_running)
{
	const char *args[] = {"/bin/sh", "-c", "echo started; sleep 100", NULL};
	const char *xargs[] = {"/bin/sh", "-c", "echo from-exec $(hostname) $$; exit 3", NULL};
	struct bundle_opts o = {.args = args, .hostname = "exec-host"};
	struct bundle_opts xo = {.args = xargs};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "cx", &o);
	_cleanup_free_ char *pj = agentctl_process_json(&xo);
	_cleanup_free_ char *xout = xasprintf("unix://%s/x.out", A.dir);
	_cleanup_free_ char *out = NULL;
	kc_err *e = NULL;
	uint32_t st = 0, xpid = 0;
	int fd;

	cr_assert_eq(task_create(&A, "cx", bundle, false, NULL, NULL, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "cx", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_exec(&A, "cx", "x1", false, NULL, xout, NULL, pj, &e), 0, "%s",
		     kc_err_msg(e));
	/* Same exec id twice is AlreadyExists. */
	cr_assert_lt(task_exec(&A, "cx", "x1", false, NULL, NULL, NULL, pj, &e), 0);
	cr_assert(strstr(e->msg, "AlreadyExists"), "%s", e->msg);
	kc_err_freep(&e);
	cr_assert_eq(task_start(&A, "cx", "x1", &xpid, &e), 0, "%s", kc_err_msg(e));
	cr_assert_gt(xpid, 0);
	fd = io_dial(xout, &e);
	cr_assert_geq(fd, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "cx", "x1", &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(st, 3);
	out = io_read_all(fd, 5000, NULL);
	close(fd);
	/* It ran in the container's UTS and PID namespaces (not PID 1 there). */
	cr_assert(kc_has_prefix(out, "from-exec exec-host "), "%s", out);
	cr_assert_neq(atoi(out + strlen("from-exec exec-host ")), 1);
	cr_assert_eq(task_delete(&A, "cx", "x1", NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_kill(&A, "cx", NULL, SIGKILL, false, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "cx", NULL, &st, &e), 0);
	cr_assert_eq(st, 137);
	cr_assert_eq(task_delete(&A, "cx", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}

Test(agent, env_cwd_user_hostname_mounts)
{
	_cleanup_free_ char *hostdir = xasprintf("%s/shared", A.dir);
	_cleanup_free_ char *hostfile = xasprintf("%s/shared/hello.txt", A.dir);
	_cleanup_free_ char *mounts = NULL;
	const char *args[] = {
	    "/bin/sh", "-c",
	    "echo \"$FOO|$(pwd)|$(id -u):$(id -g)|$(hostname)|$(cat /data/hello.txt)"
	    "|$(cat /proc/self/status | grep ^CapEff)\";"
	    " touch /data/ro 2>/dev/null && echo writable || echo readonly;"
	    " test -c /dev/null && echo devnull",
	    NULL};
	const char *env[] = {"PATH=/bin", "FOO=bar baz", NULL};
	struct bundle_opts o = {.args = args,
				.env = env,
				.cwd = "/tmp",
				.uid = 1000,
				.gid = 1000,
				.hostname = "spec-host"};
	_cleanup_free_ char *out = NULL;

	mkdir(hostdir, 0755);
	kc_write_file(hostfile, "from-host", 9, 0, 0644, NULL);
	mounts = xasprintf("{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s\","
			   "\"options\":[\"rbind\",\"ro\"]}",
			   hostdir);
	o.extra_mounts = mounts;
	_cleanup_free_ char *err = NULL;
	uint32_t st = run("cenv", &o, &out, &err);
	cr_assert_eq(st, 0, "exit %u: %s %s", st, out, err);
	/* Non-root: no effective capabilities after execve. */
	cr_assert_str_eq(out,
			 "bar baz|/tmp|1000:1000|spec-host|from-host|CapEff:\t0000000000000000\n"
			 "readonly\ndevnull\n");
}

/* A terminal exec whose stdin is closed at once (CRI's `kubectl exec -t`
 * without -i: it passes a stdin FIFO and closes it): the output still
 * arrives, also to a reader that connects after the process is gone. */
Test(agent, exec_tty_stdin_closed_at_once)
{
	const char *args[] = {"/bin/sh", "-c", "sleep 100", NULL};
	const char *xargs[] = {"/bin/sh", "-c", "tty; echo after", NULL};
	struct bundle_opts o = {.args = args};
	struct bundle_opts xo = {.args = xargs, .terminal = true};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "cxt", &o);
	_cleanup_free_ char *pj = agentctl_process_json(&xo);
	_cleanup_free_ char *xin = xasprintf("unix://%s/xt.in", A.dir);
	_cleanup_free_ char *xout = xasprintf("unix://%s/xt.out", A.dir);
	_cleanup_free_ char *out = NULL;
	kc_err *e = NULL;
	uint32_t st = 99;
	int fd, fi;

	cr_assert_eq(task_create(&A, "cxt", bundle, false, NULL, NULL, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "cxt", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_exec(&A, "cxt", "t1", true, xin, xout, NULL, pj, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "cxt", "t1", NULL, &e), 0, "%s", kc_err_msg(e));
	fi = io_dial(xin, &e);
	cr_assert_geq(fi, 0, "%s", kc_err_msg(e));
	shutdown(fi, SHUT_WR);
	usleep(300 * 1000); /* let it finish first: the late reader must still get it all */
	fd = io_dial(xout, &e);
	cr_assert_geq(fd, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "cxt", "t1", &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(st, 0);
	out = io_read_all(fd, 5000, NULL);
	close(fd);
	close(fi);
	cr_assert(strstr(out, "/dev/pts/") && strstr(out, "after"), "output: `%s`", out);
	cr_assert_eq(task_kill(&A, "cxt", NULL, SIGKILL, false, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "cxt", NULL, &st, &e), 0);
	cr_assert_eq(task_delete(&A, "cxt", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}

Test(agent, tty_with_resize)
{
	const char *args[] = {"/bin/sh", "-c",
			      "tty; stty size; read line; echo got:$line; stty size", NULL};
	struct bundle_opts o = {.args = args,
				.terminal = true,
				.extra_process = "\"consoleSize\":{\"height\":24,\"width\":80}"};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "ctty", &o);
	_cleanup_free_ char *sin = xasprintf("unix://%s/tty.in", A.dir);
	_cleanup_free_ char *sout = xasprintf("unix://%s/tty.out", A.dir);
	_cleanup_free_ char *out = NULL;
	kc_err *e = NULL;
	uint32_t st = 0;
	int fi, fo;
	char buf[256];
	size_t got = 0;

	cr_assert_eq(task_create(&A, "ctty", bundle, true, sin, sout, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	fi = io_dial(sin, &e);
	fo = io_dial(sout, &e);
	cr_assert(fi >= 0 && fo >= 0);
	cr_assert_eq(task_start(&A, "ctty", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	/* Wait for the first size line before resizing. */
	while (!strstr(buf, "24 80") && got < sizeof(buf) - 1) {
		ssize_t n = read(fo, buf + got, sizeof(buf) - 1 - got);
		cr_assert_gt(n, 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	cr_assert_eq(task_resize(&A, "ctty", NULL, 100, 40, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(write(fi, "ping\n", 5), 5);
	cr_assert_eq(task_wait(&A, "ctty", NULL, &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(st, 0);
	out = io_read_all(fo, 3000, NULL);
	{
		_cleanup_free_ char *all = xasprintf("%s%s", buf, out);
		cr_assert(strstr(all, "/dev/pts/0"), "%s", all);
		cr_assert(strstr(all, "got:ping"), "%s", all);
		cr_assert(strstr(all, "40 100"), "resize not seen: %s", all);
	}
	close(fi);
	close(fo);
	cr_assert_eq(task_delete(&A, "ctty", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}

Test(agent, stdin_and_closeio)
{
	const char *args[] = {"/bin/sh", "-c", "cat; echo done", NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "cin", &o);
	_cleanup_free_ char *sin = xasprintf("unix://%s/in", A.dir);
	_cleanup_free_ char *sout = xasprintf("unix://%s/out", A.dir);
	_cleanup_free_ char *out = NULL;
	kc_err *e = NULL;
	uint32_t st;
	int fi, fo;

	cr_assert_eq(task_create(&A, "cin", bundle, false, sin, sout, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	fi = io_dial(sin, &e);
	fo = io_dial(sout, &e);
	cr_assert_eq(task_start(&A, "cin", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(write(fi, "abc\n", 4), 4);
	usleep(100000);
	/* CloseIO ends stdin even though our connection stays open. */
	cr_assert_eq(task_close_stdin(&A, "cin", NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "cin", NULL, &st, &e), 0, "%s", kc_err_msg(e));
	out = io_read_all(fo, 3000, NULL);
	cr_assert_str_eq(out, "abc\ndone\n");
	close(fi);
	close(fo);
	cr_assert_eq(task_delete(&A, "cin", NULL, NULL, &e), 0);
}

Test(agent, output_of_instant_exit_is_not_lost)
{
	/* 200 KiB written by a process that exits at once: Wait returns only
	 * once every byte reached the reader, even though we connect late. */
	const char *args[] = {"/bin/sh", "-c", "dd if=/dev/zero bs=1024 count=200 2>/dev/null",
			      NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "cbig", &o);
	_cleanup_free_ char *sout = xasprintf("unix://%s/big.out", A.dir);
	_cleanup_free_ char *out = NULL;
	kc_err *e = NULL;
	uint32_t st = 9;
	size_t len = 0;
	int fo;

	cr_assert_eq(task_create(&A, "cbig", bundle, false, NULL, sout, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "cbig", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	usleep(200000); /* the process is long gone */
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	out = io_read_all(fo, 5000, &len);
	cr_assert_eq(len, 200 * 1024);
	cr_assert_eq(task_wait(&A, "cbig", NULL, &st, &e), 0);
	cr_assert_eq(st, 0);
	close(fo);
	cr_assert_eq(task_delete(&A, "cbig", NULL, NULL, &e), 0);
}

Test(agent, output_held_while_the_host_reconnects)
{
	/* The host's end of stdout goes away mid-run (vmm-sandboxer restarting):
	 * what the process writes meanwhile waits in the agent, which listens
	 * on the same address again, and reaches the next connection whole. */
	const char *args[] = {
	    "/bin/sh", "-c",
	    "echo first; sleep 1; i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done",
	    NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "chold", &o);
	_cleanup_free_ char *sout = xasprintf("unix://%s/hold.out", A.dir);
	_cleanup_free_ char *rest = NULL, *want = NULL;
	kc_err *e = NULL;
	uint32_t st = 9;
	size_t len = 0, wlen = 0;
	FILE *w = open_memstream(&want, &wlen);
	char buf[6];
	int fo;

	for (int i = 0; i < 2000; i++)
		fprintf(w, "line-%d\n", i);
	fclose(w);
	cr_assert_eq(task_create(&A, "chold", bundle, false, NULL, sout, NULL, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_start(&A, "chold", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_read_all(fo, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	cr_assert_eq(memcmp(buf, "first\n", 6), 0);
	close(fo); /* the host is gone while the process sleeps */
	usleep(1500000);
	fo = io_dial(sout, &e);
	cr_assert_geq(fo, 0, "the agent did not listen again: %s", kc_err_msg(e));
	rest = io_read_all(fo, 5000, &len);
	cr_assert_eq(len, wlen, "after the reconnect: %zu bytes, want %zu", len, wlen);
	cr_assert_eq(memcmp(rest, want, wlen), 0, "output after the reconnect differs");
	cr_assert_eq(task_wait(&A, "chold", NULL, &st, &e), 0);
	cr_assert_eq(st, 0);
	close(fo);
	cr_assert_eq(task_delete(&A, "chold", NULL, NULL, &e), 0);
}

static void expect_create_error(const char *id, const struct bundle_opts *o, const char *want)
{
	_cleanup_free_ char *bundle = agentctl_bundle(&A, id, o);
	kc_err *e = NULL;

	cr_assert_lt(task_create(&A, id, bundle, false, NULL, NULL, NULL, NULL, &e), 0,
		     "%s: create should fail", id);
	cr_assert(strstr(e->msg, want), "%s: error `%s` does not mention `%s`", id, e->msg, want);
	kc_err_freep(&e);
	/* Nothing is left behind, and the agent still works. */
	cr_assert_lt(task_state(&A, id, NULL, NULL, NULL, &e), 0);
	kc_err_freep(&e);
	cr_assert_eq(sandbox_check(&A, &e), 0, "agent broken after %s: %s", id, kc_err_msg(e));
}

Test(agent, bad_specs_fail_clearly_and_agent_survives)
{
	const char *args[] = {"/bin/true", NULL};
	const char *nope[] = {"/bin/does-not-exist", NULL};
	struct bundle_opts missing_root = {.args = args, .rootfs = "/nonexistent/rootfs"};
	struct bundle_opts bad_mount = {
	    .args = args,
	    .extra_mounts = "{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"/no/such/dir\","
			    "\"options\":[\"rbind\"]}"};
	struct bundle_opts bad_fs = {.args = args,
				     .extra_mounts =
					 "{\"destination\":\"/x\",\"type\":\"nosuchfs\","
					 "\"source\":\"x\"}"};
	struct bundle_opts bad_user = {.args = args, .user_json = "{\"username\":\"alice\"}"};
	struct bundle_opts bad_cap = {.args = args,
				      .extra_linux = "\"sysctl\":{\"net.nosuch.key\":\"1\"}"};
	struct bundle_opts seccomp = {
	    .args = args, .extra_linux = "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_FOO\"}"};

	expect_create_error("bad-root", &missing_root, "rootfs `/nonexistent/rootfs`");
	expect_create_error("bad-mount", &bad_mount, "/no/such/dir");
	expect_create_error("bad-fs", &bad_fs, "nosuchfs");
	expect_create_error("bad-user", &bad_user, "username");
	expect_create_error("bad-sysctl", &bad_cap, "net.nosuch.key");
	expect_create_error("bad-seccomp", &seccomp,
			    "linux.seccomp.defaultAction: unknown action SCMP_ACT_FOO");

	/* A program that does not exist fails at Start, naming it. */
	{
		struct bundle_opts o = {.args = nope};
		_cleanup_free_ char *bundle = agentctl_bundle(&A, "bad-exec", &o);
		kc_err *e = NULL;
		uint32_t st = 0;
		cr_assert_eq(task_create(&A, "bad-exec", bundle, false, NULL, NULL, NULL, NULL, &e),
			     0, "%s", kc_err_msg(e));
		cr_assert_lt(task_start(&A, "bad-exec", NULL, NULL, &e), 0);
		cr_assert(strstr(e->msg, "/bin/does-not-exist"), "%s", e->msg);
		kc_err_freep(&e);
		cr_assert_eq(task_wait(&A, "bad-exec", NULL, &st, &e), 0, "%s", kc_err_msg(e));
		cr_assert_eq(st, 127);
		cr_assert_eq(task_delete(&A, "bad-exec", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	}
	/* Invalid JSON and a bundle without config.json. */
	{
		_cleanup_free_ char *b = xasprintf("%s/badjson", A.dir);
		_cleanup_free_ char *c = xasprintf("%s/config.json", b);
		kc_err *e = NULL;
		mkdir(b, 0755);
		kc_write_file(c, "{\"process\": [", 13, 0, 0644, NULL);
		cr_assert_lt(task_create(&A, "badjson", b, false, NULL, NULL, NULL, NULL, &e), 0);
		cr_assert(strstr(e->msg, "invalid JSON"), "%s", e->msg);
		kc_err_freep(&e);
		unlink(c);
		cr_assert_lt(task_create(&A, "badjson", b, false, NULL, NULL, NULL, NULL, &e), 0);
		cr_assert(strstr(e->msg, "config.json"), "%s", e->msg);
		kc_err_free(e);
	}
}

static int count_lines_matching(const char *path, const char *needle)
{
	_cleanup_free_ char *s = NULL;
	int n = 0;
	if (kc_read_file(path, 1 << 22, &s, NULL, NULL) < 0)
		return -1;
	for (char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int count_zombies(pid_t parent)
{
	_cleanup_free_ char *cmd = xasprintf("ps -o stat= --ppid %d | grep -c Z", (int)parent);
	FILE *f = popen(cmd, "r");
	int n = 0;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = 0;
		pclose(f);
	}
	return n;
}

static int count_fds(pid_t pid)
{
	_cleanup_free_ char *cmd = xasprintf("ls /proc/%d/fd | wc -l", (int)pid);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

Test(agent, hundred_sequential_containers_leak_nothing, .timeout = 240)
{
	const char *args[] = {"/bin/sh", "-c", "echo $0", "x", NULL};
	struct bundle_opts o = {.args = args};
	int fds0 = -1, mounts0 = -1;

	for (int i = 0; i < 100; i++) {
		char id[32];
		_cleanup_free_ char *out = NULL;
		snprintf(id, sizeof(id), "seq-%d", i);
		cr_assert_eq(run(id, &o, &out, NULL), 0);
		cr_assert_str_eq(out, "x\n");
		if (i == 4) { /* after warm-up */
			fds0 = count_fds(A.pid);
			mounts0 = count_lines_matching("/proc/self/mountinfo", A.dir);
		}
	}
	cr_assert_eq(count_fds(A.pid), fds0, "agent fds grew from %d", fds0);
	cr_assert_eq(count_lines_matching("/proc/self/mountinfo", A.dir), mounts0);
	cr_assert_eq(count_zombies(A.pid), 0);
}

Test(agent, pause_resume_stats_and_file_stdio)
{
	const char *args[] = {"/bin/sh", "-c", "echo to-file; echo err-to-file >&2; sleep 100",
			      NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *bundle = agentctl_bundle(&A, "cpause", &o);
	_cleanup_free_ char *out = xasprintf("%s/out.txt", A.dir);
	_cleanup_free_ char *text = NULL;
	Containerd__Task__V2__PauseRequest pr = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;
	Containerd__Task__V2__StatsRequest sr = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	kc_err *e = NULL;
	uint32_t st;
	int s = 0;

	/* A plain file for stdout and stderr: handed to the process as is. */
	cr_assert_eq(task_create(&A, "cpause", bundle, false, NULL, out, out, NULL, &e), 0, "%s",
		     kc_err_msg(e));
	cr_assert_eq(task_start(&A, "cpause", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
	for (int i = 0; i < 200; i++) {
		free(text);
		text = NULL;
		if (kc_read_file(out, 4096, &text, NULL, NULL) == 0 && strstr(text, "err-to-file"))
			break;
		usleep(10000);
	}
	cr_assert_str_eq(text, "to-file\nerr-to-file\n");
	pr.id = "cpause";
	cr_assert_eq(ttrpc_client_call_sync(A.cli, "containerd.task.v2.Task", "Pause", &pr.base,
					    NULL, KC_NSEC_PER_SEC * 10, NULL, &e),
		     0, "%s", kc_err_msg(e));
	cr_assert_eq(task_state(&A, "cpause", NULL, &s, NULL, &e), 0);
	cr_assert_eq(s, 4 /* PAUSED */);
	cr_assert_eq(ttrpc_client_call_sync(A.cli, "containerd.task.v2.Task", "Resume", &pr.base,
					    NULL, KC_NSEC_PER_SEC * 10, NULL, &e),
		     0, "%s", kc_err_msg(e));
	cr_assert_eq(task_state(&A, "cpause", NULL, &s, NULL, &e), 0);
	cr_assert_eq(s, 2 /* RUNNING */);
	sr.id = "cpause";
	cr_assert_eq(ttrpc_client_call_sync(A.cli, "containerd.task.v2.Task", "Stats", &sr.base,
					    &containerd__task__v2__stats_response__descriptor,
					    KC_NSEC_PER_SEC * 10, &m, &e),
		     0, "%s", kc_err_msg(e));
	cr_assert_str_eq(((Containerd__Task__V2__StatsResponse *)m)->stats->type_url,
			 "io.containerd.cgroups.v2.Metrics");
	protobuf_c_message_free_unpacked(m, NULL);
	/* Update with resources that are not JSON: an error, and the agent lives
	 * (it used to free stack garbage here; found by fuzz_spec). */
	{
		Containerd__Task__V2__UpdateTaskRequest ur =
		    CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
		Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
		any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
		any.value.data = (uint8_t *)"not json";
		any.value.len = 8;
		ur.id = "cpause";
		ur.resources = &any;
		cr_assert_lt(ttrpc_client_call_sync(A.cli, "containerd.task.v2.Task", "Update",
						    &ur.base, NULL, KC_NSEC_PER_SEC * 10, NULL, &e),
			     0);
		cr_assert(strstr(e->msg, "resources: invalid JSON"), "%s", e->msg);
		kc_err_freep(&e);
		cr_assert_eq(task_state(&A, "cpause", NULL, &s, NULL, &e), 0, "%s", kc_err_msg(e));
		cr_assert_eq(s, 2 /* RUNNING */);
	}
	cr_assert_eq(task_kill(&A, "cpause", NULL, SIGKILL, true, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, "cpause", NULL, &st, &e), 0);
	cr_assert_eq(st, 137);
	cr_assert_eq(task_delete(&A, "cpause", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}
