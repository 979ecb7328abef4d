/* SPDX-License-Identifier: Apache-2.0 */
/* task.debug: a shell on a terminal for whoever connects to vsock port 1025
 * (Kuasar's debug console; its shell is task.debug_shell, default /bin/sh). */
#ifndef KC_DEBUG_H
#define KC_DEBUG_H

#include "err.h"
#include "loop.h"

#define KC_DEBUG_PORT 1025

int kc_debug_console_start(kc_loop *loop, const char *shell, kc_err **err);

#endif
