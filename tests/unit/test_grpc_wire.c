/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC's own wire rules (lib/grpc_wire.c): grpc-timeout, grpc-message
 * percent-encoding, content-type, :path, and the length-prefixed message of
 * a unary request split at every byte, with its limits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "util.h"

static uint64_t timeout_of(const char *s)
{
	uint64_t ns = 0;
	cr_assert_eq(grpc_timeout_parse(s, strlen(s), &ns), 0, "%s", s);
	return ns;
}

Test(grpc_wire, timeout)
{
	cr_assert_eq(timeout_of("1H"), 3600ULL * KC_NSEC_PER_SEC);
	cr_assert_eq(timeout_of("2M"), 120ULL * KC_NSEC_PER_SEC);
	cr_assert_eq(timeout_of("3S"), 3ULL * KC_NSEC_PER_SEC);
	cr_assert_eq(timeout_of("100m"), 100ULL * KC_NSEC_PER_MSEC);
	cr_assert_eq(timeout_of("7u"), 7000ULL);
	cr_assert_eq(timeout_of("99999999n"), 99999999ULL);
	cr_assert_eq(timeout_of("0S"), 0);
	cr_assert_eq(timeout_of("00000005m"), 5 * KC_NSEC_PER_MSEC);
	/* 99999999 hours is ~1.1e22 ns: saturates (no deadline). */
	cr_assert_eq(timeout_of("99999999H"), UINT64_MAX);
	cr_assert_eq(timeout_of("99999999M"), 99999999ULL * 60 * KC_NSEC_PER_SEC);
	{
		const char *bad[] = {"",    "S",   "1",    "123456789S", "1s", "1h",   "-1S",
				     "1 S", " 1S", "1.5S", "1SS",        "1x", "0x1S", "1S "};
		uint64_t ns = 42;
		for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++)
			cr_assert_eq(grpc_timeout_parse(bad[i], strlen(bad[i]), &ns), -EINVAL,
				     "'%s'", bad[i]);
		cr_assert_eq(ns, 42, "a bad value leaves the result alone");
	}
	/* Only n bytes are read (header values are not NUL-terminated). */
	{
		uint64_t ns;
		cr_assert_eq(grpc_timeout_parse("5Sxyz", 2, &ns), 0);
		cr_assert_eq(ns, 5 * KC_NSEC_PER_SEC);
	}
}

static void roundtrip(const char *msg, const char *want)
{
	_cleanup_free_ char *enc = grpc_message_encode(msg, 1 << 20);
	_cleanup_free_ char *dec = grpc_message_decode(enc, strlen(enc));
	cr_assert_str_eq(enc, want);
	cr_assert_str_eq(dec, msg);
}

Test(grpc_wire, message_encoding)
{
	roundtrip("", "");
	roundtrip("sandbox `x` not found", "sandbox `x` not found");
	roundtrip(" ~!$&'()*+,;=:@/?#[]{}\"<>\\^|", " ~!$&'()*+,;=:@/?#[]{}\"<>\\^|");
	roundtrip("100%", "100%25");
	roundtrip("a\nb\tc\r", "a%0Ab%09c%0D");
	roundtrip("\x7f\x01\x1f", "%7F%01%1F");
	roundtrip("caf\xc3\xa9 \xe2\x82\xac", "caf%C3%A9 %E2%82%AC");
	/* Cut at a UTF-8 boundary, never inside a sequence. */
	{
		_cleanup_free_ char *a = grpc_message_encode("ab\xc3\xa9", 3);
		_cleanup_free_ char *b = grpc_message_encode("ab\xc3\xa9", 4);
		_cleanup_free_ char *c = grpc_message_encode("abcdef", 3);
		_cleanup_free_ char *d = grpc_message_encode("\xe2\x82\xac\xe2\x82\xac", 5);
		cr_assert_str_eq(a, "ab");
		cr_assert_str_eq(b, "ab%C3%A9");
		cr_assert_str_eq(c, "abc");
		cr_assert_str_eq(d, "%E2%82%AC");
	}
	/* Decoding: lower case hex too; broken escapes stay as they are. */
	{
		const char *in[][2] = {{"%c3%a9", "\xc3\xa9"}, {"%", "%"},     {"%4", "%4"},
				       {"%zz1", "%zz1"},       {"a%2", "a%2"}, {"%%41", "%A"},
				       {"%41%", "A%"}};
		for (size_t i = 0; i < KC_ARRAY_SIZE(in); i++) {
			_cleanup_free_ char *d = grpc_message_decode(in[i][0], strlen(in[i][0]));
			cr_assert_str_eq(d, in[i][1], "'%s'", in[i][0]);
		}
	}
	/* Every byte value survives. */
	{
		char all[256];
		for (int i = 1; i < 256; i++)
			all[i - 1] = (char)i;
		all[255] = '\0';
		_cleanup_free_ char *enc = grpc_message_encode(all, sizeof(all));
		_cleanup_free_ char *dec = grpc_message_decode(enc, strlen(enc));
		cr_assert_str_eq(dec, all);
		for (const char *p = enc; *p; p++)
			cr_assert(*p >= 0x20 && *p <= 0x7e, "byte %#x in the header", *p);
	}
}

