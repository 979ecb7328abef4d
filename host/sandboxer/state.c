/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"

#include "id.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv.h"
#include "mountopt.h"
#include "config.h"
#include "podnet.h"

#define STATE_VERSION 1

/* What undoing the pod network needs after a restart: which veth, which tap. */
static json_t *net_encode(const struct sbx_net *n)
{
	json_t *a = json_array();
	for (size_t i = 0; n && i < n->n_ifaces; i++)
		json_array_append_new(a, json_pack("{s:s, s:i, s:s}", "name", n->ifaces[i].name,
						   "ifindex", n->ifaces[i].ifindex, "tap",
						   n->ifaces[i].tap));
	return a;
}

static int net_decode(struct sandbox *s, json_t *a, kc_err **err)
{
	size_t i;
	json_t *e;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SBX_NET_MAX_IFACES)
		return kc_err_set(err, EINVAL, "`net` is not an array of at most %d interfaces",
				  SBX_NET_MAX_IFACES);
	if (!json_array_size(a))
		return 0;
	s->net = xmalloc(sizeof(*s->net));
	sbx_net_init(s->net);
	json_array_foreach(a, i, e)
	{
		struct sbx_net_iface *f = &s->net->ifaces[i];
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *tap = json_string_value(json_object_get(e, "tap"));
		json_t *idx = json_object_get(e, "ifindex");
		if (!name || !tap || strlen(name) >= IF_NAMESIZE || strlen(tap) >= IF_NAMESIZE ||
		    !json_is_integer(idx) || json_integer_value(idx) <= 0 ||
		    json_integer_value(idx) > INT32_MAX)
			return kc_err_set(err, EINVAL, "net[%zu]: bad interface", i);
		snprintf(f->name, sizeof(f->name), "%s", name);
		snprintf(f->tap, sizeof(f->tap), "%s", tap);
		f->ifindex = (int)json_integer_value(idx);
		s->net->n_ifaces = i + 1;
	}
	return 0;
}

int sbx_state_save(const struct sandbox *s, kc_err **err)
{
	_cleanup_free_ char *path = sbx_path(s, SBX_F_STATE);
	json_t *procs = json_object();
	json_t *j;
	char *txt;
	int r;

	for (int i = 0; i < SBX_PROC_MAX; i++) {
		const struct sbx_proc *p = &s->procs[i];
		if (p->pid > 0 && p->running)
			json_object_set_new(procs, sbx_proc_name(p->kind),
					    json_pack("{s:i, s:I}", "pid", (int)p->pid, "starttime",
						      (json_int_t)p->starttime));
	}
	j = json_pack(
	    "{s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:b, s:s, s:s, s:s, s:I, s:I, "
	    "s:I, s:i, s:o, s:o, s:s?, s:o}",
	    "version", STATE_VERSION, "id", s->id, "state", sbx_state_name(s->state), "hypervisor",
	    sbx_hv_name(s->type), "vcpus", (int)s->vcpus, "memory_mb", (int)s->memory_mb, "cid",
	    (int)s->cid, "kvm", s->kvm, "vhost_user", s->vhost_user, "netns", s->netns, "hostname",
	    s->hostname, "address", s->address, "created_at", (json_int_t)s->created_at,
	    "started_at", (json_int_t)s->started_at, "exited_at", (json_int_t)s->exited_at,
	    "exit_status", (int)s->exit_status, "processes", procs, "net", net_encode(s->net),
	    "task_ns", s->task_ns, "disks", sbx_disks_encode(&s->disks));
	if (!j)
		return kc_err_set(err, EINVAL, "sandbox %s: cannot encode state", s->id);
	txt = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(j);
	if (!txt)
		return kc_err_set(err, ENOMEM, "sandbox %s: cannot encode state", s->id);
	r = kc_write_file_atomic(path, txt, strlen(txt), 0600, err);
	free(txt);
	return r < 0 ? kc_err_wrap(err, "save state") : 0;
}

