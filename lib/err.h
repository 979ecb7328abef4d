/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One error convention for all of kuasar-c (modelled on crun's libcrun_error_t):
 * a fallible function returns < 0 and, when given an error out-parameter, fills
 * it with an errno value and a message. Each layer prefixes its context with
 * kc_err_wrap(); only main() or the RPC boundary prints or converts it.
 */
#ifndef KC_ERR_H
#define KC_ERR_H

#include <stdarg.h>

typedef struct kc_err {
	int code;  /* errno value, or 0 when the failure has no errno */
	char *msg; /* "context: context: cause" */
} kc_err;

/* Set *err to code + formatted message. Returns -code, or -1 if code == 0. */
int kc_err_set(kc_err **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kc_err_setv(kc_err **err, int code, const char *fmt, va_list ap);

/* Like kc_err_set(err, errno, "fmt: strerror(errno)"). */
int kc_err_sys(kc_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix "fmt: " to an existing error. Returns the error's return value. */
int kc_err_wrap(kc_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value a function returns for this error (-code or -1). */
int kc_err_ret(const kc_err *err);
/* The same through the out-parameter, which callers may have passed as NULL
 * ("I don't want the message"): return kc_err_retp(err) after a failed call. */
static inline int kc_err_retp(kc_err **err)
{
	return kc_err_ret(err ? *err : (const kc_err *)0);
}

void kc_err_free(kc_err *err);
static inline void kc_err_freep(kc_err **err)
{
	if (*err) {
		kc_err_free(*err);
		*err = (kc_err *)0;
	}
}
#define _cleanup_err_ __attribute__((cleanup(kc_err_freep)))

/* Message of an error, "(null)"-safe. */
const char *kc_err_msg(const kc_err *err);

#endif
