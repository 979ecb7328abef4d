/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-kuasar-vmm-v2 as a black box, driven as containerd drives
 * it (the `start` verb, then the Task API on the address it prints), against
 * a real vmm-sandboxer and a QEMU guest:
 *
 *   concurrent_creates  two Creates for one pod sent together while its VM
 *                       boots: one VM, both containers created and run; the
 *                       shim answers State and refuses a duplicate Create
 *                       meanwhile (its loop is never blocked); Shutdown stops
 *                       the VM, and the sandbox is gone when it returns.
 *
 * Skips, with the reason, when root, QEMU or the guest image are missing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "rpc_call.h"
#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

#define TASK        (&containerd__task__v2__task__descriptor)
#define BOOT_MS     120000
#define ANSWER_MS   2000
#define SHUTDOWN_MS 60000

static struct sbxd D;
static char *work;
static char *shim_addr;

static void setup(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "shim");
}

static void teardown(void)
{
	if (work) {
		_cleanup_free_ char *log = xasprintf("%s/c1/log", work);
		_cleanup_free_ char *text = NULL;
		if (getenv("KC_TEST_VERBOSE") && kc_read_file(log, 1 << 20, &text, NULL, NULL) == 0)
			fprintf(stderr, "--- shim log ---\n%s\n", text);
		if (shim_addr) {
			/* A shim left by a failed test: stop it by its socket path. */
			pid_t pids[8];
			size_t n = sbx_procs_mentioning(work, pids, 8);
			for (size_t i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
		}
		tu_rmtree(work);
	}
	free(work);
	free(shim_addr);
	sbxd_cleanup(&D);
}

TestSuite(shim, .init = setup, .fini = teardown, .timeout = 300);

/* `shim -namespace NS -address A -id ID start` in the bundle: the address. */
static char *run_start(const char *bundle, const char *id)
{
	_cleanup_free_ char *bin = tu_bin("containerd-shim-kuasar-vmm-v2");
	_cleanup_free_ char *fake_ctd = xasprintf("%s/containerd.sock", work);
	int pfd[2];
	char buf[512];
	ssize_t n;
	size_t len = 0;
	pid_t pid;
	int st;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		if (chdir(bundle) < 0)
			_exit(126);
		setenv("KUASAR_SANDBOXER_ADDRESS", D.sock, 1);
		unsetenv("TTRPC_ADDRESS");
		execl(bin, bin, "-namespace", "kctest", "-address", fake_ctd, "-id", id, "start",
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(pfd[0]);
	buf[len] = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "shim start failed (status %d)", st);
	cr_assert(kc_has_prefix(buf, "unix://"), "shim start printed `%s`", buf);
	return xstrdup(buf);
}

struct answer {
	bool done;
	int code; /* errno, 0 = OK */
	char *msg;
	uint32_t u32;
};

static void on_answer(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct answer *a = ud;
	a->done = true;
	a->code = err ? err->code : 0;
	a->msg = xstrdup(err ? err->msg : "");
	if (!err && (*resp)->descriptor == &containerd__task__v2__create_task_response__descriptor)
		a->u32 = ((Containerd__Task__V2__CreateTaskResponse *)*resp)->pid;
}

static void create_async(struct agentctl *c, const char *id, const char *bundle, struct answer *a)
{
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	kc_err *e = NULL;
	r.id = (char *)id;
	r.bundle = (char *)bundle;
	r.stdin = r.stdout = r.stderr = (char *)"";
	cr_assert_eq(kc_rpc_call(c->cli, TASK, "Create", &r.base, 0, on_answer, a, &e), 0, "%s",
		     kc_err_msg(e));
}

static size_t count_dirs(const char *path)
{
	_cleanup_free_ char *cmd = xasprintf("find '%s' -mindepth 1 -maxdepth 1 -type d", path);
	FILE *f = popen(cmd, "r");
	char line[4096];
	size_t n = 0;
	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		pclose(f);
	return n;
}

Test(shim, concurrent_creates)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *cfg = NULL, *pod = NULL, *ann = NULL, *b1 = NULL, *b2 = NULL;
	_cleanup_free_ char *log1 = NULL, *pod_dir = NULL;
	struct agentctl holder = {0}, c = {0};
	struct answer a1 = {0}, a2 = {0}, dup = {0};
	const char *args1[] = {"sh", "-c", "exit 3", NULL}, *args2[] = {"true", NULL};
	uint32_t status = 99;
	int state = -1;
	kc_err *e = NULL;
	uint64_t t0;

	if (!tu_is_root())
		cr_skip_test("skipped: needs root (mounts, /run/kuasar-c)");
	cfg = sbxd_qemu_config("microvm", NULL, &why);
	if (!cfg)
		cr_skip_test("skipped: %s", why);
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: no busybox rootfs: %s", kc_err_msg(e));
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));

	work = tu_tmpdir("shimtest");
	holder.dir = work;
	pod = xasprintf("shimpod%d", (int)getpid());
	ann = xasprintf("\"io.kubernetes.cri.sandbox-id\":\"%s\"", pod);
	b1 = agentctl_bundle(&holder, "c1",
			     &(struct bundle_opts){.args = args1, .annotations = ann});
	b2 = agentctl_bundle(&holder, "c2",
			     &(struct bundle_opts){.args = args2, .annotations = ann});
	log1 = xasprintf("%s/log", b1);
	cr_assert_eq(kc_write_file(log1, "", 0, 0, 0644, NULL), 0);

	shim_addr = run_start(b1, "c1");
	/* containerd runs `start` per container: the second finds the pod's shim. */
	{
		_cleanup_free_ char *again = run_start(b2, "c2");
		cr_assert_str_eq(again, shim_addr, "one shim per pod");
	}
	cr_assert_eq(agentctl_connect(&c, shim_addr, &e), 0, "%s", kc_err_msg(e));

	create_async(&c, "c1", b1, &a1);
	create_async(&c, "c2", b2, &a2);
	create_async(&c, "c1", b1, &dup);
	/* The loop is free while the VM boots: these are answered at once. */
	t0 = kc_now_ns();
	cr_assert(tu_loop_until(c.loop, &dup.done, ANSWER_MS), "duplicate Create not answered");
	cr_assert_eq(dup.code, EEXIST, "duplicate Create: %s", dup.msg);
	cr_assert_eq(task_state(&c, "c2", NULL, &state, NULL, &e), 0, "State: %s", kc_err_msg(e));
	cr_assert_lt(kc_now_ns() - t0, (uint64_t)ANSWER_MS * KC_NSEC_PER_MSEC,
		     "State waited for the VM");
	if (a1.done || a2.done)
		cr_log_warn("the VM was ready before State was asked: the parked path ran less");

	cr_assert(tu_loop_until(c.loop, &a1.done, BOOT_MS), "Create c1 not answered");
	cr_assert(tu_loop_until(c.loop, &a2.done, BOOT_MS), "Create c2 not answered");
	cr_assert_eq(a1.code, 0, "Create c1: %s", a1.msg);
	cr_assert_eq(a2.code, 0, "Create c2: %s", a2.msg);
	cr_assert_eq(count_dirs(D.dir), 1, "one sandbox (one VM) for the pod");
	pod_dir = xasprintf("%s/%s", D.dir, pod);
	cr_assert(access(pod_dir, F_OK) == 0, "the sandbox is named after the pod");

	cr_assert_eq(task_start(&c, "c1", NULL, NULL, &e), 0, "Start c1: %s", kc_err_msg(e));
	cr_assert_eq(task_start(&c, "c2", NULL, NULL, &e), 0, "Start c2: %s", kc_err_msg(e));
	cr_assert_eq(task_wait(&c, "c1", NULL, &status, &e), 0, "Wait c1: %s", kc_err_msg(e));
	cr_assert_eq(status, 3);
	cr_assert_eq(task_wait(&c, "c2", NULL, &status, &e), 0, "Wait c2: %s", kc_err_msg(e));
	cr_assert_eq(status, 0);
	cr_assert_eq(task_delete(&c, "c1", NULL, NULL, &e), 0, "Delete c1: %s", kc_err_msg(e));
	cr_assert_eq(task_delete(&c, "c2", NULL, NULL, &e), 0, "Delete c2: %s", kc_err_msg(e));

	/* The shim answers Shutdown once the VM is stopped and shut down. */
	cr_assert_eq(task_shutdown(&c, false, &e), 0, "Shutdown: %s", kc_err_msg(e));
	cr_assert(access(pod_dir, F_OK) < 0 && errno == ENOENT,
		  "sandbox dir still there after Shutdown");
	agentctl_stop(&c);
}

