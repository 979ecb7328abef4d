/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subset of the OCI runtime spec (config.json) vmm-task implements, parsed
 * once into plain C structs. Parsing is strict about types: a field of the
 * wrong type is an error naming its JSON path ("process.user.uid: expected an
 * integer"), never a silently ignored setting.
 */
#ifndef KC_SPEC_H
#define KC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct kc_seccomp; /* seccomp.h */

struct kc_idmap {
	uint32_t container_id, host_id, size;
};

struct kc_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct kc_caps {
	bool set; /* false: spec had no "capabilities" (keep the defaults) */
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
	unsigned long rootfs_propagation; /* MS_* or 0 */
	struct kc_seccomp *seccomp;       /* linux.seccomp, compiled; NULL: none */
	bool has_hooks;
	char **annotation_keys, **annotation_vals;
	size_t n_annotations;
};

/* Parse config.json text. */
int kc_spec_parse(const char *json, size_t len, struct kc_spec **ret, kc_err **err);
/* Read and parse <bundle>/config.json. */
int kc_spec_load(const char *bundle, struct kc_spec **ret, kc_err **err);
/* Parse an OCI "process" object given as JSON text (Exec's spec). */
int kc_process_parse(const char *json, size_t len, struct kc_process *ret, kc_err **err);
/* Parse linux.resources JSON (Update's resources). */
int kc_resources_parse(const char *json, size_t len, struct kc_resources *ret, kc_err **err);

void kc_spec_free(struct kc_spec *s);
void kc_process_clear(struct kc_process *p);
void kc_resources_clear(struct kc_resources *r);
const char *kc_spec_annotation(const struct kc_spec *s, const char *key);
const struct kc_namespace *kc_spec_namespace(const struct kc_spec *s, int type);

/* Capability name ("CAP_SYS_ADMIN") to number, -1 if unknown. */
int kc_cap_from_name(const char *name);
/* Highest capability the running kernel knows. */
int kc_cap_last(void);
/* rlimit name ("RLIMIT_NOFILE") to resource, -1 if unknown. */
int kc_rlimit_from_name(const char *name);

#endif
