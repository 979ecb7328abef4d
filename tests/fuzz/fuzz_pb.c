/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf messages kuasar-c unpacks from a peer (kc_pb_unpack): the Task API
 * and SandboxService requests vmm-task serves, the responses and events the
 * shim takes from a (possibly hostile) guest, and the sandbox Controller
 * requests vmm-sandboxer serves. Byte 0 picks the type, the rest is the
 * message. What the agent does next with the fields that carry more syntax
 * runs too: ids through kc_id_check, rootfs mount options through
 * kc_mount_opts_parse, Exec's process spec through kc_process_parse and
 * Update's resources through kc_resources_parse (as svc_task_update calls it:
 * into a stack struct, cleared whatever the result). Every message that
 * unpacks must pass protobuf_c_message_check (every string set, as the
 * handlers assume) and pack again. (Not "unpack again": protobuf-c keeps an
 * unknown field numbered 0, which it then refuses to read back.)
 */
#include "containerd/events/task.pb-c.h"
#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "fuzz.h"
#include "id.h"
#include "kuasar/sandbox.pb-c.h"
#include "mountopt.h"
#include "spec.h"
#include "ttrpc.h"
#include "util.h"

#define FUZZ_MAX_INPUT (1u << 20)

static const ProtobufCMessageDescriptor *const types[] = {
    /* vmm-task, from the shim */
    &containerd__task__v2__create_task_request__descriptor,
    &containerd__task__v2__start_request__descriptor,
    &containerd__task__v2__delete_request__descriptor,
    &containerd__task__v2__state_request__descriptor,
    &containerd__task__v2__wait_request__descriptor,
    &containerd__task__v2__kill_request__descriptor,
    &containerd__task__v2__exec_process_request__descriptor,
    &containerd__task__v2__resize_pty_request__descriptor,
    &containerd__task__v2__close_iorequest__descriptor,
    &containerd__task__v2__pids_request__descriptor,
    &containerd__task__v2__update_task_request__descriptor,
    &containerd__task__v2__stats_request__descriptor,
    &containerd__task__v2__connect_request__descriptor,
    &containerd__task__v2__shutdown_request__descriptor,
    &containerd__task__v2__pause_request__descriptor,
    &containerd__task__v2__resume_request__descriptor,
    &grpc__check_request__descriptor,
    &grpc__sync_clock_packet__descriptor,
    /* the shim, from the guest */
    &containerd__task__v2__create_task_response__descriptor,
    &containerd__task__v2__start_response__descriptor,
    &containerd__task__v2__state_response__descriptor,
    &containerd__task__v2__delete_response__descriptor,
    &containerd__task__v2__wait_response__descriptor,
    &containerd__task__v2__pids_response__descriptor,
    &containerd__task__v2__stats_response__descriptor,
    &containerd__task__v2__connect_response__descriptor,
    &containerd__events__task_oom__descriptor,
    &containerd__events__task_exit__descriptor,
    /* vmm-sandboxer, from containerd */
    &containerd__services__sandbox__v1__controller_create_request__descriptor,
    &containerd__services__sandbox__v1__controller_start_request__descriptor,
    &containerd__services__sandbox__v1__controller_stop_request__descriptor,
    &containerd__services__sandbox__v1__controller_wait_request__descriptor,
    &containerd__services__sandbox__v1__controller_status_request__descriptor,
    &containerd__services__sandbox__v1__controller_shutdown_request__descriptor,
    &containerd__services__sandbox__v1__controller_update_request__descriptor,
};

static void id(const char *what, const char *v)
{
	kc_err *err = NULL;
	int r = kc_id_check(what, v, &err);

	fuzz_check_err(r, err);
	if (r == 0) {
		size_t n = strlen(v);
		FUZZ_CHECK(n >= 1 && n <= KC_ID_MAX && v[0] != '.' && v[0] != '-');
		FUZZ_CHECK(!strchr(v, '/'));
	}
	kc_err_free(err);
}

static void create(const Containerd__Task__V2__CreateTaskRequest *r)
{
	id("container id", r->id);
	for (size_t i = 0; i < r->n_rootfs; i++) {
		struct kc_mount_opts o;
		kc_err *err = NULL;
		int rc =
		    kc_mount_opts_parse(r->rootfs[i]->options, r->rootfs[i]->n_options, &o, &err);
		fuzz_check_err(rc, err);
		kc_err_free(err);
		kc_mount_opts_clear(&o);
	}
}

static void exec(const Containerd__Task__V2__ExecProcessRequest *r)
{
	struct kc_process p = {0};
	kc_err *err = NULL;
	int rc;

	id("container id", r->id);
	id("exec id", r->exec_id);
	if (!r->spec || !r->spec->value.len)
		return;
	rc = kc_process_parse((const char *)r->spec->value.data, r->spec->value.len, &p, &err);
	fuzz_check_err(rc, err);
	kc_err_free(err);
	kc_process_clear(&p);
}

static void update(const Containerd__Task__V2__UpdateTaskRequest *r)
{
	struct kc_resources res;
	kc_err *err = NULL;
	int rc;

	id("container id", r->id);
	if (!r->resources || !r->resources->value.len)
		return;
	memset(&res, 0xa5, sizeof(res));
	rc = kc_resources_parse((const char *)r->resources->value.data, r->resources->value.len,
				&res, &err);
	fuzz_check_err(rc, err);
	kc_err_free(err);
	kc_resources_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m = NULL;
	kc_err *err = NULL;
	uint8_t *packed;
	size_t n;
	int r;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return -1;
	desc = types[data[0] % KC_ARRAY_SIZE(types)];
	r = kc_pb_unpack(desc, data + 1, size - 1, &m, &err);
	fuzz_check_err(r, err);
	kc_err_free(err);
	if (r < 0)
		return 0;
	if (desc == &containerd__task__v2__create_task_request__descriptor)
		create((const void *)m);
	else if (desc == &containerd__task__v2__exec_process_request__descriptor)
		exec((const void *)m);
	else if (desc == &containerd__task__v2__update_task_request__descriptor)
		update((const void *)m);
	FUZZ_CHECK(protobuf_c_message_check(m));
	packed = kc_pb_pack(m, &n);
	free(packed);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
