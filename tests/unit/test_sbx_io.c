/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's asynchronous clients against fake peers on the same loop:
 * cloud-hypervisor's REST API (host/sandboxer/chapi.c; no CH binary exists
 * here, so this is how its HTTP exchange is checked) and QMP with the vsock
 * DRIVER_OK gate (host/sandboxer/qmp.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../host/sandboxer/chapi.h"
#include "../../host/sandboxer/qmp.h"
#include "endpoint.h"
#include "testutil.h"
#include "util.h"

static kc_loop *L;
static char *tmp, *sock;

/* A one-connection fake server: `answer` turns each received line (or HTTP
 * request) into a reply; NULL closes the connection. */
struct fake {
	int lfd, cfd;
	kc_watch *lw, *cw;
	char buf[65536];
	size_t len;
	bool http;
	char *(*answer)(struct fake *f, const char *req);
	int n_req;
	char last_req[512];
	int status_queries;
};
static struct fake F;

static void fake_close(struct fake *f)
{
	kc_watch_free(f->cw);
	f->cw = NULL;
	if (f->cfd >= 0)
		close(f->cfd);
	f->cfd = -1;
}

static void on_conn(kc_watch *w, int fd, uint32_t ev, void *ud)
{
	struct fake *f = ud;
	ssize_t n = read(fd, f->buf + f->len, sizeof(f->buf) - f->len - 1);
	char *end;
	(void)w;
	(void)ev;

	if (n <= 0)
		return fake_close(f);
	f->len += (size_t)n;
	f->buf[f->len] = '\0';
	while ((end = strstr(f->buf, f->http ? "\r\n\r\n" : "\n"))) {
		size_t used = (size_t)(end - f->buf) + (f->http ? 4 : 1);
		_cleanup_free_ char *reply = NULL;
		*end = '\0';
		f->n_req++;
		snprintf(f->last_req, sizeof(f->last_req), "%.500s", f->buf);
		reply = f->answer(f, f->buf);
		memmove(f->buf, f->buf + used, f->len - used + 1);
		f->len -= used;
		if (!reply)
			return fake_close(f);
		cr_assert_eq(kc_write_all(fd, reply, strlen(reply)), 0);
	}
}

static void on_accept(kc_watch *w, int fd, uint32_t ev, void *ud)
{
	struct fake *f = ud;
	(void)w;
	(void)ev;
	f->cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (f->cfd < 0)
		return;
	if (!f->http) {
		const char *hello = "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n";
		cr_assert_eq(kc_write_all(f->cfd, hello, strlen(hello)), 0);
	}
	cr_assert_eq(kc_loop_watch(L, f->cfd, EPOLLIN, on_conn, f, &f->cw, NULL), 0);
}

static void fake_start(bool http, char *(*answer)(struct fake *, const char *))
{
	struct kc_endpoint ep = {.kind = KC_EP_UNIX};
	memset(&F, 0, sizeof(F));
	F.http = http;
	F.answer = answer;
	F.cfd = -1;
	snprintf(ep.path, sizeof(ep.path), "%s", sock);
	F.lfd = kc_listen(&ep, NULL);
	cr_assert_geq(F.lfd, 0);
	cr_assert_eq(kc_loop_watch(L, F.lfd, EPOLLIN, on_accept, &F, &F.lw, NULL), 0);
}

static void setup(void)
{
	cr_assert_eq(kc_loop_new(&L, NULL), 0);
	tmp = tu_tmpdir("sbxio");
	sock = xasprintf("%s/s.sock", tmp);
}

static void teardown(void)
{
	fake_close(&F);
	kc_watch_free(F.lw);
	if (F.lfd > 0)
		close(F.lfd);
	kc_loop_free(L);
	tu_rmtree(tmp);
	free(tmp);
	free(sock);
}

TestSuite(chapi, .init = setup, .fini = teardown, .timeout = 20);
TestSuite(qmp, .init = setup, .fini = teardown, .timeout = 20);

/* ------------------------------------------------------------------ CH REST API */

struct api_result {
	bool done;
	int status;
	int code;
	char msg[256];
};

static void on_api(int status, kc_err *err, void *ud)
{
	struct api_result *r = ud;
	r->done = true;
	r->status = status;
	r->code = err ? err->code : 0;
	snprintf(r->msg, sizeof(r->msg), "%s", err ? kc_err_msg(err) : "");
}

static char *http_204(struct fake *f, const char *req)
{
	(void)f;
	(void)req;
	return xstrdup("HTTP/1.1 204 No Content\r\nServer: Cloud Hypervisor API\r\n\r\n");
}

static char *http_500(struct fake *f, const char *req)
{
	(void)f;
	(void)req;
	return xstrdup("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
}

static char *http_silent(struct fake *f, const char *req)
{
	(void)f;
	(void)req;
	return xstrdup("");
}

Test(chapi, put_vm_shutdown)
{
	struct api_result r = {0};
	fake_start(true, http_204);
	sbx_chapi_put(L, sock, "vm.shutdown", kc_now_ns() + 5 * KC_NSEC_PER_SEC, on_api, &r);
	cr_assert(tu_loop_until(L, &r.done, 5000));
	cr_assert_eq(r.status, 204, "%s", r.msg);
	cr_assert_eq(r.code, 0);
	cr_assert(kc_has_prefix(F.last_req, "PUT /api/v1/vm.shutdown HTTP/1.1\r\n"), "%s",
		  F.last_req);
	cr_assert(strstr(F.last_req, "\r\nContent-Length: 0"));
}

Test(chapi, http_error_status)
{
	struct api_result r = {0};
	fake_start(true, http_500);
	sbx_chapi_put(L, sock, "vmm.shutdown", kc_now_ns() + 5 * KC_NSEC_PER_SEC, on_api, &r);
	cr_assert(tu_loop_until(L, &r.done, 5000));
	cr_assert_eq(r.status, 500);
	cr_assert_str_eq(r.msg, "cloud-hypervisor API `vmm.shutdown`: HTTP 500");
}

Test(chapi, no_socket_and_deadline)
{
	struct api_result r = {0};
	sbx_chapi_put(L, sock, "vm.shutdown", kc_now_ns() + 5 * KC_NSEC_PER_SEC, on_api, &r);
	cr_assert(tu_loop_until(L, &r.done, 5000));
	cr_assert_eq(r.code, ENOENT, "%s", r.msg);

	memset(&r, 0, sizeof(r));
	fake_start(true, http_silent);
	sbx_chapi_put(L, sock, "vm.shutdown", kc_now_ns() + 200 * KC_NSEC_PER_MSEC, on_api, &r);
	cr_assert(tu_loop_until(L, &r.done, 5000));
	cr_assert_eq(r.code, ETIMEDOUT, "%s", r.msg);
}

Test(chapi, cancel_means_no_callback)
{
	struct api_result r = {0};
	bool never = false;
	fake_start(true, http_204);
	sbx_chapi_cancel(
	    sbx_chapi_put(L, sock, "vm.shutdown", kc_now_ns() + KC_NSEC_PER_SEC, on_api, &r));
	tu_loop_until(L, &never, 100);
	cr_assert(!r.done);
}

/* ------------------------------------------------------------------ QMP */

static const char *cmd_of(const char *req)
{
	static char name[64];
	json_t *j = json_loads(req, 0, NULL);
	snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(j, "execute")));
	json_decref(j);
	return name;
}

