/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's tasks on disk and their reconciliation with the guest after a
 * restart (see persist.h). The state dir is the daemon's own (never in the
 * share the guest sees), so what is read back was written by us; it is
 * still checked and bounded: a bad record must not take the daemon down. */
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskplan.h"
#include "bundle.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "id.h"
#include "log.h"
#include "proc.h"
#include "rpc_call.h"

static char *record_path(const struct tpod *pod, const char *id)
{
	return xasprintf("%s/%s.json", pod->state_dir, id);
}

static json_t *proc_encode(const struct sproc *p)
{
	json_t *stdio = json_array(), *ports = json_array();

	for (int i = 0; i < 3; i++) {
		json_array_append_new(stdio, json_string(p->stdio[i]));
		json_array_append_new(ports, json_integer(p->ports[i]));
	}
	return json_pack("{s:s?, s:b, s:o, s:o, s:I, s:b, s:b, s:I, s:I}", "exec_id", p->exec_id,
			 "terminal", p->terminal, "stdio", stdio, "ports", ports, "pid",
			 (json_int_t)p->pid, "started", p->started, "exited", p->exited,
			 "exit_status", (json_int_t)p->exit_status, "exited_at",
			 (json_int_t)p->exited_at);
}

static int save(struct task *t, kc_err **err)
{
	json_t *procs, *mounts, *doc;
	_cleanup_free_ char *path = NULL, *text = NULL;

	if (kc_mkdir_p(t->pod->state_dir, 0700, err) < 0)
		return kc_err_wrap(err, "task %s: state", t->id);
	procs = json_array();
	json_array_append_new(procs, proc_encode(t->init));
	kc_list_for_each (n, &t->execs)
		json_array_append_new(procs, proc_encode(kc_container_of(n, struct sproc, node)));
	mounts = json_array();
	for (size_t i = 0; i < t->n_mounts; i++)
		json_array_append_new(mounts, json_string(t->mounts[i]));
	doc = json_pack("{s:s, s:s, s:s?, s:b, s:o, s:o, s:o}", "id", t->id, "bundle", t->bundle,
			"host_dir", t->host_dir, "pod_pid", t->pod_pid, "mounts", mounts, "procs",
			procs, "disks", blk_plan_encode(t->blk));
	if (!doc || !(text = json_dumps(doc, JSON_COMPACT))) {
		json_decref(doc);
		return kc_err_set(err, ENOMEM, "task %s: encode state", t->id);
	}
	json_decref(doc);
	path = record_path(t->pod, t->id);
	if (kc_write_file_atomic(path, text, strlen(text), 0600, err) < 0)
		return kc_err_wrap(err, "task %s: state", t->id);
	return 0;
}

void tpod_save(struct task *t)
{
	kc_err *err = NULL;

	/* Not the RPC's failure: only a later restart would miss the task. */
	if (t->pod->state_dir && save(t, &err) < 0) {
		log_warn("%s: %s (a restart will not restore it)", t->pod->id, kc_err_msg(err));
		kc_err_free(err);
	}
}

void tpod_unsave(struct task *t)
{
	_cleanup_free_ char *path = NULL;

	if (!t->pod->state_dir)
		return;
	path = record_path(t->pod, t->id);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("task %s: remove %s: %s", t->id, path, strerror(errno));
}

/* ---------------------------------------------------------------- restore */

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int u32_of(json_t *o, const char *key, uint32_t *ret)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return -1;
	*ret = (uint32_t)json_integer_value(v);
	return 0;
}

static struct sproc *proc_decode(struct task *t, json_t *j, kc_err **err)
{
	const char *exec_id = str_of(j, "exec_id");
	json_t *stdio = json_object_get(j, "stdio"), *ports = json_object_get(j, "ports");
	json_t *at = json_object_get(j, "exited_at");
	struct sproc *p;

	if (!json_is_object(j) || json_array_size(stdio) != 3 || json_array_size(ports) != 3 ||
	    !json_is_integer(at) || json_integer_value(at) < 0)
		return kc_err_set(err, EINVAL, "malformed process"), NULL;
	if (exec_id && kc_id_check("exec id", exec_id, err) < 0)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->task = t;
	p->exec_id = exec_id ? xstrdup(exec_id) : NULL;
	p->terminal = json_is_true(json_object_get(j, "terminal"));
	p->started = json_is_true(json_object_get(j, "started"));
	p->exited = json_is_true(json_object_get(j, "exited"));
	p->agent_exited = p->exited;
	p->exited_at = (uint64_t)json_integer_value(at);
	for (int i = 0; i < 3; i++) {
		json_t *s = json_array_get(stdio, i), *n = json_array_get(ports, i);
		json_int_t port = json_is_integer(n) ? json_integer_value(n) : -1;
		if (!json_is_string(s) ||
		    (port != 0 && (port < TPOD_PORT_MIN || port > TPOD_PORT_MAX))) {
			sproc_free(p);
			return kc_err_set(err, EINVAL, "malformed stdio %d", i), NULL;
		}
		p->stdio[i] = xstrdup(json_string_value(s));
		p->ports[i] = (uint32_t)port;
	}
	if (u32_of(j, "pid", &p->pid) < 0 || u32_of(j, "exit_status", &p->exit_status) < 0) {
		sproc_free(p);
		return kc_err_set(err, EINVAL, "malformed pid or exit status"), NULL;
	}
	return p;
}

