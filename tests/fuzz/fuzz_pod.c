/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CRI options decoder of vmm-sandboxer (host/sandboxer/pod_config.c):
 * a Controller.Create request whose `options` Any carries fuzzed
 * PodSandboxConfig bytes, plus fuzzed annotations. Input layout:
 *   byte 0      type_url: 0 none (no options), 1 "", 2 containerd's URL, 3 another
 *   bytes 1..2  big-endian length L of the options value
 *   L bytes     the options value (a serialized runtime.v1.PodSandboxConfig)
 *   the rest    annotations, one "key=value" per line (at most 64)
 * A parsed pod must be a VM the sandboxer can start: sizes in range, a
 * hostname and a resolv.conf that cannot smuggle in other lines or paths.
 */
#include "config.h"
#include "fuzz.h"
#include "pod_config.h"

#define FUZZ_MAX_INPUT  (256u << 10)
#define MAX_ANNOTATIONS 64

typedef Containerd__Services__Sandbox__V1__ControllerCreateRequest Req;
typedef Containerd__Services__Sandbox__V1__ControllerCreateRequest__AnnotationsEntry Entry;

static struct sbx_config C;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sbx_config_defaults(&C, SBX_HV_QEMU);
	return 0;
}

static void check_resolv(const char *rc)
{
	/* Every line is one of ours: the DNS entries cannot start new ones. */
	for (const char *l = rc; *l;) {
		const char *nl = strchr(l, '\n');
		FUZZ_CHECK(nl);
		FUZZ_CHECK(!strncmp(l, "nameserver ", 11) || !strncmp(l, "search ", 7) ||
			   !strncmp(l, "options ", 8));
		l = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const urls[] = {NULL, "",
					   "type.googleapis.com/runtime.v1.PodSandboxConfig",
					   "type.googleapis.com/google.protobuf.Empty"};
	Req req = CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_CREATE_REQUEST__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	Entry ent[MAX_ANNOTATIONS], *pent[MAX_ANNOTATIONS];
	struct sbx_pod pod;
	kc_err *err = NULL;
	char *text, *p;
	size_t optlen;
	int r;

	if (size < 3 || size > FUZZ_MAX_INPUT)
		return -1;
	req.sandbox_id = "pod-1";
	optlen = (size_t)data[1] << 8 | data[2];
	if (optlen > size - 3)
		optlen = size - 3;
	if (data[0] % 4) {
		any.type_url = (char *)urls[data[0] % 4];
		any.value.data = (uint8_t *)data + 3;
		any.value.len = optlen;
		req.options = &any;
	}
	/* Annotations: protobuf-c strings are NUL-terminated; split a copy. */
	text = fuzz_cstr(data + 3 + optlen, size - 3 - optlen);
	for (p = text; *p && req.n_annotations < MAX_ANNOTATIONS;) {
		char *nl = strchr(p, '\n'), *eq;
		Entry *e = &ent[req.n_annotations];
		if (nl)
			*nl = '\0';
		containerd__services__sandbox__v1__controller_create_request__annotations_entry__init(
		    e);
		eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		e->key = p;
		e->value = eq ? eq + 1 : "";
		pent[req.n_annotations++] = e;
		if (!nl)
			break;
		p = nl + 1;
	}
	req.annotations = pent;

	r = sbx_pod_parse(&req, &C, &pod, &err);
	fuzz_check_err(r, err);
	if (r == 0) {
		FUZZ_CHECK(pod.vcpus >= 1 && pod.vcpus <= SBX_POD_MAX_VCPUS);
		FUZZ_CHECK(pod.memory_mb >= 64 && pod.memory_mb <= SBX_POD_MAX_MEMORY_MB);
		if (pod.hostname)
			FUZZ_CHECK(*pod.hostname && strlen(pod.hostname) <= 64 &&
				   !strpbrk(pod.hostname, "/ \t\r\n"));
		if (pod.resolv_conf)
			check_resolv(pod.resolv_conf);
		sbx_pod_clear(&pod);
	}
	kc_err_free(err);
	free(text);
	return 0;
}
