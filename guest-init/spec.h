/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subset of the OCI runtime spec (config.json) vmm-task implements, parsed
 * once into plain C structs. Parsing is strict about types: a field of the
 * wrong type is an error naming its JSON path ("process.user.uid: expected an
 * integer"), never a silently ignored setting.
 */
#ifndef KC_SPEC_H
#define KC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "spec_types.h"

/* Parse config.json text. */
int kc_spec_parse(const char *json, size_t len, struct kc_spec **ret, kc_err **err);
/* Read and parse <bundle>/config.json. */
int kc_spec_load(const char *bundle, struct kc_spec **ret, kc_err **err);
/* Parse an OCI "process" object given as JSON text (Exec's spec). */
int kc_process_parse(const char *json, size_t len, struct kc_process *ret, kc_err **err);
/* Parse linux.resources JSON (Update's resources). Both always leave *ret
 * safe to clear: filled on success, zeroed on any failure. */
int kc_resources_parse(const char *json, size_t len, struct kc_resources *ret, kc_err **err);

void kc_spec_free(struct kc_spec *s);
void kc_process_clear(struct kc_process *p);
void kc_resources_clear(struct kc_resources *r);
const char *kc_spec_annotation(const struct kc_spec *s, const char *key);
const struct kc_namespace *kc_spec_namespace(const struct kc_spec *s, int type);

/* Capability name ("CAP_SYS_ADMIN") to number, -1 if unknown. */
int kc_cap_from_name(const char *name);
/* Highest capability the running kernel knows. */
int kc_cap_last(void);
/* rlimit name ("RLIMIT_NOFILE") to resource, -1 if unknown. */
int kc_rlimit_from_name(const char *name);

#endif
