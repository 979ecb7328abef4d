/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc frame decoder (lib/frame.c) on a byte stream split at arbitrary
 * points. Byte 0 chooses the frame limit (small ones make the oversize path
 * common) and byte 1 the read sizes; the rest is the stream. Every byte must
 * be accounted for: the frames decoded, re-encoded, are the stream again
 * (an oversize frame's data is skipped, not kept), and what is left over is a
 * partial frame the decoder holds.
 */
#include "frame.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[] = {0, 16, 1024, 65536};
	struct ttrpc_decoder d;
	size_t off, step, frame_start = 0;
	uint8_t hdr[TTRPC_HDR_LEN];

	if (size < 2 || size > FUZZ_MAX_INPUT)
		return -1;
	ttrpc_decoder_init(&d, limits[data[0] % 4]);
	step = (size_t)data[1] % 64 + 1;
	data += 2;
	size -= 2;
	for (off = 0; off < size;) {
		size_t chunk = step < size - off ? step : size - off;
		size_t used = 0;

		/* Like conn_read: feed the chunk until it is used up. */
		while (used < chunk) {
			struct ttrpc_frame f;
			bool got;
			size_t n =
			    ttrpc_decoder_feed(&d, data + off + used, chunk - used, &f, &got);

			FUZZ_CHECK(n <= chunk - used);
			FUZZ_CHECK(n > 0 || got);
			used += n;
			if (!got)
				continue;
			/* The frame is exactly the bytes since the last one. */
			ttrpc_hdr_encode(&f.hdr, hdr);
			FUZZ_CHECK(!memcmp(hdr, data + frame_start, TTRPC_HDR_LEN));
			FUZZ_CHECK(frame_start + TTRPC_HDR_LEN + f.hdr.len == off + used);
			FUZZ_CHECK(f.oversize == (f.hdr.len > d.max));
			if (f.oversize)
				FUZZ_CHECK(!f.data);
			else if (f.hdr.len)
				FUZZ_CHECK(
				    !memcmp(f.data, data + frame_start + TTRPC_HDR_LEN, f.hdr.len));
			free(f.data);
			frame_start = off + used;
		}
		off += chunk;
	}
	/* A partial frame remains only if the stream ended inside one. */
	FUZZ_CHECK((frame_start == size) == (d.hhave == 0 && !d.in_body));
	ttrpc_decoder_reset(&d);
	return 0;
}
