/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hot-plugged disks in a booted VM (QEMU pc, block-contract.md), the guest
 * side: the test plays the host, adding each disk image over QMP itself
 * (blockdev-add + device_add virtio-blk-pci bus=pci.0 addr=<slot>) and naming
 * it to the agent as pci:0000:00:<slot>.0.
 *
 *   ext4 / erofs / xfs container rootfs (CreateTaskRequest.rootfs): the
 *     container sees / on /dev/vdX with that filesystem
 *   two xfs copies of one image (same UUID) at once: refused without nouuid,
 *     mounted with it
 *   a declared type that is not the disk's, a PCI address with no disk (after
 *     the 10 s deadline): Create fails naming both types / the address
 *   a spec mount on a disk (block volume) written in the guest, read on the
 *     host; a raw block device (io.kuasar-c.block-devices): the guest's
 *     numbers and the device cgroup rule rewritten with them
 *   while a Create waits for its disk, the agent answers a Check at once
 *   after Delete, PID 1's mount table has no staging mount left
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentctl.h"
#include "blkctr.h"
#include "qmpsync.h"
#include "testutil.h"
#include "util.h"
#include "vm.h"

#define QMP_TIMEOUT (30 * KC_NSEC_PER_SEC)

static const char *const block_tools[] = {"mkfs.ext4", "mkfs.xfs", "mkfs.erofs", "debugfs"};

const char *vm_block_missing_tool(void)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(block_tools); i++)
		if (tu_sh("command -v %s >/dev/null 2>&1", block_tools[i]) != 0)
			return block_tools[i];
	return NULL;
}

/* An xfs prototype file (mkfs.xfs -p) of a directory tree: xfsprogs here
 * cannot copy a directory in by itself. */
static void proto_dir(FILE *f, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert(d, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		cr_assert_eq(lstat(p, &st), 0);
		fprintf(f, "%*s%s ", depth, "", e->d_name);
		if (S_ISDIR(st.st_mode)) {
			fprintf(f, "d--%03o 0 0\n", st.st_mode & 0777);
			proto_dir(f, p, depth + 1);
			fprintf(f, "%*s$\n", depth, "");
		} else if (S_ISLNK(st.st_mode)) {
			char t[256];
			ssize_t n = readlink(p, t, sizeof(t) - 1);
			cr_assert_gt(n, 0);
			t[n] = '\0';
			fprintf(f, "l--777 0 0 %s\n", t);
		} else {
			fprintf(f, "---%03o 0 0 %s\n", st.st_mode & 0777, p);
		}
	}
	closedir(d);
}

/* Images in V.dir, made from the busybox rootfs in the share. */
static char *img(const char *name)
{
	return xasprintf("%s/%s.img", V.dir, name);
}

static void make_images(void)
{
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", V.share);
	_cleanup_free_ char *proto = xasprintf("%s/xfs.proto", V.dir);
	_cleanup_free_ char *ext4 = img("ext4"), *xfs = img("xfs"), *xfs2 = img("xfs2");
	_cleanup_free_ char *erofs = img("erofs"), *vol = img("vol"), *raw = img("raw");
	FILE *f = fopen(proto, "w");

	cr_assert(f);
	fputs("/dev/null\n0 0\nd--755 0 0\n", f);
	proto_dir(f, rootfs, 1);
	fputs("$\n", f);
	fclose(f);
	cr_assert_eq(tu_sh("truncate -s 64M %s && mkfs.ext4 -q -F -d %s %s", ext4, rootfs, ext4),
		     0);
	/* xfs refuses less than 300 MB; the file is sparse. */
	cr_assert_eq(tu_sh("truncate -s 320M %s && mkfs.xfs -q -f -p %s %s", xfs, proto, xfs), 0);
	/* A copy: the same UUID, as two devmapper snapshots of one image. */
	cr_assert_eq(tu_sh("cp --sparse=always %s %s", xfs, xfs2), 0);
	cr_assert_eq(tu_sh("mkfs.erofs %s %s >/dev/null", erofs, rootfs), 0);
	cr_assert_eq(tu_sh("truncate -s 64M %s && mkfs.ext4 -q -F %s", vol, vol), 0);
	cr_assert_eq(tu_sh("printf kc-raw-device >%s && truncate -s 1M %s", raw, raw), 0);
}

