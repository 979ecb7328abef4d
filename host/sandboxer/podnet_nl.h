/* SPDX-License-Identifier: Apache-2.0 */
/* The rtnetlink calls of podnet.c (libmnl), and entering a netns. */
#ifndef SBX_PODNET_NL_H
#define SBX_PODNET_NL_H

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Our requests are a few fixed attributes (the u32 filter, the largest, is
 * under 200 bytes). */
#define PN_MSGBUF    512
#define PN_MSG(name) char name[PN_MSGBUF] __attribute__((aligned(NLMSG_ALIGNTO)))

/* One NETLINK_ROUTE socket; it stays in the netns it was opened in. */
struct pn_nl {
	struct mnl_socket *sk;
	uint32_t portid, seq;
	char *buf;
};

/* Sees each reply message that is not the ack / end of dump. */
typedef int (*pn_nl_cb)(const struct nlmsghdr *h, void *data, kc_err **err);

struct pn_link {
	int ifindex;
	char name[IF_NAMESIZE];
	bool tun;     /* a tun/tap device (IFLA_INFO_KIND "tun") */
	bool persist; /* ... made persistent (TUNSETPERSIST): never one of ours */
};

/* Enter the netns at path, the current one kept in *orig (an fd). With
 * `gone`, a path that no longer names a netns (removed, or nothing mounted
 * there) sets *gone instead of failing. pn_ns_leave always gets back (or
 * aborts: the daemon cannot go on in a pod's netns). */
int pn_ns_enter(const char *path, int *orig, bool *gone, kc_err **err);
void pn_ns_leave(int *orig);

int pn_nl_open(struct pn_nl *nl, kc_err **err);
void pn_nl_closep(struct pn_nl *nl);
/* Send req (NLM_F_REQUEST and, unless a dump, NLM_F_ACK added) and read
 * every reply up to its ack or NLMSG_DONE. Errors: -errno, the message
 * strerror plus the kernel's extack text; -EAGAIN for an interrupted dump. */
int pn_nl_talk(struct pn_nl *nl, struct nlmsghdr *req, pn_nl_cb cb, void *data, kc_err **err);
/* A request header in buf (PN_MSGBUF bytes). */
struct nlmsghdr *pn_msg_new(char *buf, uint16_t type, uint16_t flags);

/* Attributes after the fixed header `hdr`, indexed by type (0..max). */
void pn_parse(const struct nlmsghdr *h, size_t hdr, const struct nlattr **a, unsigned max);
void pn_parse_nested(const struct nlattr *n, const struct nlattr **a, unsigned max);
/* 1 and the value, 0 if absent, < 0 if malformed. */
int pn_get_u32(const struct nlattr *a, const char *what, uint32_t *v, kc_err **err);
int pn_get_name(const struct nlattr *a, char name[IF_NAMESIZE], kc_err **err);
int pn_get_ip(const struct nlattr *a, int family, uint8_t out[16], const char *what, kc_err **err);
/* Address length of AF_INET / AF_INET6, 0 for any other family. */
size_t pn_fam_len(int family);

/* The link with this index (or, for 0, this name); -ENODEV if none. */
int pn_link_get(struct pn_nl *nl, int ifindex, const char *name, struct pn_link *li, kc_err **err);
int pn_link_up_mtu(struct pn_nl *nl, int ifindex, uint32_t mtu, kc_err **err);
int pn_link_del(struct pn_nl *nl, const char *name, kc_err **err);
int pn_ingress_qdisc(struct pn_nl *nl, int ifindex, bool add, kc_err **err);
int pn_redirect_add(struct pn_nl *nl, int from, int to, kc_err **err);

#endif
