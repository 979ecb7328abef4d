/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod network (podnet.h): the scan of a pod's netns, and the taps and tc
 * redirects of attach / detach, over rtnetlink (podnet_nl.c). One netlink
 * socket per operation, opened inside the pod's netns.
 */
#include "podnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "podnet_nl.h"
#include "util.h"

#define TAP_PREFIX "kctap"
/* Links looked at while scanning, lo and our taps left out. */
#define SCAN_MAX_LINKS 64
/* A dump that a concurrent change interrupted (NLM_F_DUMP_INTR) is redone. */
#define SCAN_TRIES 3

void sbx_net_init(struct sbx_net *n)
{
	memset(n, 0, sizeof(*n));
	for (size_t i = 0; i < SBX_NET_MAX_IFACES; i++)
		for (size_t q = 0; q < SBX_NET_MAX_QUEUES; q++)
			n->ifaces[i].fds[q] = -1;
}

void sbx_net_close_fds(struct sbx_net *n)
{
	for (size_t i = 0; i < SBX_NET_MAX_IFACES; i++)
		for (size_t q = 0; q < SBX_NET_MAX_QUEUES; q++)
			kc_closep(&n->ifaces[i].fds[q]);
}

void sbx_net_mac_str(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

/* ------------------------------------------------------------ scan */

struct scan {
	struct sbx_net *n;
	int lo;
	size_t n_links;
	struct sbx_net_iface *links; /* SCAN_MAX_LINKS */
	uint16_t type[SCAN_MAX_LINKS];
	uint16_t hwlen[SCAN_MAX_LINKS];
};

static int scan_link(const struct nlmsghdr *h, void *data, kc_err **err)
{
	struct scan *s = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[IFLA_MAX + 1];
	struct sbx_net_iface *l;
	char name[IF_NAMESIZE];
	int r;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (mnl_nlmsg_get_payload_len(h) < sizeof(*ifi))
		return kc_err_set(err, EPROTO, "short RTM_NEWLINK from the kernel");
	pn_parse(h, sizeof(*ifi), tb, IFLA_MAX);
	r = pn_get_name(tb[IFLA_IFNAME], name, err);
	if (r <= 0)
		return r < 0 ? r
			     : kc_err_set(err, EPROTO, "link %d without a name", ifi->ifi_index);
	if (ifi->ifi_flags & IFF_LOOPBACK) {
		s->lo = ifi->ifi_index;
		return 0;
	}
	if (!strncmp(name, TAP_PREFIX, strlen(TAP_PREFIX)))
		return 0;
	if (s->n_links == SCAN_MAX_LINKS)
		return kc_err_set(err, E2BIG, "more than %d network interfaces", SCAN_MAX_LINKS);
	l = &s->links[s->n_links];
	l->ifindex = ifi->ifi_index;
	memcpy(l->name, name, sizeof(name));
	l->flags = ifi->ifi_flags;
	if (pn_get_u32(tb[IFLA_MTU], "IFLA_MTU", &l->mtu, err) < 0)
		return -1;
	s->type[s->n_links] = ifi->ifi_type;
	if (tb[IFLA_ADDRESS]) {
		s->hwlen[s->n_links] = mnl_attr_get_payload_len(tb[IFLA_ADDRESS]);
		if (s->hwlen[s->n_links] == sizeof(l->mac))
			memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(l->mac));
	}
	s->n_links++;
	return 0;
}

