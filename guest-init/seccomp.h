/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI linux.seccomp, read as runc reads it. The agent parses the profile and
 * compiles it with libseccomp once, when the spec is parsed (before any
 * clone), into a classic BPF program with runc's ENOSYS stub in front; the
 * container's child only hands that program to the kernel: no allocation and
 * no libseccomp after the clone.
 */
#ifndef KC_SECCOMP_H
#define KC_SECCOMP_H

#include <stddef.h>

#include "err.h"

struct json_t;
struct kc_seccomp;

/* Parse and compile a linux.seccomp object. *ret is NULL when the spec asks
 * for no filter (JSON null, or neither defaultAction nor syscalls, as runc).
 * Errors name the JSON path: "linux.seccomp.syscalls[3].action: ...". */
int kc_seccomp_parse(struct json_t *obj, struct kc_seccomp **ret, kc_err **err);
/* The same from JSON text (tests, tools). */
int kc_seccomp_parse_text(const char *json, size_t len, struct kc_seccomp **ret, kc_err **err);

/* Install the filter in the calling process; NULL installs nothing. Makes one
 * syscall (prctl or seccomp), allocating only to report a failure. Without
 * no_new_privs it needs CAP_SYS_ADMIN. */
int kc_seccomp_load(const struct kc_seccomp *sc, kc_err **err);

void kc_seccomp_free(struct kc_seccomp *sc);

/* For tests and logs: BPF instructions (stub included), SECCOMP_FILTER_FLAG_*
 * passed to seccomp(2), names skipped as unknown to libseccomp. */
size_t kc_seccomp_insns(const struct kc_seccomp *sc);
unsigned kc_seccomp_flags(const struct kc_seccomp *sc);
size_t kc_seccomp_skipped(const struct kc_seccomp *sc);

#endif
