/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Disk rootfs through vmm-sandboxer's task endpoint (containerd 2.x's
 * sandbox mode: no shim, the endpoint hot-plugs in-process), QEMU machine pc:
 *
 *   ext4       CreateTaskRequest.rootfs = {ext4, <image>, [loop, rw]} (what
 *              the blockfile snapshotter sends): the container's / is
 *              /dev/vdX ext4 and its file is there; after Delete the disk is
 *              gone from sandbox.json
 *   xfs_twins  two xfs images with one UUID (copies, as blockfile's are of
 *              its scratch image), [loop, nouuid], both mounted at once in
 *              one VM: nouuid reaches the guest's mount
 *
 * Needs root, QEMU, the guest kernel with ACPI PCI hot-plug, a guest agent
 * with block support, mkfs.ext4 / mkfs.xfs; skips naming what is missing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentctl.h"
#include "mountopt.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

#define V3      "containerd.task.v3.Task"
#define CALL_NS (90 * KC_NSEC_PER_SEC)

static struct sbxd D;
static char *work;

static void setup(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "ndisk");
	D.events_addr = "";
}

static void teardown(void)
{
	if (getenv("KC_TEST_VERBOSE") && D.root) {
		_cleanup_free_ char *log = sbxd_log(&D);
		fprintf(stderr, "--- sandboxer log ---\n%s\n", log);
	}
	if (work) {
		(void)kc_umount_tree(work, NULL);
		tu_rmtree(work);
	}
	free(work);
	work = NULL;
	sbxd_cleanup(&D);
}

TestSuite(ndisk, .init = setup, .fini = teardown, .timeout = 300);

#define SKIP(...)                                                                                  \
	do {                                                                                       \
		teardown();                                                                        \
		cr_skip_test(__VA_ARGS__);                                                         \
	} while (0)

static char *sid;
static struct agentctl cli, holder;

/* A started sandbox (pc) with its task endpoint connected. */
static void up(void)
{
	_cleanup_free_ char *why = NULL, *cfg = NULL, *sock = NULL, *kcfg = NULL, *agent = NULL;
	const char *build = getenv("KC_BUILD") ? getenv("KC_BUILD") : "build";
	_cleanup_free_ char *kpath = xasprintf("%s/kernel/config", build);
	struct sbx_started st = {0};
	kc_err *e = NULL;

	if (!tu_is_root())
		SKIP("skipped: needs root");
	if (kc_read_file(kpath, 1 << 20, &kcfg, NULL, NULL) < 0 ||
	    !strstr(kcfg, "\nCONFIG_HOTPLUG_PCI_ACPI=y"))
		SKIP("skipped: no guest kernel with CONFIG_HOTPLUG_PCI_ACPI (%s)", kpath);
	agent = tu_bin("vmm-task");
	if (tu_sh("grep -qa io.kuasar-c.block-devices %s", agent) != 0)
		SKIP("skipped: the guest agent has no block-device support");
	if (!(cfg = sbxd_qemu_config("pc", NULL, &why)))
		SKIP("skipped: %s", why);
	if (!agentctl_busybox_rootfs(&e))
		SKIP("skipped: no busybox rootfs: %s", kc_err_msg(e));
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));
	work = tu_tmpdir("ndisk");
	memset(&holder, 0, sizeof(holder));
	holder.dir = work;
	sid = xasprintf("nd%d", (int)getpid());
	cr_assert_eq(sbx_create(&D, sid, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sbx_start_as(&D, sid, "kuasar", &st, &e), 0, "%s", kc_err_msg(e));
	sbx_started_clear(&st);
	sock = xasprintf("unix://%s/%s/task.sock", D.dir, sid);
	memset(&cli, 0, sizeof(cli));
	cr_assert_eq(agentctl_connect(&cli, sock, &e), 0, "%s", kc_err_msg(e));
}

