/* SPDX-License-Identifier: Apache-2.0 */
#include "agentctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "endpoint.h"
#include "kuasar/sandbox.pb-c.h"
#include "testutil.h"
#include "util.h"
#include "rpc_call.h"

#define CALL_TIMEOUT (30 * KC_NSEC_PER_SEC)

static int connect_client(struct agentctl *a, uint64_t deadline_ns, kc_err **err)
{
	int fd = kc_dial_addr(a->addr, deadline_ns, err);
	if (fd < 0)
		return fd;
	if (!a->loop && kc_loop_new(&a->loop, err) < 0)
		return kc_err_retp(err);
	if (ttrpc_client_new(a->loop, fd, &a->cli, err) < 0)
		return kc_err_retp(err);
	ttrpc_client_set_metadata(a->cli, "containerd-namespace-ttrpc", "kctest");
	return 0;
}

int agentctl_start(struct agentctl *a, const char *bin, const char *const *extra, kc_err **err)
{
	const char *argv[32];
	size_t n = 0;
	_cleanup_free_ char *logp = NULL;
	_cleanup_free_ char *root = NULL;

	memset(a, 0, sizeof(*a));
	a->dir = tu_tmpdir("agent");
	a->addr = xasprintf("unix://%s/agent.sock", a->dir);
	logp = xasprintf("%s/agent.log", a->dir);
	root = xasprintf("%s/state", a->dir);
	a->log_fd = open(logp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	argv[n++] = bin;
	argv[n++] = "--listen";
	argv[n++] = a->addr;
	argv[n++] = "--root";
	argv[n++] = root;
	for (size_t i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	a->pid = fork();
	if (a->pid < 0)
		return kc_err_sys(err, "fork");
	if (a->pid == 0) {
		dup2(a->log_fd, 2);
		dup2(a->log_fd, 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return connect_client(a, kc_now_ns() + 10 * KC_NSEC_PER_SEC, err);
}

int agentctl_connect(struct agentctl *a, const char *addr, kc_err **err)
{
	return agentctl_connect_until(a, addr, kc_now_ns() + 10 * KC_NSEC_PER_SEC, err);
}

int agentctl_connect_until(struct agentctl *a, const char *addr, uint64_t deadline_ns, kc_err **err)
{
	memset(a, 0, sizeof(*a));
	a->log_fd = -1;
	a->addr = xstrdup(addr);
	return connect_client(a, deadline_ns, err);
}

void agentctl_stop(struct agentctl *a)
{
	ttrpc_client_free(a->cli);
	a->cli = NULL;
	if (a->pid > 0) {
		int st;
		kill(a->pid, SIGTERM);
		for (int i = 0; i < 500; i++) {
			if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
				a->pid = 0;
				break;
			}
			usleep(10000);
		}
		if (a->pid > 0) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, &st, 0);
		}
	}
	kc_loop_free(a->loop);
	a->loop = NULL;
	if (a->log_fd >= 0)
		close(a->log_fd);
	if (a->dir)
		tu_rmtree(a->dir);
	free(a->dir);
	free(a->addr);
	a->dir = a->addr = NULL;
}

char *agentctl_log(struct agentctl *a)
{
	_cleanup_free_ char *p = xasprintf("%s/agent.log", a->dir);
	char *s = NULL;
	if (kc_read_file(p, 1 << 20, &s, NULL, NULL) < 0)
		return xstrdup("");
	return s;
}

static const char *const busybox_applets[] = {
    "sh",    "echo",  "cat",  "sleep",    "id",    "hostname", "pwd",  "env", "ls",
    "true",  "false", "grep", "printenv", "stty",  "wc",       "head", "ps",  "kill",
    "mount", "ls",    "test", "tty",      "touch", "readlink", "dd",   "seq", "ulimit",
    "mknod", "stat",  "cut",  "ln",       "uname", "chmod",
};

int agentctl_busybox_rootfs_at(const char *root, kc_err **err)
{
	const char *busybox = getenv("BUSYBOX_STATIC") ? getenv("BUSYBOX_STATIC") : "/bin/busybox";
	_cleanup_free_ char *bin = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (access(busybox, X_OK) < 0)
		return kc_err_sys(err, "static busybox `%s` (package busybox-static)", busybox);
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return kc_err_sys(err, "mkdir %s", root);
	chmod(root, 0755); /* mkdtemp makes it 0700: non-root users need / */
	bin = xasprintf("%s/bin", root);
	mkdir(bin, 0755);
	for (const char *d = "proc\0sys\0dev\0etc\0tmp\0root\0"; *d; d += strlen(d) + 1) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, d);
		mkdir(p, 0755);
	}
	{
		_cleanup_free_ char *p = xasprintf("%s/busybox", bin);
		int r = kc_read_file(busybox, 8u << 20, &data, &len, err);
		if (r < 0 || (r = kc_write_file(p, data, len, 0, 0755, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(busybox_applets); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", bin, busybox_applets[i]);
		(void)symlink("busybox", p);
	}
	{
		_cleanup_free_ char *p = xasprintf("%s/etc/passwd", root);
		const char *pw =
		    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n";
		kc_write_file(p, pw, strlen(pw), 0, 0644, NULL);
	}
	return 0;
}

static char *busybox_root;

static void remove_busybox_root(void)
{
	if (busybox_root)
		tu_rmtree(busybox_root);
}

const char *agentctl_busybox_rootfs(kc_err **err)
{
	char *dir;

	if (busybox_root)
		return busybox_root;
	dir = tu_tmpdir("rootfs");
	if (agentctl_busybox_rootfs_at(dir, err) < 0) {
		tu_rmtree(dir);
		free(dir);
		return NULL;
	}
	/* Each test process builds its own; it goes when the process does. */
	busybox_root = dir;
	atexit(remove_busybox_root);
	return busybox_root;
}

static void append_strv_json(FILE *f, const char *const *v)
{
	fputc('[', f);
	for (size_t i = 0; v && v[i]; i++) {
		fputs(i ? ",\"" : "\"", f);
		for (const char *c = v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				fputc('\\', f);
			if (*c == '\n') {
				fputs("\\n", f);
				continue;
			}
			fputc(*c, f);
		}
		fputc('"', f);
	}
	fputc(']', f);
}

static const char *default_caps =
    "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\","
    "\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","
    "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]";

static void write_process(FILE *f, const struct bundle_opts *o)
{
	static const char *const def_env[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	fprintf(f, "{\"terminal\":%s,\"user\":", o->terminal ? "true" : "false");
	if (o->user_json)
		fputs(o->user_json, f);
	else
		fprintf(f, "{\"uid\":%u,\"gid\":%u}", o->uid, o->gid);
	fputs(",\"args\":", f);
	append_strv_json(f, o->args);
	fputs(",\"env\":", f);
	append_strv_json(f, o->env ? o->env : def_env);
	fprintf(f, ",\"cwd\":\"%s\"", o->cwd ? o->cwd : "/");
	if (!o->no_caps)
		fprintf(f, ",\"capabilities\":{\"bounding\":%s,\"effective\":%s,\"permitted\":%s}",
			default_caps, default_caps, default_caps);
	fprintf(f,
		",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
		"\"noNewPrivileges\":%s",
		o->new_privs ? "false" : "true");
	if (o->extra_process)
		fprintf(f, ",%s", o->extra_process);
	fputc('}', f);
}

char *agentctl_process_json(const struct bundle_opts *o)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	write_process(f, o);
	fclose(f);
	return buf;
}

char *agentctl_bundle(struct agentctl *a, const char *id, const struct bundle_opts *o)
{
	char *bundle = xasprintf("%s/%s", a->dir, id);
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", bundle);
	const char *rootfs = o->rootfs ? o->rootfs : agentctl_busybox_rootfs(NULL);
	FILE *f;

	mkdir(bundle, 0755);
	f = fopen(cfg, "w");
	fputs("{\"ociVersion\":\"1.1.0\",\"process\":", f);
	write_process(f, o);
	fprintf(f, ",\"root\":{\"path\":\"%s\",\"readonly\":false}", rootfs ? rootfs : "");
	fprintf(f, ",\"hostname\":\"%s\"", o->hostname ? o->hostname : "kctest");
	fputs(",\"mounts\":["
	      "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","
	      "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	      "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
	      "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	      "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
	      "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\","
	      "\"gid=5\"]},"
	      "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
	      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
	      "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
	      "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	      "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
	      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}",
	      f);
	if (o->extra_mounts)
		fprintf(f, ",%s", o->extra_mounts);
	fputs("],\"linux\":{\"namespaces\":[{\"type\":\"ipc\"},{\"type\":\"uts\"},"
	      "{\"type\":\"mount\"}",
	      f);
	if (!o->no_pidns)
		fputs(",{\"type\":\"pid\"}", f);
	if (o->netns)
		fputs(",{\"type\":\"network\"}", f);
	if (o->cgroupns)
		fputs(",{\"type\":\"cgroup\"}", f);
	if (o->extra_ns)
		fprintf(f, ",%s", o->extra_ns);
	fputs("],\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\","
	      "\"/sys/firmware\",\"/proc/scsi\"],"
	      "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
	      "\"/proc/sysrq-trigger\"]",
	      f);
	if (o->extra_linux)
		fprintf(f, ",%s", o->extra_linux);
	fputs("}", f);
	if (o->annotations)
		fprintf(f, ",\"annotations\":{%s}", o->annotations);
	fputs("}", f);
	fclose(f);
	return bundle;
}

/* The product's typed client (lib/rpc_call.h), as the shim uses it. */
static int call(struct agentctl *a, const char *method, const ProtobufCMessage *req,
		ProtobufCMessage **resp, kc_err **err)
{
	return kc_rpc_call_sync(a->cli, &containerd__task__v2__task__descriptor, method, req,
				CALL_TIMEOUT, resp, err);
}

int task_create(struct agentctl *a, const char *id, const char *bundle, bool terminal,
		const char *in, const char *out, const char *errp, uint32_t *pid, kc_err **err)
{
	return task_create_rootfs(a, id, bundle, NULL, 0, terminal, in, out, errp, pid, err);
}

int task_create_rootfs(struct agentctl *a, const char *id, const char *bundle,
		       Containerd__Types__Mount **rootfs, size_t n_rootfs, bool terminal,
		       const char *in, const char *out, const char *errp, uint32_t *pid,
		       kc_err **err)
{
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	r.rootfs = rootfs;
	r.n_rootfs = n_rootfs;
	r.id = (char *)id;
	r.bundle = (char *)bundle;
	r.terminal = terminal;
	r.stdin = (char *)(in ? in : "");
	r.stdout = (char *)(out ? out : "");
	r.stderr = (char *)(errp ? errp : "");
	if (call(a, "Create", &r.base, &m, err) < 0)
		return kc_err_retp(err);
	if (pid)
		*pid = ((Containerd__Task__V2__CreateTaskResponse *)m)->pid;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int task_start(struct agentctl *a, const char *id, const char *exec_id, uint32_t *pid, kc_err **err)
{
	Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	if (call(a, "Start", &r.base, &m, err) < 0)
		return kc_err_retp(err);
	if (pid)
		*pid = ((Containerd__Task__V2__StartResponse *)m)->pid;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int task_wait(struct agentctl *a, const char *id, const char *exec_id, uint32_t *status,
	      kc_err **err)
{
	Containerd__Task__V2__WaitRequest r = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	if (call(a, "Wait", &r.base, &m, err) < 0)
		return kc_err_retp(err);
	if (status)
		*status = ((Containerd__Task__V2__WaitResponse *)m)->exit_status;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int task_delete(struct agentctl *a, const char *id, const char *exec_id, uint32_t *status,
		kc_err **err)
{
	Containerd__Task__V2__DeleteRequest r = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	if (call(a, "Delete", &r.base, &m, err) < 0)
		return kc_err_retp(err);
	if (status)
		*status = ((Containerd__Task__V2__DeleteResponse *)m)->exit_status;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int task_kill(struct agentctl *a, const char *id, const char *exec_id, int sig, bool all,
	      kc_err **err)
{
	Containerd__Task__V2__KillRequest r = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	r.signal = (uint32_t)sig;
	r.all = all;
	return call(a, "Kill", &r.base, NULL, err);
}

int task_exec(struct agentctl *a, const char *id, const char *exec_id, bool terminal,
	      const char *in, const char *out, const char *errp, const char *process_json,
	      kc_err **err)
{
	Containerd__Task__V2__ExecProcessRequest r =
	    CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	r.id = (char *)id;
	r.exec_id = (char *)exec_id;
	r.terminal = terminal;
	r.stdin = (char *)(in ? in : "");
	r.stdout = (char *)(out ? out : "");
	r.stderr = (char *)(errp ? errp : "");
	any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
	any.value.data = (uint8_t *)process_json;
	any.value.len = strlen(process_json);
	r.spec = &any;
	return call(a, "Exec", &r.base, NULL, err);
}

int task_state(struct agentctl *a, const char *id, const char *exec_id, int *status, uint32_t *pid,
	       kc_err **err)
{
	Containerd__Task__V2__StateRequest r = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	if (call(a, "State", &r.base, &m, err) < 0)
		return kc_err_retp(err);
	if (status)
		*status = (int)((Containerd__Task__V2__StateResponse *)m)->status;
	if (pid)
		*pid = ((Containerd__Task__V2__StateResponse *)m)->pid;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int task_resize(struct agentctl *a, const char *id, const char *exec_id, unsigned w, unsigned h,
		kc_err **err)
{
	Containerd__Task__V2__ResizePtyRequest r = CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	r.width = w;
	r.height = h;
	return call(a, "ResizePty", &r.base, NULL, err);
}

int task_close_stdin(struct agentctl *a, const char *id, const char *exec_id, kc_err **err)
{
	Containerd__Task__V2__CloseIORequest r = CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;
	r.id = (char *)id;
	r.exec_id = (char *)(exec_id ? exec_id : "");
	r.stdin = true;
	return call(a, "CloseIO", &r.base, NULL, err);
}

int task_pids(struct agentctl *a, const char *id, size_t *n, kc_err **err)
{
	Containerd__Task__V2__PidsRequest r = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	r.id = (char *)id;
	if (call(a, "Pids", &r.base, &m, err) < 0)
		return kc_err_retp(err);
	*n = ((Containerd__Task__V2__PidsResponse *)m)->n_processes;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int task_shutdown(struct agentctl *a, bool now, kc_err **err)
{
	Containerd__Task__V2__ShutdownRequest r = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
	r.now = now;
	return call(a, "Shutdown", &r.base, NULL, err);
}

int sandbox_check(struct agentctl *a, kc_err **err)
{
	Grpc__CheckRequest r = GRPC__CHECK_REQUEST__INIT;
	return kc_rpc_call_sync(a->cli, &grpc__sandbox_service__descriptor, "Check", &r.base,
				CALL_TIMEOUT, NULL, err);
}

int io_dial(const char *path, kc_err **err)
{
	struct kc_endpoint ep;
	if (kc_endpoint_parse(path, &ep, err) < 0)
		return kc_err_retp(err);
	return kc_dial(&ep, kc_now_ns() + 10 * KC_NSEC_PER_SEC, err);
}

char *io_read_all(int fd, int timeout_ms, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	uint64_t deadline = kc_now_ns() + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = kc_now_ns();
		ssize_t n;
		if (now >= deadline)
			break;
		if (poll(&p, 1, (int)((deadline - now) / KC_NSEC_PER_MSEC) + 1) <= 0)
			break;
		if (len + 1024 > cap)
			buf = xrealloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}
