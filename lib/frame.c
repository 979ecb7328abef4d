/* SPDX-License-Identifier: Apache-2.0 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void ttrpc_hdr_encode(const struct ttrpc_hdr *h, uint8_t out[TTRPC_HDR_LEN])
{
	out[0] = (uint8_t)(h->len >> 24);
	out[1] = (uint8_t)(h->len >> 16);
	out[2] = (uint8_t)(h->len >> 8);
	out[3] = (uint8_t)h->len;
	out[4] = (uint8_t)(h->stream_id >> 24);
	out[5] = (uint8_t)(h->stream_id >> 16);
	out[6] = (uint8_t)(h->stream_id >> 8);
	out[7] = (uint8_t)h->stream_id;
	out[8] = h->type;
	out[9] = h->flags;
}

void ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_LEN], struct ttrpc_hdr *h)
{
	h->len = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
	h->stream_id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
	h->type = in[8];
	h->flags = in[9];
}

void ttrpc_decoder_init(struct ttrpc_decoder *d, uint32_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max ? max : TTRPC_MAX_DATA;
}

void ttrpc_decoder_reset(struct ttrpc_decoder *d)
{
	uint32_t max = d->max;
	free(d->data);
	ttrpc_decoder_init(d, max);
}

/* Smallest first allocation: most frames are small and arrive whole. */
#define GROW_MIN (64u << 10)

static void emit(struct ttrpc_decoder *d, struct ttrpc_frame *out, bool oversize)
{
	out->hdr = d->hdr;
	out->data = oversize ? NULL : d->data;
	out->oversize = oversize;
	out->nomem = d->nomem;
	if (oversize)
		free(d->data);
	d->data = NULL;
	d->have = 0;
	d->cap = 0;
	d->hhave = 0;
	d->in_body = false;
	d->nomem = false;
}

/* Room for n more bytes of the current frame: grow geometrically, never past
 * the frame's length, so memory follows what the peer actually sent. */
static bool reserve(struct ttrpc_decoder *d, size_t n)
{
	size_t want = d->have + n, cap;
	uint8_t *p;

	if (want <= d->cap)
		return true;
	cap = d->cap * 2 > GROW_MIN ? d->cap * 2 : GROW_MIN;
	if (cap < want)
		cap = want;
	if (cap > d->hdr.len)
		cap = d->hdr.len;
	p = realloc(d->data, cap);
	if (!p)
		return false;
	d->data = p;
	d->cap = cap;
	return true;
}

bool ttrpc_decoder_partial(const struct ttrpc_decoder *d)
{
	return d->hhave > 0 || d->in_body;
}

size_t ttrpc_decoder_feed(struct ttrpc_decoder *d, const uint8_t *buf, size_t len,
			  struct ttrpc_frame *out, bool *got)
{
	size_t used = 0, n;

	*got = false;
	if (!d->in_body) {
		n = TTRPC_HDR_LEN - d->hhave;
		if (n > len)
			n = len;
		memcpy(d->hbuf + d->hhave, buf, n);
		d->hhave += n;
		used += n;
		if (d->hhave < TTRPC_HDR_LEN)
			return used;
		ttrpc_hdr_decode(d->hbuf, &d->hdr);
		d->in_body = true;
		d->have = 0;
		d->skip = 0;
		if (d->hdr.len > d->max)
			d->skip = d->hdr.len;
	}
	if (d->hdr.len > d->max || d->nomem) {
		n = d->skip < len - used ? d->skip : len - used;
		d->skip -= n;
		used += n;
		if (d->skip == 0) {
			emit(d, out, true);
			*got = true;
		}
		return used;
	}
	n = d->hdr.len - d->have;
	if (n > len - used)
		n = len - used;
	if (n && !reserve(d, n)) {
		/* Discard this frame's data (what we have and what is to come). */
		free(d->data);
		d->data = NULL;
		d->cap = 0;
		d->nomem = true;
		d->skip = d->hdr.len - d->have;
		return used + ttrpc_decoder_feed(d, buf + used, len - used, out, got);
	}
	if (n)
		memcpy(d->data + d->have, buf + used, n);
	d->have += n;
	used += n;
	if (d->have == d->hdr.len) {
		emit(d, out, false);
		*got = true;
	}
	return used;
}
