/* SPDX-License-Identifier: Apache-2.0 */
/* The rtnetlink requests the guest needs, written by hand (libmnl cannot be
 * linked into the musl-static agent here): links, addresses, routes. Each
 * request is acked; errors name the step and the kernel's errno. */
#ifndef KC_NETLINK_H
#define KC_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* ip link set dev NAME up|down */
int kc_nl_link_set_up(const char *ifname, bool up, kc_err **err);
/* The link with this MAC: its index and name. ENODEV if none. */
int kc_nl_link_by_mac(const uint8_t mac[6], int *ifindex, char name[IF_NAMESIZE], kc_err **err);
/* flags under change (IFF_UP, IFF_NOARP), a new name (link down), an MTU
 * (0: keep). */
int kc_nl_link_set(int ifindex, unsigned flags, unsigned change, const char *newname, uint32_t mtu,
		   kc_err **err);
int kc_nl_addr_flush(int ifindex, kc_err **err);
int kc_nl_addr_add(int ifindex, int family, const void *addr, unsigned prefix, kc_err **err);

struct kc_nl_route {
	int family;
	uint8_t dst[16];
	unsigned dst_len; /* 0: default route */
	uint8_t gw[16];
	bool has_gw;
	uint8_t src[16];
	bool has_src;
	int oif;
	unsigned scope; /* RT_SCOPE_* */
	uint32_t mtu;   /* 0: none */
	uint32_t flags; /* rtm_flags; only RTNH_F_ONLINK is applied */
};
/* Replace (or add) a route in the main table. */
int kc_nl_route_add(const struct kc_nl_route *rt, kc_err **err);
/* Remove the main table's routes of a family that the kernel did not make
 * itself (the ones a previous UpdateRoutes set). */
int kc_nl_route_flush_main(int family, kc_err **err);

/* Replace (or add) a neighbour entry (state NUD_*, flags NTF_*). */
int kc_nl_neigh_add(int ifindex, int family, const void *ip, const uint8_t lladdr[6],
		    uint16_t state, uint8_t flags, kc_err **err);

#endif
