/* SPDX-License-Identifier: Apache-2.0 */
#include "peer.h"

#include <stdint.h>

#include "endpoint.h"
#include "log.h"
#include "util.h"

static unsigned long refused;

bool kc_peer_allowed(int fd, void *what)
{
	_cleanup_err_ kc_err *err = NULL;
	uint32_t cid = 0, port = 0;
	int r = kc_vsock_peer(fd, &cid, &port, &err);

	if (r == 0 || (r > 0 && cid == KC_VSOCK_CID_HOST))
		return true;
	/* A peer we cannot identify is refused too. A container can connect
	 * in a loop: log the first one only, at debug level. */
	if (refused++ == 0) {
		if (r < 0)
			log_debug("%s: refused a connection: %s (further refusals are not logged)",
				  (const char *)what, kc_err_msg(err));
		else
			log_debug("%s: refused a vsock connection from CID %u port %u: only the "
				  "host (CID 2) may connect (further refusals are not logged)",
				  (const char *)what, cid, port);
	}
	return false;
}

unsigned long kc_peer_refused(void)
{
	return refused;
}
