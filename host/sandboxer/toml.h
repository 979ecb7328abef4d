/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict subset of TOML, enough for Kuasar's config files: comments, table
 * headers (dotted: [hypervisor.task]), bare keys, basic and literal strings,
 * decimal integers (with _ separators), booleans. Anything else (arrays,
 * inline tables, floats, dates, dotted or quoted keys, multi-line strings) is
 * an error naming the file and line, as are duplicate keys and tables.
 */
#ifndef SBX_TOML_H
#define SBX_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum sbx_toml_type { SBX_TOML_STRING, SBX_TOML_INT, SBX_TOML_BOOL };

struct sbx_toml_kv {
	char *table; /* "" for the root table, else e.g. "hypervisor.task" */
	char *key;
	enum sbx_toml_type type;
	char *str; /* SBX_TOML_STRING */
	int64_t i; /* SBX_TOML_INT */
	bool b;    /* SBX_TOML_BOOL */
	unsigned line;
};

struct sbx_toml_table {
	char *name;
	unsigned line;
};

struct sbx_toml_doc {
	struct sbx_toml_kv *kv;
	size_t n_kv;
	struct sbx_toml_table *tables; /* explicitly declared [headers] */
	size_t n_tables;
};

/* Parse text (NUL-terminated, len bytes). fname only names the file in
 * errors ("FNAME:LINE: ..."). */
int sbx_toml_parse(const char *text, size_t len, const char *fname, struct sbx_toml_doc *ret,
		   kc_err **err);
void sbx_toml_free(struct sbx_toml_doc *doc);
const char *sbx_toml_type_name(enum sbx_toml_type t);

#endif
