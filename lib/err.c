/* SPDX-License-Identifier: Apache-2.0 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages are capped so a hostile peer cannot make us build huge strings. */
#define KC_ERR_MAX 4096

int kc_err_ret(const kc_err *err)
{
	if (!err || err->code <= 0)
		return -1;
	return -err->code;
}

int kc_err_setv(kc_err **err, int code, const char *fmt, va_list ap)
{
	int ret = code > 0 ? -code : -1;
	kc_err *e;
	char *msg;

	if (!err)
		return ret;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && strlen(msg) > KC_ERR_MAX)
		msg[KC_ERR_MAX] = '\0';
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(msg);
		return ret;
	}
	e->code = code > 0 ? code : 0;
	e->msg = msg;
	kc_err_freep(err);
	*err = e;
	return ret;
}

int kc_err_set(kc_err **err, int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = kc_err_setv(err, code, fmt, ap);
	va_end(ap);
	return ret;
}

int kc_err_sys(kc_err **err, const char *fmt, ...)
{
	int saved = errno ? errno : EIO;
	char *ctx = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	ret = kc_err_set(err, saved, "%s: %s", ctx ? ctx : "?", strerror(saved));
	free(ctx);
	errno = saved;
	return ret;
}

int kc_err_wrap(kc_err **err, const char *fmt, ...)
{
	char *ctx = NULL, *msg = NULL;
	va_list ap;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx && asprintf(&msg, "%s: %s", ctx, kc_err_msg(*err)) >= 0) {
		if (strlen(msg) > KC_ERR_MAX)
			msg[KC_ERR_MAX] = '\0';
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return kc_err_retp(err);
}

const char *kc_err_msg(const kc_err *err)
{
	if (!err)
		return "(no error)";
	return err->msg ? err->msg : "(out of memory formatting error)";
}

void kc_err_free(kc_err *err)
{
	if (!err)
		return;
	free(err->msg);
	free(err);
}
