/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C side of the ttrpc interop test with containerd's Go ttrpc
 * (tests/integration/test_go_interop.sh):
 *
 *   ttrpc-peer serve unix:///path   serve containerd.task.v2.Task with our ttrpc
 *                                   server, behaving exactly like the Go
 *                                   tests/interop/go/src/kcinterop/tasksvc (the
 *                                   behaviour is specified there)
 *   ttrpc-peer call unix:///path    make the calls of kcinterop/client with our
 *                                   ttrpc client, print the same lines
 *                                   (tests/interop/expected-output.txt), exit 1
 *                                   on any mismatch
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "endpoint.h"
#include "loop.h"
#include "serve.h"
#include "ttrpc.h"
#include "util.h"

#define TASK_SVC      "containerd.task.v2.Task"
#define NS_KEY        "containerd-namespace-ttrpc"
#define EXITED_SEC    1700000000
#define EXITED_NSEC   123456789
#define STATUS(name)  CONTAINERD__V1__TYPES__STATUS__##name
#define MUST_STOP_FMT "task \"%s\" must be stopped: failed precondition"

static void pb_freep(void *p)
{
	ProtobufCMessage **m = p;
	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_pb_ _cleanup_(pb_freep)

static const char *status_name(int s)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&containerd__v1__types__status__descriptor, s);
	return v ? v->name : "?";
}

/* FNV-1a over the fields of a CreateTaskRequest joined by "\n" (tasksvc.PidFor). */
struct fnv {
	uint32_t h;
	bool started;
};

static void fnv_add(struct fnv *f, const char *s)
{
	if (!f->started)
		f->h = 2166136261u;
	else
		for (const char *nl = "\n"; *nl; nl++)
			f->h = (f->h ^ (uint8_t)*nl) * 16777619u;
	f->started = true;
	for (; *s; s++)
		f->h = (f->h ^ (uint8_t)*s) * 16777619u;
}

static uint32_t pid_for(const Containerd__Task__V2__CreateTaskRequest *r)
{
	struct fnv f = {0};

	fnv_add(&f, r->id);
	fnv_add(&f, r->bundle);
	fnv_add(&f, r->terminal ? "1" : "0");
	fnv_add(&f, r->stdin);
	fnv_add(&f, r->stdout);
	fnv_add(&f, r->stderr);
	for (size_t i = 0; i < r->n_rootfs; i++) {
		const Containerd__Types__Mount *m = r->rootfs[i];
		fnv_add(&f, "mount");
		fnv_add(&f, m->type);
		fnv_add(&f, m->source);
		fnv_add(&f, m->target);
		for (size_t j = 0; j < m->n_options; j++)
			fnv_add(&f, m->options[j]);
	}
	return f.h;
}

/* ------------------------------------------------------------------ server */

struct task {
	kc_list node;
	char *id, *bundle, *in, *out, *errp;
	bool terminal;
	uint32_t pid, exit_status;
	int status;
	kc_list waiters; /* struct waiter */
};

struct waiter {
	kc_list node;
	ttrpc_call *call;
};

static kc_list tasks = KC_LIST_INIT(tasks);
static int n_waiting, n_cancelled;

static struct task *find_task(const char *id)
{
	kc_list_for_each (p, &tasks) {
		struct task *t = kc_container_of(p, struct task, node);
		if (!strcmp(t->id, id))
			return t;
	}
	return NULL;
}

static void task_free(struct task *t)
{
	kc_list_del(&t->node);
	free(t->id);
	free(t->bundle);
	free(t->in);
	free(t->out);
	free(t->errp);
	free(t);
}

/* Decode the request, then require a namespace like containerd's
 * namespaces.NamespaceRequired + errdefs.ToGRPC. NULL = already answered. */
static void *request(ttrpc_call *c, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = NULL;
	_cleanup_err_ kc_err *err = NULL;
	const char *ns;

	if (kc_pb_unpack(d, p, n, &m, &err) < 0) {
		ttrpc_call_reply_kc_err(c, err);
		return NULL;
	}
	ns = ttrpc_call_metadata(c, NS_KEY);
	if (!ns || !*ns) {
		protobuf_c_message_free_unpacked(m, NULL);
		ttrpc_call_reply_error(c, TTRPC_FAILED_PRECONDITION,
				       "namespace is required: failed precondition");
		return NULL;
	}
	return m;
}

