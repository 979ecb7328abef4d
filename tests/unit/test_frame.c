/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc frame header and incremental decoder. */
#include <criterion/criterion.h>
#include <string.h>

#include "frame.h"
#include "util.h"

Test(frame, header_is_big_endian_10_bytes)
{
	struct ttrpc_hdr h = {.len = 0x01020304, .stream_id = 0x0a0b0c0d, .type = 2, .flags = 5};
	uint8_t b[TTRPC_HDR_LEN];
	const uint8_t want[] = {1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 2, 5};
	struct ttrpc_hdr back;

	ttrpc_hdr_encode(&h, b);
	cr_assert_arr_eq(b, want, sizeof(want));
	ttrpc_hdr_decode(b, &back);
	cr_assert_eq(back.len, h.len);
	cr_assert_eq(back.stream_id, h.stream_id);
	cr_assert_eq(back.type, h.type);
	cr_assert_eq(back.flags, h.flags);
}

/* Three frames back to back, including an empty one. */
static size_t build_stream(uint8_t *out)
{
	const char *payloads[] = {"hello", "", "0123456789abcdef"};
	size_t n = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct ttrpc_hdr h = {.len = (uint32_t)strlen(payloads[i]),
				      .stream_id = 2 * i + 1,
				      .type = TTRPC_TYPE_REQUEST,
				      .flags = (uint8_t)i};
		ttrpc_hdr_encode(&h, out + n);
		n += TTRPC_HDR_LEN;
		memcpy(out + n, payloads[i], h.len);
		n += h.len;
	}
	return n;
}

static void check_frames(const uint8_t *buf, size_t len, size_t split)
{
	struct ttrpc_decoder d;
	const char *want[] = {"hello", "", "0123456789abcdef"};
	unsigned got_n = 0;
	size_t parts[2][2] = {{0, split}, {split, len}};

	ttrpc_decoder_init(&d, TTRPC_MAX_DATA);
	for (int p = 0; p < 2; p++) {
		size_t off = parts[p][0];
		while (off < parts[p][1]) {
			struct ttrpc_frame f;
			bool got;
			off += ttrpc_decoder_feed(&d, buf + off, parts[p][1] - off, &f, &got);
			if (!got)
				continue;
			cr_assert_lt(got_n, 3);
			cr_assert_eq(f.hdr.stream_id, 2 * got_n + 1, "split %zu", split);
			cr_assert_eq(f.hdr.len, strlen(want[got_n]));
			cr_assert_eq(f.hdr.flags, got_n);
			cr_assert_not(f.oversize);
			if (f.hdr.len)
				cr_assert_arr_eq(f.data, want[got_n], f.hdr.len);
			free(f.data);
			got_n++;
		}
	}
	cr_assert_eq(got_n, 3, "split at %zu gave %u frames", split, got_n);
	ttrpc_decoder_reset(&d);
}

Test(frame, split_at_every_byte)
{
	uint8_t buf[256];
	size_t len = build_stream(buf);
	for (size_t split = 0; split <= len; split++)
		check_frames(buf, len, split);
}

Test(frame, one_byte_at_a_time)
{
	uint8_t buf[256];
	size_t len = build_stream(buf);
	struct ttrpc_decoder d;
	unsigned frames = 0;

	ttrpc_decoder_init(&d, TTRPC_MAX_DATA);
	for (size_t i = 0; i < len;) {
		struct ttrpc_frame f;
		bool got;
		i += ttrpc_decoder_feed(&d, buf + i, 1, &f, &got);
		if (got) {
			free(f.data);
			frames++;
		}
	}
	cr_assert_eq(frames, 3);
}

Test(frame, oversize_is_skipped_and_reported)
{
	struct ttrpc_decoder d;
	struct ttrpc_hdr big = {.len = 100, .stream_id = 7, .type = TTRPC_TYPE_REQUEST};
	struct ttrpc_hdr small = {.len = 2, .stream_id = 9, .type = TTRPC_TYPE_REQUEST};
	uint8_t buf[TTRPC_HDR_LEN * 2 + 102];
	size_t n = 0, off = 0;
	int seen = 0;

	ttrpc_decoder_init(&d, 64); /* a small limit stands in for 4 MiB */
	ttrpc_hdr_encode(&big, buf);
	n += TTRPC_HDR_LEN;
	memset(buf + n, 'x', 100);
	n += 100;
	ttrpc_hdr_encode(&small, buf + n);
	n += TTRPC_HDR_LEN;
	memcpy(buf + n, "ok", 2);
	n += 2;
	while (off < n) {
		struct ttrpc_frame f;
		bool got;
		off += ttrpc_decoder_feed(&d, buf + off, (n - off) > 7 ? 7 : n - off, &f, &got);
		if (!got)
			continue;
		if (seen == 0) {
			cr_assert(f.oversize);
			cr_assert_null(f.data);
			cr_assert_eq(f.hdr.stream_id, 7);
			cr_assert_eq(f.hdr.len, 100);
		} else {
			cr_assert_not(f.oversize);
			cr_assert_eq(f.hdr.stream_id, 9);
			cr_assert_arr_eq(f.data, "ok", 2);
			free(f.data);
		}
		seen++;
	}
	cr_assert_eq(seen, 2);
}

Test(frame, default_limit_is_4MiB)
{
	struct ttrpc_decoder d;
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = {.len = TTRPC_MAX_DATA + 1, .stream_id = 1, .type = 1};
	struct ttrpc_frame f;
	bool got;

	ttrpc_decoder_init(&d, 0);
	cr_assert_eq(d.max, 4u << 20);
	ttrpc_hdr_encode(&h, hdr);
	cr_assert_eq(ttrpc_decoder_feed(&d, hdr, sizeof(hdr), &f, &got), TTRPC_HDR_LEN);
	cr_assert_not(got);
	cr_assert_null(d.data, "an oversize frame must not allocate its length");
	ttrpc_decoder_reset(&d);
}

Test(frame, buffer_grows_with_the_data_not_the_header)
{
	struct ttrpc_decoder d;
	uint8_t hdr[TTRPC_HDR_LEN];
	struct ttrpc_hdr h = {.len = TTRPC_MAX_DATA, .stream_id = 1, .type = 1};
	static uint8_t chunk[100000];
	struct ttrpc_frame f;
	bool got;
	size_t fed = 0;

	ttrpc_decoder_init(&d, 0);
	ttrpc_hdr_encode(&h, hdr);
	cr_assert_eq(ttrpc_decoder_feed(&d, hdr, sizeof(hdr), &f, &got), sizeof(hdr));
	cr_assert(ttrpc_decoder_partial(&d));
	/* A peer that announced 4 MiB and sent nothing holds nothing. */
	cr_assert_eq(d.cap, 0);
	fed += ttrpc_decoder_feed(&d, chunk, 10, &f, &got);
	cr_assert_leq(d.cap, 64u << 10);
	while (fed < TTRPC_MAX_DATA) {
		size_t n =
		    TTRPC_MAX_DATA - fed < sizeof(chunk) ? TTRPC_MAX_DATA - fed : sizeof(chunk);
		fed += ttrpc_decoder_feed(&d, chunk, n, &f, &got);
		/* Never more than twice what arrived, never past the frame. */
		cr_assert_leq(d.cap, TTRPC_MAX_DATA);
		if (!got)
			cr_assert_leq(d.cap, 2 * fed + (64u << 10));
	}
	cr_assert(got);
	cr_assert_not(f.oversize);
	cr_assert_not(ttrpc_decoder_partial(&d));
	cr_assert_eq(d.cap, 0);
	free(f.data);
}
