/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host paths mapped into the VM. The pod's VM sees <sandbox dir>/shared as
 * /run/kuasar/state (virtio-fs): a read-only view of <sandbox dir>/mounts,
 * which only the host writes (lib/share.h). For each container we build
 * <mounts>/<id>/ there, relative to directory fds, never following a link:
 *   rootfs/       the rootfs mounts of CreateTaskRequest (overlay...), mounted
 *                 here on the host, or a bind of the spec's root.path
 *   mounts/<n>    a bind of each host path the spec bind-mounts (volumes,
 *                 /etc/hosts, /etc/resolv.conf ...)
 *   config.json   containerd's spec rewritten for the guest: root.path =
 *                 rootfs, bind sources = their mounts/<n> as the guest sees
 *                 them, namespaces that name host paths dropped (the VM is
 *                 the pod), no network namespace (containers share the VM's)
 * This is the same translation Kuasar's sandboxer does for its shared dir,
 * done on the host where containerd's Task API is served (the shim, or
 * vmm-sandboxer's task endpoint).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mountopt.h"
#include "share.h"
#include "proc.h"
#include "diskplan.h"
#include "bundle.h"

#define SANDBOX_ID_ANNOTATION     "io.kubernetes.cri.sandbox-id"
#define CONTAINER_TYPE_ANNOTATION "io.kubernetes.cri.container-type"

char *bundle_group_id(const char *bundle, const char *id)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	json_t *doc = json_load_file(path, 0, NULL);
	json_t *v =
	    doc ? json_object_get(json_object_get(doc, "annotations"), SANDBOX_ID_ANNOTATION)
		: NULL;
	char *r = xstrdup(json_is_string(v) && *json_string_value(v) ? json_string_value(v) : id);
	json_decref(doc);
	return r;
}

size_t bundle_vm_annotations(const char *bundle, char ***ret)
{
	static const char *const keys[] = {
	    "io.kubernetes.cri.sandbox-cpu-quota", "io.kubernetes.cri.sandbox-cpu-period",
	    "io.kubernetes.cri.sandbox-cpu-shares", "io.kubernetes.cri.sandbox-memory"};
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	json_t *doc = json_load_file(path, 0, NULL);
	json_t *ann = json_object_get(doc, "annotations");
	char **kv = xcalloc(2 * KC_ARRAY_SIZE(keys) + 1, sizeof(*kv));
	size_t n = 0;

	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		const char *v = json_string_value(json_object_get(ann, keys[i]));
		if (v && strlen(v) < 32) {
			kv[2 * n] = xstrdup(keys[i]);
			kv[2 * n + 1] = xstrdup(v);
			n++;
		}
	}
	json_decref(doc);
	*ret = kv;
	return n;
}

char *bundle_netns(const char *bundle)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	json_t *doc = json_load_file(path, 0, NULL);
	json_t *nss = json_object_get(json_object_get(doc, "linux"), "namespaces"), *ns;
	const char *found = "";
	size_t i;
	char *r;

	json_array_foreach(nss, i, ns)
	{
		const char *type = json_string_value(json_object_get(ns, "type"));
		const char *p = json_string_value(json_object_get(ns, "path"));
		if (type && !strcmp(type, "network") && p && *p == '/' && strlen(p) < 256)
			found = p;
	}
	r = xstrdup(found);
	json_decref(doc);
	return r;
}

static void record_mount(struct task *t, const char *path)
{
	t->mounts = xrealloc(t->mounts, (t->n_mounts + 1) * sizeof(char *));
	t->mounts[t->n_mounts++] = xstrdup(path);
}

static bool is_bind(json_t *m)
{
	json_t *o = json_object_get(m, "options"), *v;
	size_t i;
	const char *type = json_string_value(json_object_get(m, "type"));

	if (type && !strcmp(type, "bind"))
		return true;
	json_array_foreach(o, i, v)
	{
		const char *s = json_string_value(v);
		if (s && (!strcmp(s, "bind") || !strcmp(s, "rbind")))
			return true;
	}
	return false;
}

bool bundle_mount_has_opt(json_t *m, const char *opt)
{
	json_t *o = json_object_get(m, "options"), *v;
	size_t i;
	json_array_foreach(o, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), opt))
			return true;
	}
	return false;
}

