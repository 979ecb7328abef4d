/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the VM test: the booted VM (test_vm_qemu.c) and what the attack
 * and load cases (vm_attacks.c) use of it. */
#ifndef KC_TEST_VM_H
#define KC_TEST_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentctl.h"
#include "qmpsync.h"

#define GUEST_SHARE   "/run/kuasar/state"
#define IO_TIMEOUT_MS 20000
#define GUEST_CID     3 /* boot-qemu.sh's default --cid */

struct vm {
	const char *name;
	char *script;          /* scripts/boot-qemu.sh */
	char *dir;             /* runtime dir: sockets, pid files, logs */
	char *share;           /* the guest's GUEST_SHARE, over virtio-fs */
	char *io_base;         /* agent.addr up to its port: "hvsock://DIR/task.vsock:" */
	char *kernel, *initrd; /* unless boot-qemu.sh's defaults */
	bool hybrid;           /* vhost-device-vsock (else kernel vhost-vsock) */
	bool loopback;         /* cloud kernel + vsock_loopback: containers reach us */
	int watch_fd;          /* closing it makes the watchdog stop the VM */
	pid_t watchdog;
	kc_qmp *qmp;
	struct agentctl a;
	unsigned next_port;
	uint64_t t0;
	bool passed;
	void (*body)(void); /* instead of the default cases (containers, attacks, load) */
};

extern struct vm V;

/* A fresh stdio URI (the next vsock port). */
char *io_uri(void);
/* Point a bundle at the rootfs in the share. */
const struct bundle_opts *with_rootfs(struct bundle_opts *o);
/* Run a container to completion: exit status, stdout, stderr. */
uint32_t run(const char *id, struct bundle_opts *o, char **out, char **err_out);

/* vm_attacks.c: a container attacking the control plane, and the engine's
 * defences in the guest kernel (sweep_cwd: all of /proc/self/fd/0..64). */
void vm_attacks(bool sweep_cwd);
/* PID 1 under load. */
void vm_load(void);

/* vm_block.c: hot-plugged disks (rootfs, volume, raw device). The first
 * tool it needs that is missing, or NULL. */
const char *vm_block_missing_tool(void);
void vm_block(void);

#endif
