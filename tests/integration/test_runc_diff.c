/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential: the same OCI bundles through runc (the reference) and through
 * vmm-task (host mode), outputs and exit codes compared byte for byte. Every
 * bundle starts from `runc spec`'s own config.json (ambient capabilities,
 * read-only rootfs, noNewPrivileges, masked paths and rlimits as runc ships
 * them), with a busybox rootfs and one change per case.
 *
 * Not compared: cgroup files. This host is hybrid (cgroup v1 controllers), so
 * runc shows v1 files where vmm-task, on cgroup2, shows v2 ones; the CRI suite
 * checks the limits through CRI instead (tests/cri).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "testutil.h"
#include "util.h"

static struct agentctl A;
static char *bin, *work;

static void setup(void)
{
	kc_err *e = NULL;
	const char *extra[] = {"--log-level", "debug", NULL};

	if (!tu_is_root())
		cr_skip_test("skipped: needs root to create namespaces and mounts");
	if (system("command -v runc >/dev/null") != 0)
		cr_skip_test("skipped: runc is not installed");
	if (!agentctl_busybox_rootfs(&e))
		cr_skip_test("skipped: %s", kc_err_msg(e));
	bin = getenv("KC_AGENT") ? xstrdup(getenv("KC_AGENT")) : tu_bin("vmm-task");
	if (access(bin, X_OK) < 0)
		cr_skip_test("skipped: %s not built", bin);
	cr_assert_eq(agentctl_start(&A, bin, extra, &e), 0, "start agent: %s", kc_err_msg(e));
	work = tu_tmpdir("runcdiff");
}

static void teardown(void)
{
	if (A.dir && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = agentctl_log(&A);
		fprintf(stderr, "--- agent log ---\n%s\n", log);
	}
	agentctl_stop(&A);
	if (work)
		tu_rmtree(work);
	free(work);
	free(bin);
}

TestSuite(runc_diff, .init = setup, .fini = teardown, .timeout = 120);

/* `runc spec` in dir, then: busybox rootfs, no terminal, `sh -c script`,
 * and the case's edit. */
static char *make_bundle(const char *id, const char *script, void (*edit)(json_t *doc))
{
	char *dir = xasprintf("%s/%s", work, id);
	_cleanup_free_ char *cmd = xasprintf("cd '%s' && runc spec", dir);
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", dir);
	json_t *doc, *proc;

	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(system(cmd), 0, "runc spec failed");
	doc = json_load_file(cfg, 0, NULL);
	cr_assert(doc, "runc spec wrote no config.json");
	json_object_set_new(json_object_get(doc, "root"), "path",
			    json_string(agentctl_busybox_rootfs(NULL)));
	proc = json_object_get(doc, "process");
	json_object_set_new(proc, "terminal", json_false());
	json_object_set_new(proc, "args", json_pack("[s,s,s]", "sh", "-c", script));
	if (edit)
		edit(doc);
	cr_assert_eq(json_dump_file(doc, cfg, JSON_INDENT(1)), 0);
	json_decref(doc);
	return dir;
}

struct result {
	uint32_t status;
	char *out, *err;
};

static char *slurp(const char *path)
{
	char *s = NULL;
	if (kc_read_file(path, 1 << 20, &s, NULL, NULL) < 0)
		return xstrdup("");
	return s;
}

static struct result run_runc(const char *id, const char *bundle)
{
	_cleanup_free_ char *o = xasprintf("%s/runc.out", bundle);
	_cleanup_free_ char *e = xasprintf("%s/runc.err", bundle);
	_cleanup_free_ char *rid = xasprintf("kcdiff-%s-%d", id, (int)getpid());
	struct result r = {0};
	pid_t pid = fork();
	int st;

