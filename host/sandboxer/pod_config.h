/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a Controller.Create request says about the pod: the VM size (from the
 * CRI PodSandboxConfig in `options`, as Kuasar sizes it, or from
 * annotations), the hostname and the DNS configuration.
 *
 * Sizing, in order (later wins):
 *   1. [hypervisor] vcpus / memory_in_mb
 *   2. PodSandboxConfig.linux.resources: vcpus = ceil(cpu_quota / cpu_period)
 *      when both are > 0; memory = memory_limit_in_bytes (rounded up to MiB,
 *      at least SBX_POD_MIN_MEMORY_MB) when > 0
 *   3. the same numbers from the request's annotations
 *      io.kubernetes.cri.sandbox-cpu-quota / -cpu-period / -memory (containerd's
 *      CRI sets them on the sandbox container from 1.6.7 on; the shim passes them)
 *   4. annotations io.kuasar.vm.vcpus / io.kuasar.vm.memory_mb, from
 *      PodSandboxConfig.annotations and then the request's own annotations
 * The CRI numbers include a RuntimeClass's PodOverhead (kubelet adds it);
 * [hypervisor] pod_memory_overhead_mb (default 0) is added to a memory size
 * taken from 2 or 3, for pods whose RuntimeClass sets no overhead.
 */
#ifndef SBX_POD_CONFIG_H
#define SBX_POD_CONFIG_H

#include <stdint.h>

#include "config.h"
#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "err.h"

#define SBX_ANNOTATION_VCPUS          "io.kuasar.vm.vcpus"
#define SBX_ANNOTATION_MEMORY_MB      "io.kuasar.vm.memory_mb"
#define SBX_ANNOTATION_CRI_CPU_QUOTA  "io.kubernetes.cri.sandbox-cpu-quota"
#define SBX_ANNOTATION_CRI_CPU_PERIOD "io.kubernetes.cri.sandbox-cpu-period"
#define SBX_ANNOTATION_CRI_MEMORY     "io.kubernetes.cri.sandbox-memory"
#define SBX_POD_MIN_MEMORY_MB         128
#define SBX_POD_MAX_VCPUS             255
#define SBX_POD_MAX_MEMORY_MB         (1 << 20)

struct sbx_pod {
	uint32_t vcpus;
	uint32_t memory_mb;
	char *hostname;    /* NULL: none given */
	char *resolv_conf; /* NULL: none given (the host's is used) */
};

int sbx_pod_parse(const Containerd__Services__Sandbox__V1__ControllerCreateRequest *req,
		  const struct sbx_config *cfg, struct sbx_pod *ret, kc_err **err);
void sbx_pod_clear(struct sbx_pod *p);

#endif
