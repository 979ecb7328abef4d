/* SPDX-License-Identifier: Apache-2.0 */
/* Ids from the wire (lib/id.h) and strings with embedded NULs (lib/pbcheck.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "containerd/task/v2/shim.pb-c.h"
#include "id.h"
#include "pbcheck.h"
#include "ttrpc.h"
#include "ttrpc/request.pb-c.h"
#include "util.h"

Test(id, accepted_and_refused)
{
	char long_ok[KC_ID_MAX + 1], too_long[KC_ID_MAX + 2];
	const char *good[] = {"a", "ctr-1", "A_b.c-9", "x..y", long_ok};
	const char *bad[] = {"",     ".",   "..",   ".hidden", "-rf",   "a/b",
			     "../x", "a b", "a\nb", "é",       too_long};
	kc_err *e = NULL;

	memset(long_ok, 'k', KC_ID_MAX);
	long_ok[KC_ID_MAX] = '\0';
	memset(too_long, 'k', KC_ID_MAX + 1);
	too_long[KC_ID_MAX + 1] = '\0';
	for (size_t i = 0; i < KC_ARRAY_SIZE(good); i++)
		cr_assert_eq(kc_id_check("container id", good[i], &e), 0, "%s: %s", good[i],
			     kc_err_msg(e));
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		cr_assert_lt(kc_id_check("exec id", bad[i], &e), 0, "`%s` accepted", bad[i]);
		cr_assert(kc_has_prefix(e->msg, "exec id "), "%s", e->msg);
		kc_err_freep(&e);
	}
	cr_assert_lt(kc_id_check("container id", NULL, &e), 0);
	kc_err_free(e);
}

/* CreateTaskRequest{id: <id>, rootfs: [Mount{type: <type>}]} by hand: C
 * strings cannot carry the NUL protobuf-c would cut. */
static size_t create_request(uint8_t *out, const char *id, size_t id_len, const char *type,
			     size_t type_len)
{
	size_t n = 0;
	out[n++] = 0x0a; /* field 1, length-delimited */
	out[n++] = (uint8_t)id_len;
	memcpy(out + n, id, id_len);
	n += id_len;
	out[n++] = 0x1a; /* field 3: a Mount */
	out[n++] = (uint8_t)(type_len + 2);
	out[n++] = 0x0a; /* Mount.type */
	out[n++] = (uint8_t)type_len;
	memcpy(out + n, type, type_len);
	n += type_len;
	out[n++] = 0x20; /* field 4 (terminal), varint */
	out[n++] = 1;
	return n;
}

Test(pbcheck, nul_in_a_string_is_refused_naming_the_field)
{
	const ProtobufCMessageDescriptor *d =
	    &containerd__task__v2__create_task_request__descriptor;
	uint8_t buf[128];
	size_t n;
	kc_err *e = NULL;
	ProtobufCMessage *m = NULL;

	n = create_request(buf, "ok", 2, "overlay", 7);
	cr_assert_eq(kc_pb_check_strings(d, buf, n, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_pb_unpack(d, buf, n, &m, &e), 0, "%s", kc_err_msg(e));
	cr_assert_str_eq(((Containerd__Task__V2__CreateTaskRequest *)m)->id, "ok");
	protobuf_c_message_free_unpacked(m, NULL);

	n = create_request(buf, "ok\0/../x", 8, "overlay", 7);
	cr_assert_lt(kc_pb_check_strings(d, buf, n, &e), 0);
	cr_assert_str_eq(e->msg, "containerd.task.v2.CreateTaskRequest.id: contains a NUL byte");
	kc_err_freep(&e);
	/* The generic unpacker refuses it too. */
	cr_assert_lt(kc_pb_unpack(d, buf, n, &m, &e), 0);
	kc_err_freep(&e);

	/* In a nested message. */
	n = create_request(buf, "ok", 2, "bind\0x", 6);
	cr_assert_lt(kc_pb_check_strings(d, buf, n, &e), 0);
	cr_assert_str_eq(e->msg, "containerd.types.Mount.type: contains a NUL byte");
	kc_err_freep(&e);
}

Test(pbcheck, bytes_fields_and_garbage_are_left_alone)
{
	/* Request.payload (bytes) may hold NULs; garbage is the unpacker's. */
	const uint8_t payload[] = {0x1a, 3, 'a', 0, 'b'};
	const uint8_t garbage[] = {0x0a, 0x7f, 1, 2};
	kc_err *e = NULL;

	cr_assert_eq(kc_pb_check_strings(&ttrpc__request__descriptor, payload, sizeof(payload), &e),
		     0, "%s", kc_err_msg(e));
	cr_assert_eq(kc_pb_check_strings(&ttrpc__request__descriptor, garbage, sizeof(garbage), &e),
		     0);
}
