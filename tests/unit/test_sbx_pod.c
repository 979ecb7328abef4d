/* SPDX-License-Identifier: Apache-2.0 */
/* Controller.Create → VM size, hostname and DNS (host/sandboxer/pod.c): the
 * CRI PodSandboxConfig in `options` as containerd sends it, annotations, and
 * the bounds on what a request may ask for. */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "cri/runtime/v1/pod_sandbox_config.pb-c.h"
#include "pod_config.h"
#include "util.h"

static struct sbx_config C;

static void setup(void)
{
	sbx_config_defaults(&C, SBX_HV_QEMU);
	C.vcpus = 1;
	C.memory_in_mb = 1024;
}

static void teardown(void)
{
	sbx_config_free(&C);
}

TestSuite(pod, .init = setup, .fini = teardown);

struct req {
	Containerd__Services__Sandbox__V1__ControllerCreateRequest r;
	Google__Protobuf__Any any;
	Containerd__Services__Sandbox__V1__ControllerCreateRequest__AnnotationsEntry e[4], *pe[4];
	uint8_t *packed;
};

static void req_init(struct req *q, const Runtime__V1__PodSandboxConfig *pod, const char *url)
{
	containerd__services__sandbox__v1__controller_create_request__init(&q->r);
	q->r.sandbox_id = "p";
	q->packed = NULL;
	if (pod) {
		size_t n = runtime__v1__pod_sandbox_config__get_packed_size(pod);
		google__protobuf__any__init(&q->any);
		q->packed = xmalloc(n);
		runtime__v1__pod_sandbox_config__pack(pod, q->packed);
		q->any.type_url = (char *)url;
		q->any.value.data = q->packed;
		q->any.value.len = n;
		q->r.options = &q->any;
	}
}

static void req_annotate(struct req *q, const char *k, const char *v)
{
	size_t i = q->r.n_annotations;
	containerd__services__sandbox__v1__controller_create_request__annotations_entry__init(
	    &q->e[i]);
	q->e[i].key = (char *)k;
	q->e[i].value = (char *)v;
	q->pe[i] = &q->e[i];
	q->r.annotations = q->pe;
	q->r.n_annotations = i + 1;
}

static struct sbx_pod parse_ok(struct req *q)
{
	struct sbx_pod p;
	kc_err *e = NULL;
	cr_assert_eq(sbx_pod_parse(&q->r, &C, &p, &e), 0, "%s", kc_err_msg(e));
	free(q->packed);
	return p;
}

static void parse_fails(struct req *q, const char *msg)
{
	struct sbx_pod p;
	kc_err *e = NULL;
	cr_assert_lt(sbx_pod_parse(&q->r, &C, &p, &e), 0);
	cr_assert(strstr(kc_err_msg(e), msg), "got `%s`, want `%s`", kc_err_msg(e), msg);
	kc_err_free(e);
	free(q->packed);
}

Test(pod, defaults_without_options)
{
	struct req q;
	req_init(&q, NULL, NULL);
	struct sbx_pod p = parse_ok(&q);
	cr_assert_eq(p.vcpus, 1);
	cr_assert_eq(p.memory_mb, 1024);
	cr_assert_null(p.hostname);
	cr_assert_null(p.resolv_conf);
}

Test(pod, sized_like_kuasar_from_linux_resources)
{
	Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxPodSandboxConfig lin = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	struct req q;

	res.cpu_period = 100000;
	res.cpu_quota = 250000; /* 2.5 CPUs -> 3 */
	res.memory_limit_in_bytes = (512LL << 20) + 1;
	lin.resources = &res;
	pod.linux_config = &lin;
	pod.hostname = "web-0";
	req_init(&q, &pod, "type.googleapis.com/runtime.v1.PodSandboxConfig");
	struct sbx_pod p = parse_ok(&q);
	cr_assert_eq(p.vcpus, 3);
	cr_assert_eq(p.memory_mb, 513);
	cr_assert_str_eq(p.hostname, "web-0");
	sbx_pod_clear(&p);

	/* A tiny limit still gets a VM that boots; no quota keeps the default. */
	res.cpu_quota = 0;
	res.memory_limit_in_bytes = 32 << 20;
	req_init(&q, &pod, "runtime.v1.PodSandboxConfig");
	p = parse_ok(&q);
	cr_assert_eq(p.vcpus, 1);
	cr_assert_eq(p.memory_mb, SBX_POD_MIN_MEMORY_MB);
	sbx_pod_clear(&p);

	/* Absurd values are capped, never overflow. */
	res.cpu_period = 1;
	res.cpu_quota = INT64_MAX;
	res.memory_limit_in_bytes = INT64_MAX;
	req_init(&q, &pod, "");
	p = parse_ok(&q);
	cr_assert_eq(p.vcpus, SBX_POD_MAX_VCPUS);
	cr_assert_eq(p.memory_mb, SBX_POD_MAX_MEMORY_MB);
	sbx_pod_clear(&p);
}

