/* SPDX-License-Identifier: Apache-2.0 */
/* virtiofsd's command line, for its two flavours: the Rust virtiofsd that
 * cloud-hypervisor users run (Kuasar's arguments and order) and QEMU's C
 * virtiofsd (Debian bookworm's /usr/lib/qemu/virtiofsd). Both listen on
 * <dir>/<id>/virtiofs.sock and export <dir>/<id>/shared. */
#include <string.h>

#include "argv.h"

static const char *vfs_cache_c(const char *cache)
{
	return !strcmp(cache, "never") ? "none" : cache;
}

static const char *vfs_level_c(const char *lvl)
{
	return !strcmp(lvl, "error") ? "err" : lvl;
}

void sbx_virtiofsd_argv(const struct sbx_vm_spec *s, struct sbx_argv *out)
{
	const struct sbx_config *c = s->cfg;

	sbx_argv_add(out, c->vfs_path);
	if (c->vfs_flavour == SBX_VFS_RUST) {
		/* Kuasar's order (VirtiofsdConfig fields), one token per value. */
		sbx_argv_add(out, "--log-level");
		sbx_argv_add(out, c->vfs_log_level);
		sbx_argv_add(out, "--cache");
		sbx_argv_add(out, c->vfs_cache);
		sbx_argv_add(out, "--thread-pool-size");
		sbx_argv_addf(out, "%lld", (long long)c->vfs_thread_pool_size);
		sbx_argv_add(out, "--socket-path");
		sbx_argv_addf(out, "%s/" SBX_F_FS_SOCK, s->base);
		sbx_argv_add(out, "--shared-dir");
		sbx_argv_addf(out, "%s/" SBX_F_SHARED, s->base);
		if (c->vfs_syslog)
			sbx_argv_add(out, "--syslog");
		return;
	}
	/* QEMU's C virtiofsd (Debian bookworm /usr/lib/qemu/virtiofsd). */
	sbx_argv_addf(out, "--socket-path=%s/" SBX_F_FS_SOCK, s->base);
	sbx_argv_add(out, "-o");
	sbx_argv_addf(out, "source=%s/" SBX_F_SHARED, s->base);
	sbx_argv_add(out, "-o");
	sbx_argv_addf(out, "cache=%s", vfs_cache_c(c->vfs_cache));
	sbx_argv_add(out, "-o");
	sbx_argv_addf(out, "log_level=%s", vfs_level_c(c->vfs_log_level));
	if (c->vfs_thread_pool_size > 0)
		sbx_argv_addf(out, "--thread-pool-size=%lld", (long long)c->vfs_thread_pool_size);
	if (c->vfs_syslog)
		sbx_argv_add(out, "--syslog");
}
