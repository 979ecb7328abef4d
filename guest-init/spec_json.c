/* SPDX-License-Identifier: Apache-2.0 */
#include "spec_json.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"

int spec_type_err(kc_err **err, const char *path, const char *want)
{
	return kc_err_set(err, EINVAL, "%s: expected %s", path, want);
}

/* Each getter: absent (or null) -> 0 and output untouched; wrong type -> error. */
int spec_get_str(json_t *o, const char *key, const char *path, char **ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return spec_type_err(err, path, "a string");
	free(*ret);
	*ret = xstrdup(json_string_value(v));
	return 1;
}

int spec_get_bool(json_t *o, const char *key, const char *path, bool *ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return spec_type_err(err, path, "a boolean");
	*ret = json_is_true(v);
	return 1;
}

int spec_get_int(json_t *o, const char *key, const char *path, int64_t min, int64_t max,
		 int64_t *ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return spec_type_err(err, path, "an integer");
	i = json_integer_value(v);
	if (i < min || i > max)
		return kc_err_set(err, ERANGE, "%s: %lld out of range [%lld, %lld]", path,
				  (long long)i, (long long)min, (long long)max);
	*ret = i;
	return 1;
}

/* uint64 fields (cpu shares, period) may exceed json_int_t in theory; jansson
 * parses up to INT64_MAX which covers every sane value. */
int spec_get_u32(json_t *o, const char *key, const char *path, uint32_t *ret, kc_err **err)
{
	int64_t v = 0; /* gcc -O2 cannot tell kc_err_set()'s returns are < 0 */
	int r = spec_get_int(o, key, path, 0, UINT32_MAX, &v, err);
	if (r > 0)
		*ret = (uint32_t)v;
	return r;
}

int spec_get_obj(json_t *o, const char *key, const char *path, json_t **ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return spec_type_err(err, path, "an object");
	*ret = v;
	return 1;
}

int spec_get_arr(json_t *o, const char *key, const char *path, json_t **ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return spec_type_err(err, path, "an array");
	*ret = v;
	return 1;
}

int spec_get_strv(json_t *o, const char *key, const char *path, char ***ret, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	char **out;
	int r = spec_get_arr(o, key, path, &a, err);

	if (r <= 0)
		return r;
	out = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			kc_strv_free(out);
			return kc_err_set(err, EINVAL, "%s[%zu]: expected a string", path, i);
		}
		out[i] = xstrdup(json_string_value(v));
	}
	kc_strv_free(*ret);
	*ret = out;
	return 1;
}
