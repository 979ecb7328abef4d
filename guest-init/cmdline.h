/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-task options from the kernel command line. Kuasar's names are kept
 * (task.sharefs_type, task.log_level, task.debug, task.debug_shell); ours are
 * task.listen (agent address), task.hostname, task.drain_timeout_ms. */
#ifndef KC_CMDLINE_H
#define KC_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum kc_sharefs { KC_SHAREFS_NONE, KC_SHAREFS_VIRTIOFS, KC_SHAREFS_9P };

struct kc_cmdline {
	enum kc_sharefs sharefs;
	int log_level; /* -1: unset */
	bool debug;
	char *debug_shell;
	char *listen;
	char *hostname;
	uint64_t drain_timeout_ms;
	char *unknown; /* task.* keys we did not understand, space separated */
};

/* Parse the whole command line; never fails on other subsystems' options.
 * Bad values of task.* options are errors naming the option. */
int kc_cmdline_parse(const char *text, struct kc_cmdline *ret, kc_err **err);
void kc_cmdline_clear(struct kc_cmdline *c);

#endif
