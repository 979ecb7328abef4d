/* SPDX-License-Identifier: Apache-2.0 */
/* Typed getters for config.json (spec*.c, seccomp.c). Absent (or null) ->
 * 0 with the output untouched; present -> 1; wrong type -> < 0 with an error
 * naming the JSON path. */
#ifndef KC_SPEC_JSON_H
#define KC_SPEC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

int spec_type_err(kc_err **err, const char *path, const char *want);
int spec_get_str(json_t *o, const char *key, const char *path, char **ret, kc_err **err);
int spec_get_bool(json_t *o, const char *key, const char *path, bool *ret, kc_err **err);
int spec_get_int(json_t *o, const char *key, const char *path, int64_t min, int64_t max,
		 int64_t *ret, kc_err **err);
int spec_get_u32(json_t *o, const char *key, const char *path, uint32_t *ret, kc_err **err);
int spec_get_obj(json_t *o, const char *key, const char *path, json_t **ret, kc_err **err);
int spec_get_arr(json_t *o, const char *key, const char *path, json_t **ret, kc_err **err);
int spec_get_strv(json_t *o, const char *key, const char *path, char ***ret, kc_err **err);

#endif
