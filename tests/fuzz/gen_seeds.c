/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the binary seeds of tests/fuzz/corpus/ (make fuzz-seeds): real ttrpc
 * frames and protobuf messages packed with the generated code, so the seeds
 * are what the peers send. The text seeds (JSON, TOML, command lines) are
 * plain files in the corpus. Usage: gen_seeds CORPUS_DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "containerd/events/task.pb-c.h"
#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "cri/runtime/v1/pod_sandbox_config.pb-c.h"
#include "frame.h"
#include "google/rpc/status.pb-c.h"
#include "kuasar/sandbox.pb-c.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

static const char *top;

/* A growing byte buffer. */
struct buf {
	uint8_t *p;
	size_t n;
};

static void put(struct buf *b, const void *d, size_t n)
{
	b->p = xrealloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put_byte(struct buf *b, uint8_t c)
{
	put(b, &c, 1);
}

static void put_msg(struct buf *b, const ProtobufCMessage *m)
{
	size_t n;
	_cleanup_free_ uint8_t *d = kc_pb_pack(m, &n);
	put(b, d, n);
}

static void put_frame(struct buf *b, uint32_t id, uint8_t type, uint8_t flags, const void *d,
		      size_t n)
{
	struct ttrpc_hdr h = {.len = (uint32_t)n, .stream_id = id, .type = type, .flags = flags};
	uint8_t hdr[TTRPC_HDR_LEN];
	ttrpc_hdr_encode(&h, hdr);
	put(b, hdr, sizeof(hdr));
	if (n)
		put(b, d, n);
}

static void write_seed(const char *target, const char *name, const struct buf *b)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", top, target);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	kc_err *err = NULL;

	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) ||
	    kc_write_file(path, b->p ? (const void *)b->p : "", b->n, 0, 0644, &err) < 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, err ? err->msg : strerror(errno));
		exit(1);
	}
}

static void done(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}

/* A ttrpc request frame body. */
static void put_request(struct buf *b, uint32_t id, uint8_t flags, const char *svc,
			const char *method, const ProtobufCMessage *payload, int64_t timeout,
			const char *ns)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvs[1] = {&kv};
	struct buf body = {0}, inner = {0};

	r.service = (char *)svc;
	r.method = (char *)method;
	if (payload) {
		put_msg(&inner, payload);
		r.payload.data = inner.p;
		r.payload.len = inner.n;
	}
	r.timeout_nano = timeout;
	if (ns) {
		kv.key = "containerd-namespace-ttrpc";
		kv.value = (char *)ns;
		r.metadata = kvs;
		r.n_metadata = 1;
	}
	put_msg(&body, &r.base);
	put_frame(b, id, TTRPC_TYPE_REQUEST, flags, body.p, body.n);
	done(&body);
	done(&inner);
}

static void put_response(struct buf *b, uint32_t id, int code, const char *msg,
			 const ProtobufCMessage *payload)
{
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response r = TTRPC__RESPONSE__INIT;
	struct buf body = {0}, inner = {0};

	st.code = code;
	st.message = (char *)(msg ? msg : "");
	r.status = &st;
	if (payload) {
		put_msg(&inner, payload);
		r.payload.data = inner.p;
		r.payload.len = inner.n;
	}
	put_msg(&body, &r.base);
	put_frame(b, id, TTRPC_TYPE_RESPONSE, 0, body.p, body.n);
	done(&body);
	done(&inner);
}

static const char process_json[] =
    "{\"terminal\":true,\"consoleSize\":{\"height\":24,\"width\":80},\"user\":{\"uid\":1000,"
    "\"gid\":1000,\"umask\":18,\"additionalGids\":[10,20]},\"args\":[\"/bin/sh\",\"-c\","
    "\"echo hi\"],\"env\":[\"PATH=/usr/bin:/bin\",\"TERM=xterm\"],\"cwd\":\"/tmp\","
    "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],"
    "\"permitted\":[\"CAP_KILL\"]},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,"
    "\"soft\":1024}],\"noNewPrivileges\":true,\"oomScoreAdj\":100}";
