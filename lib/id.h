/* SPDX-License-Identifier: Apache-2.0 */
/* The one id validator: container, exec and sandbox ids become path
 * components on both sides, so they are 1..KC_ID_MAX of [A-Za-z0-9_.-], not
 * starting with '.' or '-' (no "..", no option-like names, no NUL). */
#ifndef KC_ID_H
#define KC_ID_H

#include "err.h"

#define KC_ID_MAX 128

/* < 0 with EINVAL and "<what> `id`: why" when invalid. */
int kc_id_check(const char *what, const char *id, kc_err **err);

#endif
