/* SPDX-License-Identifier: Apache-2.0 */
/* A ttrpc server process for tests and benchmarks: serve one service on an
 * address until SIGTERM or SIGINT, then free everything (so leak checkers see
 * a clean exit). */
#ifndef KC_TU_SERVE_H
#define KC_TU_SERVE_H

#include "err.h"
#include "ttrpc.h"

/* ready (may be NULL) runs once the socket accepts connections. */
int tu_serve(const char *addr, const struct ttrpc_service *svc, void (*ready)(void), kc_err **err);

#endif
