/* SPDX-License-Identifier: Apache-2.0 */
#include "serve.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "endpoint.h"
#include "loop.h"
#include "util.h"

static void on_signal(kc_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	kc_loop_quit(data);
}

int tu_serve(const char *addr, const struct ttrpc_service *svc, void (*ready)(void), kc_err **err)
{
	kc_loop *loop = NULL;
	ttrpc_server *srv = NULL;
	kc_watch *sigw = NULL;
	_cleanup_close_ int sfd = -1;
	sigset_t mask;
	int lfd, r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return kc_err_sys(err, "signalfd");
	r = kc_loop_new(&loop, err);
	if (r < 0)
		return r;
	lfd = r = kc_listen_addr(addr, err);
	if (r < 0)
		goto out;
	r = ttrpc_server_new(loop, &srv, err);
	if (r < 0) {
		close(lfd);
		goto out;
	}
	ttrpc_server_register(srv, svc, NULL);
	r = ttrpc_server_listen(srv, lfd, err);
	if (r >= 0)
		r = kc_loop_watch(loop, sfd, EPOLLIN, on_signal, loop, &sigw, err);
	if (r < 0)
		goto out;
	if (ready)
		ready();
	r = kc_loop_run(loop, err);
out:
	kc_watch_free(sigw);
	ttrpc_server_free(srv); /* cancels parked calls */
	kc_loop_free(loop);
	return r;
}
