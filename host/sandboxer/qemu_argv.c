/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "podnet.h"
#include "util.h"

static bool cpu_has_virt(void)
{
	_cleanup_free_ char *info = NULL;
	if (kc_read_file("/proc/cpuinfo", 16 << 20, &info, NULL, NULL) < 0)
		return false;
	for (char *p = info; (p = strstr(p, "flags")); p++) {
		char *eol = strchr(p, '\n');
		if (eol)
			*eol = '\0';
		if (strstr(p, " vmx") || strstr(p, " svm"))
			return true;
		if (!eol)
			break;
		p = eol;
	}
	return false;
}

bool sbx_qemu_use_kvm(const struct sbx_config *c)
{
	if (c->accel != SBX_ACCEL_AUTO)
		return c->accel == SBX_ACCEL_KVM;
	/* /dev/kvm alone is not enough: a nested paravirtual KVM without
	 * vmx/svm hangs ordinary guests. */
	return access("/dev/kvm", R_OK | W_OK) == 0 && cpu_has_virt();
}

bool sbx_qemu_use_vhost_user(const struct sbx_config *c)
{
	if (c->vsock != SBX_VSOCK_AUTO)
		return c->vsock == SBX_VSOCK_VHOST_USER;
	return access("/dev/vhost-vsock", R_OK | W_OK) != 0;
}

/* The pod's NICs: taps we opened in its netns, passed as fds; the guest NIC
 * carries the veth's MAC (the CNI bridge knows that one). One queue pair
 * per tap fd; MSI-X vectors: one per queue plus config and control. */
static void net_args(const struct sbx_vm_spec *s, const char *sfx, struct sbx_argv *out)
{
	for (size_t i = 0; s->net && i < s->net->n_ifaces; i++) {
		const struct sbx_net_iface *f = &s->net->ifaces[i];
		bool mq = f->n_fds > 1;
		_cleanup_free_ char *fds = sbx_net_fds(s, i, s->net_fd0, ':');
		_cleanup_free_ char *vfds =
		    s->vhost_fd0 > 0 ? sbx_net_fds(s, i, s->vhost_fd0, ':') : NULL;
		char mac[18];

		sbx_net_mac_str(f->mac, mac);
		sbx_argv_add(out, "-netdev");
		if (vfds)
			sbx_argv_addf(out, "tap,id=net%zu,%s=%s,vhost=on,%s=%s", i,
				      mq ? "fds" : "fd", fds, mq ? "vhostfds" : "vhostfd", vfds);
		else
			sbx_argv_addf(out, "tap,id=net%zu,%s=%s", i, mq ? "fds" : "fd", fds);
		sbx_argv_add(out, "-device");
		if (!mq)
			sbx_argv_addf(out, "virtio-net-%s,netdev=net%zu,mac=%s", sfx, i, mac);
		else if (!strcmp(sfx, "pci"))
			sbx_argv_addf(out, "virtio-net-pci,netdev=net%zu,mac=%s,mq=on,vectors=%zu",
				      i, mac, 2 * f->n_fds + 2);
		else
			sbx_argv_addf(out, "virtio-net-%s,netdev=net%zu,mac=%s,mq=on", sfx, i, mac);
	}
}

/* QEMU's command line, modelled on scripts/boot-qemu.sh (which is tested
 * by hand and by the VM tests): guest RAM in a shared memfd (vhost-user
 * daemons map it), vhost-user vsock or kernel vhost-vsock, virtio-fs, the
 * serial console to a file, and QMP on a listening socket we create and pass
 * as fd 3 (so it is there before QEMU runs, and after a daemon restart). */
void sbx_qemu_argv(const struct sbx_vm_spec *s, struct sbx_argv *out)
{
	const struct sbx_config *c = s->cfg;
	bool mvm = c->machine == SBX_MACHINE_MICROVM;
	const char *sfx = mvm ? "device" : "pci";
	_cleanup_free_ char *cmdline = sbx_kernel_cmdline(s);

	sbx_argv_add(out, c->path);
	sbx_argv_add(out, "-name");
	sbx_argv_addf(out, "sandbox-%s", s->id);
	sbx_argv_add(out, "-nodefaults");
	sbx_argv_add(out, "-no-user-config");
	sbx_argv_add(out, "-no-reboot");
	sbx_argv_add(out, "-display");
	sbx_argv_add(out, "none");
	sbx_argv_add(out, "-accel");
	sbx_argv_add(out, s->kvm ? "kvm" : "tcg");
	sbx_argv_add(out, "-cpu");
	sbx_argv_add(out, s->kvm ? "host" : "max");
	sbx_argv_add(out, "-M");
	sbx_argv_addf(out, "%s,memory-backend=mem", mvm ? "microvm" : "pc");
	if (mvm) {
		/* vhost-user devices refuse legacy virtio-mmio. */
		sbx_argv_add(out, "-global");
		sbx_argv_add(out, "virtio-mmio.force-legacy=false");
	}
	sbx_argv_add(out, "-m");
	sbx_argv_addf(out, "%uM", s->memory_mb);
	sbx_argv_add(out, "-smp");
	sbx_argv_addf(out, "%u", s->vcpus);
	sbx_argv_add(out, "-object");
	sbx_argv_addf(out, "memory-backend-memfd,id=mem,size=%uM,share=on%s", s->memory_mb,
		      c->hugepages ? ",hugetlb=on" : "");
	sbx_argv_add(out, "-kernel");
	sbx_argv_add(out, c->kernel_path);
	sbx_argv_add(out, "-initrd");
	sbx_argv_add(out, c->initrd_path);
	sbx_argv_add(out, "-append");
	sbx_argv_add(out, cmdline);
	if (s->vhost_user) {
		sbx_argv_add(out, "-chardev");
		sbx_argv_addf(out, "socket,id=vsock0,path=%s/" SBX_F_VHU_SOCK, s->base);
		sbx_argv_add(out, "-device");
		sbx_argv_addf(out, "vhost-user-vsock-%s,chardev=vsock0", sfx);
	} else {
		sbx_argv_add(out, "-device");
		sbx_argv_addf(out, "vhost-vsock-%s,guest-cid=%u", sfx, s->cid);
	}
	sbx_argv_add(out, "-chardev");
	sbx_argv_addf(out, "socket,id=fs0,path=%s/" SBX_F_FS_SOCK, s->base);
	sbx_argv_add(out, "-device");
	sbx_argv_addf(out, "vhost-user-fs-%s,chardev=fs0,tag=" SBX_FS_TAG, sfx);
	if (*c->entropy_source) {
		sbx_argv_add(out, "-object");
		sbx_argv_addf(out, "rng-random,id=rng0,filename=%s", c->entropy_source);
		sbx_argv_add(out, "-device");
		sbx_argv_addf(out, "virtio-rng-%s,rng=rng0", sfx);
	}
	net_args(s, sfx, out);
	sbx_argv_add(out, "-chardev");
	sbx_argv_add(out, "socket,id=qmp,fd=3,server=on,wait=off");
	sbx_argv_add(out, "-mon");
	sbx_argv_add(out, "chardev=qmp,mode=control");
	sbx_argv_add(out, "-serial");
	sbx_argv_addf(out, "file:%s/" SBX_F_CONSOLE, s->base);
}
