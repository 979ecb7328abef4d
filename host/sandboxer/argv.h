/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What both VMM backends need to build their command lines: a growable argv,
 * the description of one sandbox's VM, the per-sandbox file names and the
 * guest kernel command line.
 */
#ifndef SBX_ARGV_H
#define SBX_ARGV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct sbx_net;

/* Files in a sandbox directory <dir>/<id>/. */
#define SBX_F_STATE     "sandbox.json"
#define SBX_F_SHARED    "shared"     /* the guest's view: a read-only bind of mounts/ */
#define SBX_F_MOUNTS    "mounts"     /* host-only: the shim builds bundles here */
#define SBX_F_TASK_SOCK "task.vsock" /* hybrid vsock (CH, vhost-device-vsock) */
#define SBX_F_VHU_SOCK  "vhu.sock"   /* vhost-user vsock control (QEMU) */
#define SBX_F_FS_SOCK   "virtiofs.sock"
#define SBX_F_API_SOCK  "api.sock" /* cloud-hypervisor REST API */
#define SBX_F_QMP_SOCK  "qmp.sock"
#define SBX_F_CONSOLE   "console.log"
#define SBX_F_VMM_LOG   "vmm.log"
#define SBX_F_FS_LOG    "virtiofsd.log"
#define SBX_F_VSOCK_LOG "vsockd.log"
/* Longest socket name: "task.vsock_<port>" (guest-initiated hybrid vsock
 * connections; a vsock port is 32 bits, as lib/endpoint.c allows for). */
#define SBX_F_NAME_MAX 21

#define SBX_AGENT_PORT 1024
#define SBX_GUEST_CID  3
#define SBX_FS_TAG     "kuasar"
/* In the VMM: our QMP listening socket (QEMU) is passed as fd 3. */
#define SBX_QMP_FD 3

struct sbx_argv {
	char **v; /* NULL-terminated */
	size_t n;
};
void sbx_argv_add(struct sbx_argv *a, const char *s);
void sbx_argv_addf(struct sbx_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbx_argv_free(struct sbx_argv *a);
/* One line, arguments separated by spaces (logs and tests). */
char *sbx_argv_join(const struct sbx_argv *a);

/* One sandbox's VM, resolved from the config and the pod. */
struct sbx_vm_spec {
	const struct sbx_config *cfg;
	const char *id;
	const char *base; /* <dir>/<id> */
	uint32_t vcpus;
	uint32_t memory_mb;
	bool kvm;        /* QEMU: -accel kvm (else tcg) */
	bool vhost_user; /* QEMU: vhost-user vsock via vhost-device-vsock */
	uint32_t cid;    /* guest CID (kernel vhost-vsock needs one per VM) */
	/* The pod's NICs (NULL: none): interface i's tap queue q is fd
	 * net_fd0 + (queue fds of the interfaces before i) + q in the VMM, and
	 * with vhost_fd0 > 0 (QEMU) its vhost-net fd is numbered the same way
	 * from vhost_fd0. */
	const struct sbx_net *net;
	int net_fd0;
	int vhost_fd0;
};

/* Interface i's fds in the VMM, numbered from fd0 as described above,
 * joined by sep ("4:5" for QEMU, "3,4" for cloud-hypervisor; malloc'd). */
char *sbx_net_fds(const struct sbx_vm_spec *s, size_t i, int fd0, char sep);
/* Queue fds of every interface of s->net together. */
size_t sbx_net_fd_count(const struct sbx_vm_spec *s);

/* The guest kernel command line for this VM (malloc'd). */
char *sbx_kernel_cmdline(const struct sbx_vm_spec *s);

/* The command lines, argv[0] = the binary's configured path. */
void sbx_ch_argv(const struct sbx_vm_spec *s, struct sbx_argv *out);
void sbx_qemu_argv(const struct sbx_vm_spec *s, struct sbx_argv *out);
void sbx_virtiofsd_argv(const struct sbx_vm_spec *s, struct sbx_argv *out);
void sbx_vsockd_argv(const struct sbx_vm_spec *s, struct sbx_argv *out);

/* QEMU's accelerator and vsock choice for this host: KVM only when the CPU
 * flags show vmx or svm and /dev/kvm is usable (or the config forces it);
 * kernel vhost-vsock only when /dev/vhost-vsock is usable. */
bool sbx_qemu_use_kvm(const struct sbx_config *c);
bool sbx_qemu_use_vhost_user(const struct sbx_config *c);

#endif
