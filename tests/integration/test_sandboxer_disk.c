/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Disk hot-plug through the real vmm-sandboxer (kuasarc.disk.v1.Disks on its
 * socket) into a real guest under QEMU machine pc (TCG here):
 *
 *   attach_detach  AttachDisk of an image file (read-only) and of a loop
 *                  device the test makes: the answers name slots 0x10 and
 *                  0x11; QMP query-block shows both nodes (ro / rw) and
 *                  query-pci both virtio-blk functions; sandbox.json records
 *                  them. DetachDisk by id and by address: gone from
 *                  query-block and query-pci (the guest ejected them: ACPI
 *                  PCI hot-plug), from sandbox.json; the loop device is
 *                  released by QEMU (the test detaches it: nothing left).
 *   refused        a symlink, a directory, an unknown sandbox, an unknown
 *                  disk; nothing recorded
 *   microvm        machine microvm: refused with an error naming it
 *   stop_forgets   Stop of a sandbox with a disk: sandbox.json has none
 *   restart_recovers  kill -9 of the daemon with a disk added and one
 *                  recorded half added: after the restart the first is kept,
 *                  the second removed from the VM and the record
 *
 * Needs root, QEMU, vhost-device-vsock, virtiofsd, the kernel (bzImage with
 * CONFIG_HOTPLUG_PCI_ACPI) and initramfs, losetup; skips naming what is
 * missing. Run under `flock -o /tmp/kc-vm.lock`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "google/protobuf/empty.pb-c.h"
#include "kuasarc/disk.pb-c.h"
#include "qmpsync.h"
#include "rpc_call.h"
#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

#define DISKS   (&kuasarc__disk__v1__disks__descriptor)
#define CALL_NS (60 * KC_NSEC_PER_SEC)
#define QMP_NS  (10 * KC_NSEC_PER_SEC)

static struct sbxd D;
static char *tmp;
static char loopdev[64];

static void setup(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "sbxdisk");
	tmp = tu_tmpdir("sbxdisk");
}

static void teardown(void)
{
	if (D.root && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = sbxd_log(&D);
		fprintf(stderr, "--- vmm-sandboxer log ---\n%s\n", log);
	}
	sbxd_cleanup(&D);
	if (*loopdev)
		(void)tu_sh("losetup -d %s 2>/dev/null", loopdev);
	if (tmp)
		tu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(sbxdisk, .init = setup, .fini = teardown, .timeout = 300);

/* Criterion runs no fini after a skip: leave nothing behind first. */
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		teardown();                                                                        \
		cr_skip_test(__VA_ARGS__);                                                         \
	} while (0)

#define OK(expr) SBXD_OK(&D, expr)

static void start_daemon(const char *machine)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *cfg = sbxd_qemu_config(machine, NULL, &why);
	kc_err *e = NULL;

	if (!cfg)
		SKIP("skipped: %s", why);
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));
}

static void start_sandbox(const char *id)
{
	struct sbx_started st = {0};
	const char *ann[] = {"io.kuasar.vm.memory_mb", "256", NULL};
	OK(sbx_create(&D, id, ann, err));
	OK(sbx_start(&D, id, &st, err));
	sbx_started_clear(&st);
}

