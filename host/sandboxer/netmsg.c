/* SPDX-License-Identifier: Apache-2.0 */
#include "netmsg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* A copy of str (with "/prefix" when prefix >= 0) in m's storage, which is
 * sized for every field the requests can have. */
static char *put_p(struct sbx_netmsg *m, const char *str, int prefix)
{
	size_t room = sizeof(m->strings) - m->used;
	char *p = m->strings + m->used;
	int n = prefix < 0 ? snprintf(p, room, "%s", str) : snprintf(p, room, "%s/%d", str, prefix);

	/* Cannot happen with the bounds above; truncate rather than overrun. */
	m->used += n < 0 || (size_t)n >= room ? room : (size_t)n + 1;
	return p;
}

static char *put(struct sbx_netmsg *m, const char *str)
{
	return put_p(m, str, -1);
}

static char *ip_str(struct sbx_netmsg *m, int family, const uint8_t *addr, int prefix)
{
	char txt[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, txt, sizeof(txt));
	return put_p(m, txt, prefix);
}

static Grpc__IPFamily fam(int family)
{
	return family == AF_INET6 ? GRPC__IPFAMILY__v6 : GRPC__IPFAMILY__v4;
}

static bool carried(const struct sbx_net *n, const char *dev)
{
	if (!*dev)
		return true;
	for (size_t i = 0; i < n->n_ifaces; i++)
		if (!strcmp(n->ifaces[i].name, dev))
			return true;
	return false;
}

void sbx_netmsg_build(const struct sbx_net *n, struct sbx_netmsg *m)
{
	memset(m, 0, sizeof(*m));
	grpc__update_interfaces_request__init(&m->ifs);
	grpc__update_routes_request__init(&m->routes);
	for (size_t i = 0; i < n->n_ifaces; i++) {
		const struct sbx_net_iface *f = &n->ifaces[i];
		Grpc__Interface *g = &m->iface[i];
		char mac[18];

		grpc__interface__init(g);
		sbx_net_mac_str(f->mac, mac);
		g->device = g->name = put(m, f->name);
		g->hwaddr = put(m, mac);
		g->mtu = f->mtu;
		g->raw_flags = f->flags;
		for (size_t a = 0; a < f->n_addrs; a++) {
			Grpc__IPAddress *ga = &m->addr[i][a];
			char plen[4];
			grpc__ipaddress__init(ga);
			ga->family = fam(f->addrs[a].family);
			ga->address = ip_str(m, f->addrs[a].family, f->addrs[a].addr, -1);
			snprintf(plen, sizeof(plen), "%u", f->addrs[a].prefix);
			ga->mask = put(m, plen);
			m->addr_p[i][a] = ga;
		}
		g->n_ipaddresses = f->n_addrs;
		g->ipaddresses = m->addr_p[i];
		m->iface_p[i] = g;
	}
	m->ifs.n_interfaces = n->n_ifaces;
	m->ifs.interfaces = m->iface_p;
	for (size_t i = 0; i < n->n_routes; i++) {
		const struct sbx_net_route *r = &n->routes[i];
		Grpc__Route *g = &m->route[m->routes.n_routes];

		if (!carried(n, r->dev))
			continue;
		grpc__route__init(g);
		g->family = fam(r->family);
		g->dest = r->dst_len ? ip_str(m, r->family, r->dst, r->dst_len) : "";
		g->gateway = r->has_gw ? ip_str(m, r->family, r->gw, -1) : "";
		g->source = r->has_src ? ip_str(m, r->family, r->src, -1) : "";
		g->device = put(m, r->dev);
		g->scope = r->scope;
		g->flags = r->flags;
		g->mtu = r->mtu;
		m->route_p[m->routes.n_routes++] = g;
	}
	m->routes.routes = m->route_p;
	grpc__add_arpneighbors_request__init(&m->neighs);
	grpc__arpneighbors__init(&m->neigh_list);
	for (size_t i = 0; i < n->n_neighs; i++) {
		const struct sbx_net_neigh *ne = &n->neighs[i];
		Grpc__ARPNeighbor *g = &m->neigh[m->neigh_list.n_arpneighbors];
		char mac[18];

		if (!carried(n, ne->dev))
			continue;
		grpc__arpneighbor__init(g);
		grpc__ipaddress__init(&m->neigh_ip[m->neigh_list.n_arpneighbors]);
		g->toipaddress = &m->neigh_ip[m->neigh_list.n_arpneighbors];
		g->toipaddress->family = fam(ne->family);
		g->toipaddress->address = ip_str(m, ne->family, ne->ip, -1);
		g->toipaddress->mask = "";
		sbx_net_mac_str(ne->lladdr, mac);
		g->lladdr = put(m, mac);
		g->device = put(m, ne->dev);
		g->state = ne->state;
		g->flags = ne->flags;
		m->neigh_p[m->neigh_list.n_arpneighbors++] = g;
	}
	m->neigh_list.arpneighbors = m->neigh_p;
	m->neighs.neighbors = &m->neigh_list;
	m->methods[m->n_calls] = "UpdateInterfaces";
	m->reqs[m->n_calls++] = &m->ifs.base;
	m->methods[m->n_calls] = "UpdateRoutes";
	m->reqs[m->n_calls++] = &m->routes.base;
	if (m->neigh_list.n_arpneighbors) {
		m->methods[m->n_calls] = "AddARPNeighbors";
		m->reqs[m->n_calls++] = &m->neighs.base;
	}
}
