/* SPDX-License-Identifier: Apache-2.0 */
/* Stdio relays: containerd IO URI (fifo, file, binary logger) <-> one guest
 * vsock port per stream, over the VMM's hybrid vsock socket. */
#ifndef KC_SHIM_RELAY_H
#define KC_SHIM_RELAY_H

#include <stdint.h>

#include "err.h"

struct relay;
typedef void (*relay_done_fn)(struct relay *r, void *ud);
/* idx 0 = stdin (uri -> port), 1/2 = stdout/stderr (port -> uri). */
int relay_start(int idx, const char *uri, const char *vsock_uds, uint32_t port, relay_done_fn fn,
		void *ud, struct relay **ret, kc_err **err);
/* Flush what containerd sent, then close the guest's stdin. */
void relay_close_stdin(struct relay *r);
void relay_free(struct relay *r);

#endif
