/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.c: a pod's tasks written to its state dir read back as they were
 * (ids, bundle, mounts, every process with its stdio, ports, pid and exit),
 * deleted ones gone; bad records (malformed, misnamed, out of range, too
 * large) are refused one by one without losing the good ones.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist.h"
#include "proc.h"
#include "testutil.h"
#include "tpod.h"
#include "util.h"

static char *tmp;
static struct tpod a, b;
static const struct tpod_ops ops;

static void setup(void)
{
	tmp = tu_tmpdir("persist");
	tpod_init(&a, NULL, &ops, "k8s.io", "pod1");
	tpod_init(&b, NULL, &ops, "k8s.io", "pod1");
	a.state_dir = xasprintf("%s/tasks", tmp);
	b.state_dir = xasprintf("%s/tasks", tmp);
	a.shared_dir = xasprintf("%s/mounts", tmp);
	b.shared_dir = xasprintf("%s/mounts", tmp);
}

static void teardown(void)
{
	tpod_release(&a);
	tpod_release(&b);
	tu_rmtree(tmp);
	free(tmp);
}

TestSuite(persist, .init = setup, .fini = teardown);

static struct task *mk_task(struct tpod *pod, const char *id)
{
	struct task *t = xcalloc(1, sizeof(*t));
	t->pod = pod;
	t->id = xstrdup(id);
	t->bundle = xasprintf("/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s", id);
	t->host_dir = xasprintf("%s/mounts/%s", tmp, id);
	t->in_guest = true;
	t->pod_pid = true;
	kc_list_init(&t->execs);
	kc_list_add_tail(&pod->tasks, &t->node);
	pod->n_tasks++;
	t->mounts = xcalloc(1, sizeof(*t->mounts));
	t->mounts[t->n_mounts++] = xasprintf("%s/rootfs", t->host_dir);
	t->init = sproc_new(t, NULL, false, "", "/fifo/out", "/fifo/err");
	t->init->pid = 42;
	t->init->started = true;
	return t;
}

