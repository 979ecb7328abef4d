/* SPDX-License-Identifier: Apache-2.0 */
/* A sandbox on disk (host/sandboxer/state.c, sandbox.c): sandbox.json round
 * trip and its validation, the directory layout, sandbox id rules, and
 * process identity (pid + start time) used to adopt VMs after a restart. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "sandbox.h"
#include "helper_proc.h"
#include "state.h"
#include "testutil.h"
#include "util.h"

static struct sbx_daemon D;
static char *tmp;

static void setup(void)
{
	memset(&D, 0, sizeof(D));
	tmp = tu_tmpdir("sbxstate");
	D.dir = tmp;
	sbx_config_defaults(&D.cfg, SBX_HV_QEMU);
	kc_list_init(&D.sandboxes);
}

static void teardown(void)
{
	sbx_config_free(&D.cfg);
	tu_rmtree(tmp);
	free(tmp);
}

TestSuite(state, .init = setup, .fini = teardown);

static char *slurp(const char *path)
{
	char *t = NULL;
	cr_assert_eq(kc_read_file(path, 1 << 20, &t, NULL, NULL), 0, "%s", path);
	return t;
}

Test(state, save_load_round_trip)
{
	struct sandbox *s = sbx_new(&D, "pod-1"), *l = NULL;
	struct sbx_guest_files gf = {.hostname = "web-0", .resolv_conf = "nameserver 10.0.0.1\n"};
	_cleanup_free_ char *hn = NULL, *rc = NULL, *p1 = NULL, *p2 = NULL;
	kc_err *e = NULL;

	KC_OK(sbx_dir_create(s, &gf, err_));
	p1 = xasprintf("%s/pod-1/shared/hostname", tmp);
	p2 = xasprintf("%s/pod-1/shared/resolv.conf", tmp);
	hn = slurp(p1);
	rc = slurp(p2);
	cr_assert_str_eq(hn, "web-0\n");
	cr_assert_str_eq(rc, "nameserver 10.0.0.1\n");

	s->state = SBX_RUNNING;
	s->vcpus = 2;
	s->memory_mb = 384;
	s->vhost_user = true;
	free(s->address);
	s->address = xstrdup("ttrpc+hvsock:///x/pod-1/task.vsock:1024");
	s->created_at = 1700000000123456789ULL;
	s->started_at = 1700000001000000000ULL;
	s->procs[SBX_PROC_VMM].pid = 4242;
	s->procs[SBX_PROC_VMM].starttime = 987654321;
	s->procs[SBX_PROC_VMM].running = true;
	s->procs[SBX_PROC_FS].pid = 4243;
	s->procs[SBX_PROC_FS].starttime = 5;
	s->procs[SBX_PROC_FS].running = false; /* exited: not recorded */
	KC_OK(sbx_state_save(s, err_));

	cr_assert_eq(sbx_state_load(&D, "pod-1", &l, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(l->state, SBX_RUNNING);
	cr_assert_eq(l->type, SBX_HV_QEMU);
	cr_assert_eq(l->vcpus, 2);
	cr_assert_eq(l->memory_mb, 384);
	cr_assert(l->vhost_user && !l->kvm);
	cr_assert_str_eq(l->address, s->address);
	cr_assert_eq(l->created_at, s->created_at);
	cr_assert_eq(l->started_at, s->started_at);
	cr_assert_eq(l->procs[SBX_PROC_VMM].pid, 4242);
	cr_assert_eq(l->procs[SBX_PROC_VMM].starttime, 987654321);
	cr_assert_eq(l->procs[SBX_PROC_FS].pid, 0);
	cr_assert(!l->procs[SBX_PROC_VMM].running, "loaded processes are not adopted yet");
	sbx_free(l);

	/* Atomic: no temp file is left next to it. */
	{
		_cleanup_free_ char *t = xasprintf("%s/pod-1/sandbox.json.tmp", tmp);
		cr_assert(access(t, F_OK) < 0);
	}
	KC_OK(sbx_dir_remove(s->base, err_));
	cr_assert(access(s->base, F_OK) < 0);
	sbx_free(s);
}

static void load_fails(const char *json, const char *msg)
{
	_cleanup_free_ char *dir = xasprintf("%s/bad", tmp);
	_cleanup_free_ char *path = xasprintf("%s/sandbox.json", dir);
	struct sandbox *s = NULL;
	kc_err *e = NULL;

	mkdir(dir, 0700);
	KC_OK(kc_write_file(path, json, strlen(json), 0, 0600, err_));
	cr_assert_lt(sbx_state_load(&D, "bad", &s, &e), 0, "accepted %s", json);
	cr_assert(strstr(kc_err_msg(e), msg), "got `%s`, want `%s`", kc_err_msg(e), msg);
	kc_err_free(e);
}

Test(state, load_rejects_bad_files)
{
	load_fails("{", "sandbox.json:1:");
	load_fails("{\"version\": 2}", "unsupported state version");
	load_fails("{\"version\": 1, \"id\": \"other\", \"state\": \"running\", \"hypervisor\": "
		   "\"qemu\", \"netns\": \"\", \"hostname\": \"\", \"address\": \"\"}",
		   "id `other` does not match the directory");
	load_fails("{\"version\": 1, \"id\": \"bad\", \"state\": \"flying\", \"hypervisor\": "
		   "\"qemu\", \"netns\": \"\", \"hostname\": \"\", \"address\": \"\"}",
		   "bad state `flying`");
	load_fails("{\"version\": 1, \"id\": \"bad\", \"state\": \"running\", \"hypervisor\": "
		   "\"qemu\", \"netns\": \"\", \"hostname\": \"\", \"address\": \"\", \"vcpus\": "
		   "-1}",
		   "`vcpus` missing or out of range");
}

Test(state, id_rules)
{
	kc_err *e = NULL;
	char longid[SBX_ID_MAX + 2];

	KC_OK(sbx_id_check(&D, "0123abcdef-pod_1.x", err_));
	cr_assert_lt(sbx_id_check(&D, "", &e), 0);
	kc_err_freep(&e);
	cr_assert_lt(sbx_id_check(&D, "a/b", &e), 0);
	cr_assert(strstr(kc_err_msg(e), "only letters, digits"));
	kc_err_freep(&e);
	cr_assert_lt(sbx_id_check(&D, "..", &e), 0);
	cr_assert(strstr(kc_err_msg(e), "starts with a dot"));
	kc_err_freep(&e);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	cr_assert_lt(sbx_id_check(&D, longid, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "longer than"));
	kc_err_freep(&e);
	/* A 64-hex id (containerd's) fits under Kuasar's --dir, not a long one. */
	memset(longid, 'f', 64);
	longid[64] = '\0';
	D.dir = "/run/kuasar-vmm";
	KC_OK(sbx_id_check(&D, longid, err_));
	D.dir = "/run/a/rather/long/sandboxer/state/directory/path";
	cr_assert_lt(sbx_id_check(&D, longid, &e), 0);
	cr_assert_eq(e->code, ENAMETOOLONG);
	cr_assert(strstr(kc_err_msg(e), "107-byte unix socket path limit"));
	kc_err_free(e);
	D.dir = tmp;
}

Test(state, process_identity)
{
	pid_t pid = fork();
	uint64_t st = 0;
	int pidfd = -1;
	kc_err *e = NULL;

	if (pid == 0) {
		pause();
		_exit(0);
	}
	KC_OK(sbx_proc_starttime(pid, &st, err_));
	cr_assert_gt(st, 0);
	KC_OK(sbx_proc_adopt(pid, st, &pidfd, err_));
	close(pidfd);
	/* Same pid, another start time: a recycled pid is not adopted. */
	cr_assert_lt(sbx_proc_adopt(pid, st + 1, &pidfd, &e), 0);
	cr_assert_eq(e->code, ESRCH);
	kc_err_freep(&e);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_lt(sbx_proc_adopt(pid, st, &pidfd, &e), 0);
	kc_err_free(e);
}

Test(state, spawn_reports_exec_errors_and_exit_status)
{
	char *bad[] = {"/nonexistent/binary", NULL};
	char *sh[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 7", NULL};
	_cleanup_free_ char *log = xasprintf("%s/log", tmp), *text = NULL;
	struct sbx_spawn o = {.argv = bad};
	uint64_t st;
	pid_t pid;
	int pidfd, status = -1;
	kc_err *e = NULL;

	cr_assert_lt(sbx_spawn(&o, &pid, &pidfd, &st, &e), 0);
	cr_assert_str_eq(kc_err_msg(e),
			 "run `/nonexistent/binary`: exec: No such file or directory");
	kc_err_freep(&e);

	o.argv = sh;
	o.log_path = log;
	KC_OK(sbx_spawn(&o, &pid, &pidfd, &st, err_));
	{
		/* The pidfd becomes readable at exit; then the status is ours. */
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		cr_assert_eq(poll(&pfd, 1, 5000), 1);
		cr_assert_eq(sbx_proc_reap(pidfd, &status), 0);
	}
	cr_assert_eq(status, 7);
	close(pidfd);
	text = slurp(log);
	cr_assert_str_eq(text, "out\nerr\n");
}
