/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-sandboxer's configuration: the keys of Kuasar's config_clh.toml plus
 * [hypervisor] type, [hypervisor.qemu] and a few [sandbox] timeouts (see
 * docs/sandboxer.md). Unknown tables and keys, wrong types and bad values are
 * errors naming the file, the line and the key.
 */
#ifndef SBX_CONFIG_H
#define SBX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum sbx_hv_type { SBX_HV_CLH, SBX_HV_QEMU };
enum sbx_machine { SBX_MACHINE_PC, SBX_MACHINE_MICROVM };
enum sbx_accel { SBX_ACCEL_AUTO, SBX_ACCEL_KVM, SBX_ACCEL_TCG };
enum sbx_vsock_mode { SBX_VSOCK_AUTO, SBX_VSOCK_VHOST, SBX_VSOCK_VHOST_USER };
enum sbx_vfs_flavour { SBX_VFS_RUST, SBX_VFS_C };

struct sbx_config {
	/* [sandbox] */
	char *log_level;
	bool enable_tracing; /* accepted for compatibility; no effect */
	int64_t start_timeout_secs;
	int64_t stop_timeout_secs;
	/* [hypervisor] */
	enum sbx_hv_type type;
	char *path;
	int64_t vcpus;
	int64_t memory_in_mb;
	int64_t pod_memory_overhead_mb; /* added to a memory size taken from the pod */
	char *kernel_path;
	char *image_path;
	char *initrd_path;
	char *kernel_params;
	bool hugepages;
	char *entropy_source;
	bool debug;
	/* [hypervisor.task] */
	bool task_debug;
	bool task_enable_tracing; /* accepted for compatibility; no effect */
	/* [hypervisor.virtiofsd] */
	enum sbx_vfs_flavour vfs_flavour;
	char *vfs_path;
	char *vfs_log_level;
	char *vfs_cache;
	int64_t vfs_thread_pool_size;
	bool vfs_syslog;
	/* [hypervisor.qemu] */
	enum sbx_machine machine;
	enum sbx_accel accel;
	enum sbx_vsock_mode vsock;
	char *vhost_device_vsock;
};

/* Defaults for a hypervisor type (what an empty file means for that type). */
void sbx_config_defaults(struct sbx_config *c, enum sbx_hv_type type);
/* Parse config text; fname names the file in errors. */
int sbx_config_parse(const char *text, size_t len, const char *fname, struct sbx_config *ret,
		     kc_err **err);
int sbx_config_load(const char *path, struct sbx_config *ret, kc_err **err);
void sbx_config_free(struct sbx_config *c);

const char *sbx_hv_name(enum sbx_hv_type t);

#endif
