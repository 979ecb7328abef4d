/* SPDX-License-Identifier: Apache-2.0 */
/* The same bundle through runc (`runc run`), for engine cases where runc
 * defines the behaviour: tests compare its outcome with vmm-task's. */
#ifndef KC_RUNCCTL_H
#define KC_RUNCCTL_H

#include <stdbool.h>

/* runc on PATH (or $KC_RUNC) and usable as root. */
bool runcctl_available(void);
/* `runc --root <state> run --bundle <bundle> <id>` with stdin from /dev/null.
 * Returns the exit status (-1 if it did not exit); *out and *err get stdout
 * and stderr (malloc'd, NUL-terminated). */
int runcctl_run(const char *state, const char *bundle, const char *id, char **out, char **err);

#endif