static struct task *lookup(ttrpc_call *c, const char *id)
{
	struct task *t = find_task(id);
	if (!t)
		ttrpc_call_reply_error(c, TTRPC_NOT_FOUND, "task \"%s\": not found", id);
	return t;
}

static void h_create(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__CreateTaskRequest *req =
	    request(c, &containerd__task__v2__create_task_request__descriptor, p, n);
	Containerd__Task__V2__CreateTaskResponse resp =
	    CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	struct task *t;

	if (!req)
		return;
	if (find_task(req->id)) {
		ttrpc_call_reply_error(c, TTRPC_ALREADY_EXISTS, "task \"%s\": already exists",
				       req->id);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->id = xstrdup(req->id);
	t->bundle = xstrdup(req->bundle);
	t->in = xstrdup(req->stdin);
	t->out = xstrdup(req->stdout);
	t->errp = xstrdup(req->stderr);
	t->terminal = req->terminal;
	t->pid = pid_for(req);
	t->status = STATUS(CREATED);
	kc_list_init(&t->waiters);
	kc_list_add_tail(&tasks, &t->node);
	resp.pid = t->pid;
	ttrpc_call_reply(c, &resp.base);
}

static void h_start(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__StartRequest *req =
	    request(c, &containerd__task__v2__start_request__descriptor, p, n);
	Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	struct task *t;

	if (!req || !(t = lookup(c, req->id)))
		return;
	t->status = STATUS(RUNNING);
	resp.pid = t->pid;
	ttrpc_call_reply(c, &resp.base);
}

static void h_state(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__StateRequest *req =
	    request(c, &containerd__task__v2__state_request__descriptor, p, n);
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct task *t;

	if (!req || !(t = lookup(c, req->id)))
		return;
	resp.id = req->id;
	resp.exec_id = req->exec_id;
	resp.bundle = t->bundle;
	resp.pid = t->pid;
	resp.status = t->status;
	resp.stdin = t->in;
	resp.stdout = t->out;
	resp.stderr = t->errp;
	resp.terminal = t->terminal;
	resp.exit_status = t->exit_status;
	if (t->status == STATUS(STOPPED)) {
		ts.seconds = EXITED_SEC;
		ts.nanos = EXITED_NSEC;
		resp.exited_at = &ts;
	}
	ttrpc_call_reply(c, &resp.base);
}

static void reply_exit(ttrpc_call *c, const struct task *t)
{
	Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	ts.seconds = EXITED_SEC;
	ts.nanos = EXITED_NSEC;
	resp.exit_status = t->exit_status;
	resp.exited_at = &ts;
	ttrpc_call_reply(c, &resp.base);
}

static void h_kill(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__KillRequest *req =
	    request(c, &containerd__task__v2__kill_request__descriptor, p, n);
	struct task *t;

	if (!req || !(t = lookup(c, req->id)))
		return;
	t->exit_status = req->signal + (req->all ? 128 : 0);
	t->status = STATUS(STOPPED);
	while (!kc_list_empty(&t->waiters)) {
		struct waiter *w = kc_container_of(t->waiters.next, struct waiter, node);
		kc_list_del(&w->node);
		n_waiting--;
		reply_exit(w->call, t);
		free(w);
	}
	ttrpc_call_reply(c, NULL); /* google.protobuf.Empty */
}

/* The Wait's deadline passed or its connection went away. */
static void wait_cancelled(ttrpc_call *c, void *data)
{
	struct waiter *w = data;
	kc_list_del(&w->node);
	free(w);
	n_waiting--;
	n_cancelled++;
}

static void h_wait(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__WaitRequest *req =
	    request(c, &containerd__task__v2__wait_request__descriptor, p, n);
	struct waiter *w;
	struct task *t;

	if (!req || !(t = lookup(c, req->id)))
		return;
	if (t->status == STATUS(STOPPED)) {
		reply_exit(c, t);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->call = c;
	kc_list_add_tail(&t->waiters, &w->node);
	n_waiting++;
	ttrpc_call_set_cancel(c, wait_cancelled, w);
}

static void h_delete(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__DeleteRequest *req =
	    request(c, &containerd__task__v2__delete_request__descriptor, p, n);
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct task *t;

	if (!req || !(t = lookup(c, req->id)))
		return;
	if (t->status != STATUS(STOPPED)) {
		ttrpc_call_reply_error(c, TTRPC_FAILED_PRECONDITION, MUST_STOP_FMT, req->id);
		return;
	}
	ts.seconds = EXITED_SEC;
	ts.nanos = EXITED_NSEC;
	resp.pid = t->pid;
	resp.exit_status = t->exit_status;
	resp.exited_at = &ts;
	task_free(t);
	ttrpc_call_reply(c, &resp.base);
}

static void h_connect(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	_cleanup_pb_ Containerd__Task__V2__ConnectRequest *req =
	    request(c, &containerd__task__v2__connect_request__descriptor, p, n);
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	uint64_t dl = ttrpc_call_deadline(c), now = kc_now_ns();
	char deadline[32] = "none";
	_cleanup_free_ char *version = NULL;
	struct task *t;

	if (!req)
		return;
	if (dl != UINT64_MAX) /* remaining time, rounded up to seconds like tasksvc */
		snprintf(deadline, sizeof(deadline), "%llus",
			 (unsigned long long)((dl > now ? dl - now : 0) + KC_NSEC_PER_SEC - 1) /
			     KC_NSEC_PER_SEC);
	version = xasprintf("ns=%s deadline=%s waiting=%d cancelled=%d",
			    ttrpc_call_metadata(c, NS_KEY), deadline, n_waiting, n_cancelled);
	t = find_task(req->id);
	resp.task_pid = t ? t->pid : 0;
	resp.version = version;
	ttrpc_call_reply(c, &resp.base);
}

static void h_unimplemented(ttrpc_call *c, const uint8_t *p, size_t n, void *d)
{
	/* errdefs.ToGRPC(errdefs.ErrNotImplemented), as the Go tasksvc answers. */
	ttrpc_call_reply_error(c, TTRPC_UNIMPLEMENTED, "not implemented");
}

static const struct ttrpc_method task_methods[] = {
    {"State", h_state, 0},
    {"Create", h_create, 0},
    {"Start", h_start, 0},
    {"Delete", h_delete, 0},
    {"Pids", h_unimplemented, 0},
    {"Pause", h_unimplemented, 0},
    {"Resume", h_unimplemented, 0},
    {"Checkpoint", h_unimplemented, 0},
    {"Kill", h_kill, 0},
    {"Exec", h_unimplemented, 0},
    {"ResizePty", h_unimplemented, 0},
    {"CloseIO", h_unimplemented, 0},
    {"Update", h_unimplemented, 0},
    {"Wait", h_wait, 0},
    {"Stats", h_unimplemented, 0},
    {"Connect", h_connect, 0},
    {"Shutdown", h_unimplemented, 0},
};
static const struct ttrpc_service task_service = {TASK_SVC, task_methods,
						  KC_ARRAY_SIZE(task_methods)};

static void say_ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

static int serve(const char *addr, kc_err **err)
{
	/* tu_serve frees the server first, which cancels parked Waits. */
	int r = tu_serve(addr, &task_service, say_ready, err);
	while (!kc_list_empty(&tasks))
		task_free(kc_container_of(tasks.next, struct task, node));
	return r;
}

/* ------------------------------------------------------------------ client */

static kc_loop *loop;
static ttrpc_client *cli;
static bool failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "MISMATCH: " __VA_ARGS__);                                 \
			fputc('\n', stderr);                                                       \
			failed = true;                                                             \
		}                                                                                  \
	} while (0)

