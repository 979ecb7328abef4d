/* SPDX-License-Identifier: Apache-2.0 */
#include "pbcheck.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Deeper nesting is left unchecked (our schemas are a few levels deep). */
#define MAX_DEPTH 32

static bool varint(const uint8_t *d, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = d[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *d, size_t len, int depth,
		kc_err **err)
{
	size_t pos = 0;

	if (depth > MAX_DEPTH)
		return 0;
	while (pos < len) {
		uint64_t tag, n;
		const ProtobufCFieldDescriptor *f;

		if (!varint(d, len, &pos, &tag))
			return 0;
		switch (tag & 7) {
		case 0: /* varint */
			if (!varint(d, len, &pos, &n))
				return 0;
			continue;
		case 1: /* 64-bit */
			pos += 8;
			continue;
		case 5: /* 32-bit */
			pos += 4;
			continue;
		case 2: /* length-delimited */
			if (!varint(d, len, &pos, &n) || n > len - pos)
				return 0;
			break;
		default: /* groups, or garbage: the unpacker decides */
			return 0;
		}
		f = tag >> 3 <= UINT32_MAX
			? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
			: NULL;
		if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(d + pos, 0, n))
			return kc_err_set(err, EINVAL, "%s.%s: contains a NUL byte", desc->name,
					  f->name);
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor &&
		    walk(f->descriptor, d + pos, n, depth + 1, err) < 0)
			return -EINVAL;
		pos += n;
	}
	return 0;
}

int kc_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
			kc_err **err)
{
	return walk(desc, data, len, 0, err);
}