/* A QEMU whose vsock driver gets ready at the 4th status query; an event
 * comes before some answers. */
static char *qemu(struct fake *f, const char *req)
{
	const char *cmd = cmd_of(req);
	if (!strcmp(cmd, "qmp_capabilities"))
		return xstrdup("{\"return\": {}}\r\n");
	if (!strcmp(cmd, "x-query-virtio"))
		return xstrdup("{\"return\": [{\"name\": \"virtio-blk\", \"path\": \"/m/blk\"}, "
			       "{\"name\": \"vhost-user-vsock\", \"path\": \"/m/vsock\"}]}\r\n");
	if (!strcmp(cmd, "x-query-virtio-status")) {
		cr_assert(strstr(req, "\"path\":\"/m/vsock\""), "%s", req);
		if (++f->status_queries < 4)
			return xstrdup("{\"event\": \"NIC_RX_FILTER_CHANGED\", \"data\": {}}\r\n"
				       "{\"return\": {\"status\": {\"statuses\": "
				       "[\"VIRTIO_CONFIG_S_ACKNOWLEDGE\"]}}}\r\n");
		return xstrdup("{\"return\": {\"status\": {\"statuses\": [\"VIRTIO_CONFIG_S_"
			       "ACKNOWLEDGE\", \"VIRTIO_CONFIG_S_DRIVER\", "
			       "\"VIRTIO_CONFIG_S_DRIVER_OK: driver is ready\"]}}}\r\n");
	}
	if (!strcmp(cmd, "quit"))
		return NULL;
	return xasprintf("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command "
			 "%s has not been found\"}}\r\n",
			 cmd);
}