	cr_assert(pid >= 0);
	if (pid == 0) {
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fi = open("/dev/null", O_RDONLY);
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execlp("runc", "runc", "run", "--bundle", bundle, rid, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? (uint32_t)WEXITSTATUS(st) : 128 + (uint32_t)WTERMSIG(st);
	r.out = slurp(o);
	r.err = slurp(e);
	return r;
}

static struct result run_agent(const char *id, const char *bundle)
{
	_cleanup_free_ char *so = xasprintf("unix://%s/%s.out", A.dir, id);
	_cleanup_free_ char *se = xasprintf("unix://%s/%s.err", A.dir, id);
	struct result r = {.status = 999};
	kc_err *e = NULL;
	int fo, fe;

	cr_assert_eq(task_create(&A, id, bundle, false, NULL, so, se, NULL, &e), 0, "create: %s",
		     kc_err_msg(e));
	fo = io_dial(so, &e);
	cr_assert_geq(fo, 0, "%s", kc_err_msg(e));
	fe = io_dial(se, &e);
	cr_assert_geq(fe, 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_start(&A, id, NULL, NULL, &e), 0, "start: %s", kc_err_msg(e));
	cr_assert_eq(task_wait(&A, id, NULL, &r.status, &e), 0, "wait: %s", kc_err_msg(e));
	r.out = io_read_all(fo, 5000, NULL);
	r.err = io_read_all(fe, 5000, NULL);
	close(fo);
	close(fe);
	cr_assert_eq(task_delete(&A, id, NULL, NULL, &e), 0, "delete: %s", kc_err_msg(e));
	return r;
}

static void same(const char *id, const char *script, void (*edit)(json_t *doc))
{
	_cleanup_free_ char *bundle = make_bundle(id, script, edit);
	struct result want = run_runc(id, bundle), got = run_agent(id, bundle);

	cr_expect_str_eq(got.out, want.out, "%s: stdout differs\n--- runc:\n%s--- vmm-task:\n%s",
			 id, want.out, got.out);
	cr_expect_str_eq(got.err, want.err, "%s: stderr differs\n--- runc:\n%s--- vmm-task:\n%s",
			 id, want.err, got.err);
	cr_expect_eq(got.status, want.status, "%s: exit %u, runc %u", id, got.status, want.status);
	free(want.out);
	free(want.err);
	free(got.out);
	free(got.err);
}

Test(runc_diff, exit_code)
{
	same("exit", "echo before; exit 3", NULL);
}

Test(runc_diff, environment)
{
	same("env", "env | sort", NULL);
}

Test(runc_diff, capabilities_from_runc_spec)
{
	/* runc spec asks for ambient capabilities that are not inheritable. */
	same("caps", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status", NULL);
}

Test(runc_diff, rlimits)
{
	same("rlimits", "ulimit -n; ulimit -Hn; ulimit -s", NULL);
}

Test(runc_diff, readonly_rootfs)
{
	same("ro", "touch /kc-x 2>&1; echo $?; touch /tmp/kc-x 2>&1; echo $?", NULL);
}

Test(runc_diff, masked_and_readonly_paths)
{
	same("masked",
	     "cat /proc/kcore 2>&1 | wc -c; ls /proc/acpi 2>&1 | wc -l; "
	     "echo 1 >/proc/sysrq-trigger 2>&1; echo $?; ls /sys/firmware | wc -l",
	     NULL);
}

static void as_user(json_t *doc)
{
	json_object_set_new(
	    json_object_get(doc, "process"), "user",
	    json_pack("{s:i,s:i,s:[i,i]}", "uid", 1000, "gid", 1000, "additionalGids", 10, 20));
}

Test(runc_diff, user_and_groups)
{
	same("user", "id; touch /tmp/u 2>&1; echo $?", as_user);
}

static void in_tmp(json_t *doc)
{
	json_object_set_new(json_object_get(doc, "process"), "cwd", json_string("/tmp"));
}

Test(runc_diff, cwd)
{
	same("cwd", "pwd", in_tmp);
}

Test(runc_diff, mount_points)
{
	/* Mount points and types (sources differ: the hosts' paths; cgroup
	 * mounts differ on this hybrid host, see above). */
	same("mounts", "awk '{print $2, $3}' /proc/self/mounts | grep -v '^/sys/fs/cgroup' | sort",
	     NULL);
}

Test(runc_diff, hostname_and_namespaces)
{
	same("ns", "hostname; ls /proc/self/ns | sort; echo $$", NULL);
}
