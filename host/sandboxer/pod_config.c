/* SPDX-License-Identifier: Apache-2.0 */
#include "pod_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cri/runtime/v1/pod_sandbox_config.pb-c.h"
#include "util.h"

#define DNS_MAX_ENTRIES 32
#define DNS_MAX_LEN     256
#define HOSTNAME_MAX    64

static int annotation(const char *key, const char *val, struct sbx_pod *p, kc_err **err)
{
	int64_t v;

	if (!strcmp(key, SBX_ANNOTATION_VCPUS)) {
		if (kc_parse_i64(val, 1, SBX_POD_MAX_VCPUS, &v) < 0)
			return kc_err_set(err, EINVAL, "annotation %s=`%.64s`: want 1..%d", key,
					  val, SBX_POD_MAX_VCPUS);
		p->vcpus = (uint32_t)v;
	} else if (!strcmp(key, SBX_ANNOTATION_MEMORY_MB)) {
		if (kc_parse_i64(val, SBX_POD_MIN_MEMORY_MB, SBX_POD_MAX_MEMORY_MB, &v) < 0)
			return kc_err_set(err, EINVAL, "annotation %s=`%.64s`: want %d..%d", key,
					  val, SBX_POD_MIN_MEMORY_MB, SBX_POD_MAX_MEMORY_MB);
		p->memory_mb = (uint32_t)v;
	}
	return 0;
}

static int check_dns(char **v, size_t n, const char *what, kc_err **err)
{
	if (n > DNS_MAX_ENTRIES)
		return kc_err_set(err, EINVAL, "dns_config.%s: more than %d entries", what,
				  DNS_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++)
		if (!*v[i] || strlen(v[i]) > DNS_MAX_LEN || strpbrk(v[i], " \t\r\n"))
			return kc_err_set(err, EINVAL, "dns_config.%s: bad entry `%.64s`", what,
					  v[i]);
	return 0;
}

static char *resolv_conf(const Runtime__V1__DNSConfig *dns)
{
	size_t cap = 64;
	char *s, *p;

	for (size_t i = 0; i < dns->n_servers; i++)
		cap += strlen(dns->servers[i]) + 12;
	for (size_t i = 0; i < dns->n_searches; i++)
		cap += strlen(dns->searches[i]) + 1;
	for (size_t i = 0; i < dns->n_options; i++)
		cap += strlen(dns->options[i]) + 1;
	p = s = xmalloc(cap);
	*p = '\0';
	for (size_t i = 0; i < dns->n_servers; i++)
		p += sprintf(p, "nameserver %s\n", dns->servers[i]);
	if (dns->n_searches) {
		p += sprintf(p, "search");
		for (size_t i = 0; i < dns->n_searches; i++)
			p += sprintf(p, " %s", dns->searches[i]);
		p += sprintf(p, "\n");
	}
	if (dns->n_options) {
		p += sprintf(p, "options");
		for (size_t i = 0; i < dns->n_options; i++)
			p += sprintf(p, " %s", dns->options[i]);
		p += sprintf(p, "\n");
	}
	return s;
}

/* The pod's CPU quota/period and memory limit (CRI's sandbox resources,
 * which include a RuntimeClass's PodOverhead) as the VM's size. */
static void size_from(int64_t quota, int64_t period, int64_t memory, int64_t overhead_mb,
		      struct sbx_pod *p)
{
	if (period > 0 && quota > 0) {
		int64_t n = quota / period + (quota % period != 0);
		p->vcpus = (uint32_t)(n > SBX_POD_MAX_VCPUS ? SBX_POD_MAX_VCPUS : n);
	}
	if (memory > 0) {
		int64_t mb = (memory >> 20) + ((memory & ((1 << 20) - 1)) != 0) + overhead_mb;
		if (mb < SBX_POD_MIN_MEMORY_MB)
			mb = SBX_POD_MIN_MEMORY_MB;
		if (mb > SBX_POD_MAX_MEMORY_MB)
			mb = SBX_POD_MAX_MEMORY_MB;
		p->memory_mb = (uint32_t)mb;
	}
}

/* containerd's CRI (1.6.7 and later) puts the same numbers on the sandbox
 * container as annotations; the shim passes them on in Create. */
