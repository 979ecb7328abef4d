/* SPDX-License-Identifier: Apache-2.0 */
/* The pod's network inside the VM, as Kuasar's grpc.SandboxService sets it
 * (UpdateInterfaces, UpdateRoutes; AddARPNeighbors as Kata's agent has it):
 * the host sends the CNI interfaces' MACs,
 * addresses and routes; the guest NIC carrying that MAC gets them. */
#ifndef KC_NETCFG_H
#define KC_NETCFG_H

#include "err.h"
#include "kuasar/sandbox.pb-c.h"

#define KC_NETCFG_MAX_IFACES 64
#define KC_NETCFG_MAX_ADDRS  64 /* per interface */
#define KC_NETCFG_MAX_ROUTES 512
#define KC_NETCFG_MAX_NEIGHS 256

/* Per interface: find the link by MAC; down; replace its addresses; MTU;
 * rename (moving a link that has the name aside); ARP flag; up. */
int kc_netcfg_interfaces(const Grpc__UpdateInterfacesRequest *r, kc_err **err);
/* The main table's routes become these (gateway-less ones first). */
int kc_netcfg_routes(const Grpc__UpdateRoutesRequest *r, kc_err **err);

/* Static neighbours (the pod netns's permanent ARP/NDP entries). */
int kc_netcfg_neighbors(const Grpc__AddARPNeighborsRequest *r, kc_err **err);

#endif
