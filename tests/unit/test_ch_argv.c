/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cloud-hypervisor command line vmm-sandboxer emits, pinned exactly for
 * each config variant, and every argv checked against the syntax
 * cloud-hypervisor documents: its clap flags (cloud-hypervisor/src/main.rs)
 * and the keys each option parser accepts (vmm/src/config.rs OptionParser
 * add() calls). No cloud-hypervisor binary exists on our machines, so this
 * is how the CH path is verified. Also the virtiofsd command lines.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "config.h"
#include "podnet.h"
#include "util.h"

#define BASE "/run/kuasar-vmm/0123456789abcdef"

static struct sbx_config cfg(const char *text)
{
	struct sbx_config c;
	kc_err *e = NULL;
	cr_assert_eq(sbx_config_parse(text, strlen(text), "t.toml", &c, &e), 0, "%s",
		     kc_err_msg(e));
	return c;
}

static struct sbx_vm_spec spec(const struct sbx_config *c, uint32_t vcpus, uint32_t mem)
{
	return (struct sbx_vm_spec){.cfg = c,
				    .id = "0123456789abcdef",
				    .base = BASE,
				    .vcpus = vcpus,
				    .memory_mb = mem,
				    .vhost_user = true,
				    .cid = 3};
}

/* Compare with a NULL-terminated list, reporting the first difference. */
static void argv_eq(const struct sbx_argv *a, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	for (size_t i = 0; i < n && i < a->n; i++)
		cr_assert_str_eq(a->v[i], want[i], "argv[%zu]", i);
	cr_assert_eq(a->n, n, "argc %zu, want %zu", a->n, n);
	cr_assert_null(a->v[a->n]);
}

/* ------------------------------------------------------------------ CH syntax */

struct ch_flag {
	const char *name;
	const char *keys; /* " k1 k2 ", or NULL: a plain value */
};

static const struct ch_flag ch_flags[] = {
    {"kernel", NULL},
    {"initramfs", NULL},
    {"cmdline", NULL},
    {"api-socket", " path fd "},
    {"cpus", " boot max topology kvm_hyperv max_phys_bits affinity features nested "
	     "core_scheduling profile "},
    {"memory", " size file mergeable hotplug_method hotplug_size hotplugged_size shared "
	       "hugepages hugepage_size prefault reserve thp "},
    {"pmem", " file size discard_writes id iommu pci_segment pci_device_id "},
    {"rng", " src id iommu pci_segment pci_device_id "},
    {"vsock", " socket cid id iommu pci_segment pci_device_id "},
    {"fs", " tag socket num_queues queue_size id pci_segment pci_device_id "},
    {"console", " off pty tty null file socket id iommu pci_segment pci_device_id "},
    {"serial", " off pty tty null file socket "},
    {"net", " tap ip mask mac host_mac offload_tso offload_ufo offload_csum mtu queue_size "
	    "num_queues vhost_user socket vhost_mode fd bw_size bw_one_time_burst bw_refill_time "
	    "ops_size ops_one_time_burst ops_refill_time id iommu pci_segment pci_device_id "},
};
/* Flags taking several values (clap num_args(1..)): one device each. */
static const char multi[] = " net ";
static const char toggles[] = " shared hugepages mergeable prefault reserve thp iommu "
			      "discard_writes kvm_hyperv nested offload_tso offload_ufo "
			      "offload_csum vhost_user ";
static const char sizes[] = " size hotplug_size hotplugged_size hugepage_size ";
static const char valueless[] = " off pty tty null ";

static bool in(const char *list, const char *word)
{
	_cleanup_free_ char *w = xasprintf(" %s ", word);
	return strstr(list, w) != NULL;
}

static bool is_size(const char *v)
{
	size_t n = strspn(v, "0123456789");
	return n > 0 && (v[n] == '\0' || (strchr("KMG", v[n]) && v[n + 1] == '\0'));
}

/* The next key=value of an option string: commas inside [..] belong to the
 * value (fd=[3,4]), as in CH's OptionParser. */
static char *next_kv(char **cur)
{
	char *start = *cur, *p = start;
	int depth = 0;

	if (!start || !*start)
		return NULL;
	for (; *p && (*p != ',' || depth); p++)
		depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
	*cur = *p ? p + 1 : p;
	*p = '\0';
	return start;
}

