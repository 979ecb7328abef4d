/* SPDX-License-Identifier: Apache-2.0 */
#include "id.h"

#include <errno.h>
#include <string.h>

int kc_id_check(const char *what, const char *id, kc_err **err)
{
	size_t len = id ? strnlen(id, KC_ID_MAX + 1) : 0;

	if (!len)
		return kc_err_set(err, EINVAL, "%s is empty", what);
	if (len > KC_ID_MAX)
		return kc_err_set(err, EINVAL, "%s is longer than %d bytes", what, KC_ID_MAX);
	if (id[0] == '.' || id[0] == '-')
		return kc_err_set(err, EINVAL, "%s `%s` starts with a %s", what, id,
				  id[0] == '.' ? "dot" : "dash");
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return kc_err_set(err, EINVAL,
					  "%s `%s`: only letters, digits, `_`, `-` and `.` are "
					  "allowed",
					  what, id);
	return 0;
}