#define say(...)                                                                                   \
	do {                                                                                       \
		printf(__VA_ARGS__);                                                               \
		putchar('\n');                                                                     \
	} while (0)

static bool loop_until(const bool *flag, uint64_t timeout_ns)
{
	uint64_t deadline = kc_now_ns() + timeout_ns;
	while (!*flag && kc_now_ns() < deadline)
		if (kc_loop_iterate(loop, deadline, NULL) < 0)
			break;
	return *flag;
}

/* A failed call's "Code: message" (ttrpc_client_call_sync prefixes "svc/method: "). */
static const char *status_text(const kc_err *e, const char *svc, const char *method)
{
	const char *m = kc_err_msg(e);
	size_t ls = strlen(svc), lm = strlen(method);

	if (!strncmp(m, svc, ls) && m[ls] == '/' && !strncmp(m + ls + 1, method, lm) &&
	    !strncmp(m + ls + 1 + lm, ": ", 2))
		return m + ls + lm + 3;
	return m;
}

static int call_svc(const char *svc, const char *method, const void *req,
		    const ProtobufCMessageDescriptor *rd, uint64_t timeout, void *resp,
		    kc_err **err)
{
	return ttrpc_client_call_sync(cli, svc, method, req, rd, timeout, resp, err);
}

static int call(const char *method, const void *req, const ProtobufCMessageDescriptor *rd,
		void *resp, kc_err **err)
{
	return call_svc(TASK_SVC, method, req, rd, 0, resp, err);
}