static bool is_mac(const char *v)
{
	unsigned x[6];
	char tail;
	return strlen(v) == 17 && sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &x[0], &x[1], &x[2], &x[3],
					 &x[4], &x[5], &tail) == 6;
}

/* vmm/src/config.rs NetConfig::validate: 2 queues per fd, no fd <= 2, no
 * more queue pairs than boot vCPUs. */
static int net_findings(const char *val, long vcpus)
{
	const char *fd = strstr(val, "fd=["), *nq = strstr(val, "num_queues="), *mac;
	long nfds = 0, queues = nq ? strtol(nq + 11, NULL, 10) : 2;
	int bad = 0;

	if (fd) {
		for (const char *p = fd + 4; *p && *p != ']';) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p) {
				fprintf(stderr, "ch syntax: --net: bad fd list\n");
				return bad + 1;
			}
			if (v <= 2) {
				fprintf(stderr, "ch syntax: --net: fd %ld is reserved\n", v);
				bad++;
			}
			nfds++;
			p = *end == ',' ? end + 1 : end;
		}
		if (queues != 2 * nfds) {
			fprintf(stderr, "ch syntax: --net: num_queues=%ld, %ld fds\n", queues,
				nfds);
			bad++;
		}
	}
	if (queues / 2 > vcpus) {
		fprintf(stderr, "ch syntax: --net: %ld queue pairs > %ld vcpus\n", queues / 2,
			vcpus);
		bad++;
	}
	if ((mac = strstr(val, "mac="))) {
		char m[18] = "";
		snprintf(m, sizeof(m), "%s", mac + 4);
		if (!is_mac(m)) {
			fprintf(stderr, "ch syntax: --net: bad mac\n");
			bad++;
		}
	}
	return bad;
}

/* Returns the number of findings (printed). */
static int ch_syntax(const struct sbx_argv *a)
{
	bool seen[KC_ARRAY_SIZE(ch_flags)] = {0};
	bool fs = false, shared = false;
	long vcpus = 1;
	int bad = 0;

	for (size_t i = 1; i + 1 < a->n; i++)
		if (!strcmp(a->v[i], "--cpus") && kc_has_prefix(a->v[i + 1], "boot="))
			vcpus = strtol(a->v[i + 1] + 5, NULL, 10);

#define FINDING(...)                                                                               \
	do {                                                                                       \
		fprintf(stderr, "ch syntax: " __VA_ARGS__);                                        \
		fputc('\n', stderr);                                                               \
		bad++;                                                                             \
	} while (0)

	for (size_t i = 1; i < a->n; i++) {
		const char *flag = a->v[i], *val;
		const struct ch_flag *f = NULL;
		_cleanup_free_ char *copy = NULL;
		size_t fi = 0;

		if (!strcmp(flag, "-v") || !strcmp(flag, "-vv") || !strcmp(flag, "-vvv"))
			continue;
		if (!kc_has_prefix(flag, "--")) {
			FINDING("expected a --flag, got `%s`", flag);
			continue;
		}
		for (; fi < KC_ARRAY_SIZE(ch_flags); fi++)
			if (!strcmp(ch_flags[fi].name, flag + 2)) {
				f = &ch_flags[fi];
				break;
			}
		if (!f) {
			FINDING("unknown flag %s", flag);
			continue;
		}
		if (seen[fi])
			FINDING("%s given twice", flag);
		seen[fi] = true;
		if (i + 1 >= a->n || kc_has_prefix(a->v[i + 1], "--") || !*a->v[i + 1]) {
			FINDING("%s has no value", flag);
			continue;
		}
		val = a->v[++i];
	next_value:
		if (!f->keys)
			continue;
		free(copy);
		copy = xstrdup(val);
		for (char *cur = copy, *kv; (kv = next_kv(&cur));) {
			char *eq = strchr(kv, '=');
			const char *k = kv, *v = eq ? eq + 1 : NULL;
			if (eq)
				*eq = '\0';
			if (!in(f->keys, k)) {
				FINDING("%s: unknown key `%s`", flag, k);
				continue;
			}
			if (!v) {
				if (!(!strcmp(f->name, "console") || !strcmp(f->name, "serial")) ||
				    !in(valueless, k))
					FINDING("%s: `%s` needs a value", flag, k);
				continue;
			}
			if (in(toggles, k) && strcmp(v, "on") && strcmp(v, "off"))
				FINDING("%s: %s=%s is not on|off", flag, k, v);
			if (in(sizes, k) && !is_size(v))
				FINDING("%s: %s=%s is not a size N[K|M|G]", flag, k, v);
			if (!strcmp(k, "memory") ||
			    (!strcmp(f->name, "memory") && !strcmp(k, "shared")))
				shared |= !strcmp(v, "on");
			if ((!strcmp(k, "socket") || !strcmp(k, "file") || !strcmp(k, "src") ||
			     !strcmp(k, "path")) &&
			    v[0] != '/')
				FINDING("%s: %s=%s is not an absolute path", flag, k, v);
			if (!strcmp(f->name, "fs") && !strcmp(k, "tag") && strlen(v) > 36)
				FINDING("--fs: tag longer than 36 bytes");
		}
		if (!strcmp(f->name, "cpus") && !strstr(val, "boot="))
			FINDING("--cpus lacks boot=");
		if (!strcmp(f->name, "vsock") && (!strstr(val, "cid=") || !strstr(val, "socket=")))
			FINDING("--vsock needs cid= and socket=");
		if (!strcmp(f->name, "fs")) {
			fs = true;
			if (!strstr(val, "tag=") || !strstr(val, "socket="))
				FINDING("--fs needs tag= and socket=");
		}
		if (!strcmp(f->name, "pmem") && !strstr(val, "file="))
			FINDING("--pmem needs file=");
		if (!strcmp(f->name, "net"))
			bad += net_findings(val, vcpus);
		if (in(multi, f->name) && i + 1 < a->n && !kc_has_prefix(a->v[i + 1], "--")) {
			val = a->v[++i];
			goto next_value;
		}
	}
	if (!seen[0])
		FINDING("no --kernel");
	/* vhost-user devices (virtio-fs) need guest memory the daemon maps. */
	if (fs && !shared)
		FINDING("--fs without --memory shared=on");
	/* --console defaults to tty: always say where the guest console goes. */
	for (size_t fi = 0; fi < KC_ARRAY_SIZE(ch_flags); fi++)
		if (!strcmp(ch_flags[fi].name, "console") && !seen[fi])
			FINDING("--console not given (its default is tty)");
#undef FINDING
	return bad;
}

