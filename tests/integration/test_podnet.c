/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandboxer's pod network (host/sandboxer/podnet.c) against real network
 * namespaces the test makes with iproute2: a "pod" netns holding a veth as
 * CNI leaves it, its peer in a second netns standing for the node. The scan
 * is compared with what was configured, attach is read back with `tc` and
 * proven with frames: the peer's ARP request and UDP datagram come out of
 * the tap fd, and the answers written to the tap fd reach the peer's socket.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podnet.h"
#include "podnet_nl.h"
#include "testutil.h"
#include "util.h"

#define POD_MAC   "02:00:5e:10:00:02"
#define PEER_MAC  "02:00:5e:10:00:01"
#define POD_IP    "10.77.0.2"
#define PEER_IP   "10.77.0.1"
#define UDP_PORT  7777
#define VNET_HDR  10 /* struct virtio_net_hdr, the tap's default TUNSETVNETHDRSZ */
#define NS_PREFIX "kcpn-"

static char pod[64], peer[64], other[64], pod_path[128];

static ino_t netns_ino(void)
{
	struct stat st;

	cr_assert_eq(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static void setup(void)
{
	if (!tu_is_root())
		cr_skip_test("skipped: needs root (network namespaces, taps)");
	if (access("/dev/net/tun", R_OK | W_OK) < 0)
		cr_skip_test("skipped: no /dev/net/tun");
	if (system("command -v ip >/dev/null && command -v tc >/dev/null") != 0)
		cr_skip_test("skipped: iproute2 (ip, tc) is not installed");
	/* Namespaces left by a test process that died before its teardown. */
	tu_sh("for f in /var/run/netns/" NS_PREFIX "*; do [ -e \"$f\" ] || continue; "
	      "p=${f##*/" NS_PREFIX "}; p=${p%%%%-*}; kill -0 \"$p\" 2>/dev/null || "
	      "ip netns del \"${f##*/}\"; done");
	snprintf(pod, sizeof(pod), NS_PREFIX "%d-pod", getpid());
	snprintf(peer, sizeof(peer), NS_PREFIX "%d-peer", getpid());
	snprintf(other, sizeof(other), NS_PREFIX "%d-other", getpid());
	snprintf(pod_path, sizeof(pod_path), "/var/run/netns/%s", pod);
	if (tu_sh("ip netns add %s && ip netns add %s", pod, peer) != 0)
		cr_skip_test("skipped: cannot create network namespaces (ip netns add)");
	if (tu_sh("ip netns exec %s sh -c 'tc qdisc add dev lo ingress && tc filter add dev lo "
		  "parent "
		  "ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev lo && "
		  "tc qdisc del dev lo ingress' >/dev/null 2>&1",
		  pod) != 0)
		cr_skip_test("skipped: the kernel lacks the ingress qdisc, u32 or mirred");
	/* The pod's side as a CNI plugin leaves it, and an unconfigured link
	 * (down, no address: like the kernel's fallback tunnels) to leave out. */
	cr_assert_eq(tu_sh("set -e; ip -n %1$s link add eth0 type veth peer name peer0 netns %2$s; "
			   "ip -n %1$s link set lo up; "
			   "ip -n %1$s link set eth0 address " POD_MAC " mtu 1400 up; "
			   "ip -n %1$s addr add " POD_IP "/24 dev eth0; "
			   "ip -n %1$s addr add fd77::2/64 dev eth0 nodad; "
			   "ip -n %1$s route add default via " PEER_IP "; "
			   "ip -n %1$s -6 route add default via fd77::1; "
			   "ip -n %1$s route add 10.99.0.0/16 via " PEER_IP " mtu 1300; "
			   /* Routes the scan leaves out: via lo, another table, not unicast. */
			   "ip -n %1$s route add 10.66.0.0/16 dev lo; "
			   "ip -n %1$s route add 10.55.0.0/16 via " PEER_IP " table 100; "
			   "ip -n %1$s route add blackhole 10.44.0.0/16; "
			   "ip -n %1$s tuntap add mode tun name kcidle; "
			   "ip -n %2$s link set lo up; "
			   "ip -n %2$s link set peer0 address " PEER_MAC " mtu 1400 up; "
			   "ip -n %2$s addr add " PEER_IP "/24 dev peer0",
			   pod, peer),
		     0, "setting up the namespaces");
}

static void teardown(void)
{
	if (pod[0])
		tu_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
		      "ip netns del %s 2>/dev/null; true",
		      pod, peer, other);
}

TestSuite(podnet, .init = setup, .fini = teardown, .timeout = 60);

static void scan(struct sbx_net *n)
{
	kc_err *e = NULL;

	cr_assert_eq(sbx_net_scan(pod_path, n, &e), 0, "scan: %s", kc_err_msg(e));
	cr_assert_eq(n->n_ifaces, 1, "interfaces: %zu", n->n_ifaces);
}

static void fmt_route(const struct sbx_net_route *r, char *buf, size_t size)
{
	char dst[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN], src[INET6_ADDRSTRLEN];
	int len;

	inet_ntop(r->family, r->dst, dst, sizeof(dst));
	inet_ntop(r->family, r->gw, gw, sizeof(gw));
	inet_ntop(r->family, r->src, src, sizeof(src));
	len = r->dst_len ? snprintf(buf, size, "%s/%u", dst, r->dst_len)
			 : snprintf(buf, size, "default");
	if (r->has_gw)
		len += snprintf(buf + len, size - len, " via %s", gw);
	len += snprintf(buf + len, size - len, " dev %s", r->dev);
	if (r->has_src)
		len += snprintf(buf + len, size - len, " src %s", src);
	if (r->scope)
		len += snprintf(buf + len, size - len, " scope %u", r->scope);
	if (r->mtu)
		snprintf(buf + len, size - len, " mtu %u", r->mtu);
}

Test(podnet, scan_reads_the_interface_addresses_and_routes)
{
	_cleanup_free_ char *v6 = tu_sh_out("ip -n %s -6 addr show dev eth0", pod);
	_cleanup_free_ char *link = tu_sh_out("ip -n %s -o link show dev eth0", pod);
	_cleanup_free_ char *r4 = tu_sh_out("ip -n %s route", pod);
	_cleanup_free_ char *r6 = tu_sh_out("ip -n %s -6 route", pod);
	_cleanup_free_ char *addrs = xcalloc(1, 1024);
	static const char *const want[] = {
	    "default via " PEER_IP " dev eth0",
	    "10.77.0.0/24 dev eth0 src " POD_IP " scope 253",
	    "10.99.0.0/16 via " PEER_IP " dev eth0 mtu 1300",
	    "fd77::/64 dev eth0",
	    "default via fd77::1 dev eth0",
	};
	struct sbx_net n;
	struct sbx_net_iface *i = &n.ifaces[0];
	int fds = tu_count_fds();
	ino_t ns = netns_ino();
	char mac[18], route[256];

	/* What must be left out is there to leave out. */
	cr_assert(strstr(v6, "inet6 fe80::"), "eth0 has no link-local address: %s", v6);
	cr_assert(strstr(r4, "10.66.0.0/16 dev lo"), "no route via lo: %s", r4);
	cr_assert(strstr(r6, "fe80::/64 dev eth0"), "no fe80::/64 route: %s", r6);
	scan(&n);
	cr_assert_str_eq(i->name, "eth0");
	cr_assert_eq(i->ifindex, atoi(link), "ifindex %d, ip says %s", i->ifindex, link);
	sbx_net_mac_str(i->mac, mac);
	cr_assert_str_eq(mac, POD_MAC);
	cr_assert_eq(i->mtu, 1400);
	cr_assert(i->flags & IFF_UP);
	cr_assert_eq(i->fds[0], -1);
	for (size_t k = 0; k < i->n_addrs; k++) {
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(i->addrs[k].family, i->addrs[k].addr, ip, sizeof(ip));
		snprintf(addrs + strlen(addrs), 1024 - strlen(addrs), "%s/%u ", ip,
			 i->addrs[k].prefix);
	}
	cr_assert_str_eq(addrs, POD_IP "/24 fd77::2/64 ", "addresses: %s", addrs);
	cr_assert_eq(n.n_routes, KC_ARRAY_SIZE(want), "%zu routes", n.n_routes);
	for (size_t w = 0; w < KC_ARRAY_SIZE(want); w++) {
		size_t found = 0;

		for (size_t k = 0; k < n.n_routes; k++) {
			fmt_route(&n.routes[k], route, sizeof(route));
			found += !strcmp(route, want[w]);
		}
		cr_assert_eq(found, 1, "route \"%s\" found %zu times", want[w], found);
	}
	cr_assert_eq(tu_count_fds(), fds, "fds leaked");
	cr_assert_eq(netns_ino(), ns, "left in another netns");
}

/* Permanent neighbours are carried; learnt (dynamic) ones are not. */
Test(podnet, scan_reads_permanent_neighbours)
{
	struct sbx_net n;
	char ip[INET6_ADDRSTRLEN], mac[18];

	cr_assert_eq(
	    tu_sh("set -e; ip -n %1$s neigh add 10.77.0.50 lladdr 02:00:00:00:00:50 dev eth0 "
		  "nud permanent; ip -n %1$s neigh add fd77::50 lladdr 02:00:00:00:00:51 "
		  "dev eth0 nud permanent; ip -n %1$s neigh add 10.77.0.51 lladdr "
		  "02:00:00:00:00:52 dev eth0 nud stale",
		  pod),
	    0);
	scan(&n);
	cr_assert_eq(n.n_neighs, 2, "%zu neighbours", n.n_neighs);
	for (size_t k = 0; k < 2; k++) {
		const struct sbx_net_neigh *ne = &n.neighs[k];
		inet_ntop(ne->family, ne->ip, ip, sizeof(ip));
		sbx_net_mac_str(ne->lladdr, mac);
		cr_assert_str_eq(ne->dev, "eth0");
		cr_assert(ne->state & NUD_PERMANENT);
		cr_assert((!strcmp(ip, "10.77.0.50") && !strcmp(mac, "02:00:00:00:00:50")) ||
			      (!strcmp(ip, "fd77::50") && !strcmp(mac, "02:00:00:00:00:51")),
			  "%s %s", ip, mac);
	}
}

/* ------------------------------------------------------------ frames */

static void parse_mac(const char *s, uint8_t mac[6])
{
	cr_assert_eq(sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
			    &mac[4], &mac[5]),
		     6);
}

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t k = 0; k + 1 < len; k += 2)
		sum += (uint32_t)p[k] << 8 | p[k + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A frame written to the tap as the guest would: virtio_net_hdr (zero: no
 * offloads) first. */
static void tap_write(int fd, const uint8_t *frame, size_t len)
{
	uint8_t buf[VNET_HDR + 1514] = {0};

	cr_assert_leq(len, sizeof(buf) - VNET_HDR);
	memcpy(buf + VNET_HDR, frame, len);
	cr_assert_eq(write(fd, buf, VNET_HDR + len), (ssize_t)(VNET_HDR + len), "tap write: %s",
		     strerror(errno));
}

/* Our ARP reply: POD_IP is at POD_MAC. */
static void answer_arp(int fd, const uint8_t *pod_mac, const uint8_t *peer_mac)
{
	uint8_t f[42] = {0};

	memcpy(f, peer_mac, 6);
	memcpy(f + 6, pod_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);      /* Ethernet */
	put16(f + 16, 0x0800); /* IPv4 */
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 2); /* reply */
	memcpy(f + 22, pod_mac, 6);
	inet_pton(AF_INET, POD_IP, f + 28);
	memcpy(f + 32, peer_mac, 6);
	inet_pton(AF_INET, PEER_IP, f + 38);
	tap_write(fd, f, sizeof(f));
}

