/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-hypervisor's command line. Flags and value syntax follow its CLI
 * (cloud-hypervisor/src/main.rs, vmm/src/config.rs option parsers) and the
 * order Kuasar emits them in; tests/unit/test_ch_argv.c pins the exact argv.
 * No cloud-hypervisor binary exists on our machines: this path is verified
 * by those golden tests only.
 *
 * Differences from Kuasar, on purpose: no empty `affinity=,features=` in
 * --cpus, no root= on the kernel command line without a root image, the
 * console log in the sandbox directory (removed with it), --serial off.
 */
#include "argv.h"
#include "podnet.h"
#include "util.h"

void sbx_ch_argv(const struct sbx_vm_spec *s, struct sbx_argv *out)
{
	const struct sbx_config *c = s->cfg;
	_cleanup_free_ char *cmdline = sbx_kernel_cmdline(s);

	sbx_argv_add(out, c->path);
	sbx_argv_add(out, "--api-socket");
	sbx_argv_addf(out, "path=%s/" SBX_F_API_SOCK, s->base);
	sbx_argv_add(out, "--cpus");
	sbx_argv_addf(out, "boot=%u", s->vcpus);
	/* shared=on: vhost-user-fs needs memory virtiofsd can map. */
	sbx_argv_add(out, "--memory");
	sbx_argv_addf(out, "size=%uM,shared=on%s", s->memory_mb,
		      c->hugepages ? ",hugepages=on" : "");
	sbx_argv_add(out, "--kernel");
	sbx_argv_add(out, c->kernel_path);
	sbx_argv_add(out, "--cmdline");
	sbx_argv_add(out, cmdline);
	if (*c->initrd_path) {
		sbx_argv_add(out, "--initramfs");
		sbx_argv_add(out, c->initrd_path);
	}
	if (*c->image_path) {
		/* discard_writes=on: the image stays read-only and shareable. */
		sbx_argv_add(out, "--pmem");
		sbx_argv_addf(out, "file=%s,discard_writes=on", c->image_path);
	}
	if (*c->entropy_source) {
		sbx_argv_add(out, "--rng");
		sbx_argv_addf(out, "src=%s", c->entropy_source);
	}
	sbx_argv_add(out, "--vsock");
	sbx_argv_addf(out, "cid=%u,socket=%s/" SBX_F_TASK_SOCK, SBX_GUEST_CID, s->base);
	sbx_argv_add(out, "--fs");
	sbx_argv_addf(out, "tag=" SBX_FS_TAG ",socket=%s/" SBX_F_FS_SOCK, s->base);
	/* The pod's NICs: tap fds we opened in its netns, the veth's MAC, a
	 * queue pair per fd (CH checks num_queues == 2 x fds). */
	if (s->net && s->net->n_ifaces) {
		sbx_argv_add(out, "--net");
		for (size_t i = 0; i < s->net->n_ifaces; i++) {
			_cleanup_free_ char *fds = sbx_net_fds(s, i, s->net_fd0, ',');
			char mac[18];
			sbx_net_mac_str(s->net->ifaces[i].mac, mac);
			sbx_argv_addf(out, "fd=[%s],mac=%s,num_queues=%zu", fds, mac,
				      2 * s->net->ifaces[i].n_fds);
		}
	}
	/* --console defaults to tty: the guest console (hvc0) goes to a file. */
	sbx_argv_add(out, "--console");
	sbx_argv_addf(out, "file=%s/" SBX_F_CONSOLE, s->base);
	sbx_argv_add(out, "--serial");
	sbx_argv_add(out, "off");
	if (c->debug)
		sbx_argv_add(out, "-vv");
}