static int attach(const char *sid, const char *path, bool ro, char **id, char **addr, kc_err **err)
{
	Kuasarc__Disk__V1__AttachDiskRequest r = KUASARC__DISK__V1__ATTACH_DISK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	r.sandbox_id = (char *)sid;
	r.path = (char *)path;
	r.read_only = ro;
	if (kc_rpc_call_sync(D.cli, DISKS, "AttachDisk", &r.base, CALL_NS, &resp, err) < 0)
		return -1;
	if (id)
		*id = xstrdup(((Kuasarc__Disk__V1__AttachDiskResponse *)resp)->id);
	if (addr)
		*addr = xstrdup(((Kuasarc__Disk__V1__AttachDiskResponse *)resp)->address);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

static int detach(const char *sid, const char *key, kc_err **err)
{
	Kuasarc__Disk__V1__DetachDiskRequest r = KUASARC__DISK__V1__DETACH_DISK_REQUEST__INIT;
	r.sandbox_id = (char *)sid;
	r.id = (char *)key;
	return kc_rpc_call_sync(D.cli, DISKS, "DetachDisk", &r.base, CALL_NS, NULL, err);
}

/* One QMP command on the sandbox's socket (the sandboxer holds none between
 * disk operations; QEMU serves one client at a time). */
static json_t *qmp(const char *sid, const char *cmd)
{
	_cleanup_free_ char *sock = xasprintf("%s/%s/qmp.sock", D.dir, sid);
	kc_qmp *q = NULL;
	kc_err *e = NULL;
	json_t *ret;

	cr_assert_eq(kc_qmp_connect(sock, kc_now_ns() + QMP_NS, &q, &e), 0, "%s", kc_err_msg(e));
	ret = kc_qmp_cmd(q, cmd, NULL, kc_now_ns() + QMP_NS, &e);
	cr_assert_not_null(ret, "%s: %s", cmd, kc_err_msg(e));
	kc_qmp_close(q);
	return ret;
}

/* query-block: the node blk<N>'s inserted info, or NULL. */
static json_t *block_node(json_t *blocks, const char *node)
{
	json_t *b;
	size_t i;
	json_array_foreach(blocks, i, b)
	{
		json_t *ins = json_object_get(b, "inserted");
		const char *n = json_string_value(json_object_get(ins, "node-name"));
		if (n && !strcmp(n, node))
			return ins;
	}
	return NULL;
}

/* query-pci: is there a virtio-blk function (1af4:1001) at bus 0 slot? */
static bool pci_blk_at(json_t *pci, int slot)
{
	json_t *bus, *dev;
	size_t i, j;
	json_array_foreach(pci, i, bus)
	{
		json_array_foreach(json_object_get(bus, "devices"), j, dev)
		{
			json_t *id = json_object_get(dev, "id");
			if (json_integer_value(json_object_get(dev, "slot")) == slot &&
			    json_integer_value(json_object_get(id, "vendor")) == 0x1af4 &&
			    json_integer_value(json_object_get(id, "device")) == 0x1001)
				return true;
		}
	}
	return false;
}

static char *state_text(const char *sid)
{
	_cleanup_free_ char *p = xasprintf("%s/%s/sandbox.json", D.dir, sid);
	char *t = NULL;
	cr_assert_eq(kc_read_file(p, 1 << 20, &t, NULL, NULL), 0);
	return t;
}

static size_t state_disks(const char *sid)
{
	_cleanup_free_ char *t = state_text(sid);
	json_t *j = json_loads(t, 0, NULL);
	size_t n = json_array_size(json_object_get(j, "disks"));
	json_decref(j);
	return n;
}

static char *make_image(const char *name, int mib)
{
	char *p = xasprintf("%s/%s", tmp, name);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)mib << 20), 0);
	close(fd);
	return p;
}

/* Unplug needs the guest to eject (ACPI PCI hot-plug on machine pc). */
static void need_acpi_hotplug(void)
{
	const char *build = getenv("KC_BUILD") ? getenv("KC_BUILD") : "build";
	_cleanup_free_ char *p = xasprintf("%s/kernel/config", build);
	_cleanup_free_ char *cfg = NULL;

	if (kc_read_file(p, 1 << 20, &cfg, NULL, NULL) < 0)
		SKIP("skipped: no %s to check for CONFIG_HOTPLUG_PCI_ACPI (make kernel)", p);
	if (!strstr(cfg, "\nCONFIG_HOTPLUG_PCI_ACPI=y"))
		SKIP("skipped: the guest kernel (%s) has no CONFIG_HOTPLUG_PCI_ACPI: it "
		     "cannot eject a disk",
		     p);
}

