/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoints in one address syntax, shared by every component:
 *   unix:///path (or a bare /path)   AF_UNIX stream socket
 *   vsock://CID:PORT                 AF_VSOCK (CID -1 = any, for listening)
 *   hvsock:///uds/path:PORT          hybrid vsock (cloud-hypervisor, firecracker,
 *                                    vhost-device-vsock): connect to the UDS,
 *                                    send "CONNECT PORT\n", expect a line "OK ..."
 * A "ttrpc+" scheme prefix and a "?query" suffix (streaming ids) are accepted
 * and ignored.
 */
#ifndef KC_ENDPOINT_H
#define KC_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "err.h"
#include "loop.h"

enum kc_ep_kind { KC_EP_UNIX, KC_EP_VSOCK, KC_EP_HVSOCK };

#define KC_VSOCK_CID_ANY  0xffffffffu
#define KC_VSOCK_CID_HOST 2u

struct kc_endpoint {
	enum kc_ep_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix, hvsock */
	uint32_t cid;                                           /* vsock */
	uint32_t port;                                          /* vsock, hvsock */
};

int kc_endpoint_parse(const char *addr, struct kc_endpoint *ep, kc_err **err);
/* Canonical text form (malloc'd). */
char *kc_endpoint_format(const struct kc_endpoint *ep);

/* Listening socket, CLOEXEC + NONBLOCK. For unix, a stale socket file is
 * replaced. For hvsock, listens on the host side of guest-initiated
 * connections: the unix socket "PATH_PORT". */
int kc_listen(const struct kc_endpoint *ep, kc_err **err);
/* The peer of a connected AF_VSOCK socket: 1 and *cid, *port filled; 0 if fd
 * is not an AF_VSOCK socket; < 0 on error. */
int kc_vsock_peer(int fd, uint32_t *cid, uint32_t *port, kc_err **err);
int kc_listen_addr(const char *addr, kc_err **err);

/* Connect once; for hvsock, do the CONNECT/OK handshake, waiting for the answer
 * no later than deadline_ns (CLOCK_MONOTONIC). Returns a blocking CLOEXEC fd.
 * Errors that mean "not there yet" are reported with errno ENOENT,
 * ECONNREFUSED, ECONNRESET or ETIMEDOUT. */
int kc_dial_once(const struct kc_endpoint *ep, uint64_t deadline_ns, kc_err **err);
/* Retry kc_dial_once until it succeeds or the deadline passes (a VM that is
 * still booting, a daemon that is still starting). Backoff grows from 1 ms to
 * 50 ms and never sleeps past the deadline. */
int kc_dial(const struct kc_endpoint *ep, uint64_t deadline_ns, kc_err **err);
/* Does this errno from a dial attempt mean "not there yet, try again"? */
bool kc_dial_retryable(int e);
int kc_dial_addr(const char *addr, uint64_t deadline_ns, kc_err **err);

/* Asynchronous kc_dial on a loop: cb gets a connected fd (owned by the callee)
 * or < 0 with err. Returned handle can cancel before completion. */
typedef struct kc_dialer kc_dialer;
typedef void (*kc_dial_fn)(int fd, kc_err *err, void *ud);
kc_dialer *kc_dial_async(kc_loop *loop, const struct kc_endpoint *ep, uint64_t deadline_ns,
			 kc_dial_fn cb, void *ud);
void kc_dialer_cancel(kc_dialer *d);

#endif