static int
cri_sandbox_annotations(const Containerd__Services__Sandbox__V1__ControllerCreateRequest *req,
			int64_t overhead_mb, struct sbx_pod *p, kc_err **err)
{
	int64_t v[3] = {0, 0, 0}; /* quota, period, memory */
	static const char *const keys[3] = {
	    SBX_ANNOTATION_CRI_CPU_QUOTA, SBX_ANNOTATION_CRI_CPU_PERIOD, SBX_ANNOTATION_CRI_MEMORY};

	for (size_t i = 0; i < req->n_annotations; i++)
		for (int k = 0; k < 3; k++)
			if (!strcmp(req->annotations[i]->key, keys[k]) &&
			    kc_parse_i64(req->annotations[i]->value, 0, INT64_MAX, &v[k]) < 0)
				return kc_err_set(err, EINVAL,
						  "annotation %s=`%.64s`: want 0 or more", keys[k],
						  req->annotations[i]->value);
	size_from(v[0], v[1], v[2], overhead_mb, p);
	return 0;
}

static int from_cri(const Runtime__V1__PodSandboxConfig *c, int64_t overhead_mb, struct sbx_pod *p,
		    kc_err **err)
{
	const Runtime__V1__LinuxContainerResources *r =
	    c->linux_config ? c->linux_config->resources : NULL;

	if (r)
		size_from(r->cpu_quota, r->cpu_period, r->memory_limit_in_bytes, overhead_mb, p);
	if (c->hostname && *c->hostname) {
		if (strlen(c->hostname) > HOSTNAME_MAX || strpbrk(c->hostname, "/ \t\r\n"))
			return kc_err_set(err, EINVAL, "hostname `%.80s` is not valid",
					  c->hostname);
		p->hostname = xstrdup(c->hostname);
	}
	if (c->dns_config &&
	    (c->dns_config->n_servers || c->dns_config->n_searches || c->dns_config->n_options)) {
		if (check_dns(c->dns_config->servers, c->dns_config->n_servers, "servers", err) <
			0 ||
		    check_dns(c->dns_config->searches, c->dns_config->n_searches, "searches", err) <
			0 ||
		    check_dns(c->dns_config->options, c->dns_config->n_options, "options", err) < 0)
			return kc_err_retp(err);
		p->resolv_conf = resolv_conf(c->dns_config);
	}
	for (size_t i = 0; i < c->n_annotations; i++)
		if (annotation(c->annotations[i]->key, c->annotations[i]->value, p, err) < 0)
			return kc_err_retp(err);
	return 0;
}

int sbx_pod_parse(const Containerd__Services__Sandbox__V1__ControllerCreateRequest *req,
		  const struct sbx_config *cfg, struct sbx_pod *ret, kc_err **err)
{
	struct sbx_pod p = {.vcpus = (uint32_t)cfg->vcpus,
			    .memory_mb = (uint32_t)cfg->memory_in_mb};
	const Google__Protobuf__Any *opt = req->options;

	/* containerd sends the CRI PodSandboxConfig; Kuasar decodes options as
	 * one whatever the type URL says. Here: an empty URL or one naming it. */
	if (opt && opt->value.len &&
	    (!opt->type_url || !*opt->type_url ||
	     kc_has_suffix(opt->type_url, "PodSandboxConfig"))) {
		Runtime__V1__PodSandboxConfig *c =
		    runtime__v1__pod_sandbox_config__unpack(NULL, opt->value.len, opt->value.data);
		int r;
		if (!c)
			return kc_err_set(err, EINVAL, "options: not a CRI PodSandboxConfig");
		r = from_cri(c, cfg->pod_memory_overhead_mb, &p, err);
		runtime__v1__pod_sandbox_config__free_unpacked(c, NULL);
		if (r < 0) {
			sbx_pod_clear(&p);
			return kc_err_wrap(err, "options (PodSandboxConfig)");
		}
	}
	if (cri_sandbox_annotations(req, cfg->pod_memory_overhead_mb, &p, err) < 0) {
		sbx_pod_clear(&p);
		return kc_err_retp(err);
	}
	for (size_t i = 0; i < req->n_annotations; i++)
		if (annotation(req->annotations[i]->key, req->annotations[i]->value, &p, err) < 0) {
			sbx_pod_clear(&p);
			return kc_err_retp(err);
		}
	*ret = p;
	return 0;
}

void sbx_pod_clear(struct sbx_pod *p)
{
	free(p->hostname);
	free(p->resolv_conf);
	p->hostname = p->resolv_conf = NULL;
}
