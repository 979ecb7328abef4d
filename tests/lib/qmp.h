/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small QMP client (QEMU's JSON control socket) for tests, benchmarks and,
 * later, the sandboxer: commands with deadlines, asynchronous events kept for
 * kc_qmp_wait_event, and the vsock readiness gate.
 *
 * The gate: vhost-device-vsock 0.3.0 can wedge for the rest of a boot when a
 * host CONNECT reaches it before it has set up its vrings (seen in about 1 of
 * 12 boots under TCG). kc_qmp_wait_vsock polls x-query-virtio-status until the
 * guest driver has set DRIVER_OK on the vsock device, then waits a little
 * longer, because QEMU reports DRIVER_OK before the daemon has processed the
 * vring setup that follows. After that it never wedged. Every host-side dialer
 * of a QEMU guest with vhost-user vsock should pass this gate first.
 */
#ifndef KC_QMP_H
#define KC_QMP_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

typedef struct kc_qmp kc_qmp;

/* Connect to QEMU's QMP socket (retrying while QEMU has not created it yet,
 * until deadline_ns on CLOCK_MONOTONIC) and negotiate capabilities. */
int kc_qmp_connect(const char *sock, uint64_t deadline_ns, kc_qmp **ret, kc_err **err);
void kc_qmp_close(kc_qmp *q);

/* Run one command (a JSON object, without the trailing newline) and return its
 * "return" member (a new reference). A QMP error is an EPROTO kc_err with
 * QEMU's description. */
json_t *kc_qmp_cmd(kc_qmp *q, const char *json, uint64_t deadline_ns, kc_err **err);

/* Wait for the event named `name` (e.g. "SHUTDOWN"), including one that
 * arrived while a command was running. Returns the whole event object (a new
 * reference; "data" holds its arguments). ECONNRESET when QEMU closes the
 * socket first. */
json_t *kc_qmp_wait_event(kc_qmp *q, const char *name, uint64_t deadline_ns, kc_err **err);

/* The readiness gate described above, on a connected client. ENODEV when the
 * VM has no vsock device. */
int kc_qmp_wait_vsock(kc_qmp *q, uint64_t deadline_ns, kc_err **err);
/* The same for a socket path: connect, wait, close. */
int kc_qmp_wait_vsock_at(const char *sock, uint64_t deadline_ns, kc_err **err);

#endif
