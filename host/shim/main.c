/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shim v2 command line, as containerd runs it:
 *   containerd-shim-kuasar-vmm-v2 -namespace NS -address ADDR -publish-binary B
 *       -id ID [-debug] start     (cwd: bundle) print the pod shim's address
 *   ... -id ID -bundle DIR delete  clean up after a dead shim, print a
 *                                  DeleteResponse
 * `start` reuses the pod's running shim, or forks a new one that serves the
 * Task API on a unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "endpoint.h"
#include "log.h"
#include "bundle.h"
#include "service.h"
#include "shim.h"
#include "shim_vm.h"

#define SHIM_SOCKET_DIR "/run/kuasar-c/shim"

struct shim *shim;

struct opts {
	const char *ns, *address, *publish, *id, *bundle, *socket;
	bool debug;
	const char *verb;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		if (a[0] != '-') {
			if (o->verb) {
				fprintf(stderr, "unexpected argument `%s`\n", a);
				return -1;
			}
			o->verb = a;
			continue;
		}
		while (*a == '-')
			a++;
		if (!strcmp(a, "debug")) {
			o->debug = true;
			continue;
		}
		if (!strcmp(a, "v") || !strcmp(a, "version")) {
			printf("containerd-shim-kuasar-vmm-v2:\n  Version: %s\n", KC_VERSION);
			exit(0);
		}
		if (!strcmp(a, "namespace"))
			dst = &o->ns;
		else if (!strcmp(a, "address"))
			dst = &o->address;
		else if (!strcmp(a, "publish-binary"))
			dst = &o->publish;
		else if (!strcmp(a, "id"))
			dst = &o->id;
		else if (!strcmp(a, "bundle"))
			dst = &o->bundle;
		else if (!strcmp(a, "socket"))
			dst = &o->socket;
		if (!dst || i + 1 >= argc) {
			fprintf(stderr, "unknown or incomplete flag `%s`\n", argv[i]);
			return -1;
		}
		*dst = argv[++i];
	}
	return 0;
}

/* Stable per pod: FNV-1a of containerd address, namespace and pod id. */
static char *socket_path_for(const char *address, const char *ns, const char *group)
{
	uint64_t h = 1469598103934665603ULL;
	_cleanup_free_ char *key = xasprintf("%s/%s/%s", address ? address : "", ns, group);
	for (const char *c = key; *c; c++) {
		h ^= (uint8_t)*c;
		h *= 1099511628211ULL;
	}
	return xasprintf("%s/%016llx.sock", SHIM_SOCKET_DIR, (unsigned long long)h);
}

/* Everything a shim process holds, so sanitizers see clean exits. */
static void shim_release(struct shim *s)
{
	kc_loop *loop = s->pod.loop;

	ttrpc_server_free(s->server);
	shim_vm_release();
	tpod_release(&s->pod);
	kc_loop_free(loop);
	free(s->group);
	free(s->containerd_addr);
	free(s->ttrpc_addr);
	free(s->sandboxer_addr);
	free(s->socket_path);
	free(s->agent_addr);
	kc_strv_free(s->vm_annotations);
	free(s->vm_netns);
	memset(s, 0, sizeof(*s));
}

static int serve(struct opts *o, int lfd)
{
	struct shim s = {0};
	kc_err *err = NULL;
	const char *sbx = getenv("KUASAR_SANDBOXER_ADDRESS");
	kc_loop *loop = NULL;

	shim = &s;
	s.group = bundle_group_id(".", o->id);
	s.containerd_addr = xstrdup(o->address ? o->address : "");
	s.ttrpc_addr = getenv("TTRPC_ADDRESS") ? xstrdup(getenv("TTRPC_ADDRESS")) : NULL;
	s.sandboxer_addr = xstrdup(sbx && *sbx ? sbx : SHIM_DEFAULT_SANDBOXER);
	s.socket_path = o->socket ? xstrdup(o->socket) : NULL;
	/* The first bundle may be removed while we live on for the pod. */
	if (chdir("/") < 0)
		log_warn("chdir /: %s", strerror(errno));
	if (kc_loop_new(&loop, &err) < 0)
		goto fail;
	tpod_init(&s.pod, loop, &shim_pod_ops, o->ns, o->id);
	if (ttrpc_server_new(loop, &s.server, &err) < 0)
		goto fail;
	if (s.ttrpc_addr && *s.ttrpc_addr &&
	    kc_evpub_new(loop, s.ttrpc_addr, o->ns, &s.pod.events, &err) < 0)
		goto fail;
	ttrpc_server_register(s.server, &tpod_task_service, &s.pod);
	if (ttrpc_server_listen(s.server, lfd, &err) < 0)
		goto fail;
	log_info("serving pod %s (first container %s) for namespace %s", s.group, o->id, o->ns);
	if (kc_loop_run(loop, &err) < 0)
		goto fail;
	log_info("shim for pod %s exiting", s.group);
	unlink(s.socket_path ? s.socket_path : "");
	shim_release(&s);
	return 0;
fail:
	log_error("%s", kc_err_msg(err));
	kc_err_free(err);
	shim_release(&s);
	return 1;
}

