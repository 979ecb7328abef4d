/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QMP client (QEMU's JSON control socket), asynchronous on a kc_loop:
 * commands answered in order, events, and the vsock readiness gate. The
 * sandboxer drives it on its loop; tests and benches through a synchronous
 * wrapper (tests/lib/qmpsync.h).
 *
 * The gate: vhost-device-vsock 0.3.0 can wedge for the rest of a boot when a
 * host CONNECT reaches it before the guest driver has set up the vsock rings
 * (about 1 boot in 12 under TCG). So the first dial waits until QMP
 * x-query-virtio-status shows DRIVER_OK on the vsock device, plus a short
 * settle time (QEMU reports DRIVER_OK before the daemon has processed the
 * vring setup that follows). QEMU emits no event for a virtio status change,
 * so this one step queries on an interval, bounded by the start deadline.
 */
#ifndef SBX_QMP_H
#define SBX_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"

typedef struct sbx_qmp sbx_qmp;

/* ret: the command's "return" value (borrowed), or NULL with err. */
typedef void (*sbx_qmp_fn)(sbx_qmp *q, json_t *ret, kc_err *err, void *ud);
typedef void (*sbx_qmp_done_fn)(kc_err *err, void *ud);

/* Connect (non-blocking) and negotiate capabilities; commands may be queued
 * right away. */
int sbx_qmp_open(kc_loop *loop, const char *path, sbx_qmp **ret, kc_err **err);
/* Closes the socket; no callback runs after this. NULL is a no-op. Safe
 * inside a callback. */
void sbx_qmp_free(sbx_qmp *q);

/* Asynchronous events ({"event": name, "data": data}; data borrowed, may be
 * NULL). name == NULL once: the connection is gone. */
typedef void (*sbx_qmp_event_fn)(sbx_qmp *q, const char *name, json_t *data, void *ud);
void sbx_qmp_on_event(sbx_qmp *q, sbx_qmp_event_fn fn, void *ud);
/* The connection failed or QEMU closed it. */
bool sbx_qmp_closed(const sbx_qmp *q);

/* Queue {"execute": cmd, "arguments": args}. args (may be NULL) is stolen. */
void sbx_qmp_exec(sbx_qmp *q, const char *cmd, json_t *args, sbx_qmp_fn cb, void *ud);

/* The readiness gate above, for the first virtio device whose name contains
 * dev_substr ("vsock"). cb runs once, from the loop. ENODEV: no such device;
 * ETIMEDOUT at the deadline. One gate per client. */
void sbx_qmp_wait_driver_ok(sbx_qmp *q, const char *dev_substr, uint64_t deadline_ns,
			    sbx_qmp_done_fn cb, void *ud);

#endif
