/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-task (host mode) under many valid inputs, as PID 1 of a small VM must
 * survive them: 200 idle connections, 50 connections each holding a 4 MiB
 * frame one byte short, and the fd limit. Each time the agent must go on
 * answering Check on the connection it already had, with bounded memory and,
 * at the fd limit, without spinning.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agentctl.h"
#include "loadgen.h"
#include "testutil.h"
#include "util.h"

static struct agentctl A;
static char *bin;

static void setup(void)
{
	kc_err *e = NULL;
	if (!tu_is_root())
		cr_skip_test("skipped: needs root (the agent's cgroups)");
	bin = getenv("KC_AGENT") ? xstrdup(getenv("KC_AGENT")) : tu_bin("vmm-task");
	if (access(bin, X_OK) < 0)
		cr_skip_test("skipped: %s not built", bin);
	{
		/* An ASan build keeps freed blocks resident in its quarantine:
		 * the RSS bounds are about what is live. */
		const char *asan = getenv("ASAN_OPTIONS");
		if (asan && !strstr(asan, "quarantine_size_mb")) {
			_cleanup_free_ char *v = xasprintf("%s:quarantine_size_mb=0", asan);
			setenv("ASAN_OPTIONS", v, 1);
		}
	}
	cr_assert_eq(agentctl_start(&A, bin, NULL, &e), 0, "start agent: %s", kc_err_msg(e));
}

static void teardown(void)
{
	agentctl_stop(&A);
	free(bin);
}

TestSuite(load, .init = setup, .fini = teardown, .timeout = 120);

static long status_kb(const char *key)
{
	_cleanup_free_ char *p = xasprintf("/proc/%d/status", (int)A.pid);
	_cleanup_free_ char *s = NULL;
	char *l;

	cr_assert_eq(kc_read_file(p, 1 << 16, &s, NULL, NULL), 0);
	l = strstr(s, key);
	cr_assert(l, "%s", key);
	return atol(l + strlen(key) + 1);
}

/* utime + stime of the agent, in clock ticks. */
static long cpu_ticks(void)
{
	_cleanup_free_ char *p = xasprintf("/proc/%d/stat", (int)A.pid);
	_cleanup_free_ char *s = NULL;
	long ut = 0, st = 0;
	char *c;

	cr_assert_eq(kc_read_file(p, 4096, &s, NULL, NULL), 0);
	c = strrchr(s, ')');
	cr_assert(c);
	cr_assert_eq(sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st),
		     2);
	return ut + st;
}

static int count_fds(void)
{
	_cleanup_free_ char *cmd = xasprintf("ls /proc/%d/fd | wc -l", (int)A.pid);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void check_answers(const char *when)
{
	kc_err *e = NULL;
	cr_assert_eq(sandbox_check(&A, &e), 0, "Check %s: %s", when, kc_err_msg(e));
}

/* A fresh client can connect and call (the listener is not stuck). */
static void new_client_answers(void)
{
	struct agentctl b;
	kc_err *e = NULL;
	cr_assert_eq(agentctl_connect(&b, A.addr, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sandbox_check(&b, &e), 0, "new client: %s", kc_err_msg(e));
	ttrpc_client_free(b.cli);
	kc_loop_free(b.loop);
	free(b.addr);
}

Test(load, two_hundred_idle_connections)
{
	long rss0 = status_kb("VmRSS:");
	int fds0 = count_fds(), fds[200];
	kc_err *e = NULL;

	cr_assert_eq(loadgen_idle(A.addr, 200, fds, &e), 0, "%s", kc_err_msg(e));
	check_answers("with 200 idle connections");
	/* The cap (128, ours included) holds: the rest were closed at once. */
	cr_assert_leq(count_fds(), fds0 + 128, "agent fds %d (from %d)", count_fds(), fds0);
	cr_assert_lt(status_kb("VmRSS:") - rss0, 8 << 10, "RSS grew from %ld kB to %ld kB", rss0,
		     status_kb("VmRSS:"));
	loadgen_close(fds, 200);
	check_answers("after they closed");
	new_client_answers();
}

Test(load, fifty_connections_pinning_a_partial_4MiB_frame)
{
	long rss0 = status_kb("VmRSS:"), peak;
	kc_err *e = NULL;
	int fds[50];

	cr_assert_eq(loadgen_partial_frames(A.addr, 50, fds, &e), 0, "%s", kc_err_msg(e));
	check_answers("with 50 partial 4 MiB frames");
	peak = status_kb("VmHWM:");
	/* 64 MiB of half-sent frames at most, plus a little (it was 205 MB). */
	cr_assert_lt(peak - rss0, 80 << 10, "agent peak RSS %ld kB (from %ld kB)", peak, rss0);
	loadgen_close(fds, 50);
	check_answers("after they closed");
	new_client_answers();
}

Test(load, at_the_fd_limit_the_agent_neither_spins_nor_stops)
{
	struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
	long t0, used;
	int fds[100];

	kc_err *e = NULL;

	cr_assert_eq(prlimit(A.pid, RLIMIT_NOFILE, &rl, NULL), 0, "%s", strerror(errno));
	cr_assert_eq(loadgen_idle(A.addr, 100, fds, &e), 0, "%s", kc_err_msg(e));
	check_answers("at the fd limit");
	/* A spinning accept loop would use the whole half second. */
	t0 = cpu_ticks();
	usleep(500000);
	used = cpu_ticks() - t0;
	cr_assert_lt(used, sysconf(_SC_CLK_TCK) / 10, "agent used %ld ticks in 0.5 s at EMFILE",
		     used);
	check_answers("still at the fd limit");
	loadgen_close(fds, 100);
	check_answers("after the peers closed");
	/* The parked listener takes connections again. */
	new_client_answers();
}
