/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's sandbox Controller API (containerd.services.sandbox.v1.
 * Controller: Create, Start, Platform, Stop, Wait, Status, Shutdown, Metrics,
 * Update) served over ttrpc on the daemon's listen socket. This is the RPC
 * boundary: handlers turn kc_err into status codes and log.
 */
#ifndef SBX_CONTROLLER_H
#define SBX_CONTROLLER_H

#include "sandbox.h"

#define SBX_CONTROLLER_SERVICE "containerd.services.sandbox.v1.Controller"
/* Task API version served at the agent's address Start/Status return to our
 * shim (as Kuasar); containerd's sandbox proxy gets the task endpoint's
 * (taskep.h, version 3). */
#define SBX_TASK_API_VERSION 2

void sbx_controller_register(ttrpc_server *srv, struct sbx_daemon *d);

/* Remove a sandbox for good: directory (unmounting below it) and object. */
int sbx_controller_destroy(struct sandbox *s, kc_err **err);

#endif
