/* SPDX-License-Identifier: Apache-2.0 */
#include "netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* Send one request and wait for its ack (NLMSG_ERROR with error 0). */
static int nl_request(struct nlmsghdr *req, const char *what, kc_err **err)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	char buf[8192];
	static uint32_t seq;

	if (fd < 0)
		return kc_err_sys(err, "%s: netlink socket", what);
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = ++seq;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kc_err_sys(err, "%s: netlink send", what);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kc_err_sys(err, "%s: netlink recv", what);
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != req->nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				if (e->error == 0)
					return 0;
				errno = -e->error;
				return kc_err_sys(err, "%s", what);
			}
		}
	}
}

int kc_nl_link_set_up(const char *ifname, bool up, kc_err **err)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {0};
	unsigned idx = if_nametoindex(ifname);

	if (!idx)
		return kc_err_sys(err, "link %s", ifname);
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.i));
	req.h.nlmsg_type = RTM_NEWLINK;
	req.i.ifi_family = AF_UNSPEC;
	req.i.ifi_index = (int)idx;
	req.i.ifi_flags = up ? IFF_UP : 0;
	req.i.ifi_change = IFF_UP;
	return nl_request(&req.h, up ? "set link up" : "set link down", err);
}
