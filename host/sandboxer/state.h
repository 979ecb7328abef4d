/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sandbox on disk: <dir>/<id>/sandbox.json (written atomically: tmp file,
 * fsync, rename), the shared/ directory exported to the guest, and removal of
 * the whole directory (unmounting whatever is mounted under it first).
 */
#ifndef SBX_STATE_H
#define SBX_STATE_H

#include "sandbox.h"

/* Maximum size of a sandbox.json we read back. */
#define SBX_STATE_MAX (64u << 10)

int sbx_state_save(const struct sandbox *s, kc_err **err);
/* Load <dir>/<id>/sandbox.json into a new sandbox (not on the daemon's list). */
int sbx_state_load(struct sbx_daemon *d, const char *id, struct sandbox **ret, kc_err **err);
/* The part of sbx_state_load after the read: sandbox.json text into s (made
 * by sbx_new with the directory's id); name prefixes errors. On failure s may
 * hold part of the state (sbx_free it). */
int sbx_state_decode(struct sandbox *s, const char *text, size_t len, const char *name,
		     kc_err **err);

/* Files the guest finds in its share: hostname, hosts, resolv.conf. */
struct sbx_guest_files {
	const char *hostname;    /* NULL: none (the guest keeps its default) */
	const char *resolv_conf; /* NULL: a copy of the host's */
};

/* mkdir <base> and <base>/shared, write the guest files. On failure nothing
 * is left behind. */
int sbx_dir_create(const struct sandbox *s, const struct sbx_guest_files *f, kc_err **err);
/* Remove the sockets a run leaves (the VMM and daemons do not always). */
void sbx_dir_clean_runtime(const struct sandbox *s);
/* Unmount everything below <base> (lazily) and remove it. */
int sbx_dir_remove(const char *base, kc_err **err);

#endif
