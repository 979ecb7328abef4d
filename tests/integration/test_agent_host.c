/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-task in host mode, driven through its real socket with the Task API:
 * real containers (namespaces, pivot_root, cgroups) from a busybox rootfs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentctl.h"
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