/* Expect a failure: print "what: Code: message" (or only the code if msg is NULL). */
static void want_err(const char *what, int r, kc_err **e, const char *svc, const char *method,
		     const char *code, const char *msg)
{
	const char *txt;
	size_t lc = strlen(code);

	if (r >= 0) {
		CHECK(false, "%s: succeeded, want %s", what, code);
		return;
	}
	txt = status_text(*e, svc, method);
	CHECK(!strncmp(txt, code, lc) && txt[lc] == ':', "%s: got \"%s\", want %s", what, txt,
	      code);
	if (msg) {
		say("%s: %s", what, txt);
		CHECK(!strcmp(txt + lc + (txt[lc] ? 2 : 0), msg), "%s: got \"%s\", want \"%s\"",
		      what, txt, msg);
	} else {
		say("%s: %.*s", what, (int)strcspn(txt, ":"), txt);
	}
	kc_err_freep(e);
}

static bool ok(const char *what, int r, kc_err **e)
{
	CHECK(r >= 0, "%s: %s", what, kc_err_msg(*e));
	kc_err_freep(e);
	return r >= 0;
}

static void print_state(const char *what, const Containerd__Task__V2__StateResponse *s)
{
	printf("%s: id=%s exec_id=%s bundle=%s pid=%u status=%s terminal=%s stdin=%s stdout=%s "
	       "stderr=%s exit_status=%u",
	       what, s->id, s->exec_id, s->bundle, s->pid, status_name(s->status),
	       s->terminal ? "true" : "false", s->stdin, s->stdout, s->stderr, s->exit_status);
	if (s->status == STATUS(STOPPED) && s->exited_at)
		printf(" exited_at=%lld.%09d", (long long)s->exited_at->seconds,
		       s->exited_at->nanos);
	putchar('\n');
}

static bool exited_ok(const Google__Protobuf__Timestamp *ts)
{
	return ts && ts->seconds == EXITED_SEC && ts->nanos == EXITED_NSEC;
}

/* Connect until its version string contains want (the server notices parked
 * and expired Waits on its own schedule). */
static Containerd__Task__V2__ConnectResponse *connect_until(const char *id, const char *want)
{
	Containerd__Task__V2__ConnectRequest req = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Containerd__Task__V2__ConnectResponse *resp = NULL;
	kc_err *e = NULL;

	req.id = (char *)id;
	for (int i = 0; i < 300; i++) {
		pb_freep(&resp);
		resp = NULL;
		if (call("Connect", &req, &containerd__task__v2__connect_response__descriptor,
			 &resp, &e) < 0)
			break;
		if (strstr(resp->version, want))
			return resp;
		kc_loop_iterate(loop, kc_now_ns() + 10 * KC_NSEC_PER_MSEC, NULL);
	}
	CHECK(false, "connect %s: never saw %s (%s)", id, want, e ? kc_err_msg(e) : resp->version);
	kc_err_free(e);
	return resp;
}

