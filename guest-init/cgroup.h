/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup v2 for containers: one directory per container under the unified
 * hierarchy, resources translated from the OCI (v1-shaped) fields, kill,
 * freeze, pids and statistics. */
#ifndef KC_CGROUP_H
#define KC_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroups/v2/metrics.pb-c.h"
#include "err.h"
#include "spec.h"

struct kc_cgroup {
	char *path; /* absolute directory */
	int dirfd;
	int devprog; /* the attached device cgroup program (devcg.h), -1 if none */
};

/* Where cgroup2 is mounted (guest: /sys/fs/cgroup; a hybrid host:
 * /sys/fs/cgroup/unified). */
int kc_cgroup_find_root(char **ret, kc_err **err);
/* The directory for a container: cgroupsPath resolved like runc (absolute,
 * relative, or systemd "slice:prefix:name"), default "/kuasar/<id>", cleaned
 * like runc's CleanPath (".." cannot climb above root) and strictly below
 * root. */
int kc_cgroup_path_for(const char *root, const char *cgroups_path, const char *id, char **ret,
		       kc_err **err);
/* mkdir -p path (below root, the cgroup2 mount), enable the controllers the
 * resources need on every ancestor, then apply the resources, the device
 * rules included (deny by default: devcg.h). Fails naming a controller the
 * kernel lacks. */
int kc_cgroup_create(const char *root, const char *path, const struct kc_resources *res,
		     struct kc_cgroup **ret, kc_err **err);
/* Update: the device program is replaced only if res has device rules. */
int kc_cgroup_apply(struct kc_cgroup *cg, const struct kc_resources *res, kc_err **err);
int kc_cgroup_add_pid(struct kc_cgroup *cg, pid_t pid, kc_err **err);
/* SIGKILL every process (cgroup.kill, or one by one on old kernels). */
int kc_cgroup_kill(struct kc_cgroup *cg, kc_err **err);
int kc_cgroup_freeze(struct kc_cgroup *cg, bool frozen, kc_err **err);
int kc_cgroup_pids(struct kc_cgroup *cg, pid_t **ret, size_t *n, kc_err **err);
/* Fill an io.containerd.cgroups.v2.Metrics (caller frees with
 * kc_cgroup_metrics_free). */
int kc_cgroup_metrics(struct kc_cgroup *cg, Io__Containerd__Cgroups__V2__Metrics **ret,
		      kc_err **err);
void kc_cgroup_metrics_free(Io__Containerd__Cgroups__V2__Metrics *m);
/* memory.events "oom_kill" counter (0 when unavailable). */
uint64_t kc_cgroup_oom_kills(struct kc_cgroup *cg);
/* rmdir and free. A cgroup still busy with dying processes is retried by
 * kc_cgroup_retry_stale (call it after reaping). */
int kc_cgroup_destroy(struct kc_cgroup *cg, kc_err **err);
void kc_cgroup_retry_stale(void);
void kc_cgroup_free(struct kc_cgroup *cg);

/* cpu.shares (v1, 2..262144) -> cpu.weight (v2, 1..10000), as runc does. */
uint64_t kc_cgroup_shares_to_weight(uint64_t shares);

#endif
