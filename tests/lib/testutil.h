/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the Criterion tests. */
#ifndef KC_TESTUTIL_H
#define KC_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"

/* Assert a kc_err-returning call succeeded, printing the message if not. */
#define KC_OK(expr)                                                                                \
	do {                                                                                       \
		kc_err *_e = NULL;                                                                 \
		kc_err **err_ = &_e;                                                               \
		(void)err_;                                                                        \
		int _r = (expr);                                                                   \
		cr_assert(_r >= 0, "%s failed: %s", #expr, kc_err_msg(_e));                        \
		kc_err_free(_e);                                                                   \
	} while (0)

/* A fresh private temporary directory (removed by tu_rmtree). */
char *tu_tmpdir(const char *tag);
void tu_rmtree(const char *path);
/* Run the loop until *flag is true or timeout_ms passes. Returns *flag. */
bool tu_loop_until(kc_loop *loop, const bool *flag, int timeout_ms);
/* Number of open fds of this process. */
int tu_count_fds(void);
bool tu_is_root(void);
/* Occurrences of needle in hay. */
size_t tu_count(const char *hay, const char *needle);
/* Path of a built binary: $KC_BIN/name, else build/bin/name. */
char *tu_bin(const char *name);
/* Run a shell command (printf-formatted): its exit status, -1 if it did not
 * exit. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A shell command's stdout, at most 64 KiB (malloc'd, possibly empty). */
char *tu_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