static void down(void)
{
	kc_err *e = NULL;
	agentctl_stop(&cli);
	cr_assert_eq(sbx_stop(&D, sid, 10, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sbx_shutdown(&D, sid, &e), 0, "%s", kc_err_msg(e));
	free(sid);
	sid = NULL;
}

/* An image of fs holding the busybox rootfs and /hello = text. */
static char *image(const char *name, const char *fs, const char *text)
{
	const char *bb = agentctl_busybox_rootfs(NULL);
	char *img = xasprintf("%s/%s", work, name);
	_cleanup_free_ char *mnt = xasprintf("%s/%s.mnt", work, name);
	int r;

	if (!strcmp(fs, "xfs"))
		r = tu_sh("command -v mkfs.xfs >/dev/null && truncate -s 320M %s && "
			  "mkfs.xfs -q -f %s",
			  img, img);
	else
		r = tu_sh("truncate -s 64M %s && mkfs.ext4 -q -F %s", img, img);
	if (r != 0)
		SKIP("skipped: cannot make an %s image (mkfs.%s)", fs, fs);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	cr_assert_eq(tu_sh("mount -o loop -t %s %s %s && cp -a %s/. %s/ && echo %s >%s/hello && "
			   "umount %s",
			   fs, img, mnt, bb, mnt, text, mnt, mnt),
		     0);
	return img;
}

static int create(const char *id, const char *img, const char *fs, char **opts, size_t n_opts,
		  const char *const *args, const char *out, kc_err **err)
{
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *pm[1] = {&m};
	_cleanup_free_ char *bundle = NULL;
	_cleanup_free_ char *rootfs = NULL;
	ProtobufCMessage *resp = NULL;

	bundle = agentctl_bundle(&holder, id, &(struct bundle_opts){.args = args});
	rootfs = xasprintf("%s/rootfs", bundle);
	(void)mkdir(rootfs, 0755); /* containerd's bundle has one */
	m.type = (char *)fs;
	m.source = (char *)img;
	m.options = opts;
	m.n_options = n_opts;
	r.id = (char *)id;
	r.bundle = bundle;
	r.stdin = (char *)"";
	r.stdout = (char *)out;
	r.stderr = (char *)"";
	r.rootfs = pm;
	r.n_rootfs = 1;
	if (ttrpc_client_call_sync(cli.cli, V3, "Create", &r.base,
				   &containerd__task__v2__create_task_response__descriptor, CALL_NS,
				   &resp, err) < 0)
		return -1;
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

static void call(const char *method, const char *id, const ProtobufCMessageDescriptor *desc,
		 ProtobufCMessage **resp)
{
	Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
	kc_err *e = NULL;
	r.id = (char *)id;
	r.exec_id = (char *)"";
	cr_assert_eq(ttrpc_client_call_sync(cli.cli, V3, method, &r.base, desc, CALL_NS, resp, &e),
		     0, "%s %s: %s", method, id, kc_err_msg(e));
}

static void start(const char *id)
{
	ProtobufCMessage *m = NULL;
	call("Start", id, &containerd__task__v2__start_response__descriptor, &m);
	protobuf_c_message_free_unpacked(m, NULL);
}

static uint32_t wait_exit(const char *id)
{
	Containerd__Task__V2__WaitResponse *w = NULL;
	uint32_t st;
	call("Wait", id, &containerd__task__v2__wait_response__descriptor, (ProtobufCMessage **)&w);
	st = w->exit_status;
	protobuf_c_message_free_unpacked(&w->base, NULL);
	return st;
}

static void del(const char *id)
{
	ProtobufCMessage *m = NULL;
	call("Delete", id, &containerd__task__v2__delete_response__descriptor, &m);
	protobuf_c_message_free_unpacked(m, NULL);
}

static int out_fifo(const char *name, char **path)
{
	int fd;
	*path = xasprintf("%s/%s.out", work, name);
	cr_assert_eq(mkfifo(*path, 0600), 0);
	fd = open(*path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

static char *read_out(int fd)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return xstrdup(buf);
}

static size_t sandbox_disks(void)
{
	_cleanup_free_ char *p = xasprintf("%s/%s/sandbox.json", D.dir, sid);
	json_t *j = json_load_file(p, 0, NULL);
	size_t n = json_array_size(json_object_get(j, "disks"));
	json_decref(j);
	return n;
}

static const char *const show[] = {
    "sh", "-c", "awk '$2 == \"/\" {print $1, $3}' /proc/mounts | tail -1; cat /hello", NULL};

Test(ndisk, ext4)
{
	_cleanup_free_ char *img = NULL, *fifo = NULL, *got = NULL;
	char *opts[] = {"loop", "rw"};
	kc_err *e = NULL;
	char dev[16];
	int fd;

	up();
	img = image("a.ext4", "ext4", "from-ext4");
	fd = out_fifo("a", &fifo);
	cr_assert_eq(create("a", img, "ext4", opts, 2, show, fifo, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(sandbox_disks(), 1);
	start("a");
	cr_assert_eq(wait_exit("a"), 0);
	got = read_out(fd);
	cr_assert_eq(sscanf(got, "/dev/%15s ext4\n", dev), 1, "the container's /: %s", got);
	cr_assert(strstr(got, "\nfrom-ext4\n"), "%s", got);
	del("a");
	cr_assert_eq(sandbox_disks(), 0, "the disk outlived the task");
	down();
}

Test(ndisk, xfs_twins)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *f1 = NULL, *f2 = NULL, *g1 = NULL, *g2 = NULL;
	char *opts[] = {"loop", "rw", "nouuid"};
	const char *const sleeper[] = {"sh", "-c", "cat /hello; exec sleep 600", NULL};
	kc_err *e = NULL;
	int fd1, fd2;

	up();
	a = image("t1.xfs", "xfs", "twin");
	b = xasprintf("%s/t2.xfs", work);
	cr_assert_eq(tu_sh("cp --sparse=always %s %s", a, b), 0);
	fd1 = out_fifo("t1", &f1);
	fd2 = out_fifo("t2", &f2);
	cr_assert_eq(create("t1", a, "xfs", opts, 3, sleeper, f1, &e), 0, "%s", kc_err_msg(e));
	start("t1");
	/* The same UUID mounted a second time in the VM: only with nouuid. */
	cr_assert_eq(create("t2", b, "xfs", opts, 3, show, f2, &e), 0, "%s", kc_err_msg(e));
	start("t2");
	cr_assert_eq(wait_exit("t2"), 0);
	g2 = read_out(fd2);
	cr_assert(strstr(g2, " xfs\ntwin\n"), "second twin: %s", g2);
	cr_assert_eq(sandbox_disks(), 2);
	{
		Containerd__Task__V2__KillRequest k = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
		ProtobufCMessage *m = NULL;
		k.id = "t1";
		k.exec_id = "";
		k.signal = 9;
		cr_assert_eq(ttrpc_client_call_sync(cli.cli, V3, "Kill", &k.base,
						    &google__protobuf__empty__descriptor, CALL_NS,
						    &m, &e),
			     0, "%s", kc_err_msg(e));
		protobuf_c_message_free_unpacked(m, NULL);
	}
	wait_exit("t1");
	g1 = read_out(fd1);
	cr_assert(strstr(g1, "twin"), "first twin: %s", g1);
	del("t1");
	del("t2");
	cr_assert_eq(sandbox_disks(), 0);
	down();
}