static int scan_addr(const struct nlmsghdr *h, void *data, kc_err **err)
{
	struct scan *s = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[IFA_MAX + 1], *a;
	struct sbx_net_iface *l = NULL;
	struct sbx_net_addr *addr;
	uint8_t ip[16] = {0};
	int r;

	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (mnl_nlmsg_get_payload_len(h) < sizeof(*ifa))
		return kc_err_set(err, EPROTO, "short RTM_NEWADDR from the kernel");
	if (!pn_fam_len(ifa->ifa_family))
		return 0;
	for (size_t i = 0; i < s->n_links && !l; i++)
		if (s->links[i].ifindex == (int)ifa->ifa_index)
			l = &s->links[i];
	if (!l)
		return 0; /* lo, or one of our taps */
	pn_parse(h, sizeof(*ifa), tb, IFA_MAX);
	/* IFA_LOCAL is the v4 address itself (IFA_ADDRESS the peer's on a
	 * point-to-point link). */
	a = ifa->ifa_family == AF_INET && tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	r = pn_get_ip(a, ifa->ifa_family, ip, "IFA_ADDRESS", err);
	if (r <= 0)
		return r < 0 ? r
			     : kc_err_set(err, EPROTO, "%s: address without IFA_ADDRESS", l->name);
	if (ifa->ifa_prefixlen > 8 * pn_fam_len(ifa->ifa_family))
		return kc_err_set(err, EPROTO, "%s: address prefix /%u", l->name,
				  ifa->ifa_prefixlen);
	if (ifa->ifa_family == AF_INET6 && ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)
		return 0; /* fe80::/10: the guest makes its own */
	if (l->n_addrs == SBX_NET_MAX_ADDRS)
		return kc_err_set(err, E2BIG, "interface %s has more than %d addresses", l->name,
				  SBX_NET_MAX_ADDRS);
	addr = &l->addrs[l->n_addrs++];
	addr->family = ifa->ifa_family;
	memcpy(addr->addr, ip, sizeof(ip));
	addr->prefix = ifa->ifa_prefixlen;
	return 0;
}

static const char *route_str(const struct sbx_net_route *rt, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(rt->family, rt->dst, ip, sizeof(ip));
	snprintf(buf, size, "%s/%u", ip, rt->dst_len);
	return buf;
}

