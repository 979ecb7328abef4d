/* SPDX-License-Identifier: Apache-2.0 */
/* Drive a real vmm-task (host mode) from tests and benchmarks: start it,
 * build busybox bundles, call the Task API, read stdio sockets. */
#ifndef KC_AGENTCTL_H
#define KC_AGENTCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "containerd/types/mount.pb-c.h"
#include "err.h"
#include "loop.h"
#include "ttrpc.h"

struct agentctl {
	pid_t pid;
	char *dir;  /* private temp dir */
	char *addr; /* unix://dir/agent.sock */
	kc_loop *loop;
	ttrpc_client *cli;
	int log_fd; /* agent's stderr log file */
};

/* Start `bin --listen unix://<dir>/agent.sock` (+ extra args) and connect. */
int agentctl_start(struct agentctl *a, const char *bin, const char *const *extra, kc_err **err);
/* Connect to an existing Task API server (e.g. containerd-shim-runc-v2). */
int agentctl_connect(struct agentctl *a, const char *addr, kc_err **err);
/* The same, retrying (a booting VM) until deadline_ns (CLOCK_MONOTONIC). */
int agentctl_connect_until(struct agentctl *a, const char *addr, uint64_t deadline_ns,
			   kc_err **err);
void agentctl_stop(struct agentctl *a);
/* Contents of the agent's log so far (malloc'd). */
char *agentctl_log(struct agentctl *a);

/* A busybox root filesystem (built once per process, shared). */
const char *agentctl_busybox_rootfs(kc_err **err);
/* The same in a given directory (created if needed), e.g. a VM's share. */
int agentctl_busybox_rootfs_at(const char *root, kc_err **err);

struct bundle_opts {
	const char *const *args; /* NULL-terminated */
	const char *const *env;  /* NULL-terminated, or NULL for a default PATH */
	const char *cwd;
	unsigned uid, gid;
	const char *user_json; /* replaces the whole "user" object */
	const char *hostname;
	bool terminal;
	bool netns;    /* a private network namespace */
	bool cgroupns; /* a private cgroup namespace */
	bool no_pidns;
	bool new_privs;            /* "noNewPrivileges": false (default true) */
	bool no_caps;              /* no "capabilities" object at all */
	const char *extra_mounts;  /* raw JSON objects, comma separated */
	const char *extra_linux;   /* raw JSON members for "linux", comma separated */
	const char *extra_ns;      /* raw JSON objects for linux.namespaces */
	const char *extra_process; /* raw JSON members for "process" */
	const char *rootfs;        /* root.path; default: the busybox rootfs */
	const char *annotations;   /* raw JSON members for "annotations" */
};
/* <dir>/<id>/config.json; returns the bundle path. */
char *agentctl_bundle(struct agentctl *a, const char *id, const struct bundle_opts *o);
/* The OCI process JSON for an exec. */
char *agentctl_process_json(const struct bundle_opts *o);

int task_create(struct agentctl *a, const char *id, const char *bundle, bool terminal,
		const char *in, const char *out, const char *errp, uint32_t *pid, kc_err **err);
/* The same with CreateTaskRequest.rootfs (n_rootfs mounts). */
int task_create_rootfs(struct agentctl *a, const char *id, const char *bundle,
		       Containerd__Types__Mount **rootfs, size_t n_rootfs, bool terminal,
		       const char *in, const char *out, const char *errp, uint32_t *pid,
		       kc_err **err);
int task_start(struct agentctl *a, const char *id, const char *exec_id, uint32_t *pid,
	       kc_err **err);
int task_wait(struct agentctl *a, const char *id, const char *exec_id, uint32_t *status,
	      kc_err **err);
int task_delete(struct agentctl *a, const char *id, const char *exec_id, uint32_t *status,
		kc_err **err);
int task_kill(struct agentctl *a, const char *id, const char *exec_id, int sig, bool all,
	      kc_err **err);
int task_exec(struct agentctl *a, const char *id, const char *exec_id, bool terminal,
	      const char *in, const char *out, const char *errp, const char *process_json,
	      kc_err **err);
int task_state(struct agentctl *a, const char *id, const char *exec_id, int *status, uint32_t *pid,
	       kc_err **err);
int task_resize(struct agentctl *a, const char *id, const char *exec_id, unsigned w, unsigned h,
		kc_err **err);
int task_close_stdin(struct agentctl *a, const char *id, const char *exec_id, kc_err **err);
int task_pids(struct agentctl *a, const char *id, size_t *n, kc_err **err);
int task_shutdown(struct agentctl *a, bool now, kc_err **err);
int sandbox_check(struct agentctl *a, kc_err **err);

/* Connect to a stdio socket the agent listens on (retrying until it exists). */
int io_dial(const char *path, kc_err **err);
/* Read until EOF (or timeout_ms); returns a NUL-terminated malloc'd buffer. */
char *io_read_all(int fd, int timeout_ms, size_t *len);

#endif
