/* SPDX-License-Identifier: Apache-2.0 */
/* Address parsing and the hybrid-vsock dialer against a stand-in VMM socket
 * that implements cloud-hypervisor's CONNECT/OK handshake. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "endpoint.h"
#include "testutil.h"
#include "util.h"

Test(endpoint, parse_forms)
{
	struct kc_endpoint ep;
	KC_OK(kc_endpoint_parse("unix:///run/a.sock", &ep, err_));
	cr_assert_eq(ep.kind, KC_EP_UNIX);
	cr_assert_str_eq(ep.path, "/run/a.sock");
	KC_OK(kc_endpoint_parse("/run/b.sock", &ep, err_));
	cr_assert_str_eq(ep.path, "/run/b.sock");
	KC_OK(kc_endpoint_parse("vsock://-1:1024", &ep, err_));
	cr_assert_eq(ep.kind, KC_EP_VSOCK);
	cr_assert_eq(ep.cid, KC_VSOCK_CID_ANY);
	cr_assert_eq(ep.port, 1024);
	KC_OK(kc_endpoint_parse("vsock://3:2000", &ep, err_));
	cr_assert_eq(ep.cid, 3);
	KC_OK(kc_endpoint_parse("ttrpc+hvsock:///run/kuasar-vmm/abc/task.vsock:1024", &ep, err_));
	cr_assert_eq(ep.kind, KC_EP_HVSOCK);
	cr_assert_str_eq(ep.path, "/run/kuasar-vmm/abc/task.vsock");
	cr_assert_eq(ep.port, 1024);
	KC_OK(kc_endpoint_parse("hvsock:///x.vsock:1024?streaming_id=c-stdout", &ep, err_));
	cr_assert_str_eq(ep.path, "/x.vsock");
	_cleanup_free_ char *s = kc_endpoint_format(&ep);
	cr_assert_str_eq(s, "hvsock:///x.vsock:1024");
}

Test(endpoint, parse_errors_name_the_problem)
{
	const char *bad[][2] = {
	    {"", "empty address"},
	    {"tcp://1.2.3.4:5", "unknown scheme"},
	    {"vsock://3", "expected vsock://CID:PORT"},
	    {"vsock://x:1", "bad CID"},
	    {"vsock://3:99999999999", "bad port"},
	    {"hvsock://:1024", "expected hvsock://UDS_PATH:PORT"},
	    {"hvsock:///a:b", "bad port"},
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		struct kc_endpoint ep;
		kc_err *e = NULL;
		cr_assert_lt(kc_endpoint_parse(bad[i][0], &ep, &e), 0, "%s", bad[i][0]);
		cr_assert(strstr(e->msg, bad[i][1]), "`%s`: %s", bad[i][0], e->msg);
		kc_err_free(e);
	}
	char longp[200];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:///", 8);
	longp[199] = 0;
	kc_err *e = NULL;
	struct kc_endpoint ep;
	cr_assert_lt(kc_endpoint_parse(longp, &ep, &e), 0);
	cr_assert_eq(e->code, ENAMETOOLONG);
	kc_err_free(e);
}

/* A stand-in VMM: refuses (closes) the first `refuse` connections as a VMM does
 * while the guest is not listening yet, then answers "OK <n>" and echoes. */
