/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to spec*.c: the "linux" object of config.json (namespaces, devices,
 * masked and read-only paths, sysctls, cgroup resources, propagation). */
#ifndef KC_SPEC_LINUX_H
#define KC_SPEC_LINUX_H

#include <jansson.h>

#include "err.h"
#include "spec_types.h"

int spec_parse_resources(json_t *r, struct kc_resources *res, kc_err **err);
int spec_parse_linux(json_t *l, struct kc_spec *s, kc_err **err);

#endif