Test(grpc_wire, content_type)
{
	const char *ok[] = {"application/grpc", "application/grpc+proto", "application/grpc;x=1",
			    "application/grpc+proto; charset=utf-8", "Application/GRPC"};
	const char *unimpl[] = {"application/grpc+json", "application/grpc+",
				"application/grpc+protobuf"};
	const char *bad[] = {"",
			     "text/plain",
			     "application/json",
			     "application/grpcx",
			     "application/grp",
			     "application/grpc-web"};

	for (size_t i = 0; i < KC_ARRAY_SIZE(ok); i++)
		cr_assert_eq(grpc_content_type_check(ok[i], strlen(ok[i])), 0, "%s", ok[i]);
	for (size_t i = 0; i < KC_ARRAY_SIZE(unimpl); i++)
		cr_assert_eq(grpc_content_type_check(unimpl[i], strlen(unimpl[i])),
			     TTRPC_UNIMPLEMENTED, "%s", unimpl[i]);
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++)
		cr_assert_eq(grpc_content_type_check(bad[i], strlen(bad[i])),
			     TTRPC_INVALID_ARGUMENT, "%s", bad[i]);
	/* Only n bytes count. */
	cr_assert_eq(grpc_content_type_check("application/grpcXYZ", 16), 0);
}

Test(grpc_wire, path)
{
	char *svc = NULL;
	const char *m = NULL;
	const char *p = "/containerd.services.sandbox.v1.Controller/Wait";
	const char *bad[] = {"",    "/",      "//",    "/a",    "/a/",   "//b",
			     "a/b", "/a/b/c", "/a//b", "x/a/b", "/a/b/", "/a\0/b"};

	cr_assert_eq(grpc_path_split(p, strlen(p), &svc, &m), 0);
	cr_assert_str_eq(svc, "containerd.services.sandbox.v1.Controller");
	cr_assert_str_eq(m, "Wait");
	free(svc);
	cr_assert_eq(grpc_path_split("/a/b", 4, &svc, &m), 0);
	cr_assert_str_eq(svc, "a");
	cr_assert_str_eq(m, "b");
	free(svc);
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		size_t n = i == KC_ARRAY_SIZE(bad) - 1 ? 6 : strlen(bad[i]);
		cr_assert_eq(grpc_path_split(bad[i], n, &svc, &m), -EINVAL, "'%s'", bad[i]);
	}
}

/* ------------------------------------------------------------------ deframer */

static uint8_t *framed(const uint8_t *msg, uint32_t len, size_t *n)
{
	uint8_t *b = xmalloc(len + 5);
	grpc_prefix_encode(b, len);
	if (len)
		memcpy(b + 5, msg, len);
	*n = len + 5;
	return b;
}

Test(grpc_wire, deframer_split_everywhere)
{
	const uint8_t msg[] = "\x0a\x05hello\x10\x01";
	size_t n;
	_cleanup_free_ uint8_t *b = framed(msg, sizeof(msg) - 1, &n);

	for (size_t cut1 = 0; cut1 <= n; cut1++)
		for (size_t cut2 = cut1; cut2 <= n; cut2++) {
			struct grpc_deframer d;
			const uint8_t *got;
			size_t len;
			char err[128];

			grpc_deframer_init(&d, GRPC_MAX_MESSAGE);
			cr_assert_eq(grpc_deframer_feed(&d, b, cut1, err, sizeof(err)), 0);
			cr_assert_eq(
			    grpc_deframer_feed(&d, b + cut1, cut2 - cut1, err, sizeof(err)), 0);
			cr_assert_eq(grpc_deframer_feed(&d, b + cut2, n - cut2, err, sizeof(err)),
				     0);
			cr_assert_eq(grpc_deframer_finish(&d, err, sizeof(err)), 0, "%s", err);
			got = grpc_deframer_msg(&d, &len);
			cr_assert_eq(len, sizeof(msg) - 1);
			cr_assert_arr_eq(got, msg, len);
			grpc_deframer_reset(&d);
		}
}