/* path is <shared>/<id> (below: a path strictly inside it, no `..`). */
static bool under_share(const struct tpod *pod, const char *id, const char *path, bool below)
{
	_cleanup_free_ char *dir = pod->shared_dir ? xasprintf("%s/%s", pod->shared_dir, id) : NULL;
	size_t n = dir ? strlen(dir) : 0;

	if (!dir || strncmp(path, dir, n))
		return false;
	if (!below)
		return path[n] == '\0';
	return path[n] == '/' && path[n + 1] && !strstr(path + n, "/..");
}

static int task_decode(struct tpod *pod, const char *name, const char *text, size_t len,
		       kc_err **err)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	json_t *procs = json_object_get(doc, "procs"), *mounts = json_object_get(doc, "mounts");
	const char *id = str_of(doc, "id"), *bundle = str_of(doc, "bundle");
	const char *host_dir = str_of(doc, "host_dir");
	_cleanup_free_ char *want = NULL;
	struct task *t;
	int r = -1;

	if (!doc)
		return kc_err_set(err, EINVAL, "%s: line %d: %s", name, je.line, je.text);
	want = id ? xasprintf("%s.json", id) : NULL;
	if (!id || kc_id_check("container id", id, err) < 0) {
		if (!*err)
			kc_err_set(err, EINVAL, "no id");
	} else if (strcmp(want, name)) {
		kc_err_set(err, EINVAL, "id `%s` does not match the file name", id);
	} else if (!bundle || bundle[0] != '/') {
		kc_err_set(err, EINVAL, "bundle: not an absolute path");
	} else if (!json_is_array(procs) || json_array_size(procs) < 1 ||
		   json_array_size(procs) > 1 + TPOD_STATE_EXECS_MAX) {
		kc_err_set(err, EINVAL, "procs: not 1 to %u processes", 1 + TPOD_STATE_EXECS_MAX);
	} else if (!json_is_array(mounts) || json_array_size(mounts) > 64) {
		kc_err_set(err, EINVAL, "mounts: not a list of at most 64");
	} else if (host_dir && !under_share(pod, id, host_dir, false)) {
		/* Removed recursively at Delete: only ever <shared>/<id>. */
		kc_err_set(err, EINVAL, "host_dir `%s` is not the task's dir in the share",
			   host_dir);
	} else {
		for (size_t i = 0; i < json_array_size(mounts); i++) {
			const char *m = json_string_value(json_array_get(mounts, i));
			if (!m || !host_dir || !under_share(pod, id, m, true)) {
				kc_err_set(err, EINVAL, "mounts: `%s` is not below the task's dir",
					   m ? m : "(not a string)");
				break;
			}
		}
	}
	if (*err) {
		kc_err_wrap(err, "%s", name);
		goto out;
	}
	if (find_task(pod, id)) {
		kc_err_set(err, EEXIST, "%s: task %s twice", name, id);
		goto out;
	}
	t = xcalloc(1, sizeof(*t));
	t->pod = pod;
	t->id = xstrdup(id);
	t->bundle = xstrdup(bundle);
	t->host_dir = host_dir ? xstrdup(host_dir) : NULL;
	t->pod_pid = json_is_true(json_object_get(doc, "pod_pid"));
	t->in_guest = true;
	t->restored = true;
	t->gen = ++pod->next_gen;
	kc_list_init(&t->execs);
	kc_list_add_tail(&pod->tasks, &t->node);
	pod->n_tasks++;
	for (size_t i = 0; i < json_array_size(mounts); i++) {
		const char *m = json_string_value(json_array_get(mounts, i));
		t->mounts = xrealloc(t->mounts, (t->n_mounts + 1) * sizeof(*t->mounts));
		t->mounts[t->n_mounts++] = xstrdup(m);
	}
	/* Its disks, so that Delete detaches them. */
	t->blk = blk_plan_decode(json_object_get(doc, "disks"));
	for (size_t i = 0; i < json_array_size(procs); i++) {
		struct sproc *p = proc_decode(t, json_array_get(procs, i), err);
		if (!p || (i == 0) != (p->exec_id == NULL)) {
			if (p)
				sproc_free(p);
			if (!*err)
				kc_err_set(err, EINVAL, "process %zu: init must come first, alone",
					   i);
			kc_err_wrap(err, "%s", name);
			task_forget(t);
			goto out;
		}
		if (i == 0)
			t->init = p;
		else
			kc_list_add_tail(&t->execs, &p->node);
	}
	r = 0;
out:
	json_decref(doc);
	return r;
}

static bool is_record(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".json");
}