static void answer_udp(int fd, const uint8_t *pod_mac, const uint8_t *peer_mac, uint16_t dport)
{
	static const char msg[] = "kc-podnet-pong";
	uint8_t f[14 + 20 + 8 + sizeof(msg)] = {0}, *ip = f + 14, *udp = ip + 20;

	memcpy(f, peer_mac, 6);
	memcpy(f + 6, pod_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + sizeof(msg));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	inet_pton(AF_INET, POD_IP, ip + 12);
	inet_pton(AF_INET, PEER_IP, ip + 16);
	put16(ip + 10, ip_csum(ip, 20));
	put16(udp, UDP_PORT);
	put16(udp + 2, dport);
	put16(udp + 4, 8 + sizeof(msg)); /* checksum 0: none (IPv4) */
	memcpy(udp + 8, msg, sizeof(msg));
	tap_write(fd, f, sizeof(f));
}

/* A UDP socket in the peer's netns, bound to PEER_IP. */
static int peer_socket(uint16_t *port)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *path = xasprintf("/var/run/netns/%s", peer);
	_cleanup_close_ int ns = open(path, O_RDONLY | O_CLOEXEC);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd;

	cr_assert(self >= 0 && ns >= 0);
	cr_assert_eq(setns(ns, CLONE_NEWNET), 0, "setns: %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	cr_assert(fd >= 0);
	inet_pton(AF_INET, PEER_IP, &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* The peer sends a datagram to the pod's address. Its ARP request and then
 * the datagram must come out of the tap (any queue), from the peer's MAC;
 * our answers written to the tap must reach the peer's socket. */
static void check_traffic(const struct sbx_net_iface *i)
{
	static const char ping[] = "kc-podnet-ping";
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(UDP_PORT)};
	uint8_t pod_mac[6], peer_mac[6], buf[VNET_HDR + 2048];
	struct pollfd pfd[SBX_NET_MAX_QUEUES + 1];
	uint64_t deadline = kc_now_ns() + 10 * KC_NSEC_PER_SEC;
	bool saw_arp = false, saw_udp = false;
	uint16_t port;
	_cleanup_close_ int s = peer_socket(&port);
	ssize_t n;

	parse_mac(POD_MAC, pod_mac);
	parse_mac(PEER_MAC, peer_mac);
	inet_pton(AF_INET, POD_IP, &to.sin_addr);
	cr_assert_eq(sendto(s, ping, sizeof(ping), 0, (struct sockaddr *)&to, sizeof(to)),
		     (ssize_t)sizeof(ping), "sendto: %s", strerror(errno));
	for (size_t q = 0; q < i->n_fds; q++)
		pfd[q] = (struct pollfd){.fd = i->fds[q], .events = POLLIN};
	while (!saw_udp && kc_now_ns() < deadline) {
		const uint8_t *f = buf + VNET_HDR, *ip = f + 14;
		int ms = (int)((deadline - kc_now_ns()) / KC_NSEC_PER_MSEC) + 1;

		cr_assert_geq(poll(pfd, i->n_fds, ms), 0);
		for (size_t q = 0; q < i->n_fds && !saw_udp; q++) {
			if (!(pfd[q].revents & POLLIN))
				continue;
			n = read(pfd[q].fd, buf, sizeof(buf)) - VNET_HDR;
			if (n < 14 || memcmp(f + 6, peer_mac, 6))
				continue; /* not from the peer */
			if (get16(f + 12) == 0x0806 && n >= 42 && get16(f + 20) == 1 &&
			    !memcmp(f + 38, "\x0a\x4d\x00\x02", 4)) {
				saw_arp = true;
				answer_arp(i->fds[0], pod_mac, peer_mac);
			} else if (get16(f + 12) == 0x0800 && n >= 14 + 20 + 8 && ip[9] == 17 &&
				   get16(ip + 20 + 2) == UDP_PORT) {
				cr_assert(saw_arp, "the datagram came before any ARP request");
				cr_assert_eq(n, 14 + 20 + 8 + (ssize_t)sizeof(ping));
				cr_assert_eq(memcmp(ip + 28, ping, sizeof(ping)), 0);
				saw_udp = true;
			}
		}
	}
	cr_assert(saw_arp, "no ARP request from the peer came out of %s", i->tap);
	cr_assert(saw_udp, "the peer's datagram did not come out of %s", i->tap);
	answer_udp(i->fds[i->n_fds - 1], pod_mac, peer_mac, port);
	pfd[0] = (struct pollfd){.fd = s, .events = POLLIN};
	cr_assert_eq(poll(pfd, 1, 5000), 1, "the answer written to %s did not reach the peer",
		     i->tap);
	n = recv(s, buf, sizeof(buf), 0);
	cr_assert_eq(n, (ssize_t)sizeof("kc-podnet-pong"));
	cr_assert_str_eq((char *)buf, "kc-podnet-pong");
}

/* ------------------------------------------------------------ attach */

static bool tap_exists(const char *tap)
{
	return tu_sh("ip -n %s link show dev %s >/dev/null 2>&1", pod, tap) == 0;
}

static void check_wiring(const struct sbx_net_iface *i, unsigned queues)
{
	_cleanup_free_ char *link = tu_sh_out("ip -n %s -o link show dev %s", pod, i->tap);
	_cleanup_free_ char *tflags =
	    tu_sh_out("ip netns exec %s cat /sys/class/net/%s/tun_flags", pod, i->tap);
	_cleanup_free_ char *q_veth = tu_sh_out("ip netns exec %s tc qdisc show dev eth0", pod);
	_cleanup_free_ char *q_tap =
	    tu_sh_out("ip netns exec %s tc qdisc show dev %s", pod, i->tap);
	_cleanup_free_ char *f_veth =
	    tu_sh_out("ip netns exec %s tc filter show dev eth0 ingress", pod);
	_cleanup_free_ char *f_tap =
	    tu_sh_out("ip netns exec %s tc filter show dev %s ingress", pod, i->tap);
	_cleanup_free_ char *to_tap =
	    xasprintf("mirred (Egress Redirect to device %s) stolen", i->tap);
	int mq = queues > 1 ? IFF_MULTI_QUEUE : 0;
	char tap[IF_NAMESIZE];

	snprintf(tap, sizeof(tap), "kctap%d", i->ifindex);
	cr_assert_str_eq(i->tap, tap);
	cr_assert_eq(i->n_fds, queues);
	cr_assert_gt(i->tap_ifindex, 0);
	cr_assert(strstr(link, "mtu 1400") && strstr(link, ",UP"), "tap: %s", link);
	for (unsigned q = 0; q < queues; q++) {
		struct ifreq ifr = {0};

		cr_assert_eq(ioctl(i->fds[q], TUNGETIFF, &ifr), 0, "TUNGETIFF: %s",
			     strerror(errno));
		cr_assert_str_eq(ifr.ifr_name, i->tap);
		cr_assert_eq(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE),
			     IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | mq, "queue %u flags %#x", q,
			     ifr.ifr_flags);
		cr_assert_eq(fcntl(i->fds[q], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	}
	cr_assert_eq((int)strtol(tflags, NULL, 16) & (IFF_MULTI_QUEUE | IFF_PERSIST), mq,
		     "tun_flags %s", tflags);
	cr_assert(strstr(q_veth, "qdisc ingress ffff:"), "eth0: %s", q_veth);
	cr_assert(strstr(q_tap, "qdisc ingress ffff:"), "%s: %s", i->tap, q_tap);
	cr_assert(strstr(f_veth, "u32") && strstr(f_veth, "match 00000000/00000000 at 0") &&
		      strstr(f_veth, to_tap),
		  "eth0 filters: %s", f_veth);
	cr_assert_eq(tu_count(f_veth, "mirred"), 1, "eth0 filters: %s", f_veth);
	cr_assert(strstr(f_tap, "u32") &&
		      strstr(f_tap, "mirred (Egress Redirect to device eth0) stolen"),
		  "%s filters: %s", i->tap, f_tap);
}

static void check_detached(void)
{
	_cleanup_free_ char *q = tu_sh_out("ip netns exec %s tc qdisc show dev eth0", pod);

	cr_assert(!strstr(q, "ingress"), "eth0 still has an ingress qdisc: %s", q);
}

Test(podnet, attach_one_queue_redirects_both_ways)
{
	struct sbx_net n;
	kc_err *e = NULL;
	ino_t ns = netns_ino();
	int fds = tu_count_fds();
	char tap[IF_NAMESIZE];
	_cleanup_free_ char *addrs = NULL;

	scan(&n);
	cr_assert_eq(sbx_net_attach(pod_path, &n, 1, &e), 0, "attach: %s", kc_err_msg(e));
	cr_assert_eq(netns_ino(), ns);
	cr_assert_eq(tu_count_fds(), fds + 1);
	check_wiring(&n.ifaces[0], 1);
	check_traffic(&n.ifaces[0]);
	/* The VMM's exit: the tap goes with the last fd. */
	memcpy(tap, n.ifaces[0].tap, sizeof(tap));
	sbx_net_close_fds(&n);
	cr_assert_eq(n.ifaces[0].fds[0], -1);
	cr_assert(!tap_exists(tap), "%s outlived its fds", tap);
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "detach: %s", kc_err_msg(e));
	check_detached();
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "detach again: %s", kc_err_msg(e));
	cr_assert_eq(tu_count_fds(), fds, "fds leaked");
	cr_assert_eq(netns_ino(), ns);
	/* The pod's own link is untouched. */
	addrs = tu_sh_out("ip -n %s -o addr show dev eth0", pod);
	cr_assert(strstr(addrs, POD_IP "/24"), "%s", addrs);
}

