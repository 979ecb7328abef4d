/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rtnetlink for the pod network (podnet_nl.h): one request in flight at a
 * time, every reply checked against its sequence number and our port id,
 * every attribute's length checked before use.
 */
#include "podnet_nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>

#include "util.h"

/* Receive buffer: the kernel batches dump messages into up to 32 KiB. */
#define NL_RCVBUF 32768
#define TC_PRIO   1
#define INGRESS_H 0xffff0000U /* "ffff:", the ingress qdisc's handle */

/* ------------------------------------------------------------ netns */

/* Enter the netns at path, the current one kept in *orig. With `gone`, a
 * path that no longer names a netns (removed, or nothing mounted there) sets
 * *gone instead of failing. */
int pn_ns_enter(const char *path, int *orig, bool *gone, kc_err **err)
{
	_cleanup_close_ int fd = -1;
	struct statfs sf;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && gone) {
		*gone = true;
		return 0;
	}
	if (fd < 0)
		return kc_err_sys(err, "open");
	if (fstatfs(fd, &sf) < 0)
		return kc_err_sys(err, "fstatfs");
	if (sf.f_type != NSFS_MAGIC) {
		if (gone) {
			*gone = true;
			return 0;
		}
		return kc_err_set(err, EINVAL, "not a namespace (nothing mounted there)");
	}
	*orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*orig < 0)
		return kc_err_sys(err, "open /proc/thread-self/ns/net");
	if (setns(fd, CLONE_NEWNET) < 0) {
		kc_err_sys(err, "setns");
		kc_closep(orig);
		return kc_err_retp(err);
	}
	return 0;
}

void pn_ns_leave(int *orig)
{
	if (*orig < 0)
		return;
	if (setns(*orig, CLONE_NEWNET) < 0) {
		/* Going on would open every later socket of the daemon in the pod's
		 * netns: there is no safe way to continue. */
		fprintf(stderr, "podnet: cannot return to the daemon's netns: %s\n",
			strerror(errno));
		abort();
	}
	kc_closep(orig);
}

/* ------------------------------------------------------------ netlink */

int pn_nl_open(struct pn_nl *nl, kc_err **err)
{
	int one = 1;

	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk)
		return kc_err_sys(err, "netlink socket");
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		return kc_err_sys(err, "netlink bind");
	/* The kernel's reason for a refusal, and acks without our request
	 * echoed back; kernels without them still work, with less said. */
	(void)mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->buf = xmalloc(NL_RCVBUF);
	return 0;
}

void pn_nl_closep(struct pn_nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
	kc_freep(&nl->buf);
}

struct tb {
	const struct nlattr **a;
	unsigned max;
};

static int tb_cb(const struct nlattr *a, void *data)
{
	struct tb *t = data;
	unsigned type = mnl_attr_get_type(a);

	if (type <= t->max)
		t->a[type] = a;
	return MNL_CB_OK;
}

/* The attributes after a message's fixed header, by type (the last of a
 * type wins; mnl stops at the first whose length overruns the message). */
void pn_parse(const struct nlmsghdr *h, size_t hdr, const struct nlattr **a, unsigned max)
{
	struct tb t = {a, max};

	memset(a, 0, sizeof(*a) * (max + 1));
	mnl_attr_parse(h, hdr, tb_cb, &t);
}

void pn_parse_nested(const struct nlattr *n, const struct nlattr **a, unsigned max)
{
	struct tb t = {a, max};

	memset(a, 0, sizeof(*a) * (max + 1));
	mnl_attr_parse_nested(n, tb_cb, &t);
}

static int bad_attr(const char *what, const struct nlattr *a, kc_err **err)
{
	return kc_err_set(err, EPROTO, "malformed %s from the kernel (%u bytes)", what,
			  (unsigned)mnl_attr_get_payload_len(a));
}

/* 1 and the value, 0 if absent, < 0 if malformed. */
int pn_get_u32(const struct nlattr *a, const char *what, uint32_t *v, kc_err **err)
{
	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return bad_attr(what, a, err);
	*v = mnl_attr_get_u32(a);
	return 1;
}

int pn_get_name(const struct nlattr *a, char name[IF_NAMESIZE], kc_err **err)
{
	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 ||
	    mnl_attr_get_payload_len(a) > IF_NAMESIZE)
		return bad_attr("interface name", a, err);
	snprintf(name, IF_NAMESIZE, "%s", mnl_attr_get_str(a));
	return 1;
}

