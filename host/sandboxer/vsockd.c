/* SPDX-License-Identifier: Apache-2.0 */
/* vhost-device-vsock's command line: the vhost-user vsock backend for QEMU
 * when the host has no kernel vhost-vsock. It speaks the same hybrid vsock
 * protocol as cloud-hypervisor on <dir>/<id>/task.vsock ("CONNECT <port>\n",
 * "OK <port>\n"); QEMU connects to its control socket <dir>/<id>/vhu.sock. */
#include "argv.h"

void sbx_vsockd_argv(const struct sbx_vm_spec *s, struct sbx_argv *out)
{
	sbx_argv_add(out, s->cfg->vhost_device_vsock);
	sbx_argv_add(out, "--guest-cid");
	sbx_argv_addf(out, "%u", s->cid);
	sbx_argv_add(out, "--socket");
	sbx_argv_addf(out, "%s/" SBX_F_VHU_SOCK, s->base);
	sbx_argv_add(out, "--uds-path");
	sbx_argv_addf(out, "%s/" SBX_F_TASK_SOCK, s->base);
}
