/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "toml.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1u << 20)

const char *sbx_hv_name(enum sbx_hv_type t)
{
	return t == SBX_HV_QEMU ? "qemu" : "cloud-hypervisor";
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static const char *vfs_default_path(enum sbx_vfs_flavour f)
{
	return f == SBX_VFS_C ? "/usr/lib/qemu/virtiofsd" : "/usr/local/bin/virtiofsd";
}

void sbx_config_defaults(struct sbx_config *c, enum sbx_hv_type type)
{
	sbx_config_free(c);
	c->log_level = xstrdup("info");
	c->start_timeout_secs = 45; /* Kuasar's NEW_TTRPC_CLIENT_TIMEOUT */
	c->stop_timeout_secs = 10;
	c->type = type;
	c->path = xstrdup(type == SBX_HV_QEMU ? "/usr/bin/qemu-system-x86_64"
					      : "/usr/local/bin/cloud-hypervisor");
	c->vcpus = 1;
	c->memory_in_mb = 1024;
	c->kernel_path = xstrdup("/var/lib/kuasar/vmlinux.bin");
	c->image_path = xstrdup("");
	c->initrd_path = xstrdup("");
	c->kernel_params = xstrdup("");
	c->entropy_source = xstrdup("/dev/urandom");
	c->vfs_flavour = type == SBX_HV_QEMU ? SBX_VFS_C : SBX_VFS_RUST;
	c->vfs_path = xstrdup(vfs_default_path(c->vfs_flavour));
	c->vfs_log_level = xstrdup("info");
	c->vfs_cache = xstrdup(c->vfs_flavour == SBX_VFS_C ? "auto" : "never");
	c->vfs_thread_pool_size = 4;
	c->machine = SBX_MACHINE_PC;
	c->accel = SBX_ACCEL_AUTO;
	c->vsock = SBX_VSOCK_AUTO;
	c->vhost_device_vsock = xstrdup("/usr/bin/vhost-device-vsock");
}

void sbx_config_free(struct sbx_config *c)
{
	free(c->log_level);
	free(c->path);
	free(c->kernel_path);
	free(c->image_path);
	free(c->initrd_path);
	free(c->kernel_params);
	free(c->entropy_source);
	free(c->vfs_path);
	free(c->vfs_log_level);
	free(c->vfs_cache);
	free(c->vhost_device_vsock);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------ schema */

/* A value check: returns NULL when fine, else why not. May store the value. */
typedef const char *(*check_fn)(struct sbx_config *c, const struct sbx_toml_kv *kv);

struct key_spec {
	const char *table, *key;
	enum sbx_toml_type type;
	size_t off; /* of a char *, int64_t or bool; SIZE_MAX when check stores it */
	int64_t min, max;
	check_fn check;
};

static int pick(const char *v, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

static const char *chk_log_level(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	(void)c;
	return kc_log_parse_level(kv->str) < 0 ? "must be error, warn, info, debug or trace" : NULL;
}

static const char *chk_type(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	(void)c;
	static const char *const names[] = {"cloud-hypervisor", "clh", "qemu", NULL};
	return pick(kv->str, names) < 0 ? "must be \"cloud-hypervisor\" (or \"clh\") or \"qemu\""
					: NULL;
}

static const char *chk_flavour(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	(void)c;
	static const char *const names[] = {"rust", "c", NULL};
	return pick(kv->str, names) < 0 ? "must be \"rust\" or \"c\"" : NULL;
}

static const char *chk_vfs_cache(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	static const char *const rust[] = {"never", "auto", "always", "metadata", NULL};
	static const char *const cc[] = {"never", "none", "auto", "always", NULL};
	if (c->vfs_flavour == SBX_VFS_RUST && pick(kv->str, rust) < 0)
		return "must be never, auto, always or metadata (rust virtiofsd)";
	if (c->vfs_flavour == SBX_VFS_C && pick(kv->str, cc) < 0)
		return "must be never (= none), none, auto or always (C virtiofsd)";
	return NULL;
}

static const char *chk_vfs_log_level(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	static const char *const rust[] = {"error", "warn", "info", "debug", "trace", "off", NULL};
	static const char *const cc[] = {"err", "error", "warn", "info", "debug", NULL};
	if (c->vfs_flavour == SBX_VFS_RUST && pick(kv->str, rust) < 0)
		return "must be error, warn, info, debug, trace or off (rust virtiofsd)";
	if (c->vfs_flavour == SBX_VFS_C && pick(kv->str, cc) < 0)
		return "must be err (= error), warn, info or debug (C virtiofsd)";
	return NULL;
}

static const char *chk_machine(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	static const char *const names[] = {"pc", "microvm", NULL};
	int i = pick(kv->str, names);
	if (i < 0)
		return "must be \"pc\" or \"microvm\"";
	c->machine = (enum sbx_machine)i;
	return NULL;
}

static const char *chk_accel(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	static const char *const names[] = {"auto", "kvm", "tcg", NULL};
	int i = pick(kv->str, names);
	if (i < 0)
		return "must be \"auto\", \"kvm\" or \"tcg\"";
	c->accel = (enum sbx_accel)i;
	return NULL;
}

static const char *chk_vsock(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	static const char *const names[] = {"auto", "vhost", "vhost-user", NULL};
	int i = pick(kv->str, names);
	if (i < 0)
		return "must be \"auto\", \"vhost\" or \"vhost-user\"";
	c->vsock = (enum sbx_vsock_mode)i;
	return NULL;
}

/* Paths end up inside VMM option lists (key=value,...), where a comma would
 * start the next option. */
static const char *chk_abs_path(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	(void)c;
	if (kv->str[0] != '/')
		return "must be an absolute path";
	return strpbrk(kv->str, ",\n") ? "must not contain commas or newlines" : NULL;
}

static const char *chk_opt_path(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	return kv->str[0] ? chk_abs_path(c, kv) : NULL;
}

/* Guest kernel command line: one line, no quotes (they would reach the
 * guest verbatim), bounded. */
static const char *chk_params(struct sbx_config *c, const struct sbx_toml_kv *kv)
{
	(void)c;
	if (strlen(kv->str) > 2048)
		return "longer than 2048 bytes";
	return strpbrk(kv->str, "\n\r\"") ? "must not contain newlines or double quotes" : NULL;
}

#define S(t, k, field, chk)                                                                        \
	{                                                                                          \
		t, k, SBX_TOML_STRING, offsetof(struct sbx_config, field), 0, 0, chk               \
	}
#define E(t, k, chk)                                                                               \
	{                                                                                          \
		t, k, SBX_TOML_STRING, SIZE_MAX, 0, 0, chk                                         \
	}
#define I(t, k, field, lo, hi)                                                                     \
	{                                                                                          \
		t, k, SBX_TOML_INT, offsetof(struct sbx_config, field), lo, hi, NULL               \
	}
#define B(t, k, field)                                                                             \
	{                                                                                          \
		t, k, SBX_TOML_BOOL, offsetof(struct sbx_config, field), 0, 0, NULL                \
	}

static const struct key_spec keys[] = {
    S("sandbox", "log_level", log_level, chk_log_level),
    B("sandbox", "enable_tracing", enable_tracing),
    I("sandbox", "start_timeout_secs", start_timeout_secs, 1, 3600),
    I("sandbox", "stop_timeout_secs", stop_timeout_secs, 1, 3600),
    E("hypervisor", "type", chk_type),
    S("hypervisor", "path", path, chk_abs_path),
    I("hypervisor", "vcpus", vcpus, 1, 255),
    I("hypervisor", "memory_in_mb", memory_in_mb, 64, 1 << 20),
    I("hypervisor", "pod_memory_overhead_mb", pod_memory_overhead_mb, 0, 1 << 16),
    S("hypervisor", "kernel_path", kernel_path, chk_abs_path),
    S("hypervisor", "image_path", image_path, chk_opt_path),
    S("hypervisor", "initrd_path", initrd_path, chk_opt_path),
    S("hypervisor", "kernel_params", kernel_params, chk_params),
    B("hypervisor", "hugepages", hugepages),
    S("hypervisor", "entropy_source", entropy_source, chk_opt_path),
    B("hypervisor", "debug", debug),
    B("hypervisor.task", "debug", task_debug),
    B("hypervisor.task", "enable_tracing", task_enable_tracing),
    E("hypervisor.virtiofsd", "flavour", chk_flavour),
    S("hypervisor.virtiofsd", "path", vfs_path, chk_abs_path),
    S("hypervisor.virtiofsd", "log_level", vfs_log_level, chk_vfs_log_level),
    S("hypervisor.virtiofsd", "cache", vfs_cache, chk_vfs_cache),
    I("hypervisor.virtiofsd", "thread_pool_size", vfs_thread_pool_size, 0, 1024),
    B("hypervisor.virtiofsd", "syslog", vfs_syslog),
    E("hypervisor.qemu", "machine", chk_machine),
    E("hypervisor.qemu", "accel", chk_accel),
    E("hypervisor.qemu", "vsock", chk_vsock),
    S("hypervisor.qemu", "vhost_device_vsock", vhost_device_vsock, chk_abs_path),
};

static const char *const tables[] = {
    "sandbox", "hypervisor", "hypervisor.task", "hypervisor.virtiofsd", "hypervisor.qemu", NULL};

static const struct sbx_toml_kv *find(const struct sbx_toml_doc *d, const char *table,
				      const char *key)
{
	for (size_t i = 0; i < d->n_kv; i++)
		if (!strcmp(d->kv[i].table, table) && !strcmp(d->kv[i].key, key))
			return &d->kv[i];
	return NULL;
}

static int kv_err(kc_err **err, const char *fname, const struct sbx_toml_kv *kv, const char *why)
{
	if (*kv->table)
		return kc_err_set(err, EINVAL, "%s:%u: [%s] %s: %s", fname, kv->line, kv->table,
				  kv->key, why);
	return kc_err_set(err, EINVAL, "%s:%u: %s: %s", fname, kv->line, kv->key, why);
}

static int apply(struct sbx_config *c, const struct sbx_toml_kv *kv, const char *fname,
		 kc_err **err)
{
	const struct key_spec *ks = NULL;
	const char *why;

	for (size_t i = 0; i < KC_ARRAY_SIZE(keys) && !ks; i++)
		if (!strcmp(keys[i].table, kv->table) && !strcmp(keys[i].key, kv->key))
			ks = &keys[i];
	if (!ks)
		return kv_err(err, fname, kv, "unknown key");
	if (ks->type != kv->type) {
		_cleanup_free_ char *why_type =
		    xasprintf("must be a%s %s, not a%s %s", ks->type == SBX_TOML_INT ? "n" : "",
			      sbx_toml_type_name(ks->type), kv->type == SBX_TOML_INT ? "n" : "",
			      sbx_toml_type_name(kv->type));
		return kv_err(err, fname, kv, why_type);
	}
	if (ks->check && (why = ks->check(c, kv)))
		return kv_err(err, fname, kv, why);
	if (ks->off == SIZE_MAX)
		return 0;
	switch (ks->type) {
	case SBX_TOML_STRING:
		set_str((char **)((char *)c + ks->off), kv->str);
		break;
	case SBX_TOML_INT:
		if (kv->i < ks->min || kv->i > ks->max) {
			_cleanup_free_ char *r =
			    xasprintf("%lld is out of range [%lld, %lld]", (long long)kv->i,
				      (long long)ks->min, (long long)ks->max);
			return kv_err(err, fname, kv, r);
		}
		*(int64_t *)((char *)c + ks->off) = kv->i;
		break;
	case SBX_TOML_BOOL:
		*(bool *)((char *)c + ks->off) = kv->b;
		break;
	}
	return 0;
}

int sbx_config_parse(const char *text, size_t len, const char *fname, struct sbx_config *ret,
		     kc_err **err)
{
	struct sbx_toml_doc doc;
	struct sbx_config c = {0};
	const struct sbx_toml_kv *kv;
	enum sbx_hv_type type = SBX_HV_CLH;
	int r = 0;

	if (sbx_toml_parse(text, len, fname, &doc, err) < 0)
		return kc_err_retp(err);
	for (size_t i = 0; i < doc.n_tables; i++) {
		bool known = false;
		for (int j = 0; tables[j]; j++)
			known |= !strcmp(tables[j], doc.tables[i].name);
		if (!known) {
			r = kc_err_set(err, EINVAL, "%s:%u: unknown table [%s]", fname,
				       doc.tables[i].line, doc.tables[i].name);
			goto out;
		}
	}
	/* The type and the virtiofsd flavour choose the other keys' defaults
	 * and valid values: read them first. */
	kv = find(&doc, "hypervisor", "type");
	if (kv && kv->type == SBX_TOML_STRING && !strcmp(kv->str, "qemu"))
		type = SBX_HV_QEMU;
	sbx_config_defaults(&c, type);
	kv = find(&doc, "hypervisor.virtiofsd", "flavour");
	if (kv && kv->type == SBX_TOML_STRING &&
	    (!strcmp(kv->str, "c") || !strcmp(kv->str, "rust"))) {
		c.vfs_flavour = !strcmp(kv->str, "c") ? SBX_VFS_C : SBX_VFS_RUST;
		set_str(&c.vfs_path, vfs_default_path(c.vfs_flavour));
		set_str(&c.vfs_cache, c.vfs_flavour == SBX_VFS_C ? "auto" : "never");
	}
	for (size_t i = 0; i < doc.n_kv; i++) {
		r = apply(&c, &doc.kv[i], fname, err);
		if (r < 0)
			goto out;
	}
	/* Requirements across keys. */
	if (type == SBX_HV_QEMU && !*c.initrd_path)
		r = kc_err_set(err, EINVAL,
			       "%s: [hypervisor] initrd_path: required with type = \"qemu\" (the "
			       "guest root is an initramfs)",
			       fname);
	else if (type == SBX_HV_QEMU && *c.image_path)
		r = kc_err_set(err, EINVAL,
			       "%s: [hypervisor] image_path: only supported with type = "
			       "\"cloud-hypervisor\" (leave it empty for qemu)",
			       fname);
	else if (type == SBX_HV_CLH && !*c.initrd_path && !*c.image_path)
		r = kc_err_set(
		    err, EINVAL,
		    "%s: [hypervisor] initrd_path or image_path: one of them is required", fname);
out:
	sbx_toml_free(&doc);
	if (r < 0) {
		sbx_config_free(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int sbx_config_load(const char *path, struct sbx_config *ret, kc_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (kc_read_file(path, CONFIG_MAX_BYTES, &text, &len, err) < 0)
		return kc_err_wrap(err, "config");
	return sbx_config_parse(text, len, path, ret, err);
}