Test(podnet, attach_two_queues_is_multiqueue)
{
	struct sbx_net n;
	kc_err *e = NULL;
	int fds = tu_count_fds(), held;
	char tap[IF_NAMESIZE];

	scan(&n);
	cr_assert_eq(sbx_net_attach(pod_path, &n, 2, &e), 0, "attach: %s", kc_err_msg(e));
	cr_assert_eq(tu_count_fds(), fds + 2);
	check_wiring(&n.ifaces[0], 2);
	check_traffic(&n.ifaces[0]);
	/* Detach with the fds still held: the sandboxer's own are closed, and
	 * the tap, still up while "the VMM" holds a queue, is deleted. */
	memcpy(tap, n.ifaces[0].tap, sizeof(tap));
	held = dup(n.ifaces[0].fds[0]);
	cr_assert_geq(held, 0);
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "detach: %s", kc_err_msg(e));
	cr_assert_eq(tu_count_fds(), fds + 1);
	cr_assert(!tap_exists(tap), "%s still exists", tap);
	check_detached();
	close(held);
	cr_assert_eq(tu_count_fds(), fds);
}

Test(podnet, detach_after_the_veth_or_the_netns_went)
{
	struct sbx_net n;
	kc_err *e = NULL;
	_cleanup_free_ char *gone = xasprintf("/var/run/netns/%s", other);

	scan(&n);
	cr_assert_eq(sbx_net_attach(pod_path, &n, 1, &e), 0, "attach: %s", kc_err_msg(e));
	sbx_net_close_fds(&n);
	/* CNI DEL ran first. */
	cr_assert_eq(tu_sh("ip -n %s link del eth0", pod), 0);
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "detach: %s", kc_err_msg(e));
	cr_assert_eq(tu_sh("ip netns add %1$s && ip netns del %1$s", other), 0);
	cr_assert_eq(sbx_net_detach(gone, &n, &e), 0, "detach, netns gone: %s", kc_err_msg(e));
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "%s", kc_err_msg(e));
	/* A state file's worth: names and indices only, no fds, no tap name. */
	n.ifaces[0].tap[0] = '\0';
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "%s", kc_err_msg(e));
}

