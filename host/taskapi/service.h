/* SPDX-License-Identifier: Apache-2.0 */
/* containerd.task.v2.Task and containerd.task.v3.Task (the same methods) as
 * containerd sees them: register with the pod as the service's data,
 * ttrpc_server_register(srv, &tpod_task_service, pod). */
#ifndef KC_TASKAPI_SERVICE_H
#define KC_TASKAPI_SERVICE_H

#include "ttrpc.h"

extern const struct ttrpc_service tpod_task_service;
extern const struct ttrpc_service tpod_task_service_v3;

#endif