static int scan_route(const struct nlmsghdr *h, void *data, kc_err **err)
{
	struct scan *s = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[RTA_MAX + 1], *mx[RTAX_MAX + 1];
	struct sbx_net_route rt = {0};
	uint32_t table, oif = 0;
	char what[INET6_ADDRSTRLEN + 8];
	int fam, r;

	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (mnl_nlmsg_get_payload_len(h) < sizeof(*rtm))
		return kc_err_set(err, EPROTO, "short RTM_NEWROUTE from the kernel");
	fam = rtm->rtm_family;
	if (!pn_fam_len(fam))
		return 0;
	pn_parse(h, sizeof(*rtm), tb, RTA_MAX);
	table = rtm->rtm_table;
	if (pn_get_u32(tb[RTA_TABLE], "RTA_TABLE", &table, err) < 0 ||
	    pn_get_u32(tb[RTA_OIF], "RTA_OIF", &oif, err) < 0)
		return -1;
	if (table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
		return 0;
	rt.family = fam;
	if (rtm->rtm_dst_len > 8 * pn_fam_len(fam))
		return kc_err_set(err, EPROTO, "route with prefix /%u", rtm->rtm_dst_len);
	rt.dst_len = rtm->rtm_dst_len;
	if (pn_get_ip(tb[RTA_DST], fam, rt.dst, "RTA_DST", err) < 0)
		return -1;
	route_str(&rt, what, sizeof(what));
	if ((oif && (int)oif == s->lo) ||
	    (fam == AF_INET6 && rt.dst_len == 64 && !memcmp(rt.dst, "\xfe\x80\0\0\0\0\0\0", 8)))
		return 0;
	if (tb[RTA_MULTIPATH] || tb[RTA_NH_ID] || tb[RTA_VIA])
		return kc_err_set(err, ENOTSUP,
				  "route %s: multipath, nexthop-object and cross-family gateway "
				  "routes are not supported",
				  what);
	for (size_t i = 0; i < s->n->n_ifaces && !rt.dev[0]; i++)
		if (s->n->ifaces[i].ifindex == (int)oif)
			memcpy(rt.dev, s->n->ifaces[i].name, sizeof(rt.dev));
	if (!rt.dev[0])
		return 0; /* through an interface left out (our taps, unconfigured links) */
	if ((r = pn_get_ip(tb[RTA_GATEWAY], fam, rt.gw, "RTA_GATEWAY", err)) < 0)
		return r;
	rt.has_gw = r > 0;
	if ((r = pn_get_ip(tb[RTA_PREFSRC], fam, rt.src, "RTA_PREFSRC", err)) < 0)
		return r;
	rt.has_src = r > 0;
	rt.scope = rtm->rtm_scope;
	rt.flags = rtm->rtm_flags;
	if (tb[RTA_METRICS]) {
		pn_parse_nested(tb[RTA_METRICS], mx, RTAX_MAX);
		if (pn_get_u32(mx[RTAX_MTU], "RTAX_MTU", &rt.mtu, err) < 0)
			return -1;
	}
	if (s->n->n_routes == SBX_NET_MAX_ROUTES)
		return kc_err_set(err, E2BIG, "more than %d routes in the main table",
				  SBX_NET_MAX_ROUTES);
	s->n->routes[s->n->n_routes++] = rt;
	return 0;
}

/* Permanent entries only: what the kernel learns by itself, the guest learns
 * too. */
static int scan_neigh(const struct nlmsghdr *h, void *data, kc_err **err)
{
	struct scan *s = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[NDA_MAX + 1];
	const struct sbx_net_iface *l = NULL;
	struct sbx_net_neigh ne = {0};
	int r;

	if (h->nlmsg_type != RTM_NEWNEIGH)
		return 0;
	if (mnl_nlmsg_get_payload_len(h) < sizeof(*nd))
		return kc_err_set(err, EPROTO, "short RTM_NEWNEIGH from the kernel");
	if (!(nd->ndm_state & NUD_PERMANENT) || !pn_fam_len(nd->ndm_family))
		return 0;
	for (size_t i = 0; i < s->n->n_ifaces && !l; i++)
		if (s->n->ifaces[i].ifindex == nd->ndm_ifindex)
			l = &s->n->ifaces[i];
	if (!l)
		return 0;
	pn_parse(h, sizeof(*nd), tb, NDA_MAX);
	if ((r = pn_get_ip(tb[NDA_DST], nd->ndm_family, ne.ip, "NDA_DST", err)) <= 0)
		return r < 0 ? r : 0;
	if (!tb[NDA_LLADDR] || mnl_attr_get_payload_len(tb[NDA_LLADDR]) != sizeof(ne.lladdr))
		return 0; /* not an Ethernet neighbour */
	memcpy(ne.lladdr, mnl_attr_get_payload(tb[NDA_LLADDR]), sizeof(ne.lladdr));
	ne.family = nd->ndm_family;
	memcpy(ne.dev, l->name, sizeof(ne.dev));
	ne.state = nd->ndm_state;
	ne.flags = nd->ndm_flags;
	if (s->n->n_neighs == SBX_NET_MAX_NEIGHS)
		return kc_err_set(err, E2BIG, "more than %d permanent neighbours",
				  SBX_NET_MAX_NEIGHS);
	s->n->neighs[s->n->n_neighs++] = ne;
	return 0;
}

static int dump(struct pn_nl *nl, uint16_t type, pn_nl_cb cb, struct scan *s, kc_err **err)
{
	PN_MSG(buf);
	struct nlmsghdr *h = pn_msg_new(buf, type, NLM_F_DUMP);

	/* Every message type's fixed header starts with the family byte:
	 * AF_UNSPEC asks for IPv4 and IPv6 in one dump. */
	switch (type) {
	case RTM_GETLINK:
		mnl_nlmsg_put_extra_header(h, sizeof(struct ifinfomsg));
		mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
		break;
	case RTM_GETADDR:
		mnl_nlmsg_put_extra_header(h, sizeof(struct ifaddrmsg));
		break;
	case RTM_GETNEIGH:
		mnl_nlmsg_put_extra_header(h, sizeof(struct ndmsg));
		break;
	default:
		mnl_nlmsg_put_extra_header(h, sizeof(struct rtmsg));
		break;
	}
	return pn_nl_talk(nl, h, cb, s, err);
}

/* Which links go to the VM. A link that is down and has no address carries
 * nothing: left out (the fallback tunnels the kernel makes in every netns
 * when their modules are loaded, sit0, tunl0, ip6tnl0, gre0..., look like
 * that). Any other must be an Ethernet link that is up. */
static int scan_select(struct scan *s, kc_err **err)
{
	for (size_t i = 0; i < s->n_links; i++) {
		struct sbx_net_iface *l = &s->links[i];

		if (!(l->flags & IFF_UP) && !l->n_addrs)
			continue;
		if (s->type[i] != ARPHRD_ETHER || s->hwlen[i] != 6)
			return kc_err_set(err, ENOTSUP,
					  "interface %s is not Ethernet (link type %u, %u-byte "
					  "address): only Ethernet interfaces (veth) can be "
					  "carried into the VM",
					  l->name, s->type[i], s->hwlen[i]);
		if (!(l->flags & IFF_UP))
			return kc_err_set(err, ENETDOWN, "interface %s is down", l->name);
		if (s->n->n_ifaces == SBX_NET_MAX_IFACES)
			return kc_err_set(err, E2BIG, "more than %d network interfaces to carry",
					  SBX_NET_MAX_IFACES);
		s->n->ifaces[s->n->n_ifaces++] = *l;
	}
	return 0;
}

static int scan_once(struct pn_nl *nl, struct sbx_net *n, struct sbx_net_iface *links, kc_err **err)
{
	struct scan s = {.n = n, .lo = -1, .links = links};

	sbx_net_init(n);
	for (size_t i = 0; i < SCAN_MAX_LINKS; i++) {
		memset(&links[i], 0, sizeof(links[i]));
		for (size_t q = 0; q < SBX_NET_MAX_QUEUES; q++)
			links[i].fds[q] = -1;
	}
	if (dump(nl, RTM_GETLINK, scan_link, &s, err) < 0 ||
	    dump(nl, RTM_GETADDR, scan_addr, &s, err) < 0 || scan_select(&s, err) < 0 ||
	    dump(nl, RTM_GETROUTE, scan_route, &s, err) < 0 ||
	    dump(nl, RTM_GETNEIGH, scan_neigh, &s, err) < 0)
		return kc_err_retp(err);
	return 0;
}

int sbx_net_scan(const char *netns, struct sbx_net *n, kc_err **err)
{
	_cleanup_(pn_nl_closep) struct pn_nl nl = {0};
	_cleanup_free_ struct sbx_net_iface *links = NULL;
	_cleanup_err_ kc_err *e = NULL;
	int orig = -1, r;

	sbx_net_init(n);
	if (pn_ns_enter(netns, &orig, NULL, &e) < 0)
		goto fail;
	r = pn_nl_open(&nl, &e);
	pn_ns_leave(&orig);
	if (r < 0)
		goto fail;
	links = xcalloc(SCAN_MAX_LINKS, sizeof(*links));
	for (int i = 0; i < SCAN_TRIES; i++) {
		kc_err_freep(&e);
		r = scan_once(&nl, n, links, &e);
		if (r != -EAGAIN)
			break;
	}
	if (r >= 0)
		return 0;
	sbx_net_init(n);
fail:
	return kc_err_set(err, e ? e->code : 0, "pod network netns %s: %s", netns, kc_err_msg(e));
}

/* ------------------------------------------------------------ attach */

static int tap_open(struct pn_nl *nl, struct sbx_net_iface *i, unsigned queues, kc_err **err)
{
	_cleanup_err_ kc_err *e = NULL;
	struct pn_link li;
	int r;

	snprintf(i->tap, sizeof(i->tap), TAP_PREFIX "%d", i->ifindex);
	/* TUNSETIFF would attach to an existing tap of that name instead. */
	r = pn_link_get(nl, 0, i->tap, &li, &e);
	if (r == 0)
		return kc_err_set(err, EEXIST, "%s already exists", i->tap);
	if (r != -ENODEV)
		return kc_err_set(err, e->code, "%s: %s", i->tap, kc_err_msg(e));
	for (unsigned q = 0; q < queues; q++) {
		struct ifreq ifr = {0};

		i->fds[q] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (i->fds[q] < 0)
			return kc_err_sys(err, "%s: open /dev/net/tun", i->tap);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->tap);
		ifr.ifr_flags =
		    IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
		if (ioctl(i->fds[q], TUNSETIFF, &ifr) < 0)
			return kc_err_sys(err, "%s: TUNSETIFF (queue %u)", i->tap, q);
	}
	i->n_fds = queues;
	return 0;
}