/* Bind a host path onto <host_dir>/mounts/<n> (mfd), return the guest's path. */
static char *share_bind(struct task *t, int mfd, const char *src, size_t n, bool ro, kc_err **err)
{
	_cleanup_free_ char *name = xasprintf("%zu", n);
	_cleanup_close_ int target = -1;
	struct stat st;

	if (stat(src, &st) < 0) {
		kc_err_sys(err, "bind source `%s`", src);
		return NULL;
	}
	target =
	    S_ISDIR(st.st_mode) ? kc_share_mkdir(mfd, name, err) : kc_share_touch(mfd, name, err);
	if (target < 0 || kc_share_bind(src, target, ro, err) < 0)
		return NULL;
	{
		_cleanup_free_ char *path = xasprintf("%s/mounts/%zu", t->host_dir, n);
		record_mount(t, path);
	}
	return xasprintf("%s/%s/mounts/%zu", TPOD_GUEST_SHARED, t->id, n);
}

static int rewrite_mounts(struct task *t, json_t *doc, int dir, kc_err **err)
{
	json_t *mounts = json_object_get(doc, "mounts"), *m;
	_cleanup_close_ int mfd = -1;
	size_t i, n = 0;

	json_array_foreach(mounts, i, m)
	{
		const char *dst = json_string_value(json_object_get(m, "destination"));
		const char *src = json_string_value(json_object_get(m, "source"));
		_cleanup_free_ char *guest = NULL;

		if (!is_bind(m) || !src || src[0] != '/')
			continue;
		if (dst && !strcmp(dst, "/dev/shm")) {
			/* The pod's shm is the VM's business: a private tmpfs. */
			json_object_set_new(m, "type", json_string("tmpfs"));
			json_object_set_new(m, "source", json_string("shm"));
			json_object_set_new(
			    m, "options",
			    json_pack("[s,s,s,s]", "nosuid", "noexec", "nodev", "mode=1777"));
			continue;
		}
		if (mfd < 0 && (mfd = kc_share_mkdir(dir, "mounts", err)) < 0)
			return kc_err_wrap(err, "mount %s", dst ? dst : "?");
		guest = share_bind(t, mfd, src, n++,
				   bundle_mount_has_opt(m, "ro") || bundle_mount_has_opt(m, "rro"),
				   err);
		if (!guest)
			return kc_err_wrap(err, "mount %s", dst ? dst : "?");
		json_object_set_new(m, "source", json_string(guest));
	}
	return 0;
}

/* /proc/<pid>/ns/<name> for an OCI namespace type. */
static const char *proc_ns_name(const char *type)
{
	static const char *const map[][2] = {
	    {"pid", "pid"},   {"ipc", "ipc"},       {"uts", "uts"},  {"mount", "mnt"},
	    {"user", "user"}, {"cgroup", "cgroup"}, {"time", "time"}};
	for (size_t i = 0; type && i < KC_ARRAY_SIZE(map); i++)
		if (!strcmp(type, map[i][0]))
			return map[i][1];
	return NULL;
}

/* The guest pid of the pod's sandbox (pause) container when doc is that of
 * an app container of the pod, else 0. */
static uint32_t sandbox_guest_pid(struct tpod *pod, json_t *doc)
{
	json_t *ann = json_object_get(doc, "annotations");
	const char *type = json_string_value(json_object_get(ann, CONTAINER_TYPE_ANNOTATION));
	const char *sid = json_string_value(json_object_get(ann, SANDBOX_ID_ANNOTATION));
	struct task *sb;

	if (!type || strcmp(type, "container") || !sid)
		return 0;
	sb = find_task(pod, sid);
	return sb && sb->in_guest && sb->init->pid && !sb->init->exited ? sb->init->pid : 0;
}

static bool is_app_container(json_t *doc)
{
	const char *type = json_string_value(
	    json_object_get(json_object_get(doc, "annotations"), CONTAINER_TYPE_ANNOTATION));
	return type && !strcmp(type, "container");
}

/* The guest pid of the running container whose init made the pod's PID
 * namespace (containerd's sandbox API: no pause container), else 0. */
static uint32_t pod_pid_owner(struct tpod *pod)
{
	kc_list_for_each (n, &pod->tasks) {
		struct task *o = kc_container_of(n, struct task, node);
		if (o->pod_pid && o->in_guest && o->init && o->init->pid && !o->init->exited)
			return o->init->pid;
	}
	return 0;
}

/* A namespace path names a host namespace. CRI uses them for the pod's
 * shared namespaces (those of the sandbox container): in the VM they become
 * the pause container's, by its guest pid. Network: the VM is the pod's
 * network namespace. Without a pause container (containerd 2.x's sandbox
 * API, the paths name our VMM's namespaces) the VM is the pod: UTS (its
 * hostname is the pod's) and IPC are the VM's; a shared PID namespace is
 * made by the first container that asks and joined by the later ones, so
 * that no container sees the VM's own processes. */