struct answer {
	bool done;
	int code;
	uint8_t *payload;
	size_t len;
};

static void on_answer(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	struct answer *a = ud;
	a->done = true;
	a->code = st->code;
	a->payload = len ? xmalloc(len) : NULL;
	if (len)
		memcpy(a->payload, p, len);
	a->len = len;
}

static int run_calls(void)
{
	Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Containerd__Task__V2__CreateTaskRequest c1 =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__CreateTaskRequest c2 =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__CreateTaskRequest big =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Types__Mount m_ovl = CONTAINERD__TYPES__MOUNT__INIT;
	Containerd__Types__Mount m_bind = CONTAINERD__TYPES__MOUNT__INIT;
	Containerd__Types__Mount m_big = CONTAINERD__TYPES__MOUNT__INIT;
	Containerd__Types__Mount *c1_mounts[] = {&m_ovl, &m_bind}, *big_mounts[] = {&m_big};
	char *ovl_opts[] = {"lowerdir=/l/2:/l/1", "upperdir=/u", "workdir=/w", "index=off"};
	char *bind_opts[] = {"rbind", "ro"};
	Containerd__Task__V2__StartRequest start = CONTAINERD__TASK__V2__START_REQUEST__INIT;
	Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	Containerd__Task__V2__KillRequest kill = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	Containerd__Task__V2__PauseRequest pause = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;
	Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
	const ProtobufCMessageDescriptor *state_d =
	    &containerd__task__v2__state_response__descriptor;
	_cleanup_free_ char *lower = NULL;
	uint32_t p1, p2, p3;
	kc_err *e = NULL;
	int r;

	sreq.id = "c1";
	r = call("State", &sreq, NULL, NULL, &e);
	want_err("state c1 (no namespace)", r, &e, TASK_SVC, "State", "FailedPrecondition",
		 "namespace is required: failed precondition");
	/* From here on, every call carries the namespace, as containerd's do. */
	ttrpc_client_set_metadata(cli, NS_KEY, "k8s.io");

	c1.id = "c1";
	c1.bundle = "/run/kc/k8s.io/c1";
	m_ovl.type = "overlay";
	m_ovl.source = "overlay";
	m_ovl.options = ovl_opts;
	m_ovl.n_options = KC_ARRAY_SIZE(ovl_opts);
	m_bind.type = "bind";
	m_bind.source = "/var/lib/kc/shared";
	m_bind.target = "/shared";
	m_bind.options = bind_opts;
	m_bind.n_options = KC_ARRAY_SIZE(bind_opts);
	c1.rootfs = c1_mounts;
	c1.n_rootfs = KC_ARRAY_SIZE(c1_mounts);
	c1.terminal = true;
	c1.stdin = "hvsock:///run/kc/vm.vsock:2001";
	c1.stdout = "hvsock:///run/kc/vm.vsock:2002";
	p1 = pid_for(&c1);
	{
		_cleanup_pb_ Containerd__Task__V2__CreateTaskResponse *cr = NULL;
		r = call("Create", &c1, &containerd__task__v2__create_task_response__descriptor,
			 &cr, &e);
		if (ok("create c1", r, &e)) {
			say("create c1: pid=%u", cr->pid);
			CHECK(cr->pid == p1, "create c1: pid %u, want %u", cr->pid, p1);
		}
	}
	r = call("Create", &c1, NULL, NULL, &e);
	want_err("create c1 again", r, &e, TASK_SVC, "Create", "AlreadyExists",
		 "task \"c1\": already exists");
	{
		_cleanup_pb_ Containerd__Task__V2__StateResponse *st = NULL;
		if (ok("state c1", call("State", &sreq, state_d, &st, &e), &e)) {
			print_state("state c1", st);
			CHECK(!strcmp(st->id, "c1") && !strcmp(st->bundle, c1.bundle) &&
				  st->pid == p1 && st->status == STATUS(CREATED) && st->terminal &&
				  !strcmp(st->stdin, c1.stdin) && !strcmp(st->stdout, c1.stdout) &&
				  !strcmp(st->stderr, ""),
			      "state c1");
		}
	}
	{
		_cleanup_pb_ Containerd__Task__V2__StartResponse *sr = NULL;
		start.id = "c1";
		r = call("Start", &start, &containerd__task__v2__start_response__descriptor, &sr,
			 &e);
		if (ok("start c1", r, &e)) {
			say("start c1: pid=%u", sr->pid);
			CHECK(sr->pid == p1, "start c1: pid %u", sr->pid);
		}
	}

	/* Wait blocks in the server until Kill: issue it asynchronously. */
	{
		/* static: a pending call may outlive this block if we bail out */
		static struct answer wa;
		_cleanup_pb_ Containerd__Task__V2__ConnectResponse *cr = NULL;
		wreq.id = "c1";
		r = ttrpc_client_call(cli, TASK_SVC, "Wait", &wreq.base, 0, on_answer, &wa, &e);
		if (!ok("wait c1", r, &e))
			return -1;
		cr = connect_until("c1", "waiting=1");
		CHECK(!wa.done, "wait c1 answered before kill");
		say("wait c1: parked");
		kill.id = "c1";
		kill.signal = 9;
		kill.all = true;
		if (ok("kill c1", call("Kill", &kill, NULL, NULL, &e), &e))
			say("kill c1 signal=9 all=true: ok");
		if (!loop_until(&wa.done, 5 * KC_NSEC_PER_SEC)) {
			CHECK(false, "wait c1: no answer after kill");
			return -1; /* wa is still referenced by the pending call */
		}
		if (wa.code == 0) {
			Containerd__Task__V2__WaitResponse *w =
			    containerd__task__v2__wait_response__unpack(NULL, wa.len, wa.payload);
			CHECK(w, "wait c1: bad WaitResponse");
			if (w) {
				say("wait c1: exit_status=%u exited_at=%lld.%09d", w->exit_status,
				    w->exited_at ? (long long)w->exited_at->seconds : 0LL,
				    w->exited_at ? w->exited_at->nanos : 0);
				CHECK(w->exit_status == 137 && exited_ok(w->exited_at), "wait c1");
				containerd__task__v2__wait_response__free_unpacked(w, NULL);
			}
		} else {
			CHECK(false, "wait c1: %s", ttrpc_code_name(wa.code));
		}
		free(wa.payload);
	}
	{
		_cleanup_pb_ Containerd__Task__V2__StateResponse *st = NULL;
		sreq.exec_id = "e1";
		if (ok("state c1", call("State", &sreq, state_d, &st, &e), &e)) {
			print_state("state c1 exec_id=e1", st);
			CHECK(!strcmp(st->exec_id, "e1") && st->status == STATUS(STOPPED) &&
				  st->exit_status == 137 && exited_ok(st->exited_at),
			      "state c1 after kill");
		}
		sreq.exec_id = "";
	}
	sreq.id = "missing";
	r = call("State", &sreq, state_d, NULL, &e);
	want_err("state missing", r, &e, TASK_SVC, "State", "NotFound",
		 "task \"missing\": not found");

	pause.id = "c1";
	r = call("Pause", &pause, NULL, NULL, &e);
	want_err("pause c1", r, &e, TASK_SVC, "Pause", "Unimplemented", NULL);
	sreq.id = "c1";
	r = call("Frobnicate", &sreq, NULL, NULL, &e);
	want_err("method Frobnicate", r, &e, TASK_SVC, "Frobnicate", "Unimplemented", NULL);
	r = call_svc("containerd.task.v2.Nope", "State", &sreq, NULL, 0, NULL, &e);
	want_err("service containerd.task.v2.Nope", r, &e, "containerd.task.v2.Nope", "State",
		 "Unimplemented", NULL);

	/* Deadlines travel as timeout_nano. */
	{
		_cleanup_pb_ Containerd__Task__V2__ConnectResponse *cr = NULL;
		creq.id = "c1";
		r = call_svc(TASK_SVC, "Connect", &creq,
			     &containerd__task__v2__connect_response__descriptor,
			     30 * KC_NSEC_PER_SEC, &cr, &e);
		if (ok("connect c1", r, &e)) {
			say("connect c1 (30s deadline): task_pid=%u version=%s", cr->task_pid,
			    cr->version);
			CHECK(cr->task_pid == p1 &&
				  !strcmp(cr->version,
					  "ns=k8s.io deadline=30s waiting=0 cancelled=0"),
			      "connect c1");
		}
	}

	c2.id = "c2";
	c2.bundle = "/run/kc/k8s.io/c2";
	c2.stdout = "/run/kc/c2.log";
	c2.stderr = "/run/kc/c2.log";
	p2 = pid_for(&c2);
	{
		_cleanup_pb_ Containerd__Task__V2__CreateTaskResponse *cr = NULL;
		r = call("Create", &c2, &containerd__task__v2__create_task_response__descriptor,
			 &cr, &e);
		if (ok("create c2", r, &e)) {
			say("create c2: pid=%u", cr->pid);
			CHECK(cr->pid == p2, "create c2: pid %u, want %u", cr->pid, p2);
		}
	}
	{
		uint64_t t0 = kc_now_ns(), elapsed;
		_cleanup_pb_ Containerd__Task__V2__ConnectResponse *cr = NULL;
		wreq.id = "c2";
		r = call_svc(TASK_SVC, "Wait", &wreq, NULL, 200 * KC_NSEC_PER_MSEC, NULL, &e);
		elapsed = kc_now_ns() - t0;
		want_err("wait c2 (200ms deadline)", r, &e, TASK_SVC, "Wait", "DeadlineExceeded",
			 NULL);
		CHECK(elapsed >= 200 * KC_NSEC_PER_MSEC && elapsed < 2 * KC_NSEC_PER_SEC,
		      "wait c2: gave up after %llu ms", (unsigned long long)elapsed / 1000000);
		cr = connect_until("c2", "cancelled=1");
		if (cr) {
			say("connect c2: task_pid=%u version=%s", cr->task_pid, cr->version);
			CHECK(cr->task_pid == p2 &&
				  !strcmp(cr->version,
					  "ns=k8s.io deadline=none waiting=0 cancelled=1"),
			      "connect c2");
		}
	}

	{
		const char *unit = "/var/lib/kc/layers/0123456789abcdef:";
		size_t lu = strlen(unit), reps = (1 << 20) / lu, off = strlen("lowerdir=");
		char *opts[1];
		_cleanup_pb_ Containerd__Task__V2__CreateTaskResponse *cr = NULL;

		lower = xmalloc(off + reps * lu + 1);
		memcpy(lower, "lowerdir=", off);
		for (size_t i = 0; i < reps; i++, off += lu)
			memcpy(lower + off, unit, lu);
		lower[off] = '\0';
		opts[0] = lower;
		m_big.type = "overlay";
		m_big.source = "overlay";
		m_big.options = opts;
		m_big.n_options = 1;
		big.id = "big";
		big.bundle = "/run/kc/k8s.io/big";
		big.rootfs = big_mounts;
		big.n_rootfs = 1;
		p3 = pid_for(&big);
		r = call("Create", &big, &containerd__task__v2__create_task_response__descriptor,
			 &cr, &e);
		if (ok("create big", r, &e)) {
			say("create big (1 MiB option): pid=%u", cr->pid);
			CHECK(cr->pid == p3, "create big: pid %u, want %u", cr->pid, p3);
		}
	}

	/* 64 calls in flight on one connection, answered in any order. */
	{
		static struct answer ans[64];
		char eid[64][8];
		int bad = 0;
		bool all = false;

		sreq.id = "c2";
		for (int i = 0; i < 64; i++) {
			snprintf(eid[i], sizeof(eid[i]), "e%d", i);
			sreq.exec_id = eid[i];
			r = ttrpc_client_call(cli, TASK_SVC, "State", &sreq.base, 0, on_answer,
					      &ans[i], &e);
			if (!ok("concurrent State", r, &e))
				return -1;
		}
		sreq.exec_id = "";
		for (uint64_t dl = kc_now_ns() + 5 * KC_NSEC_PER_SEC; !all && kc_now_ns() < dl;) {
			kc_loop_iterate(loop, dl, NULL);
			all = true;
			for (int i = 0; i < 64; i++)
				all = all && ans[i].done;
		}
		if (!all) {
			CHECK(false, "concurrent State: not all answered");
			return -1;
		}
		for (int i = 0; i < 64; i++) {
			Containerd__Task__V2__StateResponse *st =
			    ans[i].code ? NULL
					: containerd__task__v2__state_response__unpack(
					      NULL, ans[i].len, ans[i].payload);
			if (!st || strcmp(st->id, "c2") || strcmp(st->exec_id, eid[i]) ||
			    st->pid != p2) {
				bad++;
				fprintf(stderr, "concurrent State %s: code %d\n", eid[i],
					ans[i].code);
			}
			if (st)
				containerd__task__v2__state_response__free_unpacked(st, NULL);
			free(ans[i].payload);
		}
		CHECK(bad == 0, "%d of 64 concurrent State calls wrong", bad);
		say("64 concurrent State c2: %d wrong", bad);
	}

	dreq.id = "c2";
	r = call("Delete", &dreq, NULL, NULL, &e);
	want_err("delete c2", r, &e, TASK_SVC, "Delete", "FailedPrecondition",
		 "task \"c2\" must be stopped: failed precondition");
	kill.id = "c2";
	kill.signal = 15;
	kill.all = false;
	if (ok("kill c2", call("Kill", &kill, NULL, NULL, &e), &e))
		say("kill c2 signal=15 all=false: ok");
	{
		const struct {
			const char *id;
			uint32_t pid, exit;
		} dels[] = {{"c2", p2, 15}, {"c1", p1, 137}};
		for (size_t i = 0; i < KC_ARRAY_SIZE(dels); i++) {
			_cleanup_pb_ Containerd__Task__V2__DeleteResponse *dr = NULL;
			dreq.id = (char *)dels[i].id;
			r = call("Delete", &dreq,
				 &containerd__task__v2__delete_response__descriptor, &dr, &e);
			if (!ok("delete", r, &e))
				continue;
			say("delete %s: pid=%u exit_status=%u exited_at=%lld.%09d", dels[i].id,
			    dr->pid, dr->exit_status,
			    dr->exited_at ? (long long)dr->exited_at->seconds : 0LL,
			    dr->exited_at ? dr->exited_at->nanos : 0);
			CHECK(dr->pid == dels[i].pid && dr->exit_status == dels[i].exit &&
				  exited_ok(dr->exited_at),
			      "delete %s", dels[i].id);
		}
	}
	sreq.id = "c1";
	r = call("State", &sreq, state_d, NULL, &e);
	want_err("state c1 after delete", r, &e, TASK_SVC, "State", "NotFound",
		 "task \"c1\": not found");
	return failed ? -1 : 0;
}

static int call_peer(const char *addr, kc_err **err)
{
	int fd, r;

	r = kc_loop_new(&loop, err);
	if (r < 0)
		return r;
	fd = r = kc_dial_addr(addr, kc_now_ns() + 10 * KC_NSEC_PER_SEC, err);
	if (r >= 0)
		r = ttrpc_client_new(loop, fd, &cli, err);
	if (r >= 0)
		r = run_calls();
	ttrpc_client_free(cli);
	kc_loop_free(loop);
	return r;
}

int main(int argc, char **argv)
{
	_cleanup_err_ kc_err *err = NULL;
	int r;

	if (argc != 3 || (strcmp(argv[1], "serve") && strcmp(argv[1], "call"))) {
		fprintf(stderr, "usage: ttrpc-peer serve|call unix:///path\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	r = !strcmp(argv[1], "serve") ? serve(argv[2], &err) : call_peer(argv[2], &err);
	if (r < 0 && err)
		fprintf(stderr, "ttrpc-peer: %s\n", kc_err_msg(err));
	return r < 0 ? 1 : 0;
}