/* The share as a compromised guest would attack it. The guest reaches the
 * share only through what virtiofsd exports (<sandbox>/shared); writes there
 * are tried from the host as virtiofsd would do them. The host-only tree
 * (<sandbox>/mounts) is then planted as if the guest had got in anyway: the
 * shim must refuse rather than follow. */
Test(shim, hostile_share)
{
	_cleanup_free_ char *why = NULL, *cfg = NULL, *pod = NULL, *ann = NULL;
	_cleanup_free_ char *b1 = NULL, *b2 = NULL, *vol = NULL, *sub = NULL, *victim = NULL;
	_cleanup_free_ char *mnt = NULL, *log1 = NULL, *base = NULL, *p = NULL;
	struct agentctl holder = {0}, c = {0};
	struct answer a2 = {0};
	const char *args1[] = {"sh", "-c",
			       "echo x >/kc-w && test -s /kc-w && rm /kc-w || exit 10; "
			       "touch /vol/x 2>/dev/null && exit 11; "
			       "touch /vol/sub/x 2>/dev/null && exit 12; "
			       "test -f /vol/sub/inside || exit 13; exit 0",
			       NULL};
	const char *args2[] = {"true", NULL};
	uint32_t status = 99;
	kc_err *e = NULL;
	struct stat st;

	if (!tu_is_root())
		cr_skip_test("skipped: needs root (mounts, /run/kuasar-c)");
	cfg = sbxd_qemu_config("microvm", NULL, &why);
	if (!cfg)
		cr_skip_test("skipped: %s", why);
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: no busybox rootfs: %s", kc_err_msg(e));
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));

	work = tu_tmpdir("shimhostile");
	holder.dir = work;
	pod = xasprintf("hostile%d", (int)getpid());
	ann = xasprintf("\"io.kubernetes.cri.sandbox-id\":\"%s\"", pod);
	/* A read-only volume with a submount: both must be read-only. */
	vol = xasprintf("%s/vol", work);
	sub = xasprintf("%s/vol/sub", work);
	cr_assert_eq(mkdir(vol, 0755), 0);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(mount("tmpfs", sub, "tmpfs", 0, "size=1m"), 0, "%s", strerror(errno));
	p = xasprintf("%s/inside", sub);
	cr_assert_eq(kc_write_file(p, "in\n", 3, 0, 0644, NULL), 0);
	mnt = xasprintf("{\"destination\":\"/vol\",\"type\":\"bind\",\"source\":\"%s\","
			"\"options\":[\"rbind\",\"ro\"]}",
			vol);
	victim = xasprintf("%s/victim", work);
	cr_assert_eq(mkdir(victim, 0755), 0);
	b1 = agentctl_bundle(
	    &holder, "c1",
	    &(struct bundle_opts){.args = args1, .annotations = ann, .extra_mounts = mnt});
	b2 = agentctl_bundle(&holder, "c2",
			     &(struct bundle_opts){.args = args2, .annotations = ann});
	log1 = xasprintf("%s/log", b1);
	cr_assert_eq(kc_write_file(log1, "", 0, 0, 0644, NULL), 0);

	shim_addr = run_start(b1, "c1");
	cr_assert_eq(agentctl_connect(&c, shim_addr, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_create(&c, "c1", b1, false, "", "", "", NULL, &e), 0, "Create c1: %s",
		     kc_err_msg(e));
	base = xasprintf("%s/%s", D.dir, pod);

	/* 1. What virtiofsd exports is read-only at the top: no link can be
	 *    planted where the host builds, no config.json rewritten. */
	free(p);
	p = xasprintf("%s/shared/c2", base);
	cr_assert(symlink(victim, p) < 0 && errno == EROFS, "planted %s: %s", p, strerror(errno));
	free(p);
	p = xasprintf("%s/shared/c1/config.json", base);
	cr_assert(open(p, O_WRONLY | O_TRUNC) < 0 && errno == EROFS, "config.json writable");
	/* ... and a read-only volume is read-only all the way down. */
	free(p);
	p = xasprintf("%s/shared/c1/mounts/0/sub/x", base);
	cr_assert(open(p, O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS,
		  "the ro volume's submount is writable");

	/* 2. The real guest: its rootfs is writable, /vol and /vol/sub not. */
	cr_assert_eq(task_start(&c, "c1", NULL, NULL, &e), 0, "Start c1: %s", kc_err_msg(e));
	cr_assert_eq(task_wait(&c, "c1", NULL, &status, &e), 0, "Wait c1: %s", kc_err_msg(e));
	cr_assert_eq(status, 0,
		     "in the guest: exit %u (10 rootfs ro, 11/12 volume writable, 13 "
		     "submount missing)",
		     status);

	/* 3. Defense in depth: a link planted in the host-only tree itself is
	 *    refused, never followed. */
	free(p);
	p = xasprintf("%s/mounts/c2", base);
	cr_assert_eq(symlink(victim, p), 0, "%s", strerror(errno));
	create_async(&c, "c2", b2, &a2);
	cr_assert(tu_loop_until(c.loop, &a2.done, BOOT_MS), "Create c2 not answered");
	cr_assert_neq(a2.code, 0, "Create c2 followed a planted link");
	cr_assert(strstr(a2.msg, "c2"), "the error names the entry: %s", a2.msg);
	free(p);
	p = xasprintf("%s/rootfs", victim);
	cr_assert(lstat(p, &st) < 0 && errno == ENOENT, "the shim wrote through the link");
	free(p);
	p = xasprintf("%s/mounts/c2", base);
	cr_assert_eq(unlink(p), 0);

	cr_assert_eq(task_delete(&c, "c1", NULL, NULL, &e), 0, "Delete c1: %s", kc_err_msg(e));
	cr_assert_eq(task_shutdown(&c, false, &e), 0, "Shutdown: %s", kc_err_msg(e));
	agentctl_stop(&c);
	umount2(sub, MNT_DETACH);
}