static int rewrite_namespaces(struct task *t, json_t *doc, kc_err **err)
{
	struct tpod *pod = t->pod;
	json_t *l = json_object_get(doc, "linux");
	json_t *ns = json_object_get(l, "namespaces"), *keep = json_array(), *v;
	uint32_t pause = sandbox_guest_pid(pod, doc);
	size_t i;

	json_array_foreach(ns, i, v)
	{
		const char *type = json_string_value(json_object_get(v, "type"));
		json_t *path = json_object_get(v, "path");
		const char *name = proc_ns_name(type);

		if (type && !strcmp(type, "network"))
			continue;
		if (json_is_string(path) && *json_string_value(path)) {
			if (!pause && name && !strcmp(type, "pid") && is_app_container(doc)) {
				uint32_t owner = pod_pid_owner(pod);
				_cleanup_free_ char *gp =
				    owner ? xasprintf("/proc/%u/ns/pid", owner) : NULL;
				json_t *n = gp ? json_pack("{s:s,s:s}", "type", type, "path", gp)
					       : json_pack("{s:s}", "type", type);
				if (!n) {
					json_decref(keep);
					return kc_err_set(err, ENOMEM, "namespaces");
				}
				t->pod_pid = !owner;
				json_array_append_new(keep, n);
				continue;
			}
			if (!pause || !name) {
				log_debug(
				    "namespace %s at `%s`: no pod sandbox in this VM to map it "
				    "to; the container gets the VM's",
				    type ? type : "?", json_string_value(path));
				continue;
			}
			{
				_cleanup_free_ char *gp = xasprintf("/proc/%u/ns/%s", pause, name);
				json_t *n = json_pack("{s:s,s:s}", "type", type, "path", gp);
				if (!n) {
					json_decref(keep);
					return kc_err_set(err, ENOMEM, "namespaces");
				}
				json_array_append_new(keep, n);
			}
			continue;
		}
		json_array_append(keep, v);
	}
	if (l && ns)
		json_object_set_new(l, "namespaces", keep);
	else
		json_decref(keep);
	return 0;
}

static bool has_destination(json_t *mounts, const char *dst)
{
	json_t *m;
	size_t i;
	json_array_foreach(mounts, i, m)
	{
		const char *d = json_string_value(json_object_get(m, "destination"));
		if (d && !strcmp(d, dst))
			return true;
	}
	return false;
}

/* containerd 2.x's sandbox API gives a container no /etc/hostname, hosts
 * or resolv.conf (it binds them only where its podsandbox made them): the
 * pod's, from the sandbox's share (written from the PodSandboxConfig at
 * Controller.Create), as podsandbox mode binds them. */
static int add_pod_files(struct tpod *pod, json_t *doc, kc_err **err)
{
	static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
	json_t *mounts = json_object_get(doc, "mounts");

	if (!json_is_array(mounts)) {
		mounts = json_array();
		json_object_set_new(doc, "mounts", mounts);
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *host = xasprintf("%s/%s", pod->shared_dir, files[i]);
		_cleanup_free_ char *dst = xasprintf("/etc/%s", files[i]);
		_cleanup_free_ char *src = xasprintf("%s/%s", TPOD_GUEST_SHARED, files[i]);
		json_t *m;

		if (has_destination(mounts, dst) || access(host, F_OK) < 0)
			continue;
		m = json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", dst, "type", "bind",
			      "source", src, "options", "rbind", "rprivate", "ro");
		if (!m)
			return kc_err_set(err, ENOMEM, "mounts");
		json_array_append_new(mounts, m);
	}
	return 0;
}

int bundle_plan_disks(struct task *t, Containerd__Types__Mount *const *mounts, size_t n_rootfs,
		      kc_err **err)
{
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", t->bundle);
	json_error_t je;
	json_t *doc = json_load_file(cfg, JSON_REJECT_DUPLICATES, &je);
	int r;

	if (!doc)
		return kc_err_set(err, EINVAL, "%s: line %d: %s", cfg, je.line, je.text);
	blk_plan_free(t->blk);
	t->blk = NULL;
	r = blk_plan_make(doc, mounts, n_rootfs, &t->blk, err);
	json_decref(doc);
	return r;
}