static void make_loop(const char *backing)
{
	_cleanup_free_ char *out = tu_sh_out("losetup -f --show %s 2>/dev/null", backing);
	char *nl = out ? strchr(out, '\n') : NULL;
	if (nl)
		*nl = '\0';
	if (!out || strncmp(out, "/dev/loop", 9))
		SKIP("skipped: cannot make a loop device (losetup)");
	snprintf(loopdev, sizeof(loopdev), "%s", out);
}

Test(sbxdisk, attach_detach)
{
	_cleanup_free_ char *img = NULL, *back = NULL, *id0 = NULL, *a0 = NULL, *id1 = NULL,
			    *a1 = NULL, *st = NULL;
	json_t *blocks, *pci, *n;

	need_acpi_hotplug();
	start_daemon("pc");
	img = make_image("rootfs.img", 16);
	back = make_image("loop-backing.img", 16);
	make_loop(back);
	start_sandbox("d1");

	OK(attach("d1", img, true, &id0, &a0, err));
	cr_assert_str_eq(id0, "blk0");
	cr_assert_str_eq(a0, "pci:0000:00:10.0");
	OK(attach("d1", loopdev, false, &id1, &a1, err));
	cr_assert_str_eq(id1, "blk1");
	cr_assert_str_eq(a1, "pci:0000:00:11.0");

	blocks = qmp("d1", "query-block");
	n = block_node(blocks, "blk0");
	cr_assert_not_null(n, "blk0 not in query-block");
	cr_assert_str_eq(json_string_value(json_object_get(n, "file")), img);
	cr_assert(json_is_true(json_object_get(n, "ro")), "the image is read-only");
	n = block_node(blocks, "blk1");
	cr_assert_not_null(n, "blk1 not in query-block");
	cr_assert_str_eq(json_string_value(json_object_get(n, "drv")), "host_device");
	cr_assert(json_is_false(json_object_get(n, "ro")));
	json_decref(blocks);
	pci = qmp("d1", "query-pci");
	cr_assert(pci_blk_at(pci, 0x10) && pci_blk_at(pci, 0x11), "query-pci lacks the disks");
	json_decref(pci);
	st = state_text("d1");
	cr_assert(strstr(st, "\"added\"") && strstr(st, loopdev), "sandbox.json: %s", st);
	cr_assert_eq(state_disks("d1"), 2);

	OK(detach("d1", "blk0", err));
	OK(detach("d1", "pci:0000:00:11.0", err));
	blocks = qmp("d1", "query-block");
	cr_assert_null(block_node(blocks, "blk0"), "blk0 still a block node");
	cr_assert_null(block_node(blocks, "blk1"), "blk1 still a block node");
	json_decref(blocks);
	{
		json_t *nodes = qmp("d1", "query-named-block-nodes"), *v;
		size_t i;
		json_array_foreach(nodes, i, v)
		{
			const char *nn = json_string_value(json_object_get(v, "node-name"));
			cr_assert(!nn || strncmp(nn, "blk", 3), "block node %s left", nn);
		}
		json_decref(nodes);
	}
	pci = qmp("d1", "query-pci");
	cr_assert(!pci_blk_at(pci, 0x10) && !pci_blk_at(pci, 0x11), "query-pci still has them");
	json_decref(pci);
	cr_assert_eq(state_disks("d1"), 0);
	/* QEMU let go of the loop device: it detaches, and none is left. */
	cr_assert_eq(tu_sh("losetup -d %s", loopdev), 0);
	{
		_cleanup_free_ char *left = tu_sh_out("losetup -j %s", back);
		cr_assert(!left || !*left, "a loop device is left: %s", left);
	}
	*loopdev = '\0';
	/* The slot is free again. */
	free(id0);
	free(a0);
	OK(attach("d1", img, false, &id0, &a0, err));
	cr_assert_str_eq(a0, "pci:0000:00:10.0");
	OK(detach("d1", id0, err));
	OK(sbx_stop(&D, "d1", 0, err));
	OK(sbx_shutdown(&D, "d1", err));
}

