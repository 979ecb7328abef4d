/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI runtime spec subset vmm-task implements, as plain C structs
 * (filled by spec*.c, read by the container engine). */
#ifndef KC_SPEC_TYPES_H
#define KC_SPEC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kc_seccomp;

struct kc_idmap {
	uint32_t container_id, host_id, size;
};

struct kc_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct kc_caps {
	bool set; /* false: spec had no "capabilities" (empty sets, as runc) */
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

struct kc_user {
	uint32_t uid, gid;
	uint32_t *gids;
	size_t n_gids;
	int umask; /* -1: unset */
};

struct kc_process {
	bool terminal;
	unsigned console_width, console_height;
	struct kc_user user;
	char **args;
	char **env;
	char *cwd;
	struct kc_caps caps;
	struct kc_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privs;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct kc_mount {
	char *destination;
	char *type;
	char *source;
	char **options;
};

struct kc_namespace {
	int type;   /* CLONE_NEW* */
	char *path; /* join this one instead of creating; NULL = new */
};

struct kc_device {
	char type; /* 'c', 'b', 'u', 'p' */
	char *path;
	int64_t major, minor;
	bool has_mode, has_uid, has_gid;
	uint32_t mode, uid, gid;
};

/* linux.resources.devices[]: the device cgroup rules (devcg.h). */
struct kc_dev_rule {
	bool allow;
	char type;            /* 'a', 'b', 'c' */
	int64_t major, minor; /* -1: any */
	unsigned access;      /* KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD */
};
#define KC_DEV_MKNOD 1u /* the kernel's BPF_DEVCG_ACC_* values */
#define KC_DEV_READ  2u
#define KC_DEV_WRITE 4u

struct kc_resources {
	bool has_mem_limit, has_mem_reservation, has_mem_swap;
	int64_t mem_limit, mem_reservation, mem_swap;
	bool has_cpu_shares, has_cpu_quota, has_cpu_period;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;
	char *cpus, *mems;
	bool has_pids_limit;
	int64_t pids_limit;
	char **unified_keys, **unified_vals; /* linux.resources.unified */
	size_t n_unified;
	bool has_devices; /* linux.resources.devices given (maybe empty) */
	struct kc_dev_rule *devices;
	size_t n_devices;
};

/* linux.timeOffsets.{monotonic,boottime} of a new time namespace. */
struct kc_time_offset {
	bool set;
	int64_t secs;
	uint32_t nanosecs;
};

struct kc_spec {
	struct kc_process process;
	char *root_path;
	bool root_readonly;
	char *hostname, *domainname;
	struct kc_mount *mounts;
	size_t n_mounts;
	struct kc_namespace *namespaces;
	size_t n_namespaces;
	struct kc_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct kc_device *devices;
	size_t n_devices;
	char **masked_paths, **readonly_paths;
	char **sysctl_keys, **sysctl_vals;
	size_t n_sysctl;
	char *cgroups_path;
	struct kc_resources resources;
	struct kc_time_offset time_monotonic, time_boottime;
	unsigned long rootfs_propagation; /* MS_* or 0 */
	struct kc_seccomp *seccomp;       /* linux.seccomp, compiled (seccomp.h); NULL: none */
	bool has_hooks;
	char **annotation_keys, **annotation_vals;
	size_t n_annotations;
};

#endif
