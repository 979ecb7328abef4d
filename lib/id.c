/* SPDX-License-Identifier: Apache-2.0 */
#include "id.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int kc_id_check(const char *what, const char *id, kc_err **err)
{
	size_t n = id ? strlen(id) : 0;
	bool ok = n > 0 && n <= KC_ID_MAX && id[0] != '.' && id[0] != '-';

	for (size_t i = 0; ok && i < n; i++) {
		char c = id[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '_' || c == '-' || c == '.';
	}
	if (ok)
		return 0;
	return kc_err_set(err, EINVAL,
			  "invalid %s `%.140s` (1-%d of [A-Za-z0-9_.-], not starting with . or -)",
			  what, id ? id : "", KC_ID_MAX);
}