static int tap_wire(struct pn_nl *nl, struct sbx_net_iface *i, bool *veth_qdisc, kc_err **err)
{
	struct pn_link li;
	int r;

	if (pn_link_get(nl, 0, i->tap, &li, err) < 0)
		return kc_err_wrap(err, "%s", i->tap);
	i->tap_ifindex = li.ifindex;
	if (pn_link_up_mtu(nl, i->tap_ifindex, i->mtu, err) < 0)
		return kc_err_wrap(err, "%s: set MTU %u and up", i->tap, i->mtu);
	r = pn_ingress_qdisc(nl, i->ifindex, true, err);
	if (r == -EEXIST)
		return kc_err_set(err, EEXIST,
				  "%s already has an ingress qdisc: something else filters or "
				  "redirects its traffic",
				  i->name);
	if (r < 0)
		return kc_err_wrap(err, "%s: add ingress qdisc", i->name);
	*veth_qdisc = true;
	if (pn_ingress_qdisc(nl, i->tap_ifindex, true, err) < 0)
		return kc_err_wrap(err, "%s: add ingress qdisc", i->tap);
	if (pn_redirect_add(nl, i->ifindex, i->tap_ifindex, err) < 0)
		return kc_err_wrap(err, "%s: add redirect to %s", i->name, i->tap);
	if (pn_redirect_add(nl, i->tap_ifindex, i->ifindex, err) < 0)
		return kc_err_wrap(err, "%s: add redirect to %s", i->tap, i->name);
	return 0;
}

