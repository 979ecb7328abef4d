/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC over HTTP/2 as the gRPC protocol document defines it: what is not
 * HTTP/2 itself (see grpc.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "util.h"

int grpc_timeout_parse(const char *v, size_t n, uint64_t *ns)
{
	uint64_t val = 0, mul;

	if (n < 2 || n > 9)
		return -EINVAL;
	for (size_t i = 0; i + 1 < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		val = val * 10 + (uint64_t)(v[i] - '0');
	}
	switch (v[n - 1]) {
	case 'H':
		mul = 3600 * KC_NSEC_PER_SEC;
		break;
	case 'M':
		mul = 60 * KC_NSEC_PER_SEC;
		break;
	case 'S':
		mul = KC_NSEC_PER_SEC;
		break;
	case 'm':
		mul = KC_NSEC_PER_MSEC;
		break;
	case 'u':
		mul = 1000;
		break;
	case 'n':
		mul = 1;
		break;
	default:
		return -EINVAL;
	}
	/* 99999999 hours does not fit in ns: such a deadline is never. */
	*ns = val > UINT64_MAX / mul ? UINT64_MAX : val * mul;
	return 0;
}

char *grpc_message_encode(const char *msg, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(msg), o = 0;
	char *out;

	if (n > max) {
		n = max;
		/* Do not leave half a UTF-8 sequence at the end. */
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;
	}
	out = xmalloc(3 * n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

char *grpc_message_decode(const char *v, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (v[i] == '%' && i + 2 < n && (hi = hexval(v[i + 1])) >= 0 &&
		    (lo = hexval(v[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = v[i];
		}
	}
	out[o] = '\0';
	return out;
}

int grpc_content_type_check(const char *v, size_t n)
{
	static const char base[] = "application/grpc";
	const size_t bl = sizeof(base) - 1;
	size_t end = 0;

	while (end < n && v[end] != ';')
		end++;
	/* Trailing blanks before the parameters are allowed. */
	while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'))
		end--;
	if (end < bl || strncasecmp(v, base, bl))
		return TTRPC_INVALID_ARGUMENT;
	if (end == bl || (end == bl + 6 && !strncasecmp(v + bl, "+proto", 6)))
		return 0;
	if (v[bl] == '+')
		return TTRPC_UNIMPLEMENTED; /* a codec we do not speak (json, ...) */
	return TTRPC_INVALID_ARGUMENT;      /* application/grpcfoo */
}

int grpc_path_split(const char *path, size_t n, char **service, const char **method)
{
	const char *slash;
	char *buf;
	size_t sl;

	if (n < 4 || path[0] != '/' || memchr(path, '\0', n))
		return -EINVAL;
	slash = memchr(path + 1, '/', n - 1);
	if (!slash)
		return -EINVAL;
	sl = (size_t)(slash - path) - 1;
	if (!sl || slash + 1 == path + n || memchr(slash + 1, '/', (size_t)(path + n - slash - 1)))
		return -EINVAL;
	buf = xmalloc(n + 1);
	memcpy(buf, path + 1, sl);
	buf[sl] = '\0';
	memcpy(buf + sl + 1, slash + 1, (size_t)(path + n - slash - 1));
	buf[n - 1] = '\0';
	*service = buf;
	*method = buf + sl + 1;
	return 0;
}

void grpc_prefix_encode(uint8_t out[5], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

void grpc_deframer_init(struct grpc_deframer *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
}

void grpc_deframer_reset(struct grpc_deframer *d)
{
	free(d->buf);
	grpc_deframer_init(d, d->max);
}

static int fail(struct grpc_deframer *d, int code, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(struct grpc_deframer *d, int code, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	d->failed = true;
	free(d->buf);
	d->buf = NULL;
	d->cap = 0;
	return code;
}

/* The message's bytes, in a buffer that grows (doubling) with what arrives
 * and never past the announced length. */
static int take_body(struct grpc_deframer *d, const uint8_t *data, size_t n, char *msg,
		     size_t msglen)
{
	if (d->have + n > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16384;
		uint8_t *nb;
		if (cap < d->have + n)
			cap = d->have + n;
		if (cap > d->len)
			cap = d->len;
		nb = realloc(d->buf, cap);
		if (!nb)
			return fail(d, TTRPC_RESOURCE_EXHAUSTED, msg, msglen,
				    "out of memory for a %u-byte message", d->len);
		d->buf = nb;
		d->cap = cap;
	}
	memcpy(d->buf + d->have, data, n);
	d->have += n;
	return 0;
}

int grpc_deframer_feed(struct grpc_deframer *d, const uint8_t *data, size_t n, char *msg,
		       size_t msglen)
{
	size_t off = 0;

	if (d->failed)
		return 0;
	while (off < n || (d->in_body && d->have == d->len)) {
		if (!d->in_body) {
			if (d->count) /* a unary method takes one message */
				return fail(d, TTRPC_INTERNAL, msg, msglen,
					    "more than one request message for a unary method");
			while (d->hdr_n < 5 && off < n)
				d->hdr[d->hdr_n++] = data[off++];
			if (d->hdr_n < 5)
				break;
			if (d->hdr[0] != 0)
				return fail(d, TTRPC_INTERNAL, msg, msglen,
					    "compressed message (flag %u) but no encoding was "
					    "negotiated",
					    d->hdr[0]);
			d->len = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
				 (uint32_t)d->hdr[3] << 8 | d->hdr[4];
			if (d->len > d->max)
				return fail(d, TTRPC_RESOURCE_EXHAUSTED, msg, msglen,
					    "received message larger than max (%u vs. %zu)", d->len,
					    d->max);
			d->in_body = true;
			d->have = 0;
		}
		if (d->have < d->len && off < n) {
			size_t take = d->len - d->have;
			int code;
			if (take > n - off)
				take = n - off;
			code = take_body(d, data + off, take, msg, msglen);
			if (code)
				return code;
			off += take;
		}
		if (d->have < d->len)
			break;
		d->count++;
		d->in_body = false;
		d->hdr_n = 0;
	}
	return 0;
}

int grpc_deframer_finish(struct grpc_deframer *d, char *msg, size_t msglen)
{
	if (d->failed) {
		snprintf(msg, msglen, "bad request message");
		return TTRPC_INTERNAL;
	}
	if (d->in_body || d->hdr_n) {
		snprintf(msg, msglen, "request message cut short by the end of the stream");
		return TTRPC_INTERNAL;
	}
	if (d->count != 1) {
		snprintf(msg, msglen, "no request message");
		return TTRPC_INTERNAL;
	}
	return 0;
}

const uint8_t *grpc_deframer_msg(const struct grpc_deframer *d, size_t *len)
{
	*len = d->len;
	return d->buf;
}
