/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bundle_prepare's spec rewriting for a pod without a sandbox container
 * (containerd 2.x's sandbox API: the VM is the pod): host namespace paths
 * dropped, a shared PID namespace made by the first container and joined by
 * the next, and the pod's hostname/hosts/resolv.conf bound from the share.
 * With a sandbox (pause) container: its namespaces, no pod files added.
 * Needs root (the rootfs is bind-mounted; in a private mount namespace).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskplan.h"
#include "bundle.h"
#include "proc.h"
#include "sbxctl.h"
#include "testutil.h"
#include "tpod.h"
#include "util.h"

static char *tmp;
static struct tpod pod;
static const struct tpod_ops ops;

static void setup(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root (bind mounts)");
	cr_assert_eq(unshare(CLONE_NEWNS), 0);
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	tmp = tu_tmpdir("bundle");
	tpod_init(&pod, NULL, &ops, "k8s.io", "pod1");
	pod.shared_dir = xasprintf("%s/mounts", tmp);
	cr_assert_eq(mkdir(pod.shared_dir, 0755), 0);
}

static void teardown(void)
{
	while (!kc_list_empty(&pod.tasks))
		task_free(kc_container_of(pod.tasks.next, struct task, node));
	free(pod.shared_dir);
	pod.shared_dir = NULL;
	if (tmp)
		tu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(bundle, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* A CRI container's bundle (type "container" or "sandbox") whose
 * namespaces name the host's /proc/99 as containerd gives them. */
static struct task *new_task(const char *id, const char *type, bool share_pid)
{
	struct task *t = xcalloc(1, sizeof(*t));
	_cleanup_free_ char *cfg = NULL, *root = NULL;
	json_t *doc;

	t->pod = &pod;
	t->id = xstrdup(id);
	t->bundle = xasprintf("%s/b-%s", tmp, id);
	kc_list_init(&t->execs);
	kc_list_add_tail(&pod.tasks, &t->node);
	pod.n_tasks++;
	t->init = sproc_new(t, NULL, false, "", "", "");
	cr_assert_eq(mkdir(t->bundle, 0755), 0);
	root = xasprintf("%s/rootfs", t->bundle);
	cr_assert_eq(mkdir(root, 0755), 0);
	doc =
	    json_pack("{s:{s:s},s:{s:s,s:s},s:[{s:s,s:s,s:s}],s:{s:[{s:s,s:s},{s:s,s:s},"
		      "{s:s,s:s},{s:s}]}}",
		      "root", "path", "rootfs", "annotations", "io.kubernetes.cri.container-type",
		      type, "io.kubernetes.cri.sandbox-id", "pod1", "mounts", "destination",
		      "/dev/shm", "type", "tmpfs", "source", "shm", "linux", "namespaces", "type",
		      "network", "path", "/proc/99/ns/net", "type", "ipc", "path",
		      "/proc/99/ns/ipc", "type", "uts", "path", "/proc/99/ns/uts", "type", "mount");
	cr_assert_not_null(doc);
	if (share_pid)
		json_array_append_new(
		    json_object_get(json_object_get(doc, "linux"), "namespaces"),
		    json_pack("{s:s,s:s}", "type", "pid", "path", "/proc/99/ns/pid"));
	else
		json_array_append_new(json_object_get(json_object_get(doc, "linux"), "namespaces"),
				      json_pack("{s:s}", "type", "pid"));
	cfg = xasprintf("%s/config.json", t->bundle);
	cr_assert_eq(json_dump_file(doc, cfg, 0), 0);
	json_decref(doc);
	return t;
}

static json_t *prepared(struct task *t)
{
	_cleanup_free_ char *path = NULL;
	json_t *doc;
	KC_OK(bundle_prepare(t, NULL, 0, err_));
	path = xasprintf("%s/%s/config.json", pod.shared_dir, t->id);
	doc = json_load_file(path, 0, NULL);
	cr_assert_not_null(doc, "%s", path);
	return doc;
}

/* "type" or "type=path" for each namespace, comma separated. */
static char *ns_list(json_t *doc)
{
	json_t *v;
	size_t i;
	char *out = xstrdup("");
	json_array_foreach(json_object_get(json_object_get(doc, "linux"), "namespaces"), i, v)
	{
		const char *p = json_string_value(json_object_get(v, "path"));
		char *n = xasprintf("%s%s%s%s%s", out, *out ? "," : "",
				    json_string_value(json_object_get(v, "type")), p ? "=" : "",
				    p ? p : "");
		free(out);
		out = n;
	}
	return out;
}

static const char *mount_source(json_t *doc, const char *dst)
{
	json_t *m;
	size_t i;
	json_array_foreach(json_object_get(doc, "mounts"), i, m)
	{
		const char *d = json_string_value(json_object_get(m, "destination"));
		if (d && !strcmp(d, dst))
			return json_string_value(json_object_get(m, "source"));
	}
	return NULL;
}

Test(bundle, no_sandbox_container_vm_is_the_pod)
{
	_cleanup_free_ char *hn = xasprintf("%s/hostname", pod.shared_dir);
	_cleanup_free_ char *rc = xasprintf("%s/resolv.conf", pod.shared_dir);
	_cleanup_free_ char *na = NULL, *nb = NULL, *nc = NULL;
	struct task *a, *b, *c;
	json_t *da, *db, *dc;

	write_file(hn, "kc-pod\n");
	write_file(rc, "nameserver 10.0.0.53\n");
	a = new_task("a", "container", true);
	da = prepared(a);
	na = ns_list(da);
	/* The VM's net, IPC and UTS; a new PID namespace, the pod's. */
	cr_assert_str_eq(na, "mount,pid");
	cr_assert(a->pod_pid);
	cr_assert_str_eq(mount_source(da, "/etc/hostname"), TPOD_GUEST_SHARED "/hostname");
	cr_assert_str_eq(mount_source(da, "/etc/resolv.conf"), TPOD_GUEST_SHARED "/resolv.conf");
	cr_assert_null(mount_source(da, "/etc/hosts"), "no hosts file in the share");
	/* The next container joins a's PID namespace while a runs. */
	a->in_guest = true;
	a->init->pid = 42;
	b = new_task("b", "container", true);
	db = prepared(b);
	nb = ns_list(db);
	cr_assert_str_eq(nb, "mount,pid=/proc/42/ns/pid");
	cr_assert(!b->pod_pid);
	/* Not shared: its own, as asked. */
	c = new_task("c", "container", false);
	dc = prepared(c);
	nc = ns_list(dc);
	cr_assert_str_eq(nc, "mount,pid");
	cr_assert(!c->pod_pid);
	{
		/* No cleanup binary named (the shim's pods): containerd's file alone. */
		_cleanup_free_ char *p = xasprintf("%s/shim-binary-path", c->bundle);
		cr_assert(access(p, F_OK) < 0);
	}
	json_decref(da);
	json_decref(db);
	json_decref(dc);
}

/* A task endpoint names its binary for containerd's restart. */
Test(bundle, shim_binary_path)
{
	_cleanup_free_ char *p = NULL, *got = NULL;
	struct task *a;
	json_t *d;

	pod.cleanup_binary = xstrdup("/usr/local/bin/vmm-sandboxer");
	a = new_task("a", "container", false);
	d = prepared(a);
	p = xasprintf("%s/shim-binary-path", a->bundle);
	KC_OK(kc_read_file(p, 4096, &got, NULL, err_));
	cr_assert_str_eq(got, "/usr/local/bin/vmm-sandboxer");
	free(pod.cleanup_binary);
	pod.cleanup_binary = NULL;
	json_decref(d);
}

Test(bundle, sandbox_container_namespaces_and_no_pod_files)
{
	_cleanup_free_ char *hn = xasprintf("%s/hostname", pod.shared_dir);
	_cleanup_free_ char *nl = NULL;
	struct task *sb, *a;
	json_t *d;

	write_file(hn, "kc-pod\n");
	sb = new_task("pod1", "sandbox", true);
	sb->in_guest = true;
	sb->init->pid = 7;
	a = new_task("a", "container", true);
	d = prepared(a);
	nl = ns_list(d);
	cr_assert_str_eq(nl, "ipc=/proc/7/ns/ipc,uts=/proc/7/ns/uts,mount,pid=/proc/7/ns/pid");
	cr_assert(!a->pod_pid);
	cr_assert_null(mount_source(d, "/etc/hostname"), "podsandbox mode binds its own");
	json_decref(d);
}

/* A blockfile rootfs (an image with `loop`) is the guest's to mount: the
 * host mounts nothing, rootfs/ stays an empty directory, root.path says it. */
Test(bundle, disk_rootfs_not_mounted)
{
	_cleanup_free_ char *img = NULL, *rootfs = NULL;
	char *o[] = {"loop", "rw"};
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *pm[1] = {&m};
	struct task *a = new_task("a", "container", false);
	json_t *d;
	struct stat st;

	img = xasprintf("%s/snap.img", tmp);
	write_file(img, "");
	m.type = "ext4";
	m.source = img;
	m.options = o;
	m.n_options = 2;
	KC_OK(bundle_plan_disks(a, pm, 1, err_));
	cr_assert(blk_plan_rootfs(a->blk));
	a->blk->d[0].addr = xstrdup("pci:0000:00:10.0");
	KC_OK(bundle_prepare(a, pm, 1, err_));
	cr_assert_eq(a->n_mounts, 0, "nothing mounted on the host");
	rootfs = xasprintf("%s/a/rootfs", pod.shared_dir);
	cr_assert_eq(stat(rootfs, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert(!sbx_mounted_below(rootfs));
	{
		_cleanup_free_ char *path = xasprintf("%s/a/config.json", pod.shared_dir);
		d = json_load_file(path, 0, NULL);
	}
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "root"), "path")),
			 "rootfs");
	json_decref(d);
}
