/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod network as the guest agent takes it: Kuasar's
 * grpc.SandboxService UpdateInterfaces and UpdateRoutes requests built from
 * what podnet read in the pod's netns (addresses as text, prefix lengths as
 * the `mask` string, the veth's MAC as hwAddr, route MTU as Kata's field 8),
 * and the permanent neighbours as Kata's AddARPNeighbors.
 */
#ifndef SBX_NETMSG_H
#define SBX_NETMSG_H

#include "kuasar/sandbox.pb-c.h"
#include "podnet.h"

struct sbx_netmsg {
	Grpc__UpdateInterfacesRequest ifs;
	Grpc__UpdateRoutesRequest routes;
	Grpc__AddARPNeighborsRequest neighs;
	/* The calls, in order: interfaces first (routes and neighbours name the
	 * interfaces by their new names), neighbours only when there are. */
	const char *methods[3];
	const ProtobufCMessage *reqs[3];
	size_t n_calls;
	/* Storage the requests point into. */
	Grpc__Interface iface[SBX_NET_MAX_IFACES], *iface_p[SBX_NET_MAX_IFACES];
	Grpc__IPAddress addr[SBX_NET_MAX_IFACES][SBX_NET_MAX_ADDRS];
	Grpc__IPAddress *addr_p[SBX_NET_MAX_IFACES][SBX_NET_MAX_ADDRS];
	Grpc__Route route[SBX_NET_MAX_ROUTES], *route_p[SBX_NET_MAX_ROUTES];
	Grpc__ARPNeighbors neigh_list;
	Grpc__ARPNeighbor neigh[SBX_NET_MAX_NEIGHS], *neigh_p[SBX_NET_MAX_NEIGHS];
	Grpc__IPAddress neigh_ip[SBX_NET_MAX_NEIGHS];
	char strings[(SBX_NET_MAX_IFACES * (2 + 2 * SBX_NET_MAX_ADDRS) + SBX_NET_MAX_ROUTES * 4 +
		      SBX_NET_MAX_NEIGHS * 3) *
		     48];
	size_t used;
};

/* Fill m (which must stay where it is while the requests are used). Routes
 * through an interface the pod does not carry into the VM are left out. */
void sbx_netmsg_build(const struct sbx_net *n, struct sbx_netmsg *m);

#endif
