/* SPDX-License-Identifier: Apache-2.0 */
/* containerd.task.v2.Task as containerd sees it (service.c). */
#ifndef KC_SHIM_SERVICE_H
#define KC_SHIM_SERVICE_H

#include "ttrpc.h"

extern const struct ttrpc_service shim_task_service;

#endif
