/* SPDX-License-Identifier: Apache-2.0 */
/* linux.seccomp profiles (guest-init/seccomp.c): parsed and compiled with
 * libseccomp as kc_spec_parse does for config.json, here straight from the
 * profile's JSON text so the fuzzer spends its time inside the profile. */
#include "fuzz.h"
#include "log.h"
#include "seccomp.h"

#define FUZZ_MAX_INPUT (256u << 10)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kc_log_set_level(KC_LOG_ERROR); /* "names unknown to libseccomp" on every run */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_seccomp *sc = NULL;
	kc_err *err = NULL;
	int r;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	r = kc_seccomp_parse_text((const char *)data, size, &sc, &err);
	fuzz_check_err(r, err);
	if (r < 0)
		FUZZ_CHECK(!sc);
	if (sc) {
		/* The kernel takes at most 4096 instructions (BPF_MAXINSNS). */
		FUZZ_CHECK(kc_seccomp_insns(sc) > 0 && kc_seccomp_insns(sc) <= 4096);
		kc_seccomp_free(sc);
	}
	kc_err_free(err);
	return 0;
}
