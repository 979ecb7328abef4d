/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every libFuzzer harness in tests/fuzz/ shares: an input bound, a
 * NUL-terminated copy of the input (parsers of text take C strings), and the
 * error convention checked on every call: a failure returns < 0 with a
 * message, a success leaves no error behind.
 */
#ifndef KC_FUZZ_H
#define KC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a crash libFuzzer records) when an invariant breaks. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* r is what a kc_err-style call returned, err what it left in its out-parameter. */
static inline void fuzz_check_err(int r, kc_err *err)
{
	if (r < 0)
		FUZZ_CHECK(err && err->msg && *err->msg);
	else
		FUZZ_CHECK(!err);
}

/* A malloc'd NUL-terminated copy of the input. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