static int feed_all(const uint8_t *b, size_t n, size_t max, char *err, size_t errlen, bool finish)
{
	struct grpc_deframer d;
	int code;

	grpc_deframer_init(&d, max);
	code = grpc_deframer_feed(&d, b, n, err, errlen);
	if (!code && finish)
		code = grpc_deframer_finish(&d, err, errlen);
	grpc_deframer_reset(&d);
	return code;
}

Test(grpc_wire, deframer_errors)
{
	char err[160];
	size_t n;

	/* An empty message is one message. */
	{
		_cleanup_free_ uint8_t *b = framed(NULL, 0, &n);
		cr_assert_eq(feed_all(b, n, 100, err, sizeof(err), true), 0);
	}
	/* Nothing, or a cut header or body. */
	cr_assert_eq(feed_all(NULL, 0, 100, err, sizeof(err), true), TTRPC_INTERNAL);
	cr_assert_str_eq(err, "no request message");
	cr_assert_eq(feed_all((const uint8_t *)"\0\0\0", 3, 100, err, sizeof(err), true),
		     TTRPC_INTERNAL);
	cr_assert(strstr(err, "cut short"), "%s", err);
	cr_assert_eq(feed_all((const uint8_t *)"\0\0\0\0\3ab", 7, 100, err, sizeof(err), true),
		     TTRPC_INTERNAL);
	cr_assert(strstr(err, "cut short"), "%s", err);
	/* Compressed, with no encoding negotiated. */
	cr_assert_eq(feed_all((const uint8_t *)"\1\0\0\0\1x", 6, 100, err, sizeof(err), false),
		     TTRPC_INTERNAL);
	cr_assert(strstr(err, "compressed"), "%s", err);
	/* Two messages for a unary method. */
	cr_assert_eq(feed_all((const uint8_t *)"\0\0\0\0\1x\0", 7, 100, err, sizeof(err), false),
		     TTRPC_INTERNAL);
	cr_assert(strstr(err, "more than one"), "%s", err);
	cr_assert_eq(
	    feed_all((const uint8_t *)"\0\0\0\0\0\0\0\0\0\0", 10, 100, err, sizeof(err), false),
	    TTRPC_INTERNAL);
	/* The limit: max is fine, max + 1 is not (told at the header). */
	{
		uint8_t h[5];
		_cleanup_free_ uint8_t *big = xcalloc(1, 101 + 5);
		grpc_prefix_encode(big, 100);
		cr_assert_eq(feed_all(big, 105, 100, err, sizeof(err), true), 0);
		grpc_prefix_encode(h, 101);
		cr_assert_eq(feed_all(h, 5, 100, err, sizeof(err), false),
			     TTRPC_RESOURCE_EXHAUSTED);
		cr_assert_str_eq(err, "received message larger than max (101 vs. 100)");
		grpc_prefix_encode(h, 0xffffffffu);
		cr_assert_eq(feed_all(h, 5, GRPC_MAX_MESSAGE, err, sizeof(err), false),
			     TTRPC_RESOURCE_EXHAUSTED);
		cr_assert_str_eq(err, "received message larger than max (4294967295 vs. 4194304)");
	}
}

Test(grpc_wire, deframer_grows_with_data)
{
	struct grpc_deframer d;
	uint8_t h[5];
	char err[128];
	_cleanup_free_ uint8_t *chunk = xcalloc(1, 100000);

	/* A 4 MiB announcement holds nothing until the bytes come. */
	grpc_deframer_init(&d, GRPC_MAX_MESSAGE);
	grpc_prefix_encode(h, GRPC_MAX_MESSAGE);
	cr_assert_eq(grpc_deframer_feed(&d, h, 5, err, sizeof(err)), 0);
	cr_assert_eq(d.cap, 0);
	cr_assert_eq(grpc_deframer_feed(&d, chunk, 10, err, sizeof(err)), 0);
	cr_assert_leq(d.cap, 16384);
	for (size_t got = 10; got < GRPC_MAX_MESSAGE;) {
		size_t n = GRPC_MAX_MESSAGE - got < 100000 ? GRPC_MAX_MESSAGE - got : 100000;
		cr_assert_eq(grpc_deframer_feed(&d, chunk, n, err, sizeof(err)), 0);
		got += n;
		cr_assert_leq(d.cap, 2 * got + 16384);
		cr_assert_leq(d.cap, GRPC_MAX_MESSAGE);
	}
	cr_assert_eq(grpc_deframer_finish(&d, err, sizeof(err)), 0, "%s", err);
	grpc_deframer_reset(&d);
	cr_assert_eq(d.cap, 0);
	cr_assert_null(d.buf);
}
