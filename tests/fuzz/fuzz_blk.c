/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's disk inputs (guest-init/blkdev.c, blkwait.c, blkctr.c). The first
 * byte picks the parser, the rest is its input:
 *  0: a Mount/spec source as pci:<BDF> (kc_blk_parse_pci);
 *  1: a uevent message as the netlink socket delivers it (anyone in the VM's
 *     netns with CAP_NET_ADMIN may send one);
 *  2: the io.kuasar-c.block-devices annotation, then the linux.devices /
 *     device cgroup rewrite of a fixed spec with its entries;
 *  3: a config.json, then the container's disks collected from it
 *     (kc_blk_ctr_new: pci: spec mounts and the annotation; no mount, no wait).
 */
#include <sys/sysmacros.h>

#include "blkctr.h"
#include "blkdev.h"
#include "fuzz.h"
#include "spec.h"
#include "util.h"

#define FUZZ_MAX_INPUT (64u << 10)

static const char *devices_spec =
    "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
    "\"root\":{\"path\":\"rootfs\"},\"linux\":{\"devices\":["
    "{\"path\":\"/dev/xvda\",\"type\":\"b\",\"major\":8,\"minor\":0},"
    "{\"path\":\"/dev/xvdb\",\"type\":\"b\",\"major\":254,\"minor\":0},"
    "{\"path\":\"/dev/ttyX\",\"type\":\"c\",\"major\":4,\"minor\":1}],"
    "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
    "{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"rw\"}]}}}";

static bool is_bdf(const char *b)
{
	return strlen(b) == KC_BLK_BDF_LEN && b[4] == ':' && b[7] == ':' && b[10] == '.';
}

static void pci_case(const char *text)
{
	char bdf[KC_BLK_BDF_LEN + 1];
	kc_err *err = NULL;
	int r = kc_blk_parse_pci(text, bdf, &err);

	fuzz_check_err(r, err);
	if (r == 0) {
		FUZZ_CHECK(is_bdf(bdf) && !strchr(bdf, '/'));
		FUZZ_CHECK(!strcmp(text + strlen(KC_BLK_PCI_PREFIX), bdf));
	}
	kc_err_free(err);
}

static void annotation_case(const char *text)
{
	struct kc_blk_map *m = NULL;
	struct kc_spec *s = NULL;
	dev_t guest[KC_BLK_MAX_DEVICES];
	kc_err *err = NULL;
	size_t n = 0;
	int r = kc_blk_annotation_parse(text, &m, &n, &err);

	fuzz_check_err(r, err);
	kc_err_freep(&err);
	if (r < 0) {
		FUZZ_CHECK(!m && n == 0);
		return;
	}
	FUZZ_CHECK(n <= KC_BLK_MAX_DEVICES);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(m[i].path && m[i].path[0] == '/');
		FUZZ_CHECK(is_bdf(m[i].bdf));
		guest[i] = makedev(254, (unsigned)(16 * i));
	}
	FUZZ_CHECK(kc_spec_parse(devices_spec, strlen(devices_spec), &s, NULL) == 0);
	r = kc_blk_devices_rewrite(s, m, guest, n, &err);
	fuzz_check_err(r, err);
	/* Only block entries the annotation names change, to guest numbers. */
	FUZZ_CHECK(s->devices[2].major == 4 && s->devices[2].minor == 1);
	for (size_t j = 0; r == 0 && j < 2; j++) {
		bool named = false;
		for (size_t i = 0; i < n; i++)
			named |= !strcmp(m[i].path, s->devices[j].path);
		FUZZ_CHECK(!named || s->devices[j].major == 254);
	}
	kc_err_free(err);
	kc_spec_free(s);
	kc_blk_maps_free(m, n);
}

static void spec_case(const uint8_t *data, size_t size)
{
	struct kc_blk_set *set = NULL;
	struct kc_spec *s = NULL;
	kc_err *err = NULL;
	int r;

	if (kc_spec_parse((const char *)data, size, &s, NULL) < 0)
		return;
	/* A state dir that does not exist: collecting never creates anything. */
	r = kc_blk_ctr_new("/nonexistent/kc-fuzz", "c1", NULL, 0, s, false, &set, &err);
	fuzz_check_err(r, err);
	FUZZ_CHECK(set && !kc_blk_ctr_has_root(set));
	kc_err_freep(&err);
	kc_blk_ctr_release(set);
	r = kc_blk_ctr_new("/nonexistent/kc-fuzz", "c1", NULL, 0, s, true, &set, &err);
	fuzz_check_err(r, err);
	kc_err_free(err);
	kc_blk_ctr_release(set);
	kc_spec_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return -1;
	text = fuzz_cstr(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		pci_case(text);
		break;
	case 1:
		(void)kc_blk_uevent_is_block_add((const char *)data + 1, size - 1);
		break;
	case 2:
		annotation_case(text);
		break;
	default:
		spec_case(data + 1, size - 1);
		break;
	}
	free(text);
	return 0;
}