static int get_str(json_t *j, const char *key, char **dst, kc_err **err)
{
	const char *v = json_string_value(json_object_get(j, key));
	if (!v)
		return kc_err_set(err, EINVAL, "`%s` missing or not a string", key);
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int get_u(json_t *j, const char *key, uint64_t max, uint64_t *ret, kc_err **err)
{
	json_t *v = json_object_get(j, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return kc_err_set(err, EINVAL, "`%s` missing or out of range", key);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int decode(struct sandbox *s, json_t *j, kc_err **err)
{
	_cleanup_free_ char *id = NULL, *state = NULL, *hv = NULL;
	uint64_t v, vcpus, mem, cid, st;
	json_t *procs;

	if (get_u(j, "version", STATE_VERSION, &v, err) < 0 || v != STATE_VERSION)
		return kc_err_set(err, EINVAL, "unsupported state version");
	if (get_str(j, "id", &id, err) < 0 || get_str(j, "state", &state, err) < 0 ||
	    get_str(j, "hypervisor", &hv, err) < 0 || get_str(j, "netns", &s->netns, err) < 0 ||
	    get_str(j, "hostname", &s->hostname, err) < 0 ||
	    get_str(j, "address", &s->address, err) < 0)
		return kc_err_retp(err);
	if (strcmp(id, s->id))
		return kc_err_set(err, EINVAL, "id `%s` does not match the directory", id);
	if (sbx_state_parse(state, &s->state) < 0)
		return kc_err_set(err, EINVAL, "bad state `%s`", state);
	if (!strcmp(hv, "qemu"))
		s->type = SBX_HV_QEMU;
	else if (!strcmp(hv, "cloud-hypervisor"))
		s->type = SBX_HV_CLH;
	else
		return kc_err_set(err, EINVAL, "bad hypervisor `%s`", hv);
	if (get_u(j, "vcpus", 255, &vcpus, err) < 0 ||
	    get_u(j, "memory_mb", 1 << 20, &mem, err) < 0 ||
	    get_u(j, "cid", UINT32_MAX, &cid, err) < 0 ||
	    get_u(j, "created_at", INT64_MAX, &s->created_at, err) < 0 ||
	    get_u(j, "started_at", INT64_MAX, &s->started_at, err) < 0 ||
	    get_u(j, "exited_at", INT64_MAX, &s->exited_at, err) < 0 ||
	    get_u(j, "exit_status", UINT32_MAX, &st, err) < 0)
		return kc_err_retp(err);
	s->vcpus = (uint32_t)vcpus;
	s->memory_mb = (uint32_t)mem;
	s->cid = (uint32_t)cid;
	s->exit_status = (uint32_t)st;
	{
		/* Absent (no task endpoint, or written before we had them): none. */
		const char *ns = json_string_value(json_object_get(j, "task_ns"));
		if (ns && *ns && kc_id_check("namespace", ns, err) < 0)
			return kc_err_wrap(err, "task_ns");
		s->task_ns = ns && *ns ? xstrdup(ns) : NULL;
	}
	s->kvm = json_is_true(json_object_get(j, "kvm"));
	s->vhost_user = json_is_true(json_object_get(j, "vhost_user"));
	if (net_decode(s, json_object_get(j, "net"), err) < 0 ||
	    sbx_disks_decode(&s->disks, json_object_get(j, "disks"), err) < 0)
		return kc_err_retp(err);
	procs = json_object_get(j, "processes");
	if (!json_is_object(procs))
		return kc_err_set(err, EINVAL, "`processes` missing");
	for (int i = 0; i < SBX_PROC_MAX; i++) {
		json_t *p = json_object_get(procs, sbx_proc_name((enum sbx_proc_kind)i));
		uint64_t pid, start;
		if (!p)
			continue;
		if (get_u(p, "pid", INT32_MAX, &pid, err) < 0 ||
		    get_u(p, "starttime", UINT64_MAX >> 1, &start, err) < 0)
			return kc_err_wrap(err, "processes.%s",
					   sbx_proc_name((enum sbx_proc_kind)i));
		s->procs[i].pid = (pid_t)pid;
		s->procs[i].starttime = start;
	}
	return 0;
}

int sbx_state_decode(struct sandbox *s, const char *text, size_t len, const char *name,
		     kc_err **err)
{
	json_error_t jerr;
	json_t *j;
	int r;

	if (len > SBX_STATE_MAX)
		return kc_err_set(err, EFBIG, "%s: larger than %u bytes", name, SBX_STATE_MAX);
	j = json_loadb(text, len, 0, &jerr);
	if (!j)
		return kc_err_set(err, EINVAL, "%s:%d: %s", name, jerr.line, jerr.text);
	r = decode(s, j, err);
	json_decref(j);
	return r < 0 ? kc_err_wrap(err, "%s", name) : 0;
}

int sbx_state_load(struct sbx_daemon *d, const char *id, struct sandbox **ret, kc_err **err)
{
	struct sandbox *s = sbx_new(d, id);
	_cleanup_free_ char *path = sbx_path(s, SBX_F_STATE);
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (kc_read_file(path, SBX_STATE_MAX, &text, &len, err) < 0) {
		sbx_free(s);
		return kc_err_retp(err);
	}
	if (sbx_state_decode(s, text, len, path, err) < 0) {
		sbx_free(s);
		return kc_err_retp(err);
	}
	*ret = s;
	return 0;
}

/* ------------------------------------------------------------------ dirs */

static int write_in(const char *dir, const char *name, const char *text, kc_err **err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	return kc_write_file(p, text, strlen(text), 0, 0644, err);
}

int sbx_dir_create(const struct sandbox *s, const struct sbx_guest_files *f, kc_err **err)
{
	_cleanup_free_ char *shared = sbx_path(s, SBX_F_SHARED);
	_cleanup_free_ char *mounts = sbx_path(s, SBX_F_MOUNTS);
	_cleanup_free_ char *hosts = NULL, *resolv = NULL;
	int r;

	if (mkdir(s->base, 0700) < 0)
		return kc_err_sys(err, "mkdir `%s`", s->base);
	if (mkdir(mounts, 0755) < 0 || mkdir(shared, 0755) < 0) {
		r = kc_err_sys(err, "mkdir in `%s`", s->base);
		goto fail;
	}
	/* The guest writes to what virtiofsd exports, so the host never builds
	 * there: the shim works in mounts/ (never exported) and the guest sees
	 * shared/, a read-only bind of it. Mounts the shim adds below mounts/
	 * while the VM runs must reach shared/ and virtiofsd's namespace (a
	 * slave copy of ours): mounts/ is a shared mount, shared/ its slave.
	 * Only the top is read-only; a container's rootfs below stays writable. */
	if (mount(mounts, mounts, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, mounts, NULL, MS_SHARED, NULL) < 0 ||
	    mount(mounts, shared, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, shared, NULL, MS_SLAVE, NULL) < 0 ||
	    mount(NULL, shared, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		r = kc_err_sys(err, "set up the share mounts of `%s`", s->base);
		goto fail;
	}
	/* The guest's /etc/hosts and resolv.conf start as the host's, as in
	 * Kuasar; a pod DNS config replaces resolv.conf. */
	if (kc_read_file("/etc/hosts", 1 << 20, &hosts, NULL, NULL) < 0)
		hosts = xstrdup("127.0.0.1\tlocalhost\n::1\tlocalhost\n");
	if (f->resolv_conf)
		resolv = xstrdup(f->resolv_conf);
	else if (kc_read_file("/etc/resolv.conf", 1 << 20, &resolv, NULL, NULL) < 0)
		resolv = xstrdup("");
	if ((r = write_in(mounts, "hosts", hosts, err)) < 0 ||
	    (r = write_in(mounts, "resolv.conf", resolv, err)) < 0)
		goto fail;
	if (f->hostname && *f->hostname) {
		_cleanup_free_ char *h = xasprintf("%s\n", f->hostname);
		if ((r = write_in(mounts, "hostname", h, err)) < 0)
			goto fail;
	}
	return 0;
fail:
	(void)sbx_dir_remove(s->base, NULL);
	return r;
}

void sbx_dir_clean_runtime(const struct sandbox *s)
{
	static const char *const socks[] = {SBX_F_TASK_SOCK, SBX_F_VHU_SOCK, SBX_F_FS_SOCK,
					    SBX_F_API_SOCK, SBX_F_QMP_SOCK};
	DIR *dir;
	struct dirent *de;

	for (size_t i = 0; i < KC_ARRAY_SIZE(socks); i++) {
		_cleanup_free_ char *p = sbx_path(s, socks[i]);
		(void)unlink(p);
	}
	/* Guest-initiated hybrid vsock listeners: task.vsock_<port>. */
	dir = opendir(s->base);
	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (kc_has_prefix(de->d_name, SBX_F_TASK_SOCK "_"))
			(void)unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
}

int sbx_dir_remove(const char *base, kc_err **err)
{
	if (kc_umount_tree(base, err) < 0)
		return kc_err_retp(err);
	return kc_rm_rf(base, err);
}