static pid_t standin(const char *path, int refuse, bool answer_garbage)
{
	kc_err *e = NULL;
	int lfd = kc_listen_addr(path, &e);
	cr_assert_geq(lfd, 0, "%s", kc_err_msg(e));
	kc_set_nonblock(lfd, false);
	pid_t pid = fork();
	if (pid == 0) {
		for (int n = 0;; n++) {
			char line[64] = {0};
			size_t k = 0;
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				_exit(1);
			while (k < sizeof(line) - 1 && read(c, line + k, 1) == 1 && line[k] != '\n')
				k++;
			if (n < refuse || strncmp(line, "CONNECT 1024", 12)) {
				close(c);
				continue;
			}
			if (answer_garbage) {
				(void)!write(c, "NO\n", 3);
				close(c);
				continue;
			}
			(void)!write(c, "OK 1073741824\nhello", 19); /* payload right after OK */
			char buf[64];
			ssize_t r;
			while ((r = read(c, buf, sizeof(buf))) > 0)
				(void)!write(c, buf, (size_t)r);
			close(c);
		}
	}
	close(lfd);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

Test(hvsock, retries_until_guest_listens_and_keeps_payload)
{
	_cleanup_free_ char *dir = tu_tmpdir("hv");
	_cleanup_free_ char *sock = xasprintf("%s/task.vsock", dir);
	_cleanup_free_ char *addr = xasprintf("hvsock://%s:1024", sock);
	pid_t pid = standin(sock, 5, false);
	kc_err *e = NULL;
	char buf[16] = {0};

	int fd = kc_dial_addr(addr, kc_now_ns() + 5 * KC_NSEC_PER_SEC, &e);
	cr_assert_geq(fd, 0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_read_all(fd, buf, 5), 5);
	cr_assert_str_eq(buf, "hello", "bytes after the OK line must not be eaten");
	cr_assert_eq(write(fd, "ping", 4), 4);
	cr_assert_eq(kc_read_all(fd, buf, 4), 4);
	cr_assert_arr_eq(buf, "ping", 4);
	close(fd);
	stop(pid);
	tu_rmtree(dir);
}

Test(hvsock, deadline_when_never_listening)
{
	_cleanup_free_ char *dir = tu_tmpdir("hv");
	_cleanup_free_ char *sock = xasprintf("%s/task.vsock", dir);
	_cleanup_free_ char *addr = xasprintf("hvsock://%s:1024", sock);
	pid_t pid = standin(sock, 1 << 30, false);
	kc_err *e = NULL;
	uint64_t t0 = kc_now_ns();

	int fd = kc_dial_addr(addr, t0 + 300 * KC_NSEC_PER_MSEC, &e);
	uint64_t took = kc_now_ns() - t0;
	cr_assert_lt(fd, 0);
	cr_assert(strstr(e->msg, "gave up at deadline"), "%s", e->msg);
	cr_assert(strstr(e->msg, "guest not listening") || strstr(e->msg, "no answer"), "%s",
		  e->msg);
	cr_assert_geq(took, 300 * KC_NSEC_PER_MSEC);
	cr_assert_lt(took, 1500 * KC_NSEC_PER_MSEC, "must stop at the deadline");
	kc_err_free(e);
	stop(pid);
	tu_rmtree(dir);
}

Test(hvsock, refusal_answer_is_an_error)
{
	_cleanup_free_ char *dir = tu_tmpdir("hv");
	_cleanup_free_ char *sock = xasprintf("%s/task.vsock", dir);
	_cleanup_free_ char *addr = xasprintf("hvsock://%s:1024", sock);
	pid_t pid = standin(sock, 0, true);
	kc_err *e = NULL;

	int fd = kc_dial_addr(addr, kc_now_ns() + KC_NSEC_PER_SEC, &e);
	cr_assert_lt(fd, 0);
	cr_assert(strstr(e->msg, "refused: `NO`"), "%s", e->msg);
	kc_err_free(e);
	stop(pid);
	tu_rmtree(dir);
}

Test(hvsock, missing_socket_waits_for_it)
{
	_cleanup_free_ char *dir = tu_tmpdir("hv");
	_cleanup_free_ char *sock = xasprintf("%s/task.vsock", dir);
	_cleanup_free_ char *addr = xasprintf("hvsock://%s:1024", sock);
	kc_err *e = NULL;
	uint64_t t0 = kc_now_ns();

	int fd = kc_dial_addr(addr, t0 + 100 * KC_NSEC_PER_MSEC, &e);
	cr_assert_lt(fd, 0);
	cr_assert_eq(e->code, ENOENT, "%s", e->msg);
	kc_err_free(e);
	tu_rmtree(dir);
}

struct dres {
	bool done;
	int fd;
	char msg[256];
};

static void on_dial(int fd, kc_err *err, void *ud)
{
	struct dres *r = ud;
	r->done = true;
	r->fd = fd;
	snprintf(r->msg, sizeof(r->msg), "%s", err ? err->msg : "");
}

Test(hvsock, async_dial_on_loop)
{
	_cleanup_free_ char *dir = tu_tmpdir("hv");
	_cleanup_free_ char *sock = xasprintf("%s/task.vsock", dir);
	_cleanup_free_ char *addr = xasprintf("hvsock://%s:1024", sock);
	pid_t pid = standin(sock, 3, false);
	struct kc_endpoint ep;
	kc_loop *loop;
	struct dres r = {0};
	char buf[8] = {0};

	KC_OK(kc_loop_new(&loop, err_));
	KC_OK(kc_endpoint_parse(addr, &ep, err_));
	kc_dial_async(loop, &ep, kc_now_ns() + 5 * KC_NSEC_PER_SEC, on_dial, &r);
	cr_assert(tu_loop_until(loop, &r.done, 5000));
	cr_assert_geq(r.fd, 0, "%s", r.msg);
	cr_assert_eq(kc_read_all(r.fd, buf, 5), 5);
	cr_assert_str_eq(buf, "hello");
	close(r.fd);
	stop(pid);

	/* And the deadline path. */
	pid = standin(sock, 1 << 30, false);
	r = (struct dres){0};
	kc_dial_async(loop, &ep, kc_now_ns() + 200 * KC_NSEC_PER_MSEC, on_dial, &r);
	cr_assert(tu_loop_until(loop, &r.done, 3000));
	cr_assert_lt(r.fd, 0);
	cr_assert(strstr(r.msg, "gave up at deadline"), "%s", r.msg);
	stop(pid);
	kc_loop_free(loop);
	tu_rmtree(dir);
}
