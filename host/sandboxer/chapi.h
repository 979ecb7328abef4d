/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-hypervisor's REST API over its unix socket (docs/api.md): one
 * "PUT /api/v1/<action>" per request, asynchronous on the daemon's loop. The
 * sandboxer uses vm.shutdown and vmm.shutdown for a graceful stop, vm.add-disk
 * and vm.remove-device for disks (disk.h).
 */
#ifndef SBX_CHAPI_H
#define SBX_CHAPI_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"

typedef struct sbx_chapi sbx_chapi;
/* http_status: e.g. 204, or 0 with err (connect, deadline, bad answer). A
 * non-2xx status also comes with err. Called once, from the loop. */
typedef void (*sbx_chapi_fn)(int http_status, kc_err *err, void *ud);

sbx_chapi *sbx_chapi_put(kc_loop *loop, const char *sock, const char *action, uint64_t deadline_ns,
			 sbx_chapi_fn cb, void *ud);
/* The same with a JSON body; cb also gets the answer's body (bounded,
 * NUL-terminated, "" if none; valid during the callback). */
typedef void (*sbx_chapi_body_fn)(int http_status, const char *body, size_t len, kc_err *err,
				  void *ud);
sbx_chapi *sbx_chapi_put_json(kc_loop *loop, const char *sock, const char *action, const char *body,
			      uint64_t deadline_ns, sbx_chapi_body_fn cb, void *ud);
/* The HTTP request sent (malloc'd; body may be NULL): for golden tests. */
char *sbx_chapi_request_text(const char *action, const char *body);
/* No callback after this. NULL is a no-op. */
void sbx_chapi_cancel(sbx_chapi *r);

#endif
