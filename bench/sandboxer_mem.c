/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/sandboxer-mem: memory of vmm-sandboxer with 0, 1, 5 and 10 running
 * sandboxes (QEMU microvm, TCG here), measured as Kuasar's benchmark does:
 * the Pss of the sandboxer process (/proc/PID/smaps_rollup). Kuasar reports
 * ~15 MB at 50 pods. Also, for context, the per-pod Pss of what Kuasar leaves
 * out of its number: the VMM (with the guest's touched RAM), virtiofsd and
 * vhost-device-vsock. Prints a table; targets are reported, never asserted.
 *
 *   sandboxer-mem [MAX_PODS]   (as root; default 10)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

#define TARGET_BASE_KIB    2048
#define TARGET_PER_POD_KIB 307 /* 0.3 MiB */

/* Sum of the Pss of the sandboxes' processes (not the daemon's). */
static long helpers_pss(const struct sbxd *d, size_t *nprocs)
{
	pid_t pids[512];
	size_t n = sbx_procs_mentioning(d->dir, pids, 512);
	long sum = 0;

	*nprocs = 0;
	for (size_t i = 0; i < n; i++) {
		long p = pids[i] == d->pid ? -1 : sbx_pss_kib(pids[i]);
		if (p > 0) {
			sum += p;
			(*nprocs)++;
		}
	}
	return sum;
}

int main(int argc, char **argv)
{
	static const int steps[] = {1, 5, 10, 20, 50};
	int max = argc > 1 ? atoi(argv[1]) : 10;
	_cleanup_free_ char *why = NULL, *cfg = NULL;
	struct sbxd d;
	kc_err *e = NULL;
	long base_pss, base_uss, prev_pss, prev_uss;
	int have = 0, prev = 0, rc = 0;

	if (max < 1 || max > 50) {
		fprintf(stderr, "usage: sandboxer-mem [MAX_PODS 1..50]\n");
		return 2;
	}
	cfg = sbxd_qemu_config("microvm", NULL, &why);
	if (!cfg) {
		printf("sandboxer-mem: skipped: %s\n", why);
		return 0;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&d, "sbxmem");
	{
		/* Production log level; 128 MiB guests (the VMs are context here,
		 * not the subject). */
		char *p = strstr(cfg, "log_level = \"debug\"");
		if (p)
			memcpy(p, "log_level = \"info\" ", 19);
		p = strstr(cfg, "memory_in_mb = 256");
		if (p)
			memcpy(p, "memory_in_mb = 128", 18);
	}
	if (sbxd_start(&d, cfg, &e) < 0) {
		fprintf(stderr, "sandboxer-mem: %s\n", kc_err_msg(e));
		sbxd_cleanup(&d);
		return 1;
	}
	usleep(300 * 1000);
	prev_pss = base_pss = sbx_pss_kib(d.pid);
	prev_uss = base_uss = sbx_uss_kib(d.pid);
	printf("vmm-sandboxer memory in KiB; QEMU microvm guests of 128 MiB (TCG)\n"
	       "Pss as Kuasar measures it; USS = its private pages (what a pod adds)\n\n");
	printf("%5s  %8s  %10s  %8s  %10s  %26s\n", "pods", "Pss", "Pss/pod+", "USS", "USS/pod+",
	       "VMM+virtiofsd+vsockd Pss/pod");
	printf("%5d  %8ld  %10s  %8ld  %10s  %26s\n", 0, base_pss, "-", base_uss, "-", "-");
	for (size_t si = 0; si < KC_ARRAY_SIZE(steps) && steps[si] <= max; si++) {
		long pss, uss, helpers;
		size_t nproc;
		for (; have < steps[si]; have++) {
			_cleanup_free_ char *id = xasprintf("mem-%02d", have);
			if (sbx_create(&d, id, NULL, &e) < 0 || sbx_start(&d, id, NULL, &e) < 0) {
				fprintf(stderr, "sandboxer-mem: %s: %s\n", id, kc_err_msg(e));
				rc = 1;
				goto out;
			}
		}
		usleep(300 * 1000);
		pss = sbx_pss_kib(d.pid);
		uss = sbx_uss_kib(d.pid);
		helpers = helpers_pss(&d, &nproc);
		printf("%5d  %8ld  %10.1f  %8ld  %10.1f  %16ld (%zu procs)\n", have, pss,
		       (double)(pss - prev_pss) / (have - prev), uss,
		       (double)(uss - prev_uss) / (have - prev), helpers / have, nproc);
		prev_pss = pss;
		prev_uss = uss;
		prev = have;
	}
	{
		double per = (double)(prev_uss - base_uss) / have;
		printf(
		    "\nbase Pss %ld KiB (target <= %d): %s; per pod %.1f KiB (USS growth over %d "
		    "pods; target <= %d): %s\n",
		    base_pss, TARGET_BASE_KIB, base_pss <= TARGET_BASE_KIB ? "met" : "MISSED", per,
		    have, TARGET_PER_POD_KIB, per <= TARGET_PER_POD_KIB ? "met" : "MISSED");
		printf("Kuasar (tests/benchmark/Benchmark.md): ~15 MB sandboxer Pss at 50 pods\n");
	}
out:
	for (int i = 0; i < have; i++) {
		_cleanup_free_ char *id = xasprintf("mem-%02d", i);
		kc_err_freep(&e);
		if (sbx_shutdown(&d, id, &e) < 0)
			fprintf(stderr, "sandboxer-mem: shutdown %s: %s\n", id, kc_err_msg(e));
	}
	kc_err_free(e);
	sbxd_cleanup(&d);
	return rc;
}
