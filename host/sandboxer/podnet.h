/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's network, carried into its VM ("tc redirect", as Kata and Kuasar do):
 * for every interface of the pod's network namespace but lo (the CNI veth, or
 * several with Multus), a tap in that namespace whose queues the VMM gets as
 * fds, an ingress qdisc on both and a u32 match-all filter with a mirred
 * egress redirect each way. The guest NIC carries the veth's MAC, the guest
 * gets the veth's addresses and the namespace's routes (UpdateInterfaces,
 * UpdateRoutes). All of it by rtnetlink through libmnl: no `ip`/`tc` runs.
 *
 * The netns is entered only for the calls that must be made inside it
 * (opening the netlink socket and /dev/net/tun); the caller's netns is
 * restored before returning, also on failure.
 */
#ifndef SBX_PODNET_H
#define SBX_PODNET_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SBX_NET_MAX_IFACES 8   /* interfaces of one pod (beyond: an error) */
#define SBX_NET_MAX_ADDRS  16  /* addresses of one interface */
#define SBX_NET_MAX_ROUTES 128 /* routes of the main table, v4 + v6 */
#define SBX_NET_MAX_QUEUES 8   /* tap queue pairs (one per vCPU, capped) */
#define SBX_NET_MAX_NEIGHS 32  /* permanent neighbour entries */

struct sbx_net_addr {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;
};

struct sbx_net_iface {
	/* The pod's interface (the veth), as read from the netns. */
	int ifindex;
	char name[IF_NAMESIZE];
	uint8_t mac[6];
	uint32_t mtu;
	uint32_t flags; /* IFF_* (IFF_NOARP matters to the guest) */
	size_t n_addrs;
	struct sbx_net_addr addrs[SBX_NET_MAX_ADDRS]; /* link-local IPv6 left out */
	/* Ours, once attached: the tap and its queue fds (CLOEXEC, owned here
	 * until handed to the VMM; -1 when closed). */
	char tap[IF_NAMESIZE]; /* "kctap<veth ifindex>" */
	int tap_ifindex;
	size_t n_fds;
	int fds[SBX_NET_MAX_QUEUES];
};

struct sbx_net_route {
	int family;
	uint8_t dst[16];
	uint8_t dst_len; /* 0: default */
	bool has_gw;
	uint8_t gw[16];
	bool has_src; /* RTA_PREFSRC */
	uint8_t src[16];
	char dev[IF_NAMESIZE]; /* output interface by name ("" if none) */
	uint8_t scope;
	uint32_t flags; /* rtm_flags */
	uint32_t mtu;   /* RTAX_MTU, 0 if unset */
};

/* A permanent ARP/NDP entry of the netns (a CNI plugin's static gateway
 * neighbour): the guest gets the same, as with Kata's AddARPNeighbors. */
struct sbx_net_neigh {
	int family;
	uint8_t ip[16];
	uint8_t lladdr[6];
	char dev[IF_NAMESIZE];
	uint16_t state; /* NUD_* */
	uint8_t flags;  /* NTF_* */
};

struct sbx_net {
	size_t n_ifaces;
	struct sbx_net_iface ifaces[SBX_NET_MAX_IFACES];
	size_t n_routes;
	struct sbx_net_route routes[SBX_NET_MAX_ROUTES]; /* main table, no lo, no fe80::/64 */
	size_t n_neighs;
	struct sbx_net_neigh neighs[SBX_NET_MAX_NEIGHS]; /* NUD_PERMANENT, on carried links */
};

/* An empty sbx_net (every fd -1). */
void sbx_net_init(struct sbx_net *n);

/* Read the interfaces (all but lo and our own taps), their permanent
 * neighbours and the main table's routes of the netns at `netns` (a path such as
 * /var/run/netns/cni-...). A link that is down and has no address is left out (it carries nothing:
 * the fallback tunnels sit0, tunl0, ... the kernel puts in every netns look
 * like that); any other that is down or not Ethernet with a MAC is an error
 * naming it. Routes: unicast, not via lo, not fe80::/64; a multipath or
 * nexthop-object route is an error. */
int sbx_net_scan(const char *netns, struct sbx_net *n, kc_err **err);

/* For every scanned interface: a tap "kctap<ifindex>" in the netns with
 * `queues` queue fds (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, IFF_MULTI_QUEUE when
 * queues > 1; 1..SBX_NET_MAX_QUEUES), the veth's MTU, up; an ingress qdisc
 * on the veth and on the tap; a u32 match-all filter with mirred egress
 * redirect veth -> tap and tap -> veth. The tap is not persistent: it goes
 * away when the last fd (the VMM's) closes. On failure, whatever was created
 * is removed again and the fds are closed. */
int sbx_net_attach(const char *netns, struct sbx_net *n, unsigned queues, kc_err **err);

/* Undo attach for the interfaces of n (only the names and ifindices are
 * used: this runs after a restart from persisted state; the tap's name is
 * "kctap<ifindex>" when tap is ""): the ingress qdisc of each veth (its
 * filters go with it) if that ifindex still has that name, and the tap if it
 * still exists and is a non-persistent tap (never a device we did not make).
 * Idempotent; a netns that is gone already is success (nothing is left in
 * it). Closes fds still held. */
int sbx_net_detach(const char *netns, struct sbx_net *n, kc_err **err);

/* Close every tap fd still held (after they were passed to the VMM); n_fds
 * stays the queue count. */
void sbx_net_close_fds(struct sbx_net *n);

/* "aa:bb:cc:dd:ee:ff" (buf >= 18). */
void sbx_net_mac_str(const uint8_t mac[6], char *buf);

#endif
