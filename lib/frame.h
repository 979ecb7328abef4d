/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc message framing: a 10-byte header (big-endian data length, big-endian
 * stream id, type, flags) followed by the data. The decoder accepts input split
 * at any byte and never buffers more than TTRPC_MAX_DATA per frame: a larger
 * frame's data is skipped and reported as oversize, so the caller can answer
 * with RESOURCE_EXHAUSTED like containerd's ttrpc does. The buffer grows as the
 * data arrives, so a header alone costs nothing: a peer that announces 4 MiB
 * holds only what it has sent. A frame whose buffer cannot be allocated is
 * skipped like an oversize one (nomem), never a reason to abort.
 */
#ifndef KC_FRAME_H
#define KC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTRPC_HDR_LEN  10
#define TTRPC_MAX_DATA (4u << 20)

enum ttrpc_type {
	TTRPC_TYPE_REQUEST = 1,
	TTRPC_TYPE_RESPONSE = 2,
	TTRPC_TYPE_DATA = 3,
};

enum ttrpc_flag {
	TTRPC_FLAG_REMOTE_CLOSED = 1 << 0,
	TTRPC_FLAG_REMOTE_OPEN = 1 << 1,
	TTRPC_FLAG_NO_DATA = 1 << 2,
};

struct ttrpc_hdr {
	uint32_t len;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_hdr_encode(const struct ttrpc_hdr *h, uint8_t out[TTRPC_HDR_LEN]);
void ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_LEN], struct ttrpc_hdr *h);

struct ttrpc_frame {
	struct ttrpc_hdr hdr;
	uint8_t *data; /* malloc'd, owned by the receiver; NULL when len == 0 or oversize */
	bool oversize; /* hdr.len > max, or nomem: data was discarded */
	bool nomem;    /* out of memory for the data (oversize is set too) */
};

struct ttrpc_decoder {
	uint32_t max; /* largest accepted data length */
	uint8_t hbuf[TTRPC_HDR_LEN];
	size_t hhave;
	struct ttrpc_hdr hdr;
	uint8_t *data;
	size_t have;
	size_t cap;  /* bytes allocated for data (grows as it arrives) */
	size_t skip; /* bytes of an oversize frame still to discard */
	bool in_body;
	bool nomem; /* the current frame's data is being discarded: no memory */
};

void ttrpc_decoder_init(struct ttrpc_decoder *d, uint32_t max);
void ttrpc_decoder_reset(struct ttrpc_decoder *d);
/* Consume up to len bytes. Returns the number consumed; sets *got when a frame
 * completed (then stops, so the caller handles frames one at a time). */
size_t ttrpc_decoder_feed(struct ttrpc_decoder *d, const uint8_t *buf, size_t len,
			  struct ttrpc_frame *out, bool *got);
/* In the middle of a frame (part of a header or of its data received). */
bool ttrpc_decoder_partial(const struct ttrpc_decoder *d);

#endif