int sbx_net_attach(const char *netns, struct sbx_net *n, unsigned queues, kc_err **err)
{
	_cleanup_(pn_nl_closep) struct pn_nl nl = {0};
	_cleanup_err_ kc_err *e = NULL;
	bool veth_qdisc[SBX_NET_MAX_IFACES] = {false};
	int orig = -1, r;

	if (queues < 1 || queues > SBX_NET_MAX_QUEUES)
		return kc_err_set(err, EINVAL, "pod network %s: %u tap queues (1..%d)", netns,
				  queues, SBX_NET_MAX_QUEUES);
	if (n->n_ifaces > SBX_NET_MAX_IFACES)
		return kc_err_set(err, EINVAL, "pod network %s: %zu interfaces", netns,
				  n->n_ifaces);
	for (size_t i = 0; i < n->n_ifaces; i++)
		if (n->ifaces[i].fds[0] >= 0)
			return kc_err_set(err, EBUSY, "pod network %s: %s is attached already",
					  netns, n->ifaces[i].name);
	if (pn_ns_enter(netns, &orig, NULL, &e) < 0)
		goto fail;
	/* The taps must be created from inside (a tun device is made in the
	 * netns /dev/net/tun was opened in); the rest goes over the socket. */
	r = pn_nl_open(&nl, &e);
	for (size_t i = 0; r >= 0 && i < n->n_ifaces; i++)
		r = tap_open(&nl, &n->ifaces[i], queues, &e);
	pn_ns_leave(&orig);
	for (size_t i = 0; r >= 0 && i < n->n_ifaces; i++)
		r = tap_wire(&nl, &n->ifaces[i], &veth_qdisc[i], &e);
	if (r >= 0)
		return 0;
	/* Undo: the veth's qdisc takes its filter along; the taps (and their
	 * qdiscs) go when their fds close. */
	for (size_t i = 0; i < n->n_ifaces; i++) {
		if (veth_qdisc[i])
			(void)pn_ingress_qdisc(&nl, n->ifaces[i].ifindex, false, NULL);
		n->ifaces[i].tap_ifindex = 0;
		n->ifaces[i].n_fds = 0;
		n->ifaces[i].tap[0] = '\0';
	}
	sbx_net_close_fds(n);
fail:
	return kc_err_set(err, e ? e->code : 0, "pod network netns %s: %s", netns, kc_err_msg(e));
}

