/* SPDX-License-Identifier: Apache-2.0 */
/* The sandboxer's TOML subset (host/sandboxer/toml.c) on arbitrary text, as
 * sbx_config_load hands it a file of at most 1 MiB. A parsed document must be
 * one that makes sense: every key named, every line within the text. */
#include "fuzz.h"
#include "toml.h"

#define FUZZ_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_toml_doc doc;
	kc_err *err = NULL;
	char *text;
	int r;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	text = fuzz_cstr(data, size);
	memset(&doc, 0xa5, sizeof(doc)); /* the parser must not rely on a zeroed doc */
	r = sbx_toml_parse(text, size, "fuzz.toml", &doc, &err);
	fuzz_check_err(r, err);
	if (r == 0) {
		for (size_t i = 0; i < doc.n_kv; i++) {
			const struct sbx_toml_kv *kv = &doc.kv[i];
			FUZZ_CHECK(kv->table && kv->key && *kv->key);
			FUZZ_CHECK(kv->line >= 1 && kv->line <= size + 1);
			FUZZ_CHECK(kv->type != SBX_TOML_STRING || kv->str);
			FUZZ_CHECK(sbx_toml_type_name(kv->type));
		}
		for (size_t i = 0; i < doc.n_tables; i++)
			FUZZ_CHECK(doc.tables[i].name && *doc.tables[i].name);
		sbx_toml_free(&doc);
	}
	kc_err_free(err);
	free(text);
	return 0;
}
