/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to seccomp.c (and its tests): the BPF put in front of libseccomp's
 * programs - the per-arch dispatch and runc's ENOSYS stub. */
#ifndef KC_SECCOMP_STUB_H
#define KC_SECCOMP_STUB_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KC_STUB_MAX_ARCHES 24
#define KC_STUB_MAX_INSNS  192

struct kc_stub_arch {
	uint32_t arch; /* SCMP_ARCH_* */
	int max_nr;    /* largest syscall number the profile names on it; <= 0: none */
	unsigned prog; /* which of the programs that follow the stub handles it */
};

/* Write the stub for these arches (distinct, the native one first, at most
 * KC_STUB_MAX_ARCHES) into out[KC_STUB_MAX_INSNS]: calls of each arch go to
 * its program (prog_len[i]: length of program i; they follow the stub in
 * order), those of an arch not listed to program 0, whose own arch check
 * refuses them; with enosys, numbers above an arch's max_nr answer ENOSYS
 * first. *n = 0 when nothing needs dispatching or checking. */
int kc_stub_generate(const struct kc_stub_arch *arches, size_t n_arches, const size_t *prog_len,
		     size_t n_progs, bool enosys, struct sock_filter *out, size_t *n, kc_err **err);

/* seccomp.c: compile with one libseccomp context per arch (split, what
 * kc_seccomp_parse does: libseccomp's code generation is superlinear in the
 * program size) or one for all (the reference the tests compare against). */
struct json_t;
struct kc_seccomp;
int kc_seccomp_compile(struct json_t *obj, bool split, struct kc_seccomp **ret, kc_err **err);
const struct sock_filter *kc_seccomp_prog(const struct kc_seccomp *sc);

#endif