static void hotplug(const char *name, unsigned slot, bool ro)
{
	_cleanup_free_ char *file = img(name);
	_cleanup_free_ char *node = xasprintf("blk-%s", name);
	_cleanup_free_ char *id = xasprintf("virtio-blk-%s", name);
	_cleanup_free_ char *addr = xasprintf("0x%x", slot);
	uint64_t deadline = kc_now_ns() + QMP_TIMEOUT;
	kc_err *e = NULL;
	json_t *r;

	r = kc_qmp_cmd(V.qmp, "blockdev-add",
		       json_pack("{s:s, s:s, s:b, s:{s:s, s:s}}", "driver", "raw", "node-name",
				 node, "read-only", ro, "file", "driver", "file", "filename", file),
		       deadline, &e);
	cr_assert(r, "blockdev-add %s: %s", name, kc_err_msg(e));
	json_decref(r);
	r = kc_qmp_cmd(V.qmp, "device_add",
		       json_pack("{s:s, s:s, s:s, s:s, s:s}", "driver", "virtio-blk-pci", "id", id,
				 "drive", node, "bus", "pci.0", "addr", addr),
		       deadline, &e);
	cr_assert(r, "device_add %s at %s: %s", name, addr, kc_err_msg(e));
	json_decref(r);
}

/* A bundle in the share whose root.path is an empty "rootfs" (the contract:
 * the real root comes in CreateTaskRequest.rootfs). */
static char *disk_bundle(const char *id, struct bundle_opts *o)
{
	_cleanup_free_ char *host = NULL, *root = NULL;

	o->rootfs = "rootfs";
	host = agentctl_bundle(&V.a, id, o);
	root = xasprintf("%s/rootfs", host);
	cr_assert(mkdir(root, 0755) == 0 || errno == EEXIST);
	return xasprintf(GUEST_SHARE "/%s", id);
}

struct ctr {
	int fo, fe;
};

/* Create + Start; rootfs: a disk Mount or NULL. Returns Create's result. */
static int start(const char *id, const char *bundle, Containerd__Types__Mount *rootfs,
		 struct ctr *c, kc_err **e)
{
	_cleanup_free_ char *sout = io_uri(), *serr = io_uri();
	Containerd__Types__Mount *mounts[1] = {rootfs};
	uint32_t pid = 0;

	if (task_create_rootfs(&V.a, id, bundle, mounts, rootfs ? 1 : 0, false, NULL, sout, serr,
			       &pid, e) < 0)
		return -1;
	c->fo = io_dial(sout, e);
	cr_assert_geq(c->fo, 0, "dial %s: %s", sout, kc_err_msg(*e));
	c->fe = io_dial(serr, e);
	cr_assert_geq(c->fe, 0, "dial %s: %s", serr, kc_err_msg(*e));
	cr_assert_eq(task_start(&V.a, id, NULL, NULL, e), 0, "start %s: %s", id, kc_err_msg(*e));
	return 0;
}

/* Wait, read all output, Delete. */
static uint32_t finish(const char *id, struct ctr *c, char **out, char **err_out)
{
	uint32_t st = 999, dst = 999;
	kc_err *e = NULL;

	cr_assert_eq(task_wait(&V.a, id, NULL, &st, &e), 0, "wait %s: %s", id, kc_err_msg(e));
	*out = io_read_all(c->fo, IO_TIMEOUT_MS, NULL);
	*err_out = io_read_all(c->fe, IO_TIMEOUT_MS, NULL);
	close(c->fo);
	close(c->fe);
	cr_assert_eq(task_delete(&V.a, id, NULL, &dst, &e), 0, "delete %s: %s", id, kc_err_msg(e));
	return st;
}

/* One line of a running container's stdout. */
static char *first_line(struct ctr *c)
{
	char buf[512];
	size_t got = 0;

	while (got < sizeof(buf) - 1 && (got == 0 || buf[got - 1] != '\n')) {
		struct pollfd p = {.fd = c->fo, .events = POLLIN};
		ssize_t n;
		cr_assert_eq(poll(&p, 1, IO_TIMEOUT_MS), 1, "no output");
		n = read(c->fo, buf + got, sizeof(buf) - 1 - got);
		cr_assert_gt(n, 0, "stdout ended");
		got += (size_t)n;
	}
	buf[got] = '\0';
	return xstrdup(buf);
}

#define SH(...) ((const char *const[]){"/bin/sh", "-c", __VA_ARGS__, NULL})
/* The container's own root in its mountinfo: "... / / <opts> ... - <fs> <dev> ..." */
#define SHOW_ROOT "grep ' / / ' /proc/self/mountinfo"

static Containerd__Types__Mount disk(const char *type, unsigned slot, char **options, size_t n)
{
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
	m.type = (char *)type;
	m.source = xasprintf("pci:0000:00:%02x.0", slot);
	m.target = (char *)"";
	m.options = options;
	m.n_options = n;
	return m;
}

/* PID 1's mount table, seen from a container in its PID namespace. */
static char *guest_mounts(void)
{
	struct bundle_opts o = {.args = SH("cat /proc/1/mountinfo"), .no_pidns = true};
	char *out = NULL, *err = NULL;

	cr_assert_eq(run("b-mounts", &o, &out, &err), 0, "stderr: %s", err);
	free(err);
	return out;
}

