/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to seccomp.c: runc's ENOSYS stub, put in front of libseccomp's
 * BPF program so that syscalls newer than a profile answer ENOSYS. */
#ifndef KC_SECCOMP_STUB_H
#define KC_SECCOMP_STUB_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KC_STUB_MAX_ARCHES 24
#define KC_STUB_MAX_INSNS  160

struct kc_stub_arch {
	uint32_t arch; /* SCMP_ARCH_* */
	int max_nr;    /* largest syscall number the profile names on it; <= 0: none */
};

/* Write the stub for these arches (distinct, at most KC_STUB_MAX_ARCHES) into
 * out[KC_STUB_MAX_INSNS]; *n = 0 when no arch has a bound. */
int kc_stub_generate(const struct kc_stub_arch *arches, size_t n_arches, struct sock_filter *out,
		     size_t *n, kc_err **err);

#endif
