/* SPDX-License-Identifier: Apache-2.0 */
/* The ttrpc services vmm-task serves, and what their handlers share. */
#ifndef KC_SVC_H
#define KC_SVC_H

#include "agent.h"
#include "pbcheck.h"
#include "ttrpc.h"

extern const struct ttrpc_service kc_task_service;    /* containerd.task.v2.Task */
extern const struct ttrpc_service kc_task_service_v3; /* containerd.task.v3.Task */
extern const struct ttrpc_service kc_sandbox_service; /* grpc.SandboxService */

/* Find the process a request names, or answer NOT_FOUND and return NULL. */
struct kc_proc *svc_lookup(ttrpc_call *call, const char *id, const char *exec_id, const char *op);
void svc_reply_empty(ttrpc_call *call);

void svc_task_pids(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_pause(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_resume(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_kill(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_exec(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_resize_pty(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_close_io(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_update(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);
void svc_task_stats(ttrpc_call *call, const uint8_t *data, size_t len, void *ud);

/* Stop every container, then power off (PID 1) or leave the loop (host). */
void svc_agent_shutdown(void);

/* Unpack a request or answer the call with InvalidArgument (malformed, or a
 * string with an embedded NUL: see pbcheck.h). */
#define SVC_UNPACK(type, fn, call, p, n)                                                           \
	({                                                                                         \
		_cleanup_err_ kc_err *_e = NULL;                                                   \
		type *_m = NULL;                                                                   \
		if (kc_pb_check_strings(&fn##__descriptor, p, n, &_e) < 0)                         \
			ttrpc_call_reply_error(call, TTRPC_INVALID_ARGUMENT, "%s", _e->msg);       \
		else if (!(_m = fn##__unpack(NULL, n, p)))                                         \
			ttrpc_call_reply_error(call, TTRPC_INVALID_ARGUMENT,                       \
					       "malformed %s (%zu bytes)", fn##__descriptor.name,  \
					       (size_t)(n));                                       \
		_m;                                                                                \
	})

#endif