static char *qemu_no_vsock(struct fake *f, const char *req)
{
	if (!strcmp(cmd_of(req), "x-query-virtio"))
		return xstrdup(
		    "{\"return\": [{\"name\": \"virtio-net\", \"path\": \"/m/n\"}]}\r\n");
	return qemu(f, req);
}

static char *qemu_never_ready(struct fake *f, const char *req)
{
	if (!strcmp(cmd_of(req), "x-query-virtio-status"))
		return xstrdup("{\"return\": {\"status\": {\"statuses\": []}}}\r\n");
	return qemu(f, req);
}

static char *qemu_dies(struct fake *f, const char *req)
{
	if (!strcmp(cmd_of(req), "x-query-virtio-status"))
		return NULL;
	return qemu(f, req);
}

struct gate_result {
	bool done;
	int code;
	char msg[256];
};

static void on_gate(kc_err *err, void *ud)
{
	struct gate_result *g = ud;
	g->done = true;
	g->code = err ? err->code : 0;
	snprintf(g->msg, sizeof(g->msg), "%s", err ? kc_err_msg(err) : "");
}

static int gate(char *(*answer)(struct fake *, const char *), uint64_t deadline_ms,
		struct gate_result *g, uint64_t *took_ms)
{
	sbx_qmp *q = NULL;
	uint64_t t0 = kc_now_ns();

	fake_start(false, answer);
	cr_assert_eq(sbx_qmp_open(L, sock, &q, NULL), 0);
	sbx_qmp_wait_driver_ok(q, "vsock", t0 + deadline_ms * KC_NSEC_PER_MSEC, on_gate, g);
	cr_assert(tu_loop_until(L, &g->done, 10000));
	sbx_qmp_free(q);
	if (took_ms)
		*took_ms = (kc_now_ns() - t0) / KC_NSEC_PER_MSEC;
	return g->code;
}

Test(qmp, gate_waits_for_driver_ok_then_settles)
{
	struct gate_result g = {0};
	uint64_t ms;
	cr_assert_eq(gate(qemu, 5000, &g, &ms), 0, "%s", g.msg);
	cr_assert_eq(F.status_queries, 4);
	/* 3 more queries 10 ms apart, then 50 ms settle. */
	cr_assert_geq(ms, 80);
}

Test(qmp, gate_errors)
{
	struct gate_result g = {0};
	cr_assert_eq(gate(qemu_no_vsock, 5000, &g, NULL), ENODEV, "%s", g.msg);
	cr_assert_str_eq(g.msg, "qmp: the VM has no vsock device");
	fake_close(&F);
	kc_watch_free(F.lw);
	close(F.lfd);

	memset(&g, 0, sizeof(g));
	cr_assert_eq(gate(qemu_never_ready, 200, &g, NULL), ETIMEDOUT, "%s", g.msg);
	cr_assert_str_eq(g.msg, "the guest's vsock driver did not get ready (no DRIVER_OK)");
	fake_close(&F);
	kc_watch_free(F.lw);
	close(F.lfd);

	memset(&g, 0, sizeof(g));
	cr_assert_eq(gate(qemu_dies, 5000, &g, NULL), ECONNRESET, "%s", g.msg);
}

struct cmd_result {
	bool done;
	char *ret;
	char msg[256];
};

static void on_cmd(sbx_qmp *q, json_t *ret, kc_err *err, void *ud)
{
	struct cmd_result *r = ud;
	(void)q;
	r->done = true;
	r->ret = ret ? json_dumps(ret, JSON_COMPACT) : NULL;
	snprintf(r->msg, sizeof(r->msg), "%s", err ? kc_err_msg(err) : "");
}

Test(qmp, commands_in_order_and_errors)
{
	struct cmd_result a = {0}, b = {0};
	sbx_qmp *q = NULL;

	fake_start(false, qemu);
	cr_assert_eq(sbx_qmp_open(L, sock, &q, NULL), 0);
	sbx_qmp_exec(q, "x-query-virtio", NULL, on_cmd, &a);
	sbx_qmp_exec(q, "no-such-command", json_pack("{s:i}", "x", 1), on_cmd, &b);
	cr_assert(tu_loop_until(L, &b.done, 5000));
	cr_assert(a.done);
	cr_assert(a.ret && strstr(a.ret, "vhost-user-vsock"), "%s", a.ret);
	cr_assert_null(b.ret);
	cr_assert_str_eq(b.msg,
			 "qmp `no-such-command`: The command no-such-command has not been found");
	free(a.ret);
	sbx_qmp_free(q);
}