size_t pn_fam_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int pn_get_ip(const struct nlattr *a, int family, uint8_t out[16], const char *what, kc_err **err)
{
	if (!a)
		return 0;
	if (mnl_attr_get_payload_len(a) != pn_fam_len(family))
		return bad_attr(what, a, err);
	memcpy(out, mnl_attr_get_payload(a), pn_fam_len(family));
	return 1;
}

struct extack {
	const char *msg;
};

static int extack_cb(const struct nlattr *a, void *data)
{
	struct extack *x = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		x->msg = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

/* An NLMSG_ERROR (or a dump's NLMSG_DONE): 0 for an ack, else -errno with
 * strerror and the kernel's own message when it sent one. */
static int nl_status(const struct nlmsghdr *h, kc_err **err)
{
	const char *p = mnl_nlmsg_get_payload(h);
	size_t len = mnl_nlmsg_get_payload_len(h), off;
	struct extack x = {NULL};
	int code;

	if (len < sizeof(int))
		return h->nlmsg_type == NLMSG_DONE ? 0
						   : kc_err_set(err, EPROTO, "short netlink ack");
	memcpy(&code, p, sizeof(code));
	if (code == 0)
		return 0;
	code = code < 0 && code > -4096 ? -code : EPROTO;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = (const void *)p;

		if (len < sizeof(*e))
			return kc_err_set(err, code, "%s", strerror(code));
		off = sizeof(*e);
		/* Without NLM_F_CAPPED our request's payload is echoed first. */
		if (!(h->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
			off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	} else {
		off = sizeof(int);
	}
	if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && off < len)
		mnl_attr_parse_payload(p + off, len - off, extack_cb, &x);
	return kc_err_set(err, code, "%s%s%s", strerror(code), x.msg ? ": " : "",
			  x.msg ? x.msg : "");
}

/* Send one request and read every reply up to its ack (NLMSG_ERROR) or,
 * for a dump, its NLMSG_DONE; cb sees the other messages. After a failure
 * the rest is still read, so the socket stays in step. */
int pn_nl_talk(struct pn_nl *nl, struct nlmsghdr *req, pn_nl_cb cb, void *data, kc_err **err)
{
	bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP, done = false, intr = false;
	int ret = 0;

	req->nlmsg_flags |= NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK);
	req->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, req, req->nlmsg_len) != (ssize_t)req->nlmsg_len)
		return kc_err_sys(err, "netlink send");
	while (!done) {
		ssize_t got = mnl_socket_recvfrom(nl->sk, nl->buf, NL_RCVBUF);
		const struct nlmsghdr *h = (const void *)nl->buf;
		int left = (int)got;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return kc_err_sys(err, "netlink receive");
		for (; !done && mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			int r = 0;

			if (h->nlmsg_seq != req->nlmsg_seq || h->nlmsg_pid != nl->portid)
				return kc_err_set(
				    err, EPROTO, "netlink: reply for seq %u port %u, not %u/%u",
				    h->nlmsg_seq, h->nlmsg_pid, req->nlmsg_seq, nl->portid);
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) {
				done = true;
				r = nl_status(h, ret < 0 ? NULL : err);
			} else if (h->nlmsg_type >= NLMSG_MIN_TYPE && cb && ret == 0) {
				r = cb(h, data, err);
			}
			if (r < 0 && ret == 0)
				ret = r;
		}
		if (!done && left != 0)
			return kc_err_set(err, EPROTO, "netlink: truncated message");
	}
	if (ret == 0 && intr)
		return kc_err_set(err, EAGAIN, "netlink dump interrupted by a concurrent change");
	return ret;
}

struct nlmsghdr *pn_msg_new(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	return h;
}

/* ------------------------------------------------------------ links, tc */

static int link_cb(const struct nlmsghdr *h, void *data, kc_err **err)
{
	struct pn_link *li = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1], *tun[IFLA_TUN_MAX + 1];

	if (h->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(h) < sizeof(*ifi))
		return kc_err_set(err, EPROTO, "malformed RTM_GETLINK reply");
	pn_parse(h, sizeof(*ifi), tb, IFLA_MAX);
	li->ifindex = ifi->ifi_index;
	if (pn_get_name(tb[IFLA_IFNAME], li->name, err) < 0)
		return -1;
	if (!tb[IFLA_LINKINFO])
		return 0;
	pn_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
	li->tun = info[IFLA_INFO_KIND] &&
		  mnl_attr_validate(info[IFLA_INFO_KIND], MNL_TYPE_NUL_STRING) == 0 &&
		  !strcmp(mnl_attr_get_str(info[IFLA_INFO_KIND]), "tun");
	if (!li->tun || !info[IFLA_INFO_DATA])
		return 0;
	pn_parse_nested(info[IFLA_INFO_DATA], tun, IFLA_TUN_MAX);
	if (tun[IFLA_TUN_PERSIST] && mnl_attr_validate(tun[IFLA_TUN_PERSIST], MNL_TYPE_U8) < 0)
		return kc_err_set(err, EPROTO, "malformed IFLA_TUN_PERSIST from the kernel");
	li->persist = tun[IFLA_TUN_PERSIST] && mnl_attr_get_u8(tun[IFLA_TUN_PERSIST]);
	return 0;
}

