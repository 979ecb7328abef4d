/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf-c hands strings to C as NUL-terminated copies, so a string with an
 * embedded NUL ("ok\0/../x") silently becomes its prefix: two ids the client
 * believes distinct collide, and the client's record disagrees with ours.
 * This walks the wire bytes of a message (with its descriptor, into nested
 * messages) and refuses any string field holding a NUL. */
#ifndef KC_PBCHECK_H
#define KC_PBCHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* 0, or -EINVAL naming the field ("containerd.task.v2.CreateTaskRequest.id:
 * contains a NUL byte"). Malformed input is left to the unpacker (0). */
int kc_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
			kc_err **err);

#endif
