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

static void emit(struct ttrpc_decoder *d, struct ttrpc_frame *out, bool oversize)
{
	out->hdr = d->hdr;
	out->data = oversize ? NULL : d->data;
	out->oversize = oversize;
	d->data = NULL;
	d->have = 0;
	d->hhave = 0;
	d->in_body = false;
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
		else if (d->hdr.len > 0)
			d->data = xmalloc(d->hdr.len);
	}
	if (d->hdr.len > d->max) {
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