/* The link with this index (or, for 0, this name); -ENODEV if none. */
int pn_link_get(struct pn_nl *nl, int ifindex, const char *name, struct pn_link *li, kc_err **err)
{
	PN_MSG(buf);
	struct nlmsghdr *h = pn_msg_new(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_index = ifindex;
	if (!ifindex)
		mnl_attr_put_strz(h, IFLA_IFNAME, name);
	mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	memset(li, 0, sizeof(*li));
	return pn_nl_talk(nl, h, link_cb, li, err);
}

int pn_link_up_mtu(struct pn_nl *nl, int ifindex, uint32_t mtu, kc_err **err)
{
	PN_MSG(buf);
	struct nlmsghdr *h = pn_msg_new(buf, RTM_SETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(h, IFLA_MTU, mtu);
	return pn_nl_talk(nl, h, NULL, NULL, err);
}

int pn_link_del(struct pn_nl *nl, const char *name, kc_err **err)
{
	PN_MSG(buf);
	struct nlmsghdr *h = pn_msg_new(buf, RTM_DELLINK, 0);

	mnl_nlmsg_put_extra_header(h, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	return pn_nl_talk(nl, h, NULL, NULL, err);
}

/* Add (exclusively) or delete the ingress qdisc of a link. The kind is sent
 * with the delete too: the kernel then refuses to remove another qdisc in
 * the ingress slot (clsact) with EINVAL. */
int pn_ingress_qdisc(struct pn_nl *nl, int ifindex, bool add, kc_err **err)
{
	PN_MSG(buf);
	struct nlmsghdr *h =
	    pn_msg_new(buf, add ? RTM_NEWQDISC : RTM_DELQDISC, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct tcmsg *t = mnl_nlmsg_put_extra_header(h, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_handle = INGRESS_H;
	t->tcm_parent = TC_H_INGRESS;
	mnl_attr_put_strz(h, TCA_KIND, "ingress");
	return pn_nl_talk(nl, h, NULL, NULL, err);
}

/* On `from`'s ingress: u32 matching every frame (one key, mask 0), action
 * mirred egress redirect to `to`, the frame stolen. */
int pn_redirect_add(struct pn_nl *nl, int from, int to, kc_err **err)
{
	PN_MSG(buf);
	char sel[sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)];
	struct nlmsghdr *h = pn_msg_new(buf, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
	struct tcmsg *t = mnl_nlmsg_put_extra_header(h, sizeof(*t));
	struct tc_u32_sel s = {.flags = TC_U32_TERMINAL, .nkeys = 1};
	struct tc_u32_key key = {.mask = 0, .val = 0, .off = 0};
	struct tc_mirred m = {.action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR};
	struct nlattr *opts, *acts, *act, *aopts;

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = from;
	t->tcm_parent = INGRESS_H;
	t->tcm_info = TC_H_MAKE((uint32_t)TC_PRIO << 16, htons(ETH_P_ALL));
	mnl_attr_put_strz(h, TCA_KIND, "u32");
	opts = mnl_attr_nest_start(h, TCA_OPTIONS);
	memcpy(sel, &s, sizeof(s));
	memcpy(sel + sizeof(s), &key, sizeof(key));
	mnl_attr_put(h, TCA_U32_SEL, sizeof(sel), sel);
	acts = mnl_attr_nest_start(h, TCA_U32_ACT);
	act = mnl_attr_nest_start(h, 1); /* the first action of the list */
	mnl_attr_put_strz(h, TCA_ACT_KIND, "mirred");
	aopts = mnl_attr_nest_start(h, TCA_ACT_OPTIONS);
	m.ifindex = (uint32_t)to;
	mnl_attr_put(h, TCA_MIRRED_PARMS, sizeof(m), &m);
	mnl_attr_nest_end(h, aopts);
	mnl_attr_nest_end(h, act);
	mnl_attr_nest_end(h, acts);
	mnl_attr_nest_end(h, opts);
	return pn_nl_talk(nl, h, NULL, NULL, err);
}