static void write_record(const char *name, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/tasks/%s", tmp, name);
	FILE *f;
	mkdir(a.state_dir, 0700);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(persist, round_trip)
{
	kc_err *err = NULL;
	struct task *t = mk_task(&a, "c1"), *r;
	struct sproc *x = sproc_new(t, "e1", true, "/fifo/in", "/fifo/eo", "");
	struct sproc *rx;

	kc_list_add_tail(&t->execs, &x->node);
	x->pid = 43;
	x->started = true;
	x->exited = x->agent_exited = true;
	x->exit_status = 137;
	x->exited_at = 1796322478000000001ull;
	tpod_save(t);
	tpod_save(mk_task(&a, "c2"));
	cr_assert_eq(tpod_restore(&b, &err), 0, "%s", kc_err_msg(err));
	cr_assert_eq(b.n_tasks, 2);
	r = find_task(&b, "c1");
	cr_assert_not_null(r);
	cr_assert(r->restored && r->in_guest && r->pod_pid);
	cr_assert_str_eq(r->bundle, t->bundle);
	cr_assert_str_eq(r->host_dir, t->host_dir);
	cr_assert_eq(r->n_mounts, 1);
	cr_assert_str_eq(r->mounts[0], t->mounts[0]);
	cr_assert_null(r->init->exec_id);
	cr_assert_eq(r->init->pid, 42);
	cr_assert(r->init->started && !r->init->exited);
	for (int i = 0; i < 3; i++) {
		cr_assert_str_eq(r->init->stdio[i], t->init->stdio[i]);
		cr_assert_eq(r->init->ports[i], t->init->ports[i]);
	}
	cr_assert_eq(r->init->ports[0], 0, "no stdin: no port");
	cr_assert_neq(r->init->ports[1], 0);
	rx = find_proc(&b, "c1", "e1");
	cr_assert_not_null(rx);
	cr_assert(rx->terminal && rx->started && rx->exited && rx->agent_exited);
	cr_assert_eq(rx->pid, 43);
	cr_assert_eq(rx->exit_status, 137);
	cr_assert_eq(rx->exited_at, 1796322478000000001ull);
	cr_assert_eq(rx->ports[2], 0, "a terminal has no stderr port");
	cr_assert_str_eq(rx->stdio[0], "/fifo/in");
}

Test(persist, delete_removes_record)
{
	kc_err *err = NULL;
	struct task *t = mk_task(&a, "c1");

	tpod_save(t);
	task_forget(t); /* the shim's exit: the record stays */
	cr_assert_eq(tpod_restore(&b, &err), 0);
	cr_assert_eq(b.n_tasks, 1);
	/* task_free (containerd's Delete) removes it. */
	task_free(find_task(&b, "c1"));
	tpod_release(&b);
	tpod_init(&b, NULL, &ops, "k8s.io", "pod1");
	b.state_dir = xasprintf("%s/tasks", tmp);
	cr_assert_eq(tpod_restore(&b, &err), 0);
	cr_assert_eq(b.n_tasks, 0);
}

Test(persist, no_state_dir_keeps_nothing)
{
	kc_err *err = NULL;
	struct stat st;

	free(a.state_dir);
	a.state_dir = NULL;
	tpod_save(mk_task(&a, "c1"));
	cr_assert_eq(stat(b.state_dir, &st), -1, "nothing written without a state dir");
	cr_assert_eq(tpod_restore(&b, &err), 0, "a missing state dir is no tasks");
	cr_assert_eq(b.n_tasks, 0);
}

Test(persist, bad_records_refused_one_by_one)
{
	kc_err *err = NULL;
	char big[TPOD_STATE_FILE_MAX + 16];
	static const char proc[] = "{\"terminal\":false,\"stdio\":[\"\",\"\",\"\"],"
				   "\"ports\":[0,0,0],\"pid\":1,\"started\":true,"
				   "\"exited\":false,\"exit_status\":0,\"exited_at\":0}";
	_cleanup_free_ char *good =
	    xasprintf("{\"id\":\"ok\",\"bundle\":\"/b/ok\",\"mounts\":[],\"procs\":[%s]}", proc);
	_cleanup_free_ char *misnamed =
	    xasprintf("{\"id\":\"other\",\"bundle\":\"/b\",\"mounts\":[],\"procs\":[%s]}", proc);
	_cleanup_free_ char *relbundle =
	    xasprintf("{\"id\":\"rel\",\"bundle\":\"b\",\"mounts\":[],\"procs\":[%s]}", proc);
	_cleanup_free_ char *exec_first = xasprintf(
	    "{\"id\":\"ef\",\"bundle\":\"/b\",\"mounts\":[],\"procs\":[%.*s\"exec_id\":\"e\",%s]}",
	    1, proc, proc + 1);

	write_record("ok.json", good);
	write_record("garbage.json", "{\"id\":");
	write_record("misnamed.json", misnamed);
	write_record("rel.json", relbundle);
	write_record("ef.json", exec_first);
	write_record("badport.json", "{\"id\":\"badport\",\"bundle\":\"/b\",\"mounts\":[],"
				     "\"procs\":[{\"terminal\":false,\"stdio\":[\"\",\"x\",\"\"],"
				     "\"ports\":[0,80,0],\"pid\":1,\"started\":true,"
				     "\"exited\":false,\"exit_status\":0,\"exited_at\":0}]}");
	write_record("badid..json", "{}");
	{
		/* What Delete would remove or unmount must be the task's own dir. */
		_cleanup_free_ char *root_dir = xasprintf(
		    "{\"id\":\"rootdir\",\"bundle\":\"/b\",\"host_dir\":\"/\",\"mounts\":[],"
		    "\"procs\":[%s]}",
		    proc);
		_cleanup_free_ char *out_mount =
		    xasprintf("{\"id\":\"outm\",\"bundle\":\"/b\",\"host_dir\":\"%s/mounts/outm\","
			      "\"mounts\":[\"%s/mounts/outm/../other/rootfs\"],\"procs\":[%s]}",
			      tmp, tmp, proc);
		write_record("rootdir.json", root_dir);
		write_record("outm.json", out_mount);
	}
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_record("big.json", big);
	write_record("notes.txt", "ignored: not a record");
	cr_assert_eq(tpod_restore(&b, &err), 0, "%s", kc_err_msg(err));
	cr_assert_eq(b.n_tasks, 1, "only the good record is restored");
	cr_assert_not_null(find_task(&b, "ok"));
}

Test(persist, too_many_records)
{
	kc_err *err = NULL;

	for (unsigned i = 0; i <= TPOD_STATE_TASKS_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%u.json", i);
		write_record(name, "{}");
	}
	cr_assert_lt(tpod_restore(&b, &err), 0);
	cr_assert_not_null(strstr(kc_err_msg(err), "more than"), "%s", kc_err_msg(err));
	kc_err_free(err);
}
