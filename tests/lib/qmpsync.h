/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests and benches drive QEMU's QMP through the sandboxer's client
 * (host/sandboxer/qmp.h, the one implementation of the DRIVER_OK vsock gate),
 * made synchronous here by a private loop: top-level test code only.
 */
#ifndef KC_QMPSYNC_H
#define KC_QMPSYNC_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

typedef struct kc_qmp kc_qmp;

/* Connect to QEMU's QMP socket (retrying while QEMU has not created it yet,
 * until deadline_ns on CLOCK_MONOTONIC) and negotiate capabilities. */
int kc_qmp_connect(const char *sock, uint64_t deadline_ns, kc_qmp **ret, kc_err **err);
void kc_qmp_close(kc_qmp *q);

/* Run one command and return its "return" member (a new reference). A QMP
 * error is an EPROTO kc_err with QEMU's description. */
json_t *kc_qmp_cmd(kc_qmp *q, const char *cmd, json_t *args, uint64_t deadline_ns, kc_err **err);

/* Wait for the event named `name` (e.g. "SHUTDOWN"), including one that
 * arrived earlier. Returns the event object (a new reference; "data" holds
 * its arguments, an empty object if it had none). ECONNRESET when QEMU closes the socket first. */
json_t *kc_qmp_wait_event(kc_qmp *q, const char *name, uint64_t deadline_ns, kc_err **err);

/* The sandboxer's vsock readiness gate (sbx_qmp_wait_driver_ok). ENODEV when
 * the VM has no vsock device. */
int kc_qmp_wait_vsock(kc_qmp *q, uint64_t deadline_ns, kc_err **err);
/* The same for a socket path: connect, wait, close. */
int kc_qmp_wait_vsock_at(const char *sock, uint64_t deadline_ns, kc_err **err);

#endif