/* ------------------------------------------------------------ errors */

Test(podnet, scan_of_a_missing_netns_names_the_path)
{
	_cleanup_free_ char *path = xasprintf("/var/run/netns/%s", other);
	struct sbx_net n;
	kc_err *e = NULL;
	ino_t ns = netns_ino();

	cr_assert_lt(sbx_net_scan(path, &n, &e), 0);
	cr_assert(strstr(e->msg, path) && strstr(e->msg, "No such file"), "%s", e->msg);
	cr_assert_eq(e->code, ENOENT);
	kc_err_free(e);
	cr_assert_eq(netns_ino(), ns);
	e = NULL;
	cr_assert_lt(sbx_net_scan("/tmp", &n, &e), 0);
	cr_assert(strstr(e->msg, "not a namespace"), "%s", e->msg);
	kc_err_free(e);
}

Test(podnet, scan_refuses_a_link_that_is_not_ethernet)
{
	_cleanup_free_ char *path = xasprintf("/var/run/netns/%s", other);
	struct sbx_net n;
	kc_err *e = NULL;
	int fds = tu_count_fds();
	ino_t ns = netns_ino();

	/* An L3 tun, configured as if it were the pod's interface. */
	cr_assert_eq(tu_sh("set -e; ip netns add %1$s; ip -n %1$s tuntap add mode tun name kcl3; "
			   "ip -n %1$s addr add 10.78.0.2/24 dev kcl3; ip -n %1$s link set kcl3 up",
			   other),
		     0);
	cr_assert_lt(sbx_net_scan(path, &n, &e), 0);
	cr_assert(strstr(e->msg, "kcl3") && strstr(e->msg, "not Ethernet"), "%s", e->msg);
	cr_assert_eq(n.n_ifaces, 0);
	kc_err_free(e);
	cr_assert_eq(tu_count_fds(), fds);
	cr_assert_eq(netns_ino(), ns);
}

