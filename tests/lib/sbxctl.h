/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drive a real vmm-sandboxer from tests and benchmarks: write its config,
 * run it in a private directory, call the sandbox Controller API over its
 * socket (ttrpc, as our shim does), talk to the guest agent at the address
 * Start returns, and check that nothing of a sandbox is left behind.
 */
#ifndef KC_SBXCTL_H
#define KC_SBXCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"
#include "ttrpc.h"

struct sbxd {
	pid_t pid;
	char *bin;
	char *root;   /* private temp dir */
	char *dir;    /* --dir: root/run */
	char *sock;   /* --listen: root/sbx.sock */
	char *config; /* root/config.toml */
	char *log;    /* root/sandboxer.log (appended across restarts) */
	kc_loop *loop;
	ttrpc_client *cli;
	const char *events_addr; /* --events-address when set ("": none) */
};

/* What the QEMU backend needs on this machine, from the build tree and
 * $KC_CACHE/env.mk. Returns a config (TOML) for machine "pc" or "microvm",
 * or NULL with *why saying what is missing. extra: appended lines. */
char *sbxd_qemu_config(const char *machine, const char *extra, char **why);

/* A fresh private directory for a daemon (no process yet). */
void sbxd_init(struct sbxd *d, const char *tag);
/* Write config_text, run the daemon and connect to it. On failure the
 * daemon's log is in the error. */
int sbxd_start(struct sbxd *d, const char *config_text, kc_err **err);
/* Run the daemon again with the same config and directories. */
int sbxd_restart(struct sbxd *d, kc_err **err);
/* Drop the connection (cancelling its pending calls) and connect again. */
int sbxd_reconnect(struct sbxd *d, kc_err **err);
/* Run the daemon to completion (for configs that must fail): exit status
 * and its log (malloc'd). */
int sbxd_run_expect_exit(struct sbxd *d, const char *config_text, int timeout_ms, char **log);
/* kill(sig) the daemon and reap it. */
void sbxd_kill(struct sbxd *d, int sig);
/* Stop the daemon, kill every process mentioning root, remove root. */
void sbxd_cleanup(struct sbxd *d);
char *sbxd_log(const struct sbxd *d);
/* In a Criterion test: expr, a call filling `err` (a kc_err **), must
 * succeed, else the test fails with the message and the daemon d's log. */
#define SBXD_OK(d, expr)                                                                           \
	do {                                                                                       \
		kc_err *_e = NULL;                                                                 \
		kc_err **err = &_e;                                                                \
		int _r = (expr);                                                                   \
		if (_r < 0) {                                                                      \
			_cleanup_free_ char *_log = sbxd_log(d);                                   \
			cr_assert_fail("%s: %s\n--- daemon log ---\n%s", #expr, kc_err_msg(_e),    \
				       _log);                                                      \
		}                                                                                  \
		kc_err_free(_e);                                                                   \
	} while (0)

/* Controller API calls (timeout_ms bounds each). annotations: key, value,
 * ..., NULL (or NULL). */
int sbx_create(struct sbxd *d, const char *id, const char *const *annotations, kc_err **err);
/* The same with a pod network namespace (ControllerCreateRequest.netns_path). */
int sbx_create_netns(struct sbxd *d, const char *id, const char *const *annotations,
		     const char *netns, kc_err **err);
struct sbx_started {
	uint32_t pid;
	char *address;
	uint32_t version;
};
int sbx_start(struct sbxd *d, const char *id, struct sbx_started *ret, kc_err **err);
/* ... as containerd's sandbox proxy asks (`sandboxer` set): the task
 * endpoint's address and version 3. */
int sbx_start_as(struct sbxd *d, const char *id, const char *sandboxer, struct sbx_started *ret,
		 kc_err **err);
void sbx_started_clear(struct sbx_started *s);
struct sbx_status {
	char *state; /* SANDBOX_READY / SANDBOX_NOTREADY */
	uint32_t pid;
	char *address;
	uint32_t version;
	bool exited;
};
int sbx_status(struct sbxd *d, const char *id, struct sbx_status *ret, kc_err **err);
int sbx_status_as(struct sbxd *d, const char *id, const char *sandboxer, struct sbx_status *ret,
		  kc_err **err);
void sbx_status_clear(struct sbx_status *s);
int sbx_stop(struct sbxd *d, const char *id, uint32_t timeout_secs, kc_err **err);
int sbx_shutdown(struct sbxd *d, const char *id, kc_err **err);
int sbx_platform(struct sbxd *d, char **os, char **arch, kc_err **err);

/* Wait, asynchronously: begin, do something, then loop until it answers. */
struct sbx_wait {
	bool done;
	int code; /* ttrpc status code */
	uint32_t exit_status;
	uint64_t exited_at_s;
};
int sbx_wait_begin(struct sbxd *d, const char *id, struct sbx_wait *w, kc_err **err);
bool sbx_wait_end(struct sbxd *d, struct sbx_wait *w, int timeout_ms);

/* Start several sandboxes at once (all Start calls in flight together). */
int sbx_start_many(struct sbxd *d, const char *const *ids, size_t n, struct sbx_started *ret,
		   kc_err **err);

/* Dial the agent at a task address and call grpc.SandboxService/Check. */
int sbx_agent_check(const char *address, int timeout_ms, kc_err **err);

/* Pids of live (non-zombie) processes whose command line mentions s. */
size_t sbx_procs_mentioning(const char *s, pid_t *out, size_t max);
/* Is anything mounted at or below path? */
bool sbx_mounted_below(const char *path);
/* Collect exited children, including orphans re-parented to us (tests make
 * themselves child subreapers: a killed daemon's VMs land here). */
void sbx_reap(void);
/* PSS of a process in KiB (/proc/PID/smaps_rollup), and its private
 * memory (USS: Private_Clean + Private_Dirty). */
long sbx_pss_kib(pid_t pid);
long sbx_uss_kib(pid_t pid);

#endif