Test(ch_syntax, checker_finds_mistakes)
{
	const char *bad[] = {"ch",
			     "--cpus",
			     "boot=1,cores=2",
			     "--memory",
			     "size=1Gi,shared=yes",
			     "--fs",
			     "tag=x,socket=/s",
			     "--vsock",
			     "cid=3",
			     "--serial",
			     "tty",
			     "--bogus",
			     "1",
			     NULL};
	struct sbx_argv a = {0};
	for (int i = 0; bad[i]; i++)
		sbx_argv_add(&a, bad[i]);
	/* cores, 1Gi, yes, no shared=on, vsock socket, unknown flag, no kernel,
	 * no console. */
	cr_assert_geq(ch_syntax(&a), 8);
	sbx_argv_free(&a);
}

Test(ch_syntax, net_rules)
{
	const char *bad[] = {"ch",
			     "--kernel",
			     "/k",
			     "--console",
			     "off",
			     "--cpus",
			     "boot=1",
			     "--net",
			     "fd=[2,4],num_queues=2,mac=aa:bb",
			     "tap=t0,num_queues=4",
			     NULL};
	struct sbx_argv a = {0};
	for (int i = 0; bad[i]; i++)
		sbx_argv_add(&a, bad[i]);
	/* fd 2 reserved, 2 fds with 2 queues, bad mac, 2 queue pairs > 1 vcpu. */
	cr_assert_eq(ch_syntax(&a), 4);
	sbx_argv_free(&a);
}

/* ------------------------------------------------------------------ CH argv */

static const char kuasar_clh[] = "[hypervisor]\n"
				 "path = \"/usr/local/bin/cloud-hypervisor\"\n"
				 "vcpus = 1\nmemory_in_mb = 1024\n"
				 "kernel_path = \"/var/lib/kuasar/vmlinux.bin\"\n"
				 "image_path = \"/var/lib/kuasar/kuasar.img\"\n"
				 "initrd_path = \"\"\nkernel_params = \"\"\nhugepages = false\n"
				 "entropy_source = \"/dev/urandom\"\ndebug = false\n"
				 "[hypervisor.task]\ndebug = false\nenable_tracing = false\n"
				 "[hypervisor.virtiofsd]\npath = \"/usr/local/bin/virtiofsd\"\n"
				 "log_level = \"info\"\ncache = \"never\"\nthread_pool_size = 4\n"
				 "syslog = true\n";

