/* SPDX-License-Identifier: Apache-2.0 */
/* Ids from the wire that end up in paths, cgroups and logs (container, exec
 * and sandbox ids): 1..128 of [A-Za-z0-9_.-], not starting with '.' or '-'. No
 * separator, no NUL, no "..": an id is always one harmless path component. */
#ifndef KC_ID_H
#define KC_ID_H

#include "err.h"

#define KC_ID_MAX 128

/* 0, or -EINVAL with "invalid <what> `<id>` (...)" (the echo is capped). */
int kc_id_check(const char *what, const char *id, kc_err **err);

#endif
