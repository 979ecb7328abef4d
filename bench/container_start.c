/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/container-start: the cost of running one `/bin/true` container, from
 * Create to Delete, through three engines in one run on the same bundle:
 *   vmm-task (host mode)      Create+Start+Wait+Delete over its Task API socket
 *   containerd-shim-runc-v2   the same Task API calls (containerd's reference)
 *   runc run                  the OCI runtime CLI (crun refuses this host's
 *                             hybrid cgroups, so runc is the peer)
 * and vmm-task vs runc run again with containerd's RuntimeDefault seccomp
 * profile in the spec (tests/fixtures/seccomp-containerd-2.1.9.json),
 * plus vmm-task's memory with 10 running containers and its stripped size.
 * Prints a table; targets are reported, never asserted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "testutil.h"
#include "util.h"

static int iterations = 30;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct stat_row {
	const char *name;
	int peer; /* row the ratio is against */
	uint64_t median, p90, min;
	bool ok;
	char note[128];
};

static void summarize(struct stat_row *r, uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	r->median = v[n / 2];
	r->p90 = v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
	r->min = v[0];
	r->ok = true;
}

static int one_task_cycle(struct agentctl *a, const char *id, const char *bundle, kc_err **err)
{
	uint32_t st;
	if (task_create(a, id, bundle, false, NULL, NULL, NULL, NULL, err) < 0 ||
	    task_start(a, id, NULL, NULL, err) < 0 || task_wait(a, id, NULL, &st, err) < 0 ||
	    task_delete(a, id, NULL, NULL, err) < 0)
		return -1;
	if (st != 0)
		return kc_err_set(err, EIO, "container exited with %u", st);
	return 0;
}

static void bench_task_api(struct agentctl *a, const char *bundle_dir_fmt, struct stat_row *row,
			   const struct bundle_opts *o, struct agentctl *bundles)
{
	uint64_t *v = xcalloc((size_t)iterations, sizeof(*v));
	kc_err *e = NULL;

	(void)bundle_dir_fmt;
	for (int i = -3; i < iterations; i++) { /* 3 warm-up rounds */
		char id[32];
		_cleanup_free_ char *b = NULL;
		uint64_t t0;
		snprintf(id, sizeof(id), "b%d", i + 3);
		b = agentctl_bundle(bundles, id, o);
		t0 = kc_now_ns();
		if (one_task_cycle(a, id, b, &e) < 0) {
			snprintf(row->note, sizeof(row->note), "failed: %.100s", kc_err_msg(e));
			kc_err_free(e);
			free(v);
			return;
		}
		if (i >= 0)
			v[i] = kc_now_ns() - t0;
	}
	summarize(row, v, iterations);
	free(v);
}

static void bench_runc(struct agentctl *bundles, const struct bundle_opts *o, struct stat_row *row)
{
	uint64_t *v = xcalloc((size_t)iterations, sizeof(*v));
	_cleanup_free_ char *root = xasprintf("%s/runc-root", bundles->dir);

	if (access("/usr/sbin/runc", X_OK) < 0) {
		snprintf(row->note, sizeof(row->note), "skipped: runc not installed");
		free(v);
		return;
	}
	for (int i = -3; i < iterations; i++) {
		char id[32];
		_cleanup_free_ char *b = NULL;
		uint64_t t0;
		int st;
		pid_t pid;
		snprintf(id, sizeof(id), "r%d", i + 3);
		b = agentctl_bundle(bundles, id, o);
		t0 = kc_now_ns();
		pid = fork();
		if (pid == 0) {
			int dn = open("/dev/null", O_RDWR);
			dup2(dn, 0), dup2(dn, 1), dup2(dn, 2);
			execl("/usr/sbin/runc", "runc", "--root", root, "run", "--bundle", b, id,
			      (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			snprintf(row->note, sizeof(row->note), "runc run failed (status %#x)", st);
			free(v);
			return;
		}
		if (i >= 0)
			v[i] = kc_now_ns() - t0;
	}
	summarize(row, v, iterations);
	free(v);
}

/* The first container with a profile compiles it (later ones reuse it): one
 * container per freshly started agent. */
static void bench_first(const char *bin, const struct bundle_opts *o, struct stat_row *row,
			struct agentctl *bundles)
{
	enum { RUNS = 7 };
	uint64_t v[RUNS];
	kc_err *e = NULL;

	for (int i = 0; i < RUNS; i++) {
		struct agentctl a;
		char id[32];
		_cleanup_free_ char *b = NULL;
		uint64_t t0;
		int r;
		snprintf(id, sizeof(id), "f%d", i);
		b = agentctl_bundle(bundles, id, o);
		if (agentctl_start(&a, bin, NULL, &e) < 0) {
			snprintf(row->note, sizeof(row->note), "start: %.100s", kc_err_msg(e));
			kc_err_free(e);
			agentctl_stop(&a);
			return;
		}
		t0 = kc_now_ns();
		r = one_task_cycle(&a, id, b, &e);
		v[i] = kc_now_ns() - t0;
		agentctl_stop(&a);
		if (r < 0) {
			snprintf(row->note, sizeof(row->note), "failed: %.100s", kc_err_msg(e));
			kc_err_free(e);
			return;
		}
	}
	summarize(row, v, RUNS);
}

/* Start containerd-shim-runc-v2 the way containerd does and connect to it. */
static pid_t start_runc_shim(struct agentctl *bundles, struct agentctl *shim, char *note)
{
	_cleanup_free_ char *dir = xasprintf("%s/shimdir", bundles->dir);
	_cleanup_free_ char *fifo = xasprintf("%s/log", dir);
	_cleanup_free_ char *sock = xasprintf("%s/shim.sock", bundles->dir);
	int p[2];
	char addr[512] = {0};
	ssize_t n;
	pid_t pid;
	kc_err *e = NULL;
	const char *args[] = {"/bin/true", NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *b = agentctl_bundle(bundles, "shimdir", &o);
	(void)b;

	if (access("/usr/bin/containerd-shim-runc-v2", X_OK) < 0) {
		snprintf(note, 128, "skipped: containerd-shim-runc-v2 not installed");
		return -1;
	}
	mkfifo(fifo, 0600);
	/* Keep the log fifo open for reading so the shim never blocks on it. */
	(void)open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		if (chdir(dir) < 0)
			_exit(127);
		setenv("TTRPC_ADDRESS", "/nonexistent/kc-bench.sock", 1);
		execl("/usr/bin/containerd-shim-runc-v2", "containerd-shim-runc-v2", "-namespace",
		      "kcbench", "-address", "/nonexistent/kc-bench.sock", "-publish-binary",
		      "/bin/true", "-id", "shimdir", "-socket", sock, "start", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* `start` prints the address and exits; the daemon it leaves behind may
	 * hold the pipe open, so read what is there once `start` is gone. */
	waitpid(pid, NULL, 0);
	kc_set_nonblock(p[0], true);
	n = read(p[0], addr, sizeof(addr) - 1);
	close(p[0]);
	if (n <= 0) {
		snprintf(note, 128, "shim start printed no address");
		return -1;
	}
	addr[strcspn(addr, "\n")] = '\0';
	if (agentctl_connect(shim, addr, &e) < 0) {
		snprintf(note, 128, "connect shim %s: %.60s", addr, kc_err_msg(e));
		kc_err_free(e);
		return -1;
	}
	return 0;
}

static long vm_kib(pid_t pid, const char *file, const char *key)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
	_cleanup_free_ char *s = NULL;
	char *p;
	if (kc_read_file(path, 1 << 20, &s, NULL, NULL) < 0 || !(p = strstr(s, key)))
		return -1;
	return strtol(p + strlen(key), NULL, 10);
}

int main(int argc, char **argv)
{
	struct agentctl agent, shim = {0}, bundles;
	struct stat_row rows[7] = {
	    {.name = "vmm-task (Task API, host mode)", .peer = 2},
	    {.name = "containerd-shim-runc-v2 (Task API)", .peer = 2},
	    {.name = "runc run", .peer = 2},
	    {.name = "vmm-task, RuntimeDefault seccomp", .peer = 4},
	    {.name = "runc run, RuntimeDefault seccomp", .peer = 4},
	    {.name = "vmm-task, RuntimeDefault seccomp, first container (compiles it)", .peer = 4},
	    {.name = "vmm-task, first container, no profile", .peer = 2},
	};
	const char *args[] = {"/bin/true", NULL};
	struct bundle_opts o = {.args = args};
	_cleanup_free_ char *profile = NULL, *sc_linux = NULL;
	struct bundle_opts so_sc = {.args = args};
	_cleanup_free_ char *bin = tu_bin("vmm-task");
	kc_err *e = NULL;
	long rss10 = -1, pss10 = -1, rss0 = -1;
	struct stat st;

	if (argc > 1)
		iterations = atoi(argv[1]) > 0 ? atoi(argv[1]) : iterations;
	if (geteuid() != 0) {
		fprintf(stderr, "bench/container-start: needs root\n");
		return 77;
	}
	if (!agentctl_busybox_rootfs(&e)) {
		fprintf(stderr, "%s\n", kc_err_msg(e));
		return 1;
	}
	if (agentctl_start(&agent, bin, NULL, &e) < 0) {
		fprintf(stderr, "start vmm-task: %s\n", kc_err_msg(e));
		return 1;
	}
	memset(&bundles, 0, sizeof(bundles));
	bundles.dir = tu_tmpdir("bench");
	bench_task_api(&agent, NULL, &rows[0], &o, &bundles);
	rss0 = vm_kib(agent.pid, "status", "VmRSS:");
	if (start_runc_shim(&bundles, &shim, rows[1].note) == 0) {
		bench_task_api(&shim, NULL, &rows[1], &o, &bundles);
		{
			Containerd__Task__V2__ShutdownRequest r = {0};
			(void)r;
		}
	}
	bench_runc(&bundles, &o, &rows[2]);
	if (kc_read_file("tests/fixtures/seccomp-containerd-2.1.9.json", 1 << 20, &profile, NULL,
			 &e) < 0) {
		snprintf(rows[3].note, sizeof(rows[3].note), "no profile: %.100s", kc_err_msg(e));
		snprintf(rows[4].note, sizeof(rows[4].note), "no profile");
		kc_err_freep(&e);
	} else {
		sc_linux = xasprintf("\"seccomp\":%s", profile);
		so_sc.extra_linux = sc_linux;
		bench_task_api(&agent, NULL, &rows[3], &so_sc, &bundles);
		bench_runc(&bundles, &so_sc, &rows[4]);
		bench_first(bin, &so_sc, &rows[5], &bundles);
	}
	bench_first(bin, &o, &rows[6], &bundles);

	/* Memory: 10 running containers. */
	{
		const char *sargs[] = {"/bin/sleep", "1000", NULL};
		struct bundle_opts so = {.args = sargs};
		for (int i = 0; i < 10; i++) {
			char id[16];
			_cleanup_free_ char *b = NULL;
			snprintf(id, sizeof(id), "m%d", i);
			b = agentctl_bundle(&bundles, id, &so);
			if (task_create(&agent, id, b, false, NULL, NULL, NULL, NULL, &e) < 0 ||
			    task_start(&agent, id, NULL, NULL, &e) < 0) {
				fprintf(stderr, "memory run: %s\n", kc_err_msg(e));
				kc_err_freep(&e);
				break;
			}
		}
		rss10 = vm_kib(agent.pid, "status", "VmRSS:");
		pss10 = vm_kib(agent.pid, "smaps_rollup", "Pss:");
		for (int i = 0; i < 10; i++) {
			char id[16];
			snprintf(id, sizeof(id), "m%d", i);
			(void)task_kill(&agent, id, NULL, 9, true, NULL);
			(void)task_wait(&agent, id, NULL, NULL, NULL);
			(void)task_delete(&agent, id, NULL, NULL, NULL);
		}
	}

	printf("\nbench/container-start: /bin/true in a busybox rootfs, %d runs each (median of "
	       "create+start+wait+delete)\n\n",
	       iterations);
	printf("| engine | median ms | p90 ms | min ms | vs runc run (same spec) |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < KC_ARRAY_SIZE(rows); i++) {
		const struct stat_row *peer = &rows[rows[i].peer];
		if (!rows[i].ok) {
			printf("| %s | - | - | - | %s |\n", rows[i].name, rows[i].note);
			continue;
		}
		printf("| %s | %.2f | %.2f | %.2f | ", rows[i].name, rows[i].median / 1e6,
		       rows[i].p90 / 1e6, rows[i].min / 1e6);
		if (peer->ok)
			printf("%.2fx |\n", (double)rows[i].median / (double)peer->median);
		else
			printf("- |\n");
	}
	{
		_cleanup_free_ char *tmp = xasprintf("%s/vmm-task.stripped", bundles.dir);
		_cleanup_free_ char *cmd = xasprintf("strip -o %s %s", tmp, bin);
		long size = -1;
		if (system(cmd) == 0 && stat(tmp, &st) == 0)
			size = (long)st.st_size;
		printf("\n| vmm-task | value | target |\n|---|---:|---:|\n");
		printf("| RSS idle | %ld KiB | |\n", rss0);
		printf("| RSS with 10 running containers | %ld KiB | <= 1536 KiB |\n", rss10);
		printf("| PSS with 10 running containers | %ld KiB | |\n", pss10);
		printf("| stripped binary | %ld KiB | <= 400 KiB |\n", size / 1024);
		if (rows[0].ok && rows[2].ok)
			printf("\ntarget vmm-task <= 0.25 x runc run: %s (%.2fx)\n",
			       rows[0].median * 4 <= rows[2].median ? "met" : "NOT met",
			       (double)rows[0].median / (double)rows[2].median);
		if (rows[3].ok && rows[4].ok)
			printf("target with seccomp, vmm-task <= 0.25 x runc run: %s (%.2fx)\n",
			       rows[3].median * 4 <= rows[4].median ? "met" : "NOT met",
			       (double)rows[3].median / (double)rows[4].median);
		printf("target RSS <= 1.5 MiB: %s; size <= 400 KiB: %s\n",
		       rss10 >= 0 && rss10 <= 1536 ? "met" : "NOT met",
		       size >= 0 && size <= 400 * 1024 ? "met" : "NOT met");
	}
	if (shim.cli) {
		Containerd__Task__V2__ShutdownRequest r =
		    CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
		r.id = "shimdir";
		r.now = true;
		(void)ttrpc_client_call_sync(shim.cli, "containerd.task.v2.Task", "Shutdown",
					     &r.base, NULL, KC_NSEC_PER_SEC, NULL, NULL);
		agentctl_stop(&shim);
	}
	agentctl_stop(&agent);
	tu_rmtree(bundles.dir);
	return 0;
}