Test(ch_argv, kuasar_default_config_root_image)
{
	struct sbx_config c = cfg(kuasar_clh);
	struct sbx_vm_spec s = spec(&c, 1, 1024);
	struct sbx_argv a = {0};
	const char *want[] = {
	    "/usr/local/bin/cloud-hypervisor",
	    "--api-socket",
	    "path=" BASE "/api.sock",
	    "--cpus",
	    "boot=1",
	    "--memory",
	    "size=1024M,shared=on",
	    "--kernel",
	    "/var/lib/kuasar/vmlinux.bin",
	    "--cmdline",
	    "console=hvc0 panic=-1 quiet task.sharefs_type=virtiofs root=/dev/pmem0p1 "
	    "rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4",
	    "--pmem",
	    "file=/var/lib/kuasar/kuasar.img,discard_writes=on",
	    "--rng",
	    "src=/dev/urandom",
	    "--vsock",
	    "cid=3,socket=" BASE "/task.vsock",
	    "--fs",
	    "tag=kuasar,socket=" BASE "/virtiofs.sock",
	    "--console",
	    "file=" BASE "/console.log",
	    "--serial",
	    "off",
	    NULL};

	sbx_ch_argv(&s, &a);
	argv_eq(&a, want);
	cr_assert_eq(ch_syntax(&a), 0);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(ch_argv, initramfs_sized_from_the_pod)
{
	struct sbx_config c = cfg("[hypervisor]\npath = \"/opt/ch/cloud-hypervisor\"\n"
				  "kernel_path = \"/var/lib/kc/vmlinux\"\n"
				  "initrd_path = \"/var/lib/kc/initramfs.cpio.gz\"\n");
	struct sbx_vm_spec s = spec(&c, 3, 2048);
	struct sbx_argv a = {0};
	const char *want[] = {"/opt/ch/cloud-hypervisor",
			      "--api-socket",
			      "path=" BASE "/api.sock",
			      "--cpus",
			      "boot=3",
			      "--memory",
			      "size=2048M,shared=on",
			      "--kernel",
			      "/var/lib/kc/vmlinux",
			      "--cmdline",
			      "console=hvc0 panic=-1 quiet task.sharefs_type=virtiofs",
			      "--initramfs",
			      "/var/lib/kc/initramfs.cpio.gz",
			      "--rng",
			      "src=/dev/urandom",
			      "--vsock",
			      "cid=3,socket=" BASE "/task.vsock",
			      "--fs",
			      "tag=kuasar,socket=" BASE "/virtiofs.sock",
			      "--console",
			      "file=" BASE "/console.log",
			      "--serial",
			      "off",
			      NULL};

	sbx_ch_argv(&s, &a);
	argv_eq(&a, want);
	cr_assert_eq(ch_syntax(&a), 0);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(ch_argv, debug_hugepages_no_rng_task_debug_params)
{
	struct sbx_config c = cfg("[hypervisor]\nkernel_path = \"/k\"\ninitrd_path = \"/i\"\n"
				  "image_path = \"/img\"\nhugepages = true\ndebug = true\n"
				  "entropy_source = \"\"\nkernel_params = \"task.debug foo=bar\"\n"
				  "[hypervisor.task]\ndebug = true\n");
	struct sbx_vm_spec s = spec(&c, 1, 512);
	struct sbx_argv a = {0};
	const char *want[] = {"/usr/local/bin/cloud-hypervisor",
			      "--api-socket",
			      "path=" BASE "/api.sock",
			      "--cpus",
			      "boot=1",
			      "--memory",
			      "size=512M,shared=on,hugepages=on",
			      "--kernel",
			      "/k",
			      "--cmdline",
			      "console=hvc0 panic=-1 task.sharefs_type=virtiofs root=/dev/pmem0p1 "
			      "rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4 "
			      "task.log_level=debug task.debug foo=bar",
			      "--initramfs",
			      "/i",
			      "--pmem",
			      "file=/img,discard_writes=on",
			      "--vsock",
			      "cid=3,socket=" BASE "/task.vsock",
			      "--fs",
			      "tag=kuasar,socket=" BASE "/virtiofs.sock",
			      "--console",
			      "file=" BASE "/console.log",
			      "--serial",
			      "off",
			      "-vv",
			      NULL};

	sbx_ch_argv(&s, &a);
	argv_eq(&a, want);
	cr_assert_eq(ch_syntax(&a), 0);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

/* ------------------------------------------------------------------ virtiofsd */

Test(virtiofsd_argv, rust_as_kuasar_runs_it)
{
	struct sbx_config c = cfg(kuasar_clh);
	struct sbx_vm_spec s = spec(&c, 1, 1024);
	struct sbx_argv a = {0};
	const char *want[] = {"/usr/local/bin/virtiofsd",
			      "--log-level",
			      "info",
			      "--cache",
			      "never",
			      "--thread-pool-size",
			      "4",
			      "--socket-path",
			      BASE "/virtiofs.sock",
			      "--shared-dir",
			      BASE "/shared",
			      "--syslog",
			      NULL};

	sbx_virtiofsd_argv(&s, &a);
	argv_eq(&a, want);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(virtiofsd_argv, c_flavour)
{
	struct sbx_config c =
	    cfg("[hypervisor]\ntype = \"qemu\"\ninitrd_path = \"/i\"\n"
		"[hypervisor.virtiofsd]\ncache = \"never\"\nlog_level = \"error\"\n");
	struct sbx_vm_spec s = spec(&c, 1, 256);
	struct sbx_argv a = {0};
	const char *want[] = {"/usr/lib/qemu/virtiofsd",
			      "--socket-path=" BASE "/virtiofs.sock",
			      "-o",
			      "source=" BASE "/shared",
			      "-o",
			      "cache=none",
			      "-o",
			      "log_level=err",
			      "--thread-pool-size=4",
			      NULL};

	sbx_virtiofsd_argv(&s, &a);
	argv_eq(&a, want);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(vsockd_argv, vhost_device_vsock)
{
	struct sbx_config c = cfg("[hypervisor]\ntype = \"qemu\"\ninitrd_path = \"/i\"\n"
				  "[hypervisor.qemu]\nvhost_device_vsock = \"/opt/vdv\"\n");
	struct sbx_vm_spec s = spec(&c, 1, 256);
	struct sbx_argv a = {0};
	const char *want[] = {"/opt/vdv",   "--guest-cid",      "3", "--socket", BASE "/vhu.sock",
			      "--uds-path", BASE "/task.vsock", NULL};

	sbx_vsockd_argv(&s, &a);
	argv_eq(&a, want);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

/* ------------------------------------------------------------------ QEMU argv */

Test(qemu_argv, pc_tcg_vhost_user)
{
	struct sbx_config c = cfg("[hypervisor]\ntype = \"qemu\"\nkernel_path = \"/k/bzImage\"\n"
				  "initrd_path = \"/k/initramfs.cpio.gz\"\n");
	struct sbx_vm_spec s = spec(&c, 2, 512);
	struct sbx_argv a = {0};
	const char *want[] = {"/usr/bin/qemu-system-x86_64",
			      "-name",
			      "sandbox-0123456789abcdef",
			      "-nodefaults",
			      "-no-user-config",
			      "-no-reboot",
			      "-display",
			      "none",
			      "-accel",
			      "tcg",
			      "-cpu",
			      "max",
			      "-M",
			      "pc,memory-backend=mem",
			      "-m",
			      "512M",
			      "-smp",
			      "2",
			      "-object",
			      "memory-backend-memfd,id=mem,size=512M,share=on",
			      "-kernel",
			      "/k/bzImage",
			      "-initrd",
			      "/k/initramfs.cpio.gz",
			      "-append",
			      "console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs",
			      "-chardev",
			      "socket,id=vsock0,path=" BASE "/vhu.sock",
			      "-device",
			      "vhost-user-vsock-pci,chardev=vsock0",
			      "-chardev",
			      "socket,id=fs0,path=" BASE "/virtiofs.sock",
			      "-device",
			      "vhost-user-fs-pci,chardev=fs0,tag=kuasar",
			      "-object",
			      "rng-random,id=rng0,filename=/dev/urandom",
			      "-device",
			      "virtio-rng-pci,rng=rng0",
			      "-chardev",
			      "socket,id=qmp,fd=3,server=on,wait=off",
			      "-mon",
			      "chardev=qmp,mode=control",
			      "-serial",
			      "file:" BASE "/console.log",
			      NULL};

	sbx_qemu_argv(&s, &a);
	argv_eq(&a, want);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(qemu_argv, microvm_kvm_kernel_vhost_vsock)
{
	struct sbx_config c =
	    cfg("[hypervisor]\ntype = \"qemu\"\nkernel_path = \"/k/vmlinux\"\n"
		"initrd_path = \"/k/i\"\nentropy_source = \"\"\nhugepages = true\n"
		"[hypervisor.qemu]\nmachine = \"microvm\"\n");
	struct sbx_vm_spec s = spec(&c, 1, 256);
	struct sbx_argv a = {0};
	const char *want[] = {"/usr/bin/qemu-system-x86_64",
			      "-name",
			      "sandbox-0123456789abcdef",
			      "-nodefaults",
			      "-no-user-config",
			      "-no-reboot",
			      "-display",
			      "none",
			      "-accel",
			      "kvm",
			      "-cpu",
			      "host",
			      "-M",
			      "microvm,memory-backend=mem",
			      "-global",
			      "virtio-mmio.force-legacy=false",
			      "-m",
			      "256M",
			      "-smp",
			      "1",
			      "-object",
			      "memory-backend-memfd,id=mem,size=256M,share=on,hugetlb=on",
			      "-kernel",
			      "/k/vmlinux",
			      "-initrd",
			      "/k/i",
			      "-append",
			      "console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs",
			      "-device",
			      "vhost-vsock-device,guest-cid=7",
			      "-chardev",
			      "socket,id=fs0,path=" BASE "/virtiofs.sock",
			      "-device",
			      "vhost-user-fs-device,chardev=fs0,tag=kuasar",
			      "-chardev",
			      "socket,id=qmp,fd=3,server=on,wait=off",
			      "-mon",
			      "chardev=qmp,mode=control",
			      "-serial",
			      "file:" BASE "/console.log",
			      NULL};

	s.kvm = true;
	s.vhost_user = false;
	s.cid = 7;
	sbx_qemu_argv(&s, &a);
	argv_eq(&a, want);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(qemu_argv, microvm_tcg_calibrates_tsc)
{
	struct sbx_config c = cfg("[hypervisor]\ntype = \"qemu\"\ninitrd_path = \"/i\"\n"
				  "kernel_params = \"task.log_level=warn\"\n"
				  "[hypervisor.qemu]\nmachine = \"microvm\"\n");
	struct sbx_vm_spec s = spec(&c, 1, 256);
	_cleanup_free_ char *line = sbx_kernel_cmdline(&s);

	/* Under TCG some microvm boots hang calibrating the TSC without it. */
	cr_assert_str_eq(line, "console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs "
			       "tsc_early_khz=2000000 task.log_level=warn");
	sbx_config_free(&c);
}

/* Two pod interfaces: eth0 with a tap of 2 queues, net1 (Multus) with 1. */
static void two_nics(struct sbx_net *n)
{
	static const uint8_t mac0[6] = {0x0a, 0x58, 0x0a, 0x58, 0x4d, 0x05};
	static const uint8_t mac1[6] = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
	sbx_net_init(n);
	n->n_ifaces = 2;
	memcpy(n->ifaces[0].mac, mac0, 6);
	memcpy(n->ifaces[1].mac, mac1, 6);
	n->ifaces[0].n_fds = 2;
	n->ifaces[1].n_fds = 1;
}

Test(ch_argv, pod_nics_as_tap_fds)
{
	struct sbx_config c = cfg(kuasar_clh);
	struct sbx_vm_spec s = spec(&c, 2, 1024);
	struct sbx_argv a = {0};
	struct sbx_net n;
	size_t at = 0;

	two_nics(&n);
	s.net = &n;
	s.net_fd0 = 3;
	sbx_ch_argv(&s, &a);
	cr_assert_eq(ch_syntax(&a), 0);
	while (at < a.n && strcmp(a.v[at], "--net"))
		at++;
	cr_assert_lt(at + 2, a.n, "no --net");
	cr_assert_str_eq(a.v[at + 1], "fd=[3,4],mac=0a:58:0a:58:4d:05,num_queues=4");
	cr_assert_str_eq(a.v[at + 2], "fd=[5],mac=02:42:ac:11:00:02,num_queues=2");
	cr_assert_str_eq(a.v[at + 3], "--console");
	sbx_argv_free(&a);
	sbx_config_free(&c);
}