static int cmd_start(struct opts *o)
{
	_cleanup_free_ char *group = bundle_group_id(".", o->id);
	_cleanup_free_ char *path = socket_path_for(o->address, o->ns, group);
	_cleanup_free_ char *addr = xasprintf("unix://%s", path);
	kc_err *err = NULL;
	int fd, lfd;
	pid_t pid;

	/* A shim already serves this pod: hand containerd its address. */
	fd = kc_dial_addr(addr, 0, NULL);
	if (fd >= 0) {
		close(fd);
		goto print;
	}
	if (kc_mkdir_p(SHIM_SOCKET_DIR, 0711, &err) < 0)
		goto fail;
	lfd = kc_listen_addr(addr, &err);
	if (lfd < 0)
		goto fail;
	o->socket = path;
	pid = fork();
	if (pid < 0) {
		kc_err_sys(&err, "fork");
		goto fail;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		/* containerd reads our logs from the bundle's "log" fifo and waits
		 * for EOF on start's output: keep nothing of its pipe. */
		int logfd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		setsid();
		dup2(null, 0);
		dup2(logfd >= 0 ? logfd : null, 1);
		dup2(logfd >= 0 ? logfd : null, 2);
		if (logfd >= 0)
			kc_set_nonblock(1, false);
		_exit(serve(o, lfd));
	}
	close(lfd);
print:
	if (kc_write_file("address", addr, strlen(addr), 0, 0644, &err) < 0)
		goto fail;
	printf("%s", addr);
	return 0;
fail:
	fprintf(stderr, "start: %s\n", kc_err_msg(err));
	kc_err_free(err);
	return 1;
}

struct delete_op {
	const char *id;
	bool done;
};

static void on_deleted_stop(void *ud, const kc_err *err)
{
	struct delete_op *op = ud;
	(void)err; /* logged by shim_vm.c */
	op->done = true;
	kc_loop_quit(shim->pod.loop);
}

static void on_attached(void *ud, const kc_err *err)
{
	struct delete_op *op = ud;

	if (err) {
		/* No sandbox (any more): nothing of ours is left on this host.
		 * containerd shows our stderr as warnings: say nothing. */
		log_debug("delete %s: %s", op->id, err->msg);
	} else if (bundle_cleanup_dir(shim->pod.shared_dir, op->id)) {
		shim_vm_stop(on_deleted_stop, op);
		return;
	}
	op->done = true;
	kc_loop_quit(shim->pod.loop);
}

/* The shim that owned this task died (containerd calls this for each of the
 * pod's tasks). Undo our host mounts for the task, stop the pod's VM with the
 * last one, and report the task as killed, as containerd's own shims do. */
static int cmd_delete(struct opts *o)
{
	Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	uint64_t now = kc_realtime_ns();
	const char *sbx = getenv("KUASAR_SANDBOXER_ADDRESS");
	struct delete_op op = {.id = o->id};
	struct shim s = {0};
	kc_err *err = NULL;
	kc_loop *loop = NULL;
	size_t len;
	_cleanup_free_ uint8_t *buf = NULL;

	shim = &s;
	s.group = bundle_group_id(".", o->id);
	s.sandboxer_addr = xstrdup(sbx && *sbx ? sbx : SHIM_DEFAULT_SANDBOXER);
	if (kc_loop_new(&loop, &err) < 0) {
		log_debug("delete %s: %s", o->id, kc_err_msg(err));
		kc_err_freep(&err);
	} else {
		tpod_init(&s.pod, loop, &shim_pod_ops, o->ns, o->id);
		/* Top level: running the loop here is not re-entering it. */
		shim_vm_attach(on_attached, &op);
		while (!op.done && kc_loop_run(loop, &err) == 0)
			;
		kc_err_freep(&err);
	}
	{
		/* The dead shim's socket: gone too, unless a shim serves it. */
		_cleanup_free_ char *path = socket_path_for(o->address, o->ns, s.group);
		_cleanup_free_ char *addr = xasprintf("unix://%s", path);
		int fd = kc_dial_addr(addr, 0, NULL);
		if (fd >= 0)
			close(fd);
		else
			(void)unlink(path);
	}
	kc_pb_timestamp(&ts, now);
	r.exit_status = 128 + SIGKILL;
	r.exited_at = &ts;
	buf = kc_pb_pack(&r.base, &len);
	shim_release(&s);
	return kc_write_all(STDOUT_FILENO, buf, len) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};

	signal(SIGPIPE, SIG_IGN);
	/* binary:// loggers are our children; nobody waits for them. */
	signal(SIGCHLD, SIG_IGN);
	kc_log_init("containerd-shim-kuasar-vmm-v2", STDERR_FILENO);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.debug)
		kc_log_set_level(KC_LOG_DEBUG);
	if (!o.ns || !o.id) {
		fprintf(stderr, "-namespace and -id are required\n");
		return 2;
	}
	if (o.bundle && chdir(o.bundle) < 0) {
		fprintf(stderr, "chdir %s: %s\n", o.bundle, strerror(errno));
		return 1;
	}
	if (o.verb && !strcmp(o.verb, "start"))
		return cmd_start(&o);
	if (o.verb && !strcmp(o.verb, "delete"))
		return cmd_delete(&o);
	fprintf(stderr, "usage: %s -namespace NS -address ADDR -id ID start|delete\n", argv[0]);
	return 2;
}