Test(podnet, attach_refused_when_the_veth_has_an_ingress_qdisc)
{
	struct sbx_net n;
	kc_err *e = NULL;
	int fds = tu_count_fds();
	ino_t ns = netns_ino();
	_cleanup_free_ char *q = NULL, *f = NULL;
	char tap[IF_NAMESIZE];

	scan(&n);
	snprintf(tap, sizeof(tap), "kctap%d", n.ifaces[0].ifindex);
	cr_assert_eq(tu_sh("ip netns exec %s tc qdisc add dev eth0 ingress", pod), 0);
	cr_assert_lt(sbx_net_attach(pod_path, &n, 2, &e), 0);
	cr_assert(strstr(e->msg, "eth0") && strstr(e->msg, "already has an ingress qdisc"), "%s",
		  e->msg);
	kc_err_free(e);
	e = NULL;
	/* Nothing of ours left; theirs left alone. */
	cr_assert_eq(tu_count_fds(), fds);
	cr_assert_eq(n.ifaces[0].fds[0], -1);
	cr_assert(!tap_exists(tap), "%s left behind", tap);
	cr_assert_eq(netns_ino(), ns);
	q = tu_sh_out("ip netns exec %s tc qdisc show dev eth0", pod);
	f = tu_sh_out("ip netns exec %s tc filter show dev eth0 ingress", pod);
	cr_assert(strstr(q, "qdisc ingress ffff:"), "the other ingress qdisc went: %s", q);
	cr_assert(!strstr(f, "mirred"), "a filter was left: %s", f);
	/* Once it is gone, attach works. */
	cr_assert_eq(tu_sh("ip netns exec %s tc qdisc del dev eth0 ingress", pod), 0);
	cr_assert_eq(sbx_net_attach(pod_path, &n, 1, &e), 0, "attach: %s", kc_err_msg(e));
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "detach: %s", kc_err_msg(e));
}

