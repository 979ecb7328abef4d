/* SPDX-License-Identifier: Apache-2.0 */
#include "netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define NL_MSG_MAX 1024 /* our requests: a header and a few attributes */

struct nlreq {
	struct nlmsghdr h;
	char body[NL_MSG_MAX];
};

static void nl_init(struct nlreq *r, uint16_t type, uint16_t flags, const void *fixed, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	memcpy(NLMSG_DATA(&r->h), fixed, len);
}

static void nla_put(struct nlreq *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
	/* Our attributes are a few bytes each: NL_MSG_MAX always holds them. */
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len));
}

typedef int (*nl_msg_fn)(struct nlmsghdr *h, void *ud, kc_err **err);

/* Send one request; for a dump call fn on each answer until NLMSG_DONE, else
 * wait for the ack. Errors name `what` and the kernel's errno. */
static int nl_talk(struct nlreq *r, const char *what, nl_msg_fn fn, void *ud, kc_err **err)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	static uint32_t seq;
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));

	if (fd < 0)
		return kc_err_sys(err, "%s: netlink socket", what);
	if (!fn)
		r->h.nlmsg_flags |= NLM_F_ACK;
	r->h.nlmsg_seq = ++seq;
	if (sendto(fd, &r->h, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kc_err_sys(err, "%s: netlink send", what);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kc_err_sys(err, "%s: netlink recv", what);
		}
		if (n == 0)
			return kc_err_set(err, EPROTO, "%s: netlink closed", what);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				if (e->error == 0)
					return 0;
				errno = -e->error;
				return kc_err_sys(err, "%s", what);
			}
			if (fn && fn(h, ud, err) < 0)
				return -1;
		}
	}
}

/* ------------------------------------------------------------------ links */

struct find_mac {
	const uint8_t *mac;
	int ifindex;
	char name[IF_NAMESIZE];
};

static int on_link(struct nlmsghdr *h, void *ud, kc_err **err)
{
	struct find_mac *f = ud;
	struct ifinfomsg *i = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	const uint8_t *mac = NULL;
	const char *name = NULL;
	(void)err;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6)
			mac = RTA_DATA(a);
		else if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
	}
	if (mac && !memcmp(mac, f->mac, 6) && !f->ifindex) {
		f->ifindex = i->ifi_index;
		snprintf(f->name, sizeof(f->name), "%.*s", IF_NAMESIZE - 1, name ? name : "");
	}
	return 0;
}

int kc_nl_link_by_mac(const uint8_t mac[6], int *ifindex, char name[IF_NAMESIZE], kc_err **err)
{
	struct ifinfomsg i = {.ifi_family = AF_UNSPEC};
	struct find_mac f = {.mac = mac};
	struct nlreq r;

	nl_init(&r, RTM_GETLINK, NLM_F_DUMP, &i, sizeof(i));
	if (nl_talk(&r, "list links", on_link, &f, err) < 0)
		return -1;
	if (!f.ifindex)
		return kc_err_set(err, ENODEV, "no link has MAC %02x:%02x:%02x:%02x:%02x:%02x",
				  mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	*ifindex = f.ifindex;
	memcpy(name, f.name, IF_NAMESIZE);
	return 0;
}

int kc_nl_link_set(int ifindex, unsigned flags, unsigned change, const char *newname, uint32_t mtu,
		   kc_err **err)
{
	struct ifinfomsg i = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
	struct nlreq r;
	char what[64];

	i.ifi_flags = flags;
	i.ifi_change = change;
	nl_init(&r, RTM_NEWLINK, 0, &i, sizeof(i));
	if (newname && *newname)
		nla_put(&r, IFLA_IFNAME, newname, strlen(newname) + 1);
	if (mtu)
		nla_put(&r, IFLA_MTU, &mtu, sizeof(mtu));
	snprintf(what, sizeof(what), "set link %d", ifindex);
	return nl_talk(&r, what, NULL, NULL, err);
}

int kc_nl_link_set_up(const char *ifname, bool up, kc_err **err)
{
	unsigned idx = if_nametoindex(ifname);

	if (!idx)
		return kc_err_sys(err, "link %s", ifname);
	if (kc_nl_link_set((int)idx, up ? IFF_UP : 0, IFF_UP, NULL, 0, err) < 0)
		return kc_err_wrap(err, "set link %s %s", ifname, up ? "up" : "down");
	return 0;
}

/* -------------------------------------------------------------- addresses */

#define MAX_ADDRS 256

struct addr_list {
	int ifindex;
	size_t n;
	struct {
		struct ifaddrmsg m;
		uint8_t addr[16];
	} a[MAX_ADDRS];
};

static int on_addr(struct nlmsghdr *h, void *ud, kc_err **err)
{
	struct addr_list *l = ud;
	struct ifaddrmsg *m = NLMSG_DATA(h);
	int len = (int)IFA_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWADDR || (int)m->ifa_index != l->ifindex)
		return 0;
	if (l->n == MAX_ADDRS)
		return kc_err_set(err, E2BIG, "link %d has more than %d addresses", l->ifindex,
				  MAX_ADDRS);
	for (struct rtattr *a = IFA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFA_ADDRESS && RTA_PAYLOAD(a) <= 16) {
			l->a[l->n].m = *m;
			memcpy(l->a[l->n].addr, RTA_DATA(a), RTA_PAYLOAD(a));
			l->n++;
			break;
		}
	return 0;
}

