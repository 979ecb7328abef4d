/* SPDX-License-Identifier: Apache-2.0 */
/* linux.seccomp profiles (guest-init/seccomp.c): parsed and compiled with
 * libseccomp as kc_spec_parse does for config.json, here straight from the
 * profile's JSON text so the fuzzer spends its time inside the profile, and
 * past the cache of compiled profiles (kc_seccomp_parse): what it keeps
 * across inputs would hide a leak from libFuzzer's per-input check. Both the
 * per-arch programs the agent uses and libseccomp's single multi-arch one. */
#include "fuzz.h"
#include "log.h"
#include "seccomp.h"
#include "seccomp_stub.h"
#include <jansson.h>

#define FUZZ_MAX_INPUT (256u << 10)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kc_log_set_level(KC_LOG_ERROR); /* "names unknown to libseccomp" on every run */
	return 0;
}

static void compile(json_t *doc, bool split)
{
	struct kc_seccomp *sc = NULL;
	kc_err *err = NULL;
	int r = kc_seccomp_compile(doc, split, &sc, &err);

	fuzz_check_err(r, err);
	if (r < 0)
		FUZZ_CHECK(!sc);
	if (sc) {
		/* The kernel takes at most 4096 instructions (BPF_MAXINSNS). */
		FUZZ_CHECK(kc_seccomp_insns(sc) > 0 && kc_seccomp_insns(sc) <= 4096);
		kc_seccomp_free(sc);
	}
	kc_err_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	/* As kc_seccomp_parse_text reads it. */
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (!doc)
		return 0;
	compile(doc, true);
	compile(doc, false);
	json_decref(doc);
	return 0;
}