static const char resources_json[] =
    "{\"memory\":{\"limit\":268435456,\"reservation\":134217728,\"swap\":-1},\"cpu\":{"
    "\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0-1\",\"mems\":\"0\"},"
    "\"pids\":{\"limit\":100},\"unified\":{\"memory.high\":\"200000000\"}}";

static void frame_seeds(void)
{
	Containerd__Task__V2__StateRequest sr = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	struct buf b = {0};
	uint8_t big[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = {.len = 100, .stream_id = 3, .type = TTRPC_TYPE_REQUEST};

	sr.id = "c1";
	/* limit 4 MiB, 7-byte reads: a request, a response, data, an empty frame. */
	put_byte(&b, 0);
	put_byte(&b, 6);
	put_request(&b, 1, 0, "containerd.task.v2.Task", "State", &sr.base, 0, "k8s.io");
	put_response(&b, 1, 0, NULL, &sr.base);
	put_frame(&b, 3, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED, "abc", 3);
	put_frame(&b, 5, TTRPC_TYPE_DATA, TTRPC_FLAG_NO_DATA, NULL, 0);
	write_seed("frame", "frames-mixed", &b);
	done(&b);
	/* limit 16: the second frame is oversize and skipped; then a partial one. */
	put_byte(&b, 1);
	put_byte(&b, 0);
	put_frame(&b, 1, TTRPC_TYPE_DATA, 0, "0123456789", 10);
	ttrpc_hdr_encode(&h, big);
	put(&b, big, sizeof(big));
	for (int i = 0; i < 100; i++)
		put_byte(&b, (uint8_t)i);
	put_frame(&b, 5, TTRPC_TYPE_REQUEST, 0, "x", 1);
	put(&b, big, 4);
	write_seed("frame", "oversize-then-partial", &b);
	done(&b);
}

static void server_seeds(void)
{
	Containerd__Task__V2__StateRequest sr = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Containerd__Task__V2__CreateTaskRequest cr =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__WaitRequest wr = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	Containerd__Task__V2__KillRequest kr = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mounts[1] = {&m};
	Grpc__CheckRequest ck = GRPC__CHECK_REQUEST__INIT;
	char *opts[] = {"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"};
	struct buf b = {0}, data = {0};
	struct ttrpc_hdr h = {.len = TTRPC_MAX_DATA + 1, .stream_id = 21, .type = 1};
	uint8_t hdr[TTRPC_HDR_LEN];

	sr.id = "c1";
	sr.exec_id = "e1";
	cr.id = "c1";
	cr.bundle = "/run/kuasar/state/c1";
	m.type = "overlay";
	m.source = "overlay";
	m.options = opts;
	m.n_options = 3;
	cr.rootfs = mounts;
	cr.n_rootfs = 1;
	wr.id = "c1";
	kr.id = "c1";
	kr.signal = 9;

	/* A session: State, Create, two Waits answered by Kill, a Check. */
	put_request(&b, 1, 0, "containerd.task.v2.Task", "State", &sr.base, 10000000000, "k8s.io");
	put_request(&b, 3, 0, "containerd.task.v2.Task", "Create", &cr.base, 0, "default");
	put_request(&b, 5, 0, "containerd.task.v2.Task", "Wait", &wr.base, 0, NULL);
	put_request(&b, 7, 0, "containerd.task.v2.Task", "Wait", &wr.base, 1, NULL);
	put_request(&b, 9, 0, "containerd.task.v2.Task", "Kill", &kr.base, 0, NULL);
	put_request(&b, 11, 0, "grpc.SandboxService", "Check", &ck.base, 0, NULL);
	write_seed("ttrpc_server", "session", &b);
	done(&b);

	/* A client stream: data frames, then the closing one. */
	put_request(&b, 1, TTRPC_FLAG_REMOTE_OPEN, "containerd.task.v2.Task", "Stream", NULL, 0,
		    NULL);
	put_msg(&data, &sr.base);
	put_frame(&b, 1, TTRPC_TYPE_DATA, 0, data.p, data.n);
	put_frame(&b, 1, TTRPC_TYPE_DATA, 0, data.p, data.n);
	put_frame(&b, 1, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
	put_frame(&b, 3, TTRPC_TYPE_DATA, 0, data.p, data.n); /* unknown stream */
	write_seed("ttrpc_server", "stream", &b);
	done(&b);
	done(&data);

	/* What the server must refuse: unknown service and method, an even and a
	 * duplicate stream id, garbage, a response, an oversize frame. */
	put_request(&b, 1, 0, "no.such.Service", "X", NULL, 0, NULL);
	put_request(&b, 3, 0, "containerd.task.v2.Task", "Nope", NULL, 0, NULL);
	put_request(&b, 4, 0, "containerd.task.v2.Task", "State", &sr.base, 0, NULL);
	put_request(&b, 5, 0, "containerd.task.v2.Task", "Wait", &wr.base, 0, NULL);
	put_request(&b, 5, 0, "containerd.task.v2.Task", "Wait", &wr.base, 0, NULL);
	put_frame(&b, 7, TTRPC_TYPE_REQUEST, 0, "\xff\xff\xff", 3);
	put_frame(&b, 9, TTRPC_TYPE_RESPONSE, 0, NULL, 0);
	put_request(&b, 11, 0, "containerd.task.v2.Task", "State", NULL, 0, NULL);
	put_request(&b, 13, 0, "containerd.task.v2.Task", "Create", &sr.base, 0, NULL);
	ttrpc_hdr_encode(&h, hdr);
	put(&b, hdr, sizeof(hdr));
	put(&b, "trailing", 8);
	write_seed("ttrpc_server", "refusals", &b);
	done(&b);
}

static void client_seeds(void)
{
	Containerd__Task__V2__StateResponse st = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Containerd__Task__V2__WaitResponse wr = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Containerd__Task__V2__StateRequest sr = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	struct buf b = {0}, data = {0};

	st.id = "c1";
	st.pid = 42;
	st.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
	st.bundle = "/run/kuasar/state/c1";
	wr.exit_status = 137;
	sr.id = "c1";
	/* Answers for every call: data on the stream, then its status. */
	put_response(&b, 1, 0, NULL, &st.base);
	put_response(&b, 3, TTRPC_NOT_FOUND, "create c1: bundle not found", NULL);
	put_msg(&data, &sr.base);
	put_frame(&b, 9, TTRPC_TYPE_DATA, 0, data.p, data.n);
	put_frame(&b, 9, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED, data.p, data.n);
	put_response(&b, 9, 0, NULL, NULL);
	put_response(&b, 5, 0, NULL, &wr.base);
	put_response(&b, 7, 0, NULL, NULL); /* after its deadline */
	write_seed("ttrpc_client", "answers", &b);
	done(&b);
	/* A hostile guest: a wrong type, garbage, an unknown id, an oversize frame. */
	put_response(&b, 1, 0, NULL, &wr.base);
	put_frame(&b, 3, TTRPC_TYPE_RESPONSE, 0, "\x0a\x05\x08", 3);
	put_response(&b, 11, 0, NULL, NULL);
	put_frame(&b, 5, TTRPC_TYPE_REQUEST, 0, NULL, 0);
	put_response(&b, 5, TTRPC_UNKNOWN, NULL, NULL);
	put_frame(&b, 9, TTRPC_TYPE_DATA, 0, "\xff", 1);
	{
		struct ttrpc_hdr h = {.len = TTRPC_MAX_DATA + 1, .stream_id = 9, .type = 2};
		uint8_t hdr[TTRPC_HDR_LEN];
		ttrpc_hdr_encode(&h, hdr);
		put(&b, hdr, sizeof(hdr));
	}
	write_seed("ttrpc_client", "hostile", &b);
	done(&b);
	done(&data);
}

/* fuzz_pb: byte 0 indexes its table of types (keep in step with fuzz_pb.c). */
enum {
	PB_CREATE = 0,
	PB_KILL = 5,
	PB_EXEC = 6,
	PB_UPDATE = 10,
	PB_SYNC_CLOCK = 17,
	PB_STATE_RESP = 20,
	PB_OOM = 26,
	PB_CTRL_CREATE = 28,
};

static void pb_seed(const char *name, uint8_t type, const ProtobufCMessage *m)
{
	struct buf b = {0};
	put_byte(&b, type);
	put_msg(&b, m);
	write_seed("pb", name, &b);
	done(&b);
}

static void pb_seeds(void)
{
	Containerd__Task__V2__CreateTaskRequest cr =
	    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__ExecProcessRequest ex =
	    CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
	Containerd__Task__V2__UpdateTaskRequest up =
	    CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__KillRequest kr = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	Containerd__Task__V2__StateResponse st = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Containerd__Events__TaskOOM oom = CONTAINERD__EVENTS__TASK_OOM__INIT;
	Grpc__SyncClockPacket sc = GRPC__SYNC_CLOCK_PACKET__INIT;
	Containerd__Services__Sandbox__V1__ControllerCreateRequest cc =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_CREATE_REQUEST__INIT;
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mounts[1] = {&m};
	Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT, res = GOOGLE__PROTOBUF__ANY__INIT;
	char *opts[] = {"index=off", "lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w", "ro"};

	m.type = "overlay";
	m.source = "overlay";
	m.target = "";
	m.options = opts;
	m.n_options = KC_ARRAY_SIZE(opts);
	cr.id = "c1";
	cr.bundle = "/run/kuasar/state/c1";
	cr.rootfs = mounts;
	cr.n_rootfs = 1;
	cr.stdout = "vsock://20001";
	pb_seed("create-task-request", PB_CREATE, &cr.base);

	spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
	spec.value.data = (uint8_t *)process_json;
	spec.value.len = sizeof(process_json) - 1;
	ex.id = "c1";
	ex.exec_id = "e1";
	ex.terminal = true;
	ex.spec = &spec;
	pb_seed("exec-process-request", PB_EXEC, &ex.base);

	res.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
	res.value.data = (uint8_t *)resources_json;
	res.value.len = sizeof(resources_json) - 1;
	up.id = "c1";
	up.resources = &res;
	pb_seed("update-task-request", PB_UPDATE, &up.base);

	kr.id = "c1";
	kr.exec_id = "e1";
	kr.signal = 15;
	kr.all = true;
	pb_seed("kill-request", PB_KILL, &kr.base);

	sc.clientsendtime = 1700000000000000000;
	pb_seed("sync-clock", PB_SYNC_CLOCK, &sc.base);

	st.id = "c1";
	st.bundle = "/run/kuasar/state/c1";
	st.pid = 42;
	st.status = CONTAINERD__V1__TYPES__STATUS__STOPPED;
	st.exit_status = 1;
	pb_seed("state-response", PB_STATE_RESP, &st.base);

	oom.container_id = "c1";
	pb_seed("task-oom", PB_OOM, &oom.base);

	cc.sandbox_id = "pod-1";
	cc.netns_path = "/var/run/netns/cni-1";
	pb_seed("controller-create", PB_CTRL_CREATE, &cc.base);
}

static void pod_seed(const char *name, uint8_t url, const Runtime__V1__PodSandboxConfig *c,
		     const char *annotations)
{
	struct buf b = {0}, m = {0};

	if (c)
		put_msg(&m, &c->base);
	put_byte(&b, url);
	put_byte(&b, (uint8_t)(m.n >> 8));
	put_byte(&b, (uint8_t)m.n);
	if (m.n)
		put(&b, m.p, m.n);
	put(&b, annotations, strlen(annotations));
	write_seed("pod", name, &b);
	done(&b);
	done(&m);
}

static void pod_seeds(void)
{
	Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
	Runtime__V1__LinuxPodSandboxConfig lc = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	Runtime__V1__PodSandboxConfig__AnnotationsEntry an =
	    RUNTIME__V1__POD_SANDBOX_CONFIG__ANNOTATIONS_ENTRY__INIT;
	Runtime__V1__PodSandboxConfig__AnnotationsEntry *ans[1] = {&an};
	char *servers[] = {"10.96.0.10"};
	char *searches[] = {"default.svc.cluster.local", "svc.cluster.local", "cluster.local"};
	char *options[] = {"ndots:5"};

	md.name = "web-0";
	md.uid = "1f4c0c8e-0b0d-4b7e-9c59-3b3a0c0f7e10";
	md.namespace_ = "default";
	c.metadata = &md;
	c.hostname = "web-0";
	c.log_directory = "/var/log/pods/default_web-0";
	dns.servers = servers;
	dns.n_servers = 1;
	dns.searches = searches;
	dns.n_searches = 3;
	dns.options = options;
	dns.n_options = 1;
	c.dns_config = &dns;
	r.cpu_period = 100000;
	r.cpu_quota = 250000;
	r.cpu_shares = 1024;
	r.memory_limit_in_bytes = 536870912;
	lc.cgroup_parent = "/kubepods/burstable/pod1f4c0c8e";
	lc.resources = &r;
	c.linux_config = &lc;
	an.key = "io.kuasar.vm.vcpus";
	an.value = "2";
	c.annotations = ans;
	c.n_annotations = 1;
	pod_seed("cri-pod", 2, &c,
		 "io.kubernetes.cri.sandbox-cpu-quota=200000\n"
		 "io.kubernetes.cri.sandbox-cpu-period=100000\n"
		 "io.kubernetes.cri.sandbox-memory=268435456\n"
		 "io.kuasar.vm.memory_mb=512");
	pod_seed("no-options", 0, NULL, "io.kuasar.vm.vcpus=4\nio.kuasar.vm.memory_mb=2048");
	c.dns_config = NULL;
	c.n_annotations = 0;
	pod_seed("empty-url", 1, &c, "");
}

/* ------------------------------------------------------------------ gRPC */

/* An HPACK string: 7-bit prefix length, no Huffman (RFC 7541 5.1, 5.2). */
static void put_hpack_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if (n < 127) {
		put_byte(b, (uint8_t)n);
	} else {
		put_byte(b, 127);
		for (n -= 127; n >= 128; n >>= 7)
			put_byte(b, (uint8_t)(n % 128 + 128));
		put_byte(b, (uint8_t)n);
	}
	put(b, s, strlen(s));
}

/* A header block of literals without indexing, new names (RFC 7541 6.2.2). */
static void put_hpack(struct buf *b, const char *const *nv)
{
	for (; nv[0]; nv += 2) {
		put_byte(b, 0);
		put_hpack_str(b, nv[0]);
		put_hpack_str(b, nv[1]);
	}
}

static void put_h2(struct buf *b, uint8_t type, uint8_t flags, uint32_t id, const void *d, size_t n)
{
	uint8_t h[9] = {
	    (uint8_t)(n >> 16),  (uint8_t)(n >> 8),   (uint8_t)n,         type,       flags,
	    (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
	put(b, h, 9);
	if (n)
		put(b, d, n);
}

enum { H2_DATA, H2_HEADERS, H2_RST = 3, H2_SETTINGS, H2_PING = 6, H2_GOAWAY, H2_CONT = 9 };
#define END_STREAM  0x1
#define END_HEADERS 0x4

/* HEADERS of a Controller call; extra: more name, value pairs. */
static void put_grpc_headers(struct buf *b, uint32_t id, const char *method, uint8_t flags,
			     const char *const *extra)
{
	_cleanup_free_ char *path =
	    xasprintf("/containerd.services.sandbox.v1.Controller/%s", method);
	const char *nv[64] = {":method",   "POST",    ":scheme", "http",         ":authority",
			      "localhost", ":path",   path,      "content-type", "application/grpc",
			      "te",        "trailers"};
	struct buf hb = {0};
	size_t n = 12;

	for (size_t i = 0; extra && extra[i]; i++)
		nv[n++] = extra[i];
	nv[n] = NULL;
	put_hpack(&hb, nv);
	put_h2(b, H2_HEADERS, END_HEADERS | flags, id, hb.p, hb.n);
	done(&hb);
}

/* DATA with one length-prefixed message. */
static void put_grpc_msg(struct buf *b, uint32_t id, const ProtobufCMessage *m, uint8_t flags)
{
	struct buf body = {0};
	uint8_t prefix[5] = {0};
	size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;

	prefix[1] = (uint8_t)(n >> 24);
	prefix[2] = (uint8_t)(n >> 16);
	prefix[3] = (uint8_t)(n >> 8);
	prefix[4] = (uint8_t)n;
	put(&body, prefix, 5);
	if (m)
		put_msg(&body, m);
	put_h2(b, H2_DATA, flags, id, body.p, body.n);
	done(&body);
}

/* After the client preface (the harness sends it). */
static void grpc_seeds(void)
{
	Containerd__Services__Sandbox__V1__ControllerStatusRequest st =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerWaitRequest wr =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_WAIT_REQUEST__INIT;
	const char *ns[] = {"containerd-namespace", "k8s.io", "grpc-timeout", "10S", NULL};
	const char *short_timeout[] = {"grpc-timeout", "1n", NULL};
	const uint8_t ping[8] = "kuasar-c", rst_cancel[4] = {0, 0, 0, 8};
	const uint8_t goaway[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	struct buf b = {0}, hb = {0};

	st.sandbox_id = "pod-1";
	wr.sandbox_id = "pod-1";

	/* A session as containerd's proxy runs it: SETTINGS, Status, Platform,
	 * two Waits answered by Stop, a PING. */
	put_h2(&b, H2_SETTINGS, 0, 0, NULL, 0);
	put_grpc_headers(&b, 1, "Status", 0, ns);
	put_grpc_msg(&b, 1, &st.base, END_STREAM);
	put_grpc_headers(&b, 3, "Platform", 0, NULL);
	put_grpc_msg(&b, 3, NULL, END_STREAM);
	put_grpc_headers(&b, 5, "Wait", 0, NULL);
	put_grpc_msg(&b, 5, &wr.base, END_STREAM);
	put_grpc_headers(&b, 7, "Wait", 0, short_timeout);
	put_grpc_msg(&b, 7, &wr.base, END_STREAM);
	put_h2(&b, H2_PING, 0, 0, ping, 8);
	put_grpc_headers(&b, 9, "Stop", 0, NULL);
	put_grpc_msg(&b, 9, &st.base, END_STREAM);
	st.verbose = 1;
	put_grpc_headers(&b, 11, "Status", 0, ns);
	put_grpc_msg(&b, 11, &st.base, END_STREAM);
	write_seed("grpc_server", "session", &b);
	done(&b);

	/* A cancelled Wait; a client GOAWAY. */
	put_h2(&b, H2_SETTINGS, 0, 0, NULL, 0);
	put_grpc_headers(&b, 1, "Wait", 0, NULL);
	put_grpc_msg(&b, 1, &wr.base, END_STREAM);
	put_h2(&b, H2_RST, 0, 1, rst_cancel, 4);
	put_grpc_headers(&b, 3, "Wait", 0, NULL);
	put_grpc_msg(&b, 3, &wr.base, END_STREAM);
	put_h2(&b, H2_GOAWAY, 0, 0, goaway, 8);
	write_seed("grpc_server", "cancel", &b);
	done(&b);

	/* Split: headers in HEADERS + CONTINUATION, the message in three DATA. */
	{
		const char *nv[] = {":method",
				    "POST",
				    ":scheme",
				    "http",
				    ":path",
				    "/containerd.services.sandbox.v1.Controller/Status",
				    "content-type",
				    "application/grpc+proto",
				    "x-trace",
				    "abc",
				    NULL};
		struct buf msg = {0};
		uint8_t prefix[5] = {0};
		put_hpack(&hb, nv);
		put_h2(&b, H2_SETTINGS, 0, 0, NULL, 0);
		put_h2(&b, H2_HEADERS, 0, 1, hb.p, 20);
		put_h2(&b, H2_CONT, END_HEADERS, 1, hb.p + 20, hb.n - 20);
		put_msg(&msg, &st.base);
		prefix[4] = (uint8_t)msg.n;
		put_h2(&b, H2_DATA, 0, 1, prefix, 3);
		put_h2(&b, H2_DATA, 0, 1, prefix + 3, 2);
		put_h2(&b, H2_DATA, END_STREAM, 1, msg.p, msg.n);
		write_seed("grpc_server", "split", &b);
		done(&b);
		done(&hb);
		done(&msg);
	}

	/* What the server must refuse: GET, a wrong content-type, a bad path, a
	 * compressed message, two messages, a bad grpc-timeout, gzip, a streaming
	 * method, a garbage body. */
	{
		const char *get[] = {":method", "GET", ":scheme", "http", ":path", "/a/b", NULL};
		const char *ct[] = {":method", "POST",         ":scheme",    "http", ":path",
				    "/a/b",    "content-type", "text/plain", NULL};
		const char *path[] = {":method", "POST",  ":scheme",      "http",
				      ":path",   "/nope", "content-type", "application/grpc",
				      NULL};
		const char *bad_timeout[] = {"grpc-timeout", "1s", NULL};
		const char *gzip[] = {"grpc-encoding", "gzip", NULL};
		put_h2(&b, H2_SETTINGS, 0, 0, NULL, 0);
		put_hpack(&hb, get);
		put_h2(&b, H2_HEADERS, END_HEADERS | END_STREAM, 1, hb.p, hb.n);
		done(&hb);
		put_hpack(&hb, ct);
		put_h2(&b, H2_HEADERS, END_HEADERS, 3, hb.p, hb.n);
		put_h2(&b, H2_DATA, END_STREAM, 3, "\0\0\0\0\0", 5);
		done(&hb);
		put_hpack(&hb, path);
		put_h2(&b, H2_HEADERS, END_HEADERS | END_STREAM, 5, hb.p, hb.n);
		done(&hb);
		put_grpc_headers(&b, 7, "Status", 0, NULL);
		put_h2(&b, H2_DATA, END_STREAM, 7, "\1\0\0\0\1x", 6);
		put_grpc_headers(&b, 9, "Status", 0, NULL);
		put_h2(&b, H2_DATA, END_STREAM, 9, "\0\0\0\0\0\0\0\0\0\0", 10);
		put_grpc_headers(&b, 11, "Status", 0, bad_timeout);
		put_grpc_msg(&b, 11, &st.base, END_STREAM);
		put_grpc_headers(&b, 13, "Status", 0, gzip);
		put_grpc_msg(&b, 13, &st.base, END_STREAM);
		put_grpc_headers(&b, 15, "Stream", 0, NULL);
		put_grpc_msg(&b, 15, NULL, END_STREAM);
		put_grpc_headers(&b, 17, "Status", 0, NULL);
		put_h2(&b, H2_DATA, END_STREAM, 17, "\0\0\0\0\3\xff\xff\xff", 8);
		put_grpc_headers(&b, 19, "Status", END_STREAM, NULL);
		write_seed("grpc_server", "refusals", &b);
		done(&b);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	top = argv[1];
	frame_seeds();
	server_seeds();
	client_seeds();
	pb_seeds();
	pod_seeds();
	grpc_seeds();
	return 0;
}
