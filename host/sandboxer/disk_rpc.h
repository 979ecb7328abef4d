/* SPDX-License-Identifier: Apache-2.0 */
/* kuasarc.disk.v1.Disks (proto/kuasarc/disk.proto) on the sandboxer's ttrpc
 * socket: AttachDisk / DetachDisk for the shim (disk.h does the work). */
#ifndef SBX_DISK_RPC_H
#define SBX_DISK_RPC_H

#include "sandbox.h"
#include "ttrpc.h"

#define SBX_DISK_SERVICE "kuasarc.disk.v1.Disks"

void sbx_disk_rpc_register(ttrpc_server *srv, struct sbx_daemon *d);

#endif