Test(pod, annotations_override)
{
	Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxConfig__AnnotationsEntry
	    a = RUNTIME__V1__POD_SANDBOX_CONFIG__ANNOTATIONS_ENTRY__INIT,
	    *pa[] = {&a};
	struct req q;

	a.key = SBX_ANNOTATION_VCPUS;
	a.value = "4";
	pod.annotations = pa;
	pod.n_annotations = 1;
	req_init(&q, &pod, "runtime.v1.PodSandboxConfig");
	req_annotate(&q, SBX_ANNOTATION_MEMORY_MB, "300");
	req_annotate(&q, "io.kubernetes.cri.sandbox-name", "ignored");
	struct sbx_pod p = parse_ok(&q);
	cr_assert_eq(p.vcpus, 4);
	cr_assert_eq(p.memory_mb, 300);
	sbx_pod_clear(&p);

	/* The request's own annotations come last. */
	req_init(&q, &pod, "runtime.v1.PodSandboxConfig");
	req_annotate(&q, SBX_ANNOTATION_VCPUS, "2");
	p = parse_ok(&q);
	cr_assert_eq(p.vcpus, 2);
	sbx_pod_clear(&p);
}

Test(pod, sized_from_cri_sandbox_annotations)
{
	struct req q;
	struct sbx_pod p;

	/* What the shim passes on from containerd's sandbox container. */
	req_init(&q, NULL, NULL);
	req_annotate(&q, SBX_ANNOTATION_CRI_CPU_QUOTA, "250000");
	req_annotate(&q, SBX_ANNOTATION_CRI_CPU_PERIOD, "100000");
	req_annotate(&q, SBX_ANNOTATION_CRI_MEMORY, "402653185"); /* 384 MiB + 1 byte */
	p = parse_ok(&q);
	cr_assert_eq(p.vcpus, 3, "ceil(2.5)");
	cr_assert_eq(p.memory_mb, 385, "rounded up to MiB");
	sbx_pod_clear(&p);

	/* Zero means unlimited: the configured size stays. */
	req_init(&q, NULL, NULL);
	req_annotate(&q, SBX_ANNOTATION_CRI_CPU_QUOTA, "0");
	req_annotate(&q, SBX_ANNOTATION_CRI_MEMORY, "0");
	p = parse_ok(&q);
	cr_assert_eq(p.vcpus, (uint32_t)C.vcpus);
	cr_assert_eq(p.memory_mb, (uint32_t)C.memory_in_mb);
	sbx_pod_clear(&p);

	/* A configured overhead is added to a size taken from the pod. */
	C.pod_memory_overhead_mb = 64;
	req_init(&q, NULL, NULL);
	req_annotate(&q, SBX_ANNOTATION_CRI_MEMORY, "268435456");
	p = parse_ok(&q);
	cr_assert_eq(p.memory_mb, 256 + 64);
	sbx_pod_clear(&p);
	C.pod_memory_overhead_mb = 0;

	/* Our own annotation still wins. */
	req_init(&q, NULL, NULL);
	req_annotate(&q, SBX_ANNOTATION_CRI_MEMORY, "1073741824");
	req_annotate(&q, SBX_ANNOTATION_MEMORY_MB, "200");
	p = parse_ok(&q);
	cr_assert_eq(p.memory_mb, 200);
	sbx_pod_clear(&p);
}

Test(pod, bad_annotations_and_options)
{
	Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Google__Protobuf__Any junk = GOOGLE__PROTOBUF__ANY__INIT;
	uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
	struct req q;

	req_init(&q, NULL, NULL);
	req_annotate(&q, SBX_ANNOTATION_VCPUS, "0");
	parse_fails(&q, "annotation io.kuasar.vm.vcpus=`0`: want 1..255");
	req_init(&q, NULL, NULL);
	req_annotate(&q, SBX_ANNOTATION_MEMORY_MB, "lots");
	parse_fails(&q, "annotation io.kuasar.vm.memory_mb=`lots`: want 128..1048576");

	pod.hostname = "a/b";
	req_init(&q, &pod, "runtime.v1.PodSandboxConfig");
	parse_fails(&q, "options (PodSandboxConfig): hostname `a/b` is not valid");

	req_init(&q, NULL, NULL);
	junk.type_url = "runtime.v1.PodSandboxConfig";
	junk.value.data = garbage;
	junk.value.len = sizeof(garbage);
	q.r.options = &junk;
	parse_fails(&q, "options: not a CRI PodSandboxConfig");

	/* Another type of options is not ours to decode. */
	junk.type_url = "type.googleapis.com/example.Other";
	{
		struct sbx_pod p;
		cr_assert_eq(sbx_pod_parse(&q.r, &C, &p, NULL), 0);
		cr_assert_eq(p.vcpus, 1);
	}
}

Test(pod, dns_config_becomes_resolv_conf)
{
	Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
	char *servers[] = {"10.96.0.10", "1.1.1.1"}, *search[] = {"ns.svc.cluster.local", "svc"};
	char *opts[] = {"ndots:5"}, *bad[] = {"a b"};
	struct req q;

	dns.servers = servers;
	dns.n_servers = 2;
	dns.searches = search;
	dns.n_searches = 2;
	dns.options = opts;
	dns.n_options = 1;
	pod.dns_config = &dns;
	req_init(&q, &pod, "runtime.v1.PodSandboxConfig");
	struct sbx_pod p = parse_ok(&q);
	cr_assert_str_eq(p.resolv_conf, "nameserver 10.96.0.10\nnameserver 1.1.1.1\n"
					"search ns.svc.cluster.local svc\noptions ndots:5\n");
	sbx_pod_clear(&p);

	dns.options = bad;
	req_init(&q, &pod, "runtime.v1.PodSandboxConfig");
	parse_fails(&q, "dns_config.options: bad entry `a b`");
}
