/* SPDX-License-Identifier: Apache-2.0 */
/* PID 1 duties in the VM: the early filesystems, kernel modules, lo, the
 * shared filesystem, the hostname, and power-off. A failed step is recorded
 * (and reported by Check), never fatal. */
#ifndef KC_BOOT_H
#define KC_BOOT_H

#include <stdbool.h>
#include <sys/resource.h>

#include "cmdline.h"

/* Returns the number of failed steps; *errors gets their text ("; "-joined). */
int kc_boot_init(struct kc_cmdline *cmdline, char **errors);
/* RLIMIT_NOFILE as the kernel gave it to PID 1, before kc_boot_init raised
 * ours: what container processes start from. false if nothing was raised. */
bool kc_boot_nofile_default(struct rlimit *ret);
/* Kill everything, sync, power the VM off. Does not return. */
void kc_boot_poweroff(void) __attribute__((noreturn));

#define KC_SHARED_DIR "/run/kuasar/state"

#endif
