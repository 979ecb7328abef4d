/* SPDX-License-Identifier: Apache-2.0 */
/* The VM test's attack and load cases (see test_vm_qemu.c for the VM). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"
#include "loadgen.h"
#include "testutil.h"
#include "util.h"
#include "vm.h"

/* Create must fail, or Start; the error mentions want. */
static void refused(const char *id, struct bundle_opts *o, const char *want)
{
	_cleanup_free_ char *host_bundle = agentctl_bundle(&V.a, id, with_rootfs(o));
	_cleanup_free_ char *bundle = xasprintf(GUEST_SHARE "/%s", id);
	kc_err *e = NULL;
	uint32_t st;

	if (task_create(&V.a, id, bundle, false, NULL, NULL, NULL, NULL, &e) < 0) {
		cr_assert(strstr(e->msg, want), "%s: %s", id, e->msg);
		kc_err_free(e);
		return;
	}
	cr_assert_lt(task_start(&V.a, id, NULL, NULL, &e), 0, "%s: started", id);
	cr_assert(strstr(e->msg, want), "%s: %s", id, e->msg);
	kc_err_freep(&e);
	cr_assert_eq(task_wait(&V.a, id, NULL, &st, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_delete(&V.a, id, NULL, NULL, &e), 0, "%s", kc_err_msg(e));
}

static char *console_log(void)
{
	_cleanup_free_ char *p = xasprintf("%s/console.log", V.dir);
	char *s = NULL;
	if (kc_read_file(p, 8 << 20, &s, NULL, NULL) < 0)
		return xstrdup("");
	return s;
}

#define SH(script) ((const char *const[]){"/bin/sh", "-c", (script), NULL})

/* A container attacking the guest's control plane, then the engine cases of
 * test_agent_security.c in the guest kernel. */
void vm_attacks(bool sweep_cwd)
{
	_cleanup_free_ char *probe = NULL, *data = NULL, *dst = NULL, *log = NULL;
	_cleanup_free_ char *victim_out = io_uri();
	_cleanup_free_ char *dbg = xasprintf("%s1025", V.io_base);
	_cleanup_free_ char *script = NULL, *out = NULL, *err = NULL;
	const char *port = strrchr(victim_out, ':') + 1;
	struct kc_endpoint ep;
	kc_err *e = NULL;
	size_t len;
	int fd;

	/* Every host connection so far (hybrid vsock included) came from CID 2:
	 * the agent refused none of them. */
	log = console_log();
	cr_assert_eq(tu_count(log, "refused a vsock connection"), 0, "the host was refused:\n%s",
		     log);
	/* No debug console unless the kernel command line asks for one. */
	cr_assert_eq(kc_endpoint_parse(dbg, &ep, &e), 0, "%s", kc_err_msg(e));
	fd = kc_dial_once(&ep, kc_now_ns() + 5 * KC_NSEC_PER_SEC, &e);
	cr_assert_lt(fd, 0, "something listens on the debug console port");
	kc_err_freep(&e);

	{
		/* Built next to this test binary (mk/vmtest.mk). */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		cr_assert_gt(n, 0);
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		probe = xasprintf("%s/vsockprobe", self);
	}
	cr_assert_eq(kc_read_file(probe, 4 << 20, &data, &len, &e), 0, "%s (make %s)",
		     kc_err_msg(e), probe);
	dst = xasprintf("%s/rootfs/bin/vsockprobe", V.share);
	cr_assert_eq(kc_write_file(dst, data, len, 0, 0755, &e), 0, "%s", kc_err_msg(e));

	{
		/* A victim whose stdout port waits for the host; the attacker
		 * tries the API and that port at CID 1 and at the VM's CID. */
		_cleanup_free_ char *hb = NULL, *b = xasprintf(GUEST_SHARE "/victim");
		struct bundle_opts vo = {.args = SH("echo victim-output")};
		struct bundle_opts ao = {0};
		uint32_t st = 0;

		hb = agentctl_bundle(&V.a, "victim", with_rootfs(&vo));
		cr_assert_eq(
		    task_create(&V.a, "victim", b, false, NULL, victim_out, NULL, NULL, &e), 0,
		    "%s", kc_err_msg(e));
		cr_assert_eq(task_start(&V.a, "victim", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
		script = xasprintf("for t in '1 1024' '%d 1024' '1 %s' '%d %s'; do"
				   " /bin/vsockprobe $t; done",
				   GUEST_CID, port, GUEST_CID, port);
		ao.args = SH(script);
		cr_assert_eq(run("attacker", &ao, &out, &err), 0, "%s", err);
		cr_assert_eq(tu_count(out, "refused") + tu_count(out, "closed"), 4,
			     "a container reached the agent over vsock: %s (%s)", out, err);
		/* With a loopback transport each one reaches the agent: it must
		 * close them itself. */
		if (V.loopback)
			cr_assert_eq(tu_count(out, "closed"), 4, "%s (%s)", out, err);
		for (char *c = out; *c; c++)
			*c = *c == '\n' ? ' ' : *c;
		fprintf(stderr, "vm[%s]: vsock from a container to CID 1/%d, API/stdio: %s\n",
			V.name, GUEST_CID, out);
		fd = io_dial(victim_out, &e);
		cr_assert_geq(fd, 0, "%s", kc_err_msg(e));
		cr_assert_eq(task_wait(&V.a, "victim", NULL, &st, &e), 0, "%s", kc_err_msg(e));
		free(out);
		out = io_read_all(fd, IO_TIMEOUT_MS, NULL);
		close(fd);
		cr_assert_str_eq(out, "victim-output\n", "the victim's stdout was taken");
		cr_assert_eq(task_delete(&V.a, "victim", NULL, NULL, &e), 0, "%s", kc_err_msg(e));
		kc_freep(&out);
		kc_freep(&err);
		free(log);
		log = console_log();
		/* Refused peers are logged once, at debug level. */
		cr_assert_eq(tu_count(log, "refused a vsock connection"), V.loopback ? 1 : 0, "%s",
			     log);
	}
	for (int n = 0; sweep_cwd && n <= 64; n++) {
		char id[16], cwd[32];
		struct bundle_opts o = {.args = SH("ls ../../.."), .cwd = cwd};
		snprintf(id, sizeof(id), "cwd%d", n);
		snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", n);
		refused(id, &o, "cwd");
	}
	{
		/* Only stdio open; 10:229 (fuse) is in no default device rule;
		 * masked paths are the null device; /proc/sys is read-only. */
		struct bundle_opts o = {
		    .args = SH("echo $(ls /proc/self/fd); mknod /dev/xf c 10 229 && echo mknod-ok;"
			       " (exec 3</dev/xf) 2>/dev/null && echo open-ok || echo open-denied;"
			       " for f in /proc/kcore /proc/keys /proc/timer_list; do test -e $f &&"
			       " stat -c %t:%T $f; done; ls /sys/firmware | wc -l;"
			       " echo kc > /proc/sys/kernel/domainname 2>/dev/null && echo rw ||"
			       " echo ro; grep NoNewPrivs /proc/self/status"),
		    .extra_linux =
			"\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}"};
		cr_assert_eq(run("engine", &o, &out, &err), 0, "%s", err);
		cr_assert(kc_has_prefix(out, "0 1 2 3\nmknod-ok\nopen-denied\n"), "%s", out);
		cr_assert(kc_has_suffix(out, "0\nro\nNoNewPrivs:\t1\n"), "%s", out);
		cr_assert_eq(tu_count(out, ":") - tu_count(out, "1:3") - 1, 0, "unmasked: %s", out);
		kc_freep(&out), kc_freep(&err);
	}
	{
		struct bundle_opts o = {.args = SH("grep ^CapEff /proc/self/status"),
					.no_caps = true,
					.extra_linux =
					    "\"sysctl\":{\"kernel.core_pattern\":\"|/x\"}"};
		refused("sysctl", &o, "not in a separate kernel namespace");
		o.extra_linux = NULL;
		cr_assert_eq(run("nocaps", &o, &out, &err), 0, "%s", err);
		cr_assert_str_eq(out, "CapEff:\t0000000000000000\n");
		kc_freep(&out), kc_freep(&err);
	}
}

/* PID 1 under load: 200 idle connections, then 20 each holding a 4 MiB frame
 * one byte short (120 MiB, twice the agent's budget for them). It
 * must keep answering Check, and its peak RSS, as a container without a pid
 * namespace sees it, stays bounded (the guest has about 244 MB). */
void vm_load(void)
{
	_cleanup_free_ char *api = xasprintf("%s1024", V.io_base), *out = NULL, *err = NULL;
	struct bundle_opts o = {.args = SH("grep VmHWM /proc/1/status"), .no_pidns = true};
	kc_err *e = NULL;
	int fds[200];
	long hwm;

	cr_assert_eq(loadgen_idle(api, 200, fds, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sandbox_check(&V.a, &e), 0, "Check with 200 idle connections: %s",
		     kc_err_msg(e));
	loadgen_close(fds, 200);
	cr_assert_eq(loadgen_partial_frames(api, 30, fds, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sandbox_check(&V.a, &e), 0, "Check with 30 partial 4 MiB frames: %s",
		     kc_err_msg(e));
	cr_assert_eq(run("hwm", &o, &out, &err), 0, "%s", err);
	hwm = atol(out + strlen("VmHWM:"));
	fprintf(stderr, "vm[%s]: vmm-task peak RSS %ld kB under load\n", V.name, hwm);
	cr_assert_lt(hwm, 96 << 10, "PID 1 peak RSS %ld kB", hwm);
	loadgen_close(fds, 30);
	cr_assert_eq(sandbox_check(&V.a, &e), 0, "Check after the load: %s", kc_err_msg(e));
}
