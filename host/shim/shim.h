/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-kuasar-vmm-v2: containerd's shim v2 for kuasar-c. One shim
 * per pod (grouped by io.kubernetes.cri.sandbox-id; a plain `ctr run`
 * container is its own pod). On the pod's first task it asks vmm-sandboxer
 * for a VM, then serves the pod's Task API (host/taskapi: forwarding to
 * vmm-task in the VM, stdio relays, task events to containerd).
 *
 * This header is the shim's own state: the command line's, the server, and
 * the pod's VM as vmm-sandboxer's Controller gives it (shim_vm.h). One loop;
 * no handler ever waits.
 */
#ifndef KC_SHIM_H
#define KC_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#include "tpod.h"

#define SHIM_DEFAULT_SANDBOXER "/run/vmm-sandboxer.sock"

struct shim {
	struct tpod pod; /* loop, ns, id (-id), tasks, agent, VM state ... */
	ttrpc_server *server;
	char *group; /* pod = sandbox id */
	char *containerd_addr;
	char *ttrpc_addr; /* containerd's ttrpc socket, for events */
	char *sandboxer_addr;
	char *socket_path;
	/* the pod's VM (shim_vm.c) */
	char **vm_annotations; /* for Controller.Create: key, value, ... */
	size_t n_vm_annotations;
	char *vm_netns; /* the pod's network namespace path, for Controller.Create */
	struct shim_vm *vm;
	char *agent_addr;
};

extern struct shim *shim;

#endif