static void rootfs_case(const char *id, const char *type, unsigned slot, char **opts, size_t n)
{
	struct bundle_opts o = {.args = SH(SHOW_ROOT "; head -1 /etc/passwd")};
	_cleanup_free_ char *bundle = disk_bundle(id, &o);
	_cleanup_free_ char *out = NULL, *err = NULL, *want = xasprintf("- %s /dev/vd", type);
	Containerd__Types__Mount m = disk(type, slot, opts, n);
	struct ctr c;
	kc_err *e = NULL;

	cr_assert_eq(start(id, bundle, &m, &c, &e), 0, "create %s: %s", id, kc_err_msg(e));
	cr_assert_eq(finish(id, &c, &out, &err), 0, "%s: stderr %s", id, err);
	cr_assert(strstr(out, want), "%s: / is not %s...: %s", id, want, out);
	cr_assert(strstr(out, "root:x:0:0:"), "%s: %s", id, out);
	fprintf(stderr, "vm[%s]: %s rootfs on a disk: %s", V.name, type, out);
	free(m.source);
}

static void xfs_twins(void)
{
	char *nouuid[] = {"nouuid"};
	struct bundle_opts o1 = {.args = SH(SHOW_ROOT "; exec sleep 1000")}, o2 = o1, o3 = o1;
	_cleanup_free_ char *b1 = disk_bundle("b-xfs1", &o1), *b2 = disk_bundle("b-xfs2", &o2);
	_cleanup_free_ char *b3 = disk_bundle("b-xfs3", &o3);
	_cleanup_free_ char *l1 = NULL, *l2 = NULL, *mounts = NULL, *out = NULL, *err = NULL;
	Containerd__Types__Mount m1 = disk("xfs", 0x12, NULL, 0), m2 = disk("xfs", 0x13, NULL, 0);
	struct ctr c1, c2;
	kc_err *e = NULL;

	cr_assert_eq(start("b-xfs1", b1, &m1, &c1, &e), 0, "create b-xfs1: %s", kc_err_msg(e));
	l1 = first_line(&c1);
	/* The copy has the same UUID: without nouuid xfs refuses it. */
	cr_assert_lt(start("b-xfs3", b3, &m2, &c2, &e), 0, "a twin xfs mounted without nouuid");
	cr_assert(strstr(e->msg, "mount xfs") && strstr(e->msg, "pci:0000:00:13.0"), "%s", e->msg);
	kc_err_free(e);
	e = NULL;
	m2.options = nouuid;
	m2.n_options = 1;
	cr_assert_eq(start("b-xfs2", b2, &m2, &c2, &e), 0, "create b-xfs2: %s", kc_err_msg(e));
	l2 = first_line(&c2);
	cr_assert(strstr(l1, "- xfs /dev/vd") && strstr(l2, "- xfs /dev/vd"), "%s%s", l1, l2);
	cr_assert(strstr(l2, "nouuid"), "b-xfs2 mounted without nouuid: %s", l2);
	mounts = guest_mounts();
	cr_assert(strstr(mounts, "/blk/b-xfs1/rootfs") && strstr(mounts, "/blk/b-xfs2/rootfs"),
		  "%s", mounts);
	fprintf(stderr, "vm[%s]: two xfs twins at once (nouuid):\n  %s  %s", V.name, l1, l2);
	cr_assert_eq(task_kill(&V.a, "b-xfs1", NULL, SIGKILL, false, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(task_kill(&V.a, "b-xfs2", NULL, SIGKILL, false, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(finish("b-xfs1", &c1, &out, &err), 137);
	free(out);
	free(err);
	cr_assert_eq(finish("b-xfs2", &c2, &out, &err), 137);
	free(m1.source);
	free(m2.source);
}

/* A child that, 2 s into a Create waiting for a disk, asks the agent over a
 * connection of its own: PID 1 waits on its loop, so it answers at once.
 * Exit status 0 if Check came back within 2 s. */
static pid_t check_meanwhile(void)
{
	_cleanup_free_ char *p = xasprintf("%s/agent.addr", V.dir);
	_cleanup_free_ char *addr = NULL;
	pid_t pid;

	cr_assert_eq(kc_read_file(p, 4096, &addr, NULL, NULL), 0);
	addr[strcspn(addr, "\n")] = '\0';
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct agentctl a;
		kc_err *e = NULL;
		uint64_t t0;
		poll(NULL, 0, 2000);
		t0 = kc_now_ns();
		if (agentctl_connect_until(&a, addr, t0 + 10 * KC_NSEC_PER_SEC, &e) < 0 ||
		    sandbox_check(&a, &e) < 0) {
			fprintf(stderr, "check during a disk wait: %s\n", kc_err_msg(e));
			_exit(2);
		}
		_exit(kc_now_ns() - t0 < 2 * KC_NSEC_PER_SEC ? 0 : 1);
	}
	return pid;
}

static void create_fails(const char *id, Containerd__Types__Mount *m, const char *want1,
			 const char *want2, uint64_t min_ns)
{
	struct bundle_opts o = {.args = SH("true")};
	_cleanup_free_ char *bundle = disk_bundle(id, &o);
	pid_t checker = min_ns ? check_meanwhile() : -1;
	uint64_t t0 = kc_now_ns();
	struct ctr c;
	kc_err *e = NULL;
	int st = -1;

	cr_assert_lt(start(id, bundle, m, &c, &e), 0, "create %s should fail", id);
	if (checker > 0) {
		cr_assert_eq(waitpid(checker, &st, 0), checker);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "Check during %s's wait for its disk: status %#x", id, st);
	}
	cr_assert(strstr(e->msg, want1) && strstr(e->msg, want2), "%s: %s", id, e->msg);
	cr_assert_geq(kc_now_ns() - t0, min_ns, "%s failed early: %s", id, e->msg);
	fprintf(stderr, "vm[%s]: %s refused after %.1f s: %s\n", V.name, id,
		(double)(kc_now_ns() - t0) / 1e9, e->msg);
	kc_err_free(e);
}

static void volume_and_raw(void)
{
	struct bundle_opts o = {
	    .args = SH("echo written-in-guest >/data/hello && grep ' /data ' /proc/self/mountinfo"
		       " && stat -c '%t:%T' /dev/xvdz && head -c 13 /dev/xvdz"),
	    .extra_mounts = "{\"destination\":\"/data\",\"type\":\"ext4\","
			    "\"source\":\"pci:0000:00:14.0\",\"options\":[\"nosuid\"]}",
	    /* The host's numbers of the raw device: 8:0, a host sda. */
	    .extra_linux = "\"devices\":[{\"path\":\"/dev/xvdz\",\"type\":\"b\",\"major\":8,"
			   "\"minor\":0,\"fileMode\":384,\"uid\":0,\"gid\":0}],"
			   "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
			   "{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,"
			   "\"access\":\"rw\"}]}",
	    .annotations = "\"" KC_BLK_ANNOTATION "\":"
			   "\"{\\\"/dev/xvdz\\\":\\\"pci:0000:00:15.0\\\"}\"",
	};
	_cleanup_free_ char *out = NULL, *err = NULL, *vol = img("vol"), *back = NULL;

	cr_assert_eq(run("b-vol", &o, &out, &err), 0, "stderr: %s", err);
	cr_assert(strstr(out, "- ext4 /dev/vd"), "/data: %s", out);
	/* Guest numbers (virtio-blk's major), not the host's 8:0; readable
	 * through the device cgroup only because its rule was rewritten too. */
	cr_assert(!strstr(out, "\n8:0\n") && strstr(out, "\nkc-raw-device"), "%s", out);
	fprintf(stderr, "vm[%s]: block volume and raw device: %s\n", V.name, out);
	/* Unmounted on Delete: what was written is on the image. */
	back = tu_sh_out("debugfs -R 'cat /hello' %s 2>/dev/null", vol);
	cr_assert_str_eq(back, "written-in-guest\n");
}

void vm_block(void)
{
	char *ro[] = {"ro"};
	_cleanup_free_ char *mounts = NULL;
	Containerd__Types__Mount m;

	make_images();
	/* Each Create is sent right after device_add: the agent waits for it. */
	hotplug("ext4", 0x10, false);
	rootfs_case("b-ext4", "ext4", 0x10, NULL, 0);
	hotplug("erofs", 0x11, true);
	rootfs_case("b-erofs", "erofs", 0x11, ro, 1);
	hotplug("xfs", 0x12, false);
	hotplug("xfs2", 0x13, false);
	xfs_twins();

	m = disk("xfs", 0x10, NULL, 0); /* the ext4 disk, free again */
	create_fails("b-mismatch", &m, "declared filesystem xfs, but it holds ext4",
		     "pci:0000:00:10.0", 0);
	free(m.source);
	m = disk("ext4", 0x1e, NULL, 0); /* nothing there */
	create_fails("b-missing", &m, "0000:00:1e.0: not there after 10000 ms", "pci:0000:00:1e.0",
		     KC_BLK_WAIT_NS);
	free(m.source);

	hotplug("vol", 0x14, false);
	hotplug("raw", 0x15, false);
	volume_and_raw();

	mounts = guest_mounts();
	cr_assert_null(strstr(mounts, "/blk/"), "staging mounts left after Delete:\n%s", mounts);
}