Test(podnet, attach_refuses_an_existing_tap_and_bad_queue_counts)
{
	struct sbx_net n;
	kc_err *e = NULL;
	int fds = tu_count_fds();
	char tap[IF_NAMESIZE];
	_cleanup_free_ char *q = NULL;

	scan(&n);
	for (unsigned bad = 0; bad <= SBX_NET_MAX_QUEUES + 1; bad += SBX_NET_MAX_QUEUES + 1) {
		cr_assert_lt(sbx_net_attach(pod_path, &n, bad, &e), 0);
		cr_assert_eq(e->code, EINVAL, "%s", e->msg);
		kc_err_free(e);
		e = NULL;
	}
	/* A persistent tap of our name (not ours): TUNSETIFF would join it. */
	snprintf(tap, sizeof(tap), "kctap%d", n.ifaces[0].ifindex);
	cr_assert_eq(tu_sh("ip -n %s tuntap add mode tap name %s", pod, tap), 0);
	scan(&n); /* and scans leave kctap* out */
	cr_assert_lt(sbx_net_attach(pod_path, &n, 1, &e), 0);
	cr_assert(strstr(e->msg, tap) && strstr(e->msg, "already exists"), "%s", e->msg);
	kc_err_free(e);
	cr_assert_eq(tu_count_fds(), fds);
	cr_assert(tap_exists(tap));
	q = tu_sh_out("ip netns exec %s tc qdisc show dev eth0", pod);
	cr_assert(!strstr(q, "ingress"), "%s", q);
	/* A cleanup after that failure leaves the foreign tap alone. */
	cr_assert_eq(sbx_net_detach(pod_path, &n, &e), 0, "detach: %s", kc_err_msg(e));
	cr_assert(tap_exists(tap), "detach deleted a persistent tap it did not make");
}

Test(podnet, kernel_refusals_carry_the_extack_message)
{
	_cleanup_(pn_nl_closep) struct pn_nl nl = {0};
	struct sbx_net n;
	kc_err *e = NULL;
	int orig = -1;

	scan(&n);
	cr_assert_eq(pn_ns_enter(pod_path, &orig, NULL, &e), 0, "%s", kc_err_msg(e));
	cr_assert_eq(pn_nl_open(&nl, &e), 0, "%s", kc_err_msg(e));
	pn_ns_leave(&orig);
	cr_assert_eq(orig, -1);
	/* veth's maximum MTU is 65535. */
	cr_assert_eq(pn_link_up_mtu(&nl, n.ifaces[0].ifindex, 100000, &e), -EINVAL);
	cr_assert(strstr(e->msg, "Invalid argument: ") && strcasestr(e->msg, "mtu"), "%s", e->msg);
	kc_err_free(e);
	e = NULL;
	/* The socket is still in step after a refusal. */
	cr_assert_eq(pn_link_up_mtu(&nl, n.ifaces[0].ifindex, 1400, &e), 0, "%s", kc_err_msg(e));
}