int bundle_prepare(struct task *t, Containerd__Types__Mount *const *mounts, size_t n_rootfs,
		   kc_err **err)
{
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", t->bundle);
	_cleanup_free_ char *rootfs = NULL, *text = NULL;
	_cleanup_close_ int base = -1, dir = -1, rootfd = -1;
	json_error_t je;
	json_t *doc, *root;
	const char *shared = t->pod->shared_dir;
	int r = -1;

	rootfs = xasprintf("%s/%s/rootfs", shared, t->id);
	/* containerd's bundle is on the host, written by containerd: trusted. */
	doc = json_load_file(cfg, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return kc_err_set(err, EINVAL, "%s: line %d: %s", cfg, je.line, je.text);
	if ((base = kc_share_open_dir(shared, err)) < 0 ||
	    (dir = kc_share_mkdir(base, t->id, err)) < 0)
		goto out;
	/* Ours from now on (cleanup removes it); not before: whatever was
	 * there already is not ours to remove. */
	t->host_dir = xasprintf("%s/%s", shared, t->id);
	if ((rootfd = kc_share_mkdir(dir, "rootfs", err)) < 0)
		goto out;
	root = json_object_get(doc, "root");
	if (blk_plan_rootfs(t->blk)) {
		/* The guest mounts it from its disk: rootfs/ stays empty. */
	} else if (n_rootfs > 0) {
		for (size_t i = 0; i < n_rootfs; i++) {
			char fdpath[32];
			/* The first lands on the directory we made; later ones stack
			 * on it (a path inside the host-only tree). */
			kc_fd_path(rootfd, fdpath);
			if (kc_mount_pb(mounts[i], i == 0 ? fdpath : rootfs, err) < 0) {
				kc_err_wrap(err, "rootfs");
				goto out;
			}
			if (i == 0)
				record_mount(t, rootfs);
		}
	} else {
		const char *rp = json_string_value(json_object_get(root, "path"));
		_cleanup_free_ char *abs = NULL;
		if (!rp || !*rp) {
			kc_err_set(err, EINVAL, "no rootfs: neither rootfs mounts nor root.path");
			goto out;
		}
		abs = rp[0] == '/' ? xstrdup(rp) : xasprintf("%s/%s", t->bundle, rp);
		if (kc_share_bind(abs, rootfd, false, err) < 0)
			goto out;
		record_mount(t, rootfs);
	}
	if (!json_is_object(root)) {
		root = json_object();
		json_object_set_new(doc, "root", root);
	}
	json_object_set_new(root, "path", json_string("rootfs"));
	if (blk_plan_apply(t->blk, doc, err) < 0 || rewrite_mounts(t, doc, dir, err) < 0)
		goto out;
	if (rewrite_namespaces(t, doc, err) < 0)
		goto out;
	if (!sandbox_guest_pid(t->pod, doc) && is_app_container(doc) &&
	    add_pod_files(t->pod, doc, err) < 0)
		goto out;
	/* The guest has no LSMs to load these into. */
	json_object_del(json_object_get(doc, "process"), "apparmorProfile");
	json_object_del(json_object_get(doc, "process"), "selinuxLabel");
	json_object_del(json_object_get(doc, "linux"), "mountLabel");
	text = json_dumps(doc, JSON_COMPACT);
	if (!text) {
		kc_err_set(err, ENOMEM, "serialize config.json");
		goto out;
	}
	if (kc_share_write(dir, "config.json", text, strlen(text), err) < 0)
		goto out;
	if (t->pod->cleanup_binary) {
		_cleanup_free_ char *p = xasprintf("%s/shim-binary-path", t->bundle);
		if (kc_write_file(p, t->pod->cleanup_binary, strlen(t->pod->cleanup_binary), 0,
				  0644, err) < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(doc);
	return r;
}

void bundle_cleanup(struct task *t)
{
	kc_err *err = NULL;

	for (size_t i = t->n_mounts; i-- > 0;) {
		if (umount2(t->mounts[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			log_warn("unmount %s: %s", t->mounts[i], strerror(errno));
		free(t->mounts[i]);
	}
	free(t->mounts);
	t->mounts = NULL;
	t->n_mounts = 0;
	/* After the guest's Delete unmounted them. */
	blk_detach_all(t, NULL, NULL);
	/* Never crosses a mount point, so a mount we failed to undo is kept. */
	if (t->host_dir && kc_rm_rf(t->host_dir, &err) < 0) {
		log_warn("remove %s: %s", t->host_dir, kc_err_msg(err));
		kc_err_free(err);
	}
}

bool bundle_cleanup_dir(const char *shared, const char *id)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", shared, id);
	kc_err *err = NULL;
	DIR *d;
	struct dirent *de;
	bool others = false;

	if (kc_umount_tree(dir, &err) < 0 || kc_rm_rf(dir, &err) < 0) {
		log_warn("clean up %s: %s", dir, kc_err_msg(err));
		kc_err_free(err);
	}
	/* Another container's directory means the pod still has tasks. */
	d = opendir(shared);
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			others = true;
	if (d)
		closedir(d);
	return !others;
}
