/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "pbcheck.h"
#include "ttrpc.h"
#include "util.h"

static const char *const code_names[] = {
    "OK",       "Canceled",        "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",   "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",      "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated",
};

const char *ttrpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= KC_ARRAY_SIZE(code_names))
		return "Unknown";
	return code_names[code];
}

int ttrpc_code_from_errno(int e)
{
	switch (e) {
	case 0:
		return TTRPC_UNKNOWN;
	case ENOENT:
	case ESRCH:
		return TTRPC_NOT_FOUND;
	case EEXIST:
		return TTRPC_ALREADY_EXISTS;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
		return TTRPC_INVALID_ARGUMENT;
	case ENOSYS:
	case EOPNOTSUPP:
		return TTRPC_UNIMPLEMENTED;
	case ETIMEDOUT:
		return TTRPC_DEADLINE_EXCEEDED;
	case ECANCELED:
		return TTRPC_CANCELLED;
	case EBUSY:
	case EALREADY:
	case ENOTEMPTY:
		return TTRPC_FAILED_PRECONDITION;
	case EMSGSIZE:
	case ENOBUFS:
		return TTRPC_RESOURCE_EXHAUSTED;
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ENOTCONN:
		return TTRPC_UNAVAILABLE;
	case EACCES:
		return TTRPC_PERMISSION_DENIED;
	default:
		return TTRPC_UNKNOWN;
	}
}

int ttrpc_errno_from_code(int code)
{
	switch (code) {
	case TTRPC_OK:
		return 0;
	case TTRPC_CANCELLED:
		return ECANCELED;
	case TTRPC_INVALID_ARGUMENT:
	case TTRPC_OUT_OF_RANGE:
		return EINVAL;
	case TTRPC_DEADLINE_EXCEEDED:
		return ETIMEDOUT;
	case TTRPC_NOT_FOUND:
		return ENOENT;
	case TTRPC_ALREADY_EXISTS:
		return EEXIST;
	case TTRPC_PERMISSION_DENIED:
	case TTRPC_UNAUTHENTICATED:
		return EACCES;
	case TTRPC_RESOURCE_EXHAUSTED:
		return ENOBUFS;
	case TTRPC_FAILED_PRECONDITION:
	case TTRPC_ABORTED:
		return EBUSY;
	case TTRPC_UNIMPLEMENTED:
		return ENOSYS;
	case TTRPC_UNAVAILABLE:
		return ECONNREFUSED;
	default:
		return EIO;
	}
}

uint8_t *kc_pb_pack(const ProtobufCMessage *msg, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(n ? n : 1);
	protobuf_c_message_pack(msg, buf);
	*len = n;
	return buf;
}

int kc_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
		 ProtobufCMessage **ret, kc_err **err)
{
	ProtobufCMessage *m;

	if (kc_pb_check_strings(desc, data, len, err) < 0)
		return kc_err_retp(err);
	m = protobuf_c_message_unpack(desc, NULL, len, data);
	if (!m)
		return kc_err_set(err, EINVAL, "malformed %s message (%zu bytes)", desc->name, len);
	*ret = m;
	return 0;
}

int ttrpc_call_unpack(ttrpc_call *c, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		      size_t len, ProtobufCMessage **ret)
{
	kc_err *err = NULL;
	if (kc_pb_unpack(desc, data, len, ret, &err) == 0)
		return 0;
	ttrpc_call_reply_error(c, TTRPC_INVALID_ARGUMENT, "%s: %s", ttrpc_call_method(c), err->msg);
	kc_err_free(err);
	return -1;
}

Google__Protobuf__Timestamp *kc_pb_timestamp(Google__Protobuf__Timestamp *ts, uint64_t ns)
{
	google__protobuf__timestamp__init(ts);
	ts->seconds = (int64_t)(ns / KC_NSEC_PER_SEC);
	ts->nanos = (int32_t)(ns % KC_NSEC_PER_SEC);
	return ts;
}

uint64_t kc_pb_timestamp_ns(const Google__Protobuf__Timestamp *ts)
{
	if (!ts || ts->seconds < 0)
		return 0;
	return (uint64_t)ts->seconds * KC_NSEC_PER_SEC + (uint64_t)ts->nanos;
}
