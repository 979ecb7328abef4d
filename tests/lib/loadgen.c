/* SPDX-License-Identifier: Apache-2.0 */
#include "loadgen.h"

#include <sys/socket.h>
#include <unistd.h>

#include "endpoint.h"
#include "frame.h"
#include "util.h"

#define DIAL_NS (10 * KC_NSEC_PER_SEC)

int loadgen_idle(const char *addr, int n, int *fds, kc_err **err)
{
	struct kc_endpoint ep;

	if (kc_endpoint_parse(addr, &ep, err) < 0)
		return kc_err_retp(err);
	for (int i = 0; i < n; i++) {
		fds[i] = kc_dial_once(&ep, kc_now_ns() + DIAL_NS, err);
		if (fds[i] < 0) {
			loadgen_close(fds, i);
			return kc_err_wrap(err, "connection %d", i);
		}
	}
	return 0;
}

/* MSG_NOSIGNAL: a peer the server dropped must not SIGPIPE the test. */
static size_t send_some(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	return off;
}

int loadgen_partial_frames(const char *addr, int n, int *fds, kc_err **err)
{
	static uint8_t junk[1 << 16];
	uint8_t hdr[TTRPC_HDR_LEN];

	if (loadgen_idle(addr, n, fds, err) < 0)
		return kc_err_retp(err);
	ttrpc_hdr_encode(
	    &(struct ttrpc_hdr){.len = TTRPC_MAX_DATA, .stream_id = 1, .type = TTRPC_TYPE_REQUEST},
	    hdr);
	for (int i = 0; i < n; i++) {
		size_t left = TTRPC_MAX_DATA - 1;
		if (send_some(fds[i], hdr, sizeof(hdr)) < sizeof(hdr))
			continue; /* dropped already */
		while (left > 0) {
			size_t chunk = left < sizeof(junk) ? left : sizeof(junk);
			size_t sent = send_some(fds[i], junk, chunk);
			left -= sent;
			if (sent < chunk)
				break; /* the server dropped us: its byte budget */
		}
	}
	return 0;
}

void loadgen_close(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
