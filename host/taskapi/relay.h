/* SPDX-License-Identifier: Apache-2.0 */
/* Stdio relays: containerd IO URI (fifo, file, binary logger) <-> one guest
 * vsock port per stream, over the VMM's hybrid vsock socket. */
#ifndef KC_TASKAPI_RELAY_H
#define KC_TASKAPI_RELAY_H

#include <stdint.h>

#include "err.h"

struct tpod;

struct relay;
typedef void (*relay_done_fn)(struct relay *r, void *ud);
/* idx 0 = stdin (uri -> port), 1/2 = stdout/stderr (port -> uri), over the
 * pod's vsock socket, on its loop. */
int relay_start(struct tpod *pod, int idx, const char *uri, uint32_t port, relay_done_fn fn,
		void *ud, struct relay **ret, kc_err **err);
/* Flush what containerd sent, then close the guest's stdin. */
void relay_close_stdin(struct relay *r);
void relay_free(struct relay *r);

#endif