/* ------------------------------------------------------------ detach */

static int gone(int r)
{
	return r == -ENOENT || r == -ENODEV || r == -EINVAL;
}

static int detach_one(struct pn_nl *nl, struct sbx_net_iface *i, kc_err **err)
{
	_cleanup_err_ kc_err *e = NULL;
	struct pn_link li;
	char tap[IF_NAMESIZE];
	int r;

	if (i->ifindex > 0 && i->name[0]) {
		r = pn_link_get(nl, i->ifindex, NULL, &li, &e);
		if (r == 0 && !strcmp(li.name, i->name))
			r = pn_ingress_qdisc(nl, i->ifindex, false, &e);
		if (r < 0 && !gone(r))
			return kc_err_set(err, e->code, "%s: remove ingress qdisc: %s", i->name,
					  kc_err_msg(e));
		kc_err_freep(&e);
	}
	if (i->tap[0])
		memcpy(tap, i->tap, sizeof(tap));
	else if (i->ifindex > 0)
		snprintf(tap, sizeof(tap), TAP_PREFIX "%d", i->ifindex);
	else
		return 0;
	/* Ours is a tap that is not persistent (it lives while a VMM holds its
	 * fds); any other device of that name is left alone. */
	r = pn_link_get(nl, 0, tap, &li, &e);
	if (r == 0 && li.tun && !li.persist)
		r = pn_link_del(nl, tap, &e);
	if (r < 0 && r != -ENODEV)
		return kc_err_set(err, e->code, "%s: delete: %s", tap, kc_err_msg(e));
	i->tap_ifindex = 0;
	return 0;
}

int sbx_net_detach(const char *netns, struct sbx_net *n, kc_err **err)
{
	_cleanup_(pn_nl_closep) struct pn_nl nl = {0};
	_cleanup_err_ kc_err *e = NULL;
	bool ns_gone = false;
	int orig = -1, r, ret = 0;

	/* The taps vanish with their last fd: closing first leaves less to do. */
	sbx_net_close_fds(n);
	if (pn_ns_enter(netns, &orig, &ns_gone, &e) < 0)
		goto fail;
	if (ns_gone)
		return 0;
	r = pn_nl_open(&nl, &e);
	pn_ns_leave(&orig);
	if (r < 0)
		goto fail;
	/* Every interface is tried; the first failure is reported. */
	for (size_t i = 0; i < n->n_ifaces && i < SBX_NET_MAX_IFACES; i++) {
		r = detach_one(&nl, &n->ifaces[i], ret < 0 ? NULL : &e);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret == 0)
		return 0;
fail:
	return kc_err_set(err, e ? e->code : 0, "pod network netns %s: %s", netns, kc_err_msg(e));
}
