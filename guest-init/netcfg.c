/* SPDX-License-Identifier: Apache-2.0 */
#include "netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "netlink.h"
#include "util.h"

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			 &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int family_of(Grpc__IPFamily f)
{
	return f == GRPC__IPFAMILY__v6 ? AF_INET6 : AF_INET;
}

/* "10.0.0.0/24", "fd00::/64", "" / "default" (prefix 0). */
static int parse_prefix(const char *s, int family, uint8_t addr[16], unsigned *len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned max = family == AF_INET6 ? 128 : 32;

	memset(addr, 0, 16);
	if (!s || !*s || !strcmp(s, "default")) {
		*len = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	*len = max;
	if (slash) {
		int64_t v;
		*slash++ = '\0';
		if (kc_parse_i64(slash, 0, max, &v) < 0)
			return -1;
		*len = (unsigned)v;
	}
	return inet_pton(family, buf, addr) == 1 ? 0 : -1;
}

static int one_interface(const Grpc__Interface *in, kc_err **err)
{
	const char *label = in->name && *in->name ? in->name : in->device;
	char cur[IF_NAMESIZE];
	uint8_t mac[6];
	int idx;

	if (parse_mac(in->hwaddr, mac) < 0)
		return kc_err_set(err, EINVAL, "interface %s: hwAddr `%.32s` is not a MAC", label,
				  in->hwaddr ? in->hwaddr : "");
	if (in->name && strlen(in->name) >= IF_NAMESIZE)
		return kc_err_set(err, EINVAL, "interface %.32s: name longer than %d", in->name,
				  IF_NAMESIZE - 1);
	if (in->n_ipaddresses > KC_NETCFG_MAX_ADDRS)
		return kc_err_set(err, EINVAL, "interface %s: more than %d addresses", label,
				  KC_NETCFG_MAX_ADDRS);
	if (in->mtu && (in->mtu < 68 || in->mtu > 65535))
		return kc_err_set(err, EINVAL, "interface %s: mtu %llu out of 68..65535", label,
				  (unsigned long long)in->mtu);
	if (kc_nl_link_by_mac(mac, &idx, cur, err) < 0 ||
	    kc_nl_link_set(idx, 0, IFF_UP, NULL, 0, err) < 0 || kc_nl_addr_flush(idx, err) < 0)
		return kc_err_wrap(err, "interface %s (%s)", label, in->hwaddr);
	for (size_t i = 0; i < in->n_ipaddresses; i++) {
		const Grpc__IPAddress *a = in->ipaddresses[i];
		int fam = family_of(a->family);
		uint8_t addr[16];
		unsigned plen;
		_cleanup_free_ char *spec = xasprintf("%s/%s", a->address ? a->address : "",
						      a->mask && *a->mask ? a->mask : "");
		if (!a->mask || !*a->mask)
			spec[strlen(spec) - 1] = '\0';
		if (parse_prefix(spec, fam, addr, &plen) < 0 || !a->address || !*a->address)
			return kc_err_set(err, EINVAL, "interface %s: address `%.64s` is not valid",
					  label, spec);
		if (kc_nl_addr_add(idx, fam, addr, plen, err) < 0)
			return kc_err_wrap(err, "interface %s: add %s", label, spec);
	}
	if (in->name && *in->name && strcmp(in->name, cur)) {
		unsigned other = if_nametoindex(in->name);
		if (other && (int)other != idx) {
			/* The name is taken (e.g. the VM's own eth0): move it aside. */
			char aside[IF_NAMESIZE];
			snprintf(aside, sizeof(aside), "kcold%u", other);
			if (kc_nl_link_set((int)other, 0, IFF_UP, aside, 0, err) < 0)
				return kc_err_wrap(err, "interface %s: move %s aside", label,
						   in->name);
		}
		if (kc_nl_link_set(idx, 0, 0, in->name, 0, err) < 0)
			return kc_err_wrap(err, "interface %s: rename %s", label, cur);
	}
	if (kc_nl_link_set(idx, (in->raw_flags & IFF_NOARP) | IFF_UP, IFF_NOARP | IFF_UP, NULL,
			   (uint32_t)in->mtu, err) < 0)
		return kc_err_wrap(err, "interface %s: mtu, flags, up", label);
	return 0;
}

int kc_netcfg_interfaces(const Grpc__UpdateInterfacesRequest *r, kc_err **err)
{
	if (r->n_interfaces > KC_NETCFG_MAX_IFACES)
		return kc_err_set(err, EINVAL, "more than %d interfaces", KC_NETCFG_MAX_IFACES);
	for (size_t i = 0; i < r->n_interfaces; i++)
		if (one_interface(r->interfaces[i], err) < 0)
			return -1;
	return 0;
}

static int one_route(const Grpc__Route *rt, kc_err **err)
{
	struct kc_nl_route n = {.family = family_of(rt->family),
				.scope = rt->scope,
				.mtu = rt->mtu,
				.flags = rt->flags};
	unsigned l;

	if (parse_prefix(rt->dest, n.family, n.dst, &n.dst_len) < 0)
		return kc_err_set(err, EINVAL, "route `%.64s`: bad destination", rt->dest);
	if (rt->gateway && *rt->gateway) {
		if (parse_prefix(rt->gateway, n.family, n.gw, &l) < 0)
			return kc_err_set(err, EINVAL, "route %s: bad gateway `%.64s`", rt->dest,
					  rt->gateway);
		n.has_gw = true;
	}
	if (rt->source && *rt->source) {
		if (parse_prefix(rt->source, n.family, n.src, &l) < 0)
			return kc_err_set(err, EINVAL, "route %s: bad source `%.64s`", rt->dest,
					  rt->source);
		n.has_src = true;
	}
	if (rt->device && *rt->device) {
		n.oif = (int)if_nametoindex(rt->device);
		if (!n.oif)
			return kc_err_set(err, ENODEV, "route %s: no interface %.32s", rt->dest,
					  rt->device);
	}
	if (rt->scope > 255)
		return kc_err_set(err, EINVAL, "route %s: scope %u", rt->dest, rt->scope);
	if (kc_nl_route_add(&n, err) < 0)
		return kc_err_wrap(err, "route %s via %s dev %s", *rt->dest ? rt->dest : "default",
				   rt->gateway && *rt->gateway ? rt->gateway : "-",
				   rt->device && *rt->device ? rt->device : "-");
	return 0;
}

int kc_netcfg_routes(const Grpc__UpdateRoutesRequest *r, kc_err **err)
{
	if (r->n_routes > KC_NETCFG_MAX_ROUTES)
		return kc_err_set(err, EINVAL, "more than %d routes", KC_NETCFG_MAX_ROUTES);
	if (kc_nl_route_flush_main(AF_INET, err) < 0 || kc_nl_route_flush_main(AF_INET6, err) < 0)
		return kc_err_wrap(err, "replace the main table");
	/* Routes through a gateway need the gateway's link route first. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < r->n_routes; i++) {
			const Grpc__Route *rt = r->routes[i];
			bool gw = rt->gateway && *rt->gateway;
			if (gw == (pass == 1) && one_route(rt, err) < 0)
				return -1;
		}
	return 0;
}

int kc_netcfg_neighbors(const Grpc__AddARPNeighborsRequest *r, kc_err **err)
{
	const Grpc__ARPNeighbors *l = r->neighbors;

	if (!l)
		return 0;
	if (l->n_arpneighbors > KC_NETCFG_MAX_NEIGHS)
		return kc_err_set(err, EINVAL, "more than %d neighbours", KC_NETCFG_MAX_NEIGHS);
	for (size_t i = 0; i < l->n_arpneighbors; i++) {
		const Grpc__ARPNeighbor *n = l->arpneighbors[i];
		const char *ip = n->toipaddress ? n->toipaddress->address : NULL;
		int fam = n->toipaddress ? family_of(n->toipaddress->family) : AF_INET;
		uint8_t addr[16], mac[6];
		unsigned plen;
		int idx;

		if (!ip || !*ip || parse_prefix(ip, fam, addr, &plen) < 0)
			return kc_err_set(err, EINVAL, "neighbour `%.64s`: not an address",
					  ip ? ip : "");
		if (parse_mac(n->lladdr, mac) < 0)
			return kc_err_set(err, EINVAL, "neighbour %s: lladdr `%.32s` is not a MAC",
					  ip, n->lladdr ? n->lladdr : "");
		if (n->state < 0 || n->state > 0xffff || n->flags < 0 || n->flags > 0xff)
			return kc_err_set(err, EINVAL, "neighbour %s: bad state or flags", ip);
		idx = (int)if_nametoindex(n->device ? n->device : "");
		if (!idx)
			return kc_err_set(err, ENODEV, "neighbour %s: no interface %.32s", ip,
					  n->device ? n->device : "");
		if (kc_nl_neigh_add(idx, fam, addr, mac, (uint16_t)n->state, (uint8_t)n->flags,
				    err) < 0)
			return kc_err_wrap(err, "neighbour %s lladdr %s dev %s", ip, n->lladdr,
					   n->device);
	}
	return 0;
}