int kc_nl_addr_flush(int ifindex, kc_err **err)
{
	struct ifaddrmsg q = {.ifa_family = AF_UNSPEC};
	struct addr_list *l = xcalloc(1, sizeof(*l));
	struct nlreq r;
	int rc = 0;

	l->ifindex = ifindex;
	nl_init(&r, RTM_GETADDR, NLM_F_DUMP, &q, sizeof(q));
	if (nl_talk(&r, "list addresses", on_addr, l, err) < 0) {
		free(l);
		return -1;
	}
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		size_t alen = l->a[i].m.ifa_family == AF_INET6 ? 16 : 4;
		nl_init(&r, RTM_DELADDR, 0, &l->a[i].m, sizeof(l->a[i].m));
		nla_put(&r, IFA_LOCAL, l->a[i].addr, alen);
		nla_put(&r, IFA_ADDRESS, l->a[i].addr, alen);
		rc = nl_talk(&r, "remove an address", NULL, NULL, err);
		/* IPv6 link-local addresses may vanish with others: fine. */
		if (rc < 0 && (*err)->code == EADDRNOTAVAIL) {
			kc_err_freep(err);
			rc = 0;
		}
	}
	free(l);
	return rc;
}

int kc_nl_addr_add(int ifindex, int family, const void *addr, unsigned prefix, kc_err **err)
{
	/* No DAD for IPv6: the address was checked on the pod's link already
	 * (the veth holds it), and a tentative address would refuse the first
	 * container's connect() for a second or two. */
	struct ifaddrmsg m = {.ifa_family = (unsigned char)family,
			      .ifa_prefixlen = (unsigned char)prefix,
			      .ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0,
			      .ifa_index = (unsigned)ifindex};
	size_t alen = family == AF_INET6 ? 16 : 4;
	struct nlreq r;

	nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &m, sizeof(m));
	nla_put(&r, IFA_LOCAL, addr, alen);
	nla_put(&r, IFA_ADDRESS, addr, alen);
	return nl_talk(&r, "add an address", NULL, NULL, err);
}

/* ----------------------------------------------------------------- routes */

#define MAX_ROUTES 1024

struct route_list {
	size_t n;
	struct {
		struct rtmsg m;
		uint8_t dst[16];
		bool has_dst;
		int oif;
	} r[MAX_ROUTES];
};