Test(sbxdisk, refused)
{
	_cleanup_free_ char *img = NULL, *lnk = NULL;
	kc_err *e = NULL;

	start_daemon("pc");
	img = make_image("a.img", 4);
	lnk = xasprintf("%s/link.img", tmp);
	cr_assert_eq(symlink(img, lnk), 0);
	start_sandbox("d2");
	cr_assert_lt(attach("d2", lnk, false, NULL, NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "link"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	cr_assert_lt(attach("d2", tmp, false, NULL, NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "neither a regular file nor a block device"), "%s",
		  kc_err_msg(e));
	kc_err_freep(&e);
	cr_assert_lt(attach("nope", img, false, NULL, NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "NotFound"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	cr_assert_lt(detach("d2", "blk7", &e), 0);
	cr_assert(strstr(kc_err_msg(e), "no such disk"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
	cr_assert_eq(state_disks("d2"), 0);
	OK(sbx_stop(&D, "d2", 0, err));
	/* A stopped sandbox takes none. */
	cr_assert_lt(attach("d2", img, false, NULL, NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "not running"), "%s", kc_err_msg(e));
	kc_err_free(e);
	OK(sbx_shutdown(&D, "d2", err));
}

Test(sbxdisk, microvm)
{
	_cleanup_free_ char *img = NULL;
	kc_err *e = NULL;

	start_daemon("microvm");
	img = make_image("a.img", 4);
	start_sandbox("d3");
	cr_assert_lt(attach("d3", img, false, NULL, NULL, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "microvm"), "%s", kc_err_msg(e));
	kc_err_free(e);
	cr_assert_eq(state_disks("d3"), 0);
	OK(sbx_stop(&D, "d3", 0, err));
	OK(sbx_shutdown(&D, "d3", err));
}

Test(sbxdisk, stop_forgets)
{
	_cleanup_free_ char *img = NULL;

	start_daemon("pc");
	img = make_image("a.img", 4);
	start_sandbox("d4");
	OK(attach("d4", img, false, NULL, NULL, err));
	cr_assert_eq(state_disks("d4"), 1);
	OK(sbx_stop(&D, "d4", 0, err));
	cr_assert_eq(state_disks("d4"), 0);
	OK(sbx_shutdown(&D, "d4", err));
}

/* The daemon dies with one disk added and one half added (its record says
 * `adding`, as when it dies between the record and the VMM's answer): the
 * restarted daemon keeps the first and removes the second from the VM. */
Test(sbxdisk, restart_recovers)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *path = NULL;
	json_t *j, *blocks;
	int i;

	need_acpi_hotplug();
	start_daemon("pc");
	a = make_image("a.img", 4);
	b = make_image("b.img", 4);
	start_sandbox("d5");
	OK(attach("d5", a, false, NULL, NULL, err));
	OK(attach("d5", b, false, NULL, NULL, err));
	sbxd_kill(&D, SIGKILL);
	path = xasprintf("%s/d5/sandbox.json", D.dir);
	j = json_load_file(path, 0, NULL);
	cr_assert_not_null(j);
	json_object_set_new(json_array_get(json_object_get(j, "disks"), 1), "state",
			    json_string("adding"));
	cr_assert_eq(json_dump_file(j, path, JSON_INDENT(1)), 0);
	json_decref(j);
	OK(sbxd_restart(&D, err));
	for (i = 0; i < 200 && state_disks("d5") != 1; i++)
		usleep(100 * 1000);
	cr_assert_eq(state_disks("d5"), 1, "the half-added disk is still recorded");
	blocks = qmp("d5", "query-block");
	cr_assert_not_null(block_node(blocks, "blk0"), "the added disk is kept");
	cr_assert_null(block_node(blocks, "blk1"), "the half-added disk is still in the VM");
	json_decref(blocks);
	OK(detach("d5", "blk0", err));
	cr_assert_eq(state_disks("d5"), 0);
	OK(sbx_stop(&D, "d5", 0, err));
	OK(sbx_shutdown(&D, "d5", err));
}
