/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may talk to vmm-task. Over vsock only the host (CID 2) may: AF_VSOCK is
 * not network-namespaced, so a container process could otherwise dial the API,
 * a stdio port or the debug console from inside the VM (loopback transport,
 * or the VM's own CID through the VMM). Hybrid vsock (cloud-hypervisor,
 * vhost-device-vsock) delivers host-side connections with peer CID 2 as
 * kernel vhost-vsock does. Unix sockets (host mode) are left to file
 * permissions.
 */
#ifndef KC_PEER_H
#define KC_PEER_H

#include <stdbool.h>

/* A kc_peer_fn (accept.h): true for a unix socket or a vsock peer with CID 2.
 * what (a const char *) names the listener in the one debug line logged for
 * the first refused peer; later refusals are counted, not logged. */
bool kc_peer_allowed(int fd, void *what);
/* Refused connections so far (tests, Check). */
unsigned long kc_peer_refused(void);

#endif