static int on_route(struct nlmsghdr *h, void *ud, kc_err **err)
{
	struct route_list *l = ud;
	struct rtmsg *m = NLMSG_DATA(h);
	int len = (int)RTM_PAYLOAD(h);
	uint32_t table = m->rtm_table;

	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	for (struct rtattr *a = RTM_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
			memcpy(&table, RTA_DATA(a), 4);
	/* The main table's routes that are not the kernel's own (link routes,
	 * IPv6 link-local): those a previous UpdateRoutes added. */
	if (table != RT_TABLE_MAIN || m->rtm_protocol == RTPROT_KERNEL ||
	    m->rtm_type != RTN_UNICAST)
		return 0;
	if (l->n == MAX_ROUTES)
		return kc_err_set(err, E2BIG, "more than %d routes", MAX_ROUTES);
	l->r[l->n].m = *m;
	len = (int)RTM_PAYLOAD(h);
	for (struct rtattr *a = RTM_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) <= 16) {
			memcpy(l->r[l->n].dst, RTA_DATA(a), RTA_PAYLOAD(a));
			l->r[l->n].has_dst = true;
		} else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4) {
			memcpy(&l->r[l->n].oif, RTA_DATA(a), 4);
		}
	}
	l->n++;
	return 0;
}

int kc_nl_route_flush_main(int family, kc_err **err)
{
	struct rtmsg q = {.rtm_family = (unsigned char)family};
	struct route_list *l = xcalloc(1, sizeof(*l));
	struct nlreq r;
	int rc = 0;

	nl_init(&r, RTM_GETROUTE, NLM_F_DUMP, &q, sizeof(q));
	if (nl_talk(&r, "list routes", on_route, l, err) < 0) {
		free(l);
		return -1;
	}
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		size_t alen = family == AF_INET6 ? 16 : 4;
		nl_init(&r, RTM_DELROUTE, 0, &l->r[i].m, sizeof(l->r[i].m));
		if (l->r[i].has_dst)
			nla_put(&r, RTA_DST, l->r[i].dst, alen);
		if (l->r[i].oif)
			nla_put(&r, RTA_OIF, &l->r[i].oif, 4);
		rc = nl_talk(&r, "remove a route", NULL, NULL, err);
		if (rc < 0 && (*err)->code == ESRCH) { /* went with another one */
			kc_err_freep(err);
			rc = 0;
		}
	}
	free(l);
	return rc;
}

int kc_nl_route_add(const struct kc_nl_route *rt, kc_err **err)
{
	struct rtmsg m = {.rtm_family = (unsigned char)rt->family,
			  .rtm_dst_len = (unsigned char)rt->dst_len,
			  .rtm_table = RT_TABLE_MAIN,
			  .rtm_protocol = RTPROT_BOOT,
			  .rtm_scope = (unsigned char)rt->scope,
			  .rtm_type = RTN_UNICAST,
			  /* A gateway outside every prefix (Calico's 169.254.1.1). */
			  .rtm_flags = rt->flags & RTNH_F_ONLINK};
	size_t alen = rt->family == AF_INET6 ? 16 : 4;
	struct nlreq r;

	nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &m, sizeof(m));
	if (rt->dst_len)
		nla_put(&r, RTA_DST, rt->dst, alen);
	if (rt->has_gw)
		nla_put(&r, RTA_GATEWAY, rt->gw, alen);
	if (rt->has_src)
		nla_put(&r, RTA_PREFSRC, rt->src, alen);
	if (rt->oif)
		nla_put(&r, RTA_OIF, &rt->oif, 4);
	if (rt->mtu) {
		/* RTA_METRICS nests RTAX_MTU. */
		struct {
			struct rtattr a;
			uint32_t v;
		} mx = {{.rta_len = RTA_LENGTH(4), .rta_type = RTAX_MTU}, rt->mtu};
		nla_put(&r, RTA_METRICS, &mx, sizeof(mx));
	}
	return nl_talk(&r, "add a route", NULL, NULL, err);
}

int kc_nl_neigh_add(int ifindex, int family, const void *ip, const uint8_t lladdr[6],
		    uint16_t state, uint8_t flags, kc_err **err)
{
	struct ndmsg m = {.ndm_family = (unsigned char)family,
			  .ndm_ifindex = ifindex,
			  .ndm_state = state,
			  .ndm_flags = flags};
	struct nlreq r;

	nl_init(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &m, sizeof(m));
	nla_put(&r, NDA_DST, ip, family == AF_INET6 ? 16 : 4);
	nla_put(&r, NDA_LLADDR, lladdr, 6);
	return nl_talk(&r, "add a neighbour", NULL, NULL, err);
}
