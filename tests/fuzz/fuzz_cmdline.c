/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel command line as vmm-task reads it (/proc/cmdline, at most 64 KiB):
 * kc_cmdline_parse on arbitrary text. boot.c clears the result whether or not
 * parsing failed, so the harness does the same. */
#include "cmdline.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_cmdline c;
	kc_err *err = NULL;
	char *text;
	int r;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	text = fuzz_cstr(data, size);
	r = kc_cmdline_parse(text, &c, &err);
	fuzz_check_err(r, err);
	if (r == 0) {
		FUZZ_CHECK(c.log_level >= -1 && c.log_level <= 3);
		FUZZ_CHECK(c.drain_timeout_ms <= 3600000);
		FUZZ_CHECK(!c.unknown || strlen(c.unknown) <= size);
	}
	kc_cmdline_clear(&c);
	kc_err_free(err);
	free(text);
	return 0;
}