int tpod_restore(struct tpod *pod, kc_err **err)
{
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	if (!pod->state_dir || !(d = opendir(pod->state_dir)))
		return pod->state_dir && errno != ENOENT
			   ? kc_err_sys(err, "open %s", pod->state_dir)
			   : 0;
	/* Counted first: too many is refused before any is read. */
	while ((de = readdir(d)))
		n += is_record(de->d_name);
	if (n > TPOD_STATE_TASKS_MAX) {
		closedir(d);
		return kc_err_set(err, E2BIG, "%s: more than %u task records", pod->state_dir,
				  TPOD_STATE_TASKS_MAX);
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL, *path = NULL;
		size_t len;
		kc_err *e = NULL;

		if (!is_record(de->d_name))
			continue;
		path = xasprintf("%s/%s", pod->state_dir, de->d_name);
		if (kc_read_file(path, TPOD_STATE_FILE_MAX, &text, &len, &e) < 0 ||
		    task_decode(pod, de->d_name, text, len, &e) < 0) {
			/* One bad record: say which, keep the others. */
			log_error("%s: %s (task not restored)", pod->id, kc_err_msg(e));
			kc_err_free(e);
		}
	}
	closedir(d);
	return 0;
}

/* ------------------------------------------------------------- reconcile */

/* An orphan's removal from the guest: Kill, the agent's Wait for the
 * init, Delete; then the host side. Looked up by id and gen at each step. */
struct orphan {
	struct tpod *pod;
	char *id;
	uint64_t gen;
};

static struct task *orphan_task(struct orphan *o)
{
	struct task *t = find_task(o->pod, o->id);
	return t && t->gen == o->gen ? t : NULL;
}

static void orphan_free(struct orphan *o)
{
	free(o->id);
	free(o);
}

static void orphan_deleted(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct orphan *o = ud;
	struct task *t = orphan_task(o);
	(void)resp;

	if (err && err->code != ENOENT)
		log_warn("%s: orphan %s: delete in the guest: %s", o->pod->id, o->id, err->msg);
	if (t) {
		log_info("%s: task %s: containerd dropped it while we were away, removed",
			 o->pod->id, o->id);
		task_free(t);
	}
	orphan_free(o);
}

static void orphan_delete(struct orphan *o)
{
	Containerd__Task__V2__DeleteRequest r = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
	kc_err *err = NULL;

	r.id = o->id;
	r.exec_id = (char *)"";
	if (!o->pod->agent ||
	    kc_rpc_call(o->pod->agent, &containerd__task__v2__task__descriptor, "Delete", &r.base,
			AGENT_TIMEOUT, orphan_deleted, o, &err) < 0) {
		orphan_deleted(o, err, NULL);
		kc_err_free(err);
	}
}

static void orphan_waited(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	(void)err;
	(void)resp;
	orphan_delete(ud);
}

static void orphan_killed(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct orphan *o = ud;
	struct task *t = orphan_task(o);
	Containerd__Task__V2__WaitRequest w = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	kc_err *e = NULL;
	(void)resp;

	/* Not running (never started, already exited): straight to Delete. */
	if (err || !t || !t->init->started || !o->pod->agent) {
		orphan_delete(o);
		return;
	}
	w.id = o->id;
	w.exec_id = (char *)"";
	if (kc_rpc_call(o->pod->agent, &containerd__task__v2__task__descriptor, "Wait", &w.base,
			AGENT_TIMEOUT, orphan_waited, o, &e) < 0) {
		kc_err_free(e);
		orphan_delete(o);
	}
}

static void orphan_remove(struct task *t)
{
	Containerd__Task__V2__KillRequest k = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	struct orphan *o = xcalloc(1, sizeof(*o));
	kc_err *err = NULL;

	o->pod = t->pod;
	o->id = xstrdup(t->id);
	o->gen = t->gen;
	k.id = t->id;
	k.exec_id = (char *)"";
	k.signal = SIGKILL;
	k.all = true;
	if (kc_rpc_call(t->pod->agent, &containerd__task__v2__task__descriptor, "Kill", &k.base,
			AGENT_TIMEOUT, orphan_killed, o, &err) < 0) {
		kc_err_free(err);
		orphan_delete(o);
	}
}

static void proc_resume(struct sproc *p)
{
	kc_err *err = NULL;

	/* Output the agent held (it listens on the same ports again while it
	 * waits for us) flows on to containerd's FIFOs. */
	if (!p->exited && (!p->exec_id || p->started) && start_relays(p, 0, 2, &err) < 0) {
		log_warn("%s: %s", p->task->pod->id, kc_err_msg(err));
		kc_err_freep(&err);
	}
	if (p->started && !p->exited)
		watch_exit(p);
}

void tpod_reconcile(struct tpod *pod)
{
	kc_list_for_each_safe (n, &pod->tasks) {
		struct task *t = kc_container_of(n, struct task, node);
		struct stat st;

		if (!t->restored)
			continue;
		t->restored = false;
		if (stat(t->bundle, &st) < 0 && errno == ENOENT) {
			orphan_remove(t);
			continue;
		}
		proc_resume(t->init);
		kc_list_for_each (m, &t->execs)
			proc_resume(kc_container_of(m, struct sproc, node));
		log_info("%s: task %s restored", pod->id, t->id);
	}
}
