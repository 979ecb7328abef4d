/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod network's host-side pure parts: QEMU's NIC arguments for tap fds
 * (with and without vhost-net, pc and microvm), and the UpdateInterfaces /
 * UpdateRoutes requests built from what podnet reads in the pod's netns.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

#include "argv.h"
#include "config.h"
#include "netmsg.h"
#include "podnet.h"
#include "util.h"

static struct sbx_config cfg(const char *text)
{
	struct sbx_config c;
	kc_err *e = NULL;
	cr_assert_eq(sbx_config_parse(text, strlen(text), "t.toml", &c, &e), 0, "%s",
		     kc_err_msg(e));
	return c;
}

static void two_nics(struct sbx_net *n)
{
	static const uint8_t mac0[6] = {0x0a, 0x58, 0x0a, 0x58, 0x4d, 0x05};
	static const uint8_t mac1[6] = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
	sbx_net_init(n);
	n->n_ifaces = 2;
	memcpy(n->ifaces[0].mac, mac0, 6);
	memcpy(n->ifaces[1].mac, mac1, 6);
	n->ifaces[0].n_fds = 2;
	n->ifaces[1].n_fds = 1;
}

/* The arguments from the first -netdev on, up to -chardev socket,id=qmp. */
static void nic_args_eq(const char *machine, int vhost_fd0, const char *const *want)
{
	_cleanup_free_ char *text =
	    xasprintf("[hypervisor]\ntype = \"qemu\"\nkernel_path = \"/k\"\ninitrd_path = \"/i\"\n"
		      "entropy_source = \"\"\n[hypervisor.qemu]\nmachine = \"%s\"\n",
		      machine);
	struct sbx_config c = cfg(text);
	struct sbx_net n;
	struct sbx_vm_spec s = {.cfg = &c,
				.id = "x",
				.base = "/b",
				.vcpus = 2,
				.memory_mb = 256,
				.vhost_user = true,
				.net = &n,
				.net_fd0 = 4,
				.vhost_fd0 = vhost_fd0};
	struct sbx_argv a = {0};
	size_t at = 0, k = 0;

	two_nics(&n);
	sbx_qemu_argv(&s, &a);
	while (at < a.n && strcmp(a.v[at], "-netdev"))
		at++;
	for (; want[k]; k++)
		cr_assert_str_eq(a.v[at + k], want[k], "arg %zu", k);
	cr_assert_str_eq(a.v[at + k], "-chardev");
	cr_assert_str_eq(a.v[at + k + 1], "socket,id=qmp,fd=3,server=on,wait=off");
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

Test(qemu_net, pc_tap_fds_multiqueue)
{
	const char *want[] = {
	    "-netdev", "tap,id=net0,fds=4:5",
	    "-device", "virtio-net-pci,netdev=net0,mac=0a:58:0a:58:4d:05,mq=on,vectors=6",
	    "-netdev", "tap,id=net1,fd=6",
	    "-device", "virtio-net-pci,netdev=net1,mac=02:42:ac:11:00:02",
	    NULL};
	nic_args_eq("pc", 0, want);
}

Test(qemu_net, pc_vhost_net)
{
	const char *want[] = {
	    "-netdev", "tap,id=net0,fds=4:5,vhost=on,vhostfds=7:8",
	    "-device", "virtio-net-pci,netdev=net0,mac=0a:58:0a:58:4d:05,mq=on,vectors=6",
	    "-netdev", "tap,id=net1,fd=6,vhost=on,vhostfd=9",
	    "-device", "virtio-net-pci,netdev=net1,mac=02:42:ac:11:00:02",
	    NULL};
	nic_args_eq("pc", 7, want);
}

Test(qemu_net, microvm_virtio_mmio)
{
	const char *want[] = {
	    "-netdev", "tap,id=net0,fds=4:5",
	    "-device", "virtio-net-device,netdev=net0,mac=0a:58:0a:58:4d:05,mq=on",
	    "-netdev", "tap,id=net1,fd=6",
	    "-device", "virtio-net-device,netdev=net1,mac=02:42:ac:11:00:02",
	    NULL};
	nic_args_eq("microvm", 0, want);
}

Test(qemu_net, no_pod_network_no_nic)
{
	struct sbx_config c =
	    cfg("[hypervisor]\ntype = \"qemu\"\nkernel_path = \"/k\"\ninitrd_path = \"/i\"\n");
	struct sbx_vm_spec s = {.cfg = &c, .id = "x", .base = "/b", .vcpus = 1, .memory_mb = 256};
	struct sbx_argv a = {0};

	sbx_qemu_argv(&s, &a);
	for (size_t i = 0; i < a.n; i++)
		cr_assert(strcmp(a.v[i], "-netdev") && !strstr(a.v[i], "virtio-net"), "%s", a.v[i]);
	sbx_argv_free(&a);
	sbx_config_free(&c);
}

/* ------------------------------------------------------------------ requests */

static void ip(int fam, const char *txt, uint8_t *out)
{
	cr_assert_eq(inet_pton(fam, txt, out), 1, "%s", txt);
}

static void pod_net(struct sbx_net *n)
{
	struct sbx_net_iface *f = &n->ifaces[0];
	struct sbx_net_route *r = n->routes;

	two_nics(n);
	n->n_ifaces = 1;
	strcpy(f->name, "eth0");
	f->mtu = 1400;
	f->flags = IFF_UP | IFF_BROADCAST | IFF_MULTICAST;
	f->n_addrs = 2;
	f->addrs[0] = (struct sbx_net_addr){.family = AF_INET, .prefix = 24};
	ip(AF_INET, "10.88.77.5", f->addrs[0].addr);
	f->addrs[1] = (struct sbx_net_addr){.family = AF_INET6, .prefix = 64};
	ip(AF_INET6, "fd00:4b43::5", f->addrs[1].addr);
	n->n_routes = 4;
	r[0] = (struct sbx_net_route){.family = AF_INET, .has_gw = true};
	ip(AF_INET, "10.88.77.1", r[0].gw);
	strcpy(r[0].dev, "eth0");
	r[1] = (struct sbx_net_route){
	    .family = AF_INET, .dst_len = 24, .has_src = true, .scope = RT_SCOPE_LINK};
	ip(AF_INET, "10.88.77.0", r[1].dst);
	ip(AF_INET, "10.88.77.5", r[1].src);
	strcpy(r[1].dev, "eth0");
	r[2] = (struct sbx_net_route){.family = AF_INET6, .has_gw = true, .mtu = 1300};
	ip(AF_INET6, "fd00:4b43::1", r[2].gw);
	strcpy(r[2].dev, "eth0");
	/* Through an interface the VM does not get: left out. */
	r[3] = (struct sbx_net_route){.family = AF_INET, .dst_len = 16};
	ip(AF_INET, "192.168.0.0", r[3].dst);
	strcpy(r[3].dev, "wg0");
}

Test(netmsg, interfaces_and_routes)
{
	static struct sbx_net n;
	static struct sbx_netmsg m;
	const Grpc__Interface *g;
	const Grpc__Route *r;

	pod_net(&n);
	sbx_netmsg_build(&n, &m);
	cr_assert_eq(m.ifs.n_interfaces, 1);
	g = m.ifs.interfaces[0];
	cr_assert_str_eq(g->name, "eth0");
	cr_assert_str_eq(g->device, "eth0");
	cr_assert_str_eq(g->hwaddr, "0a:58:0a:58:4d:05");
	cr_assert_eq(g->mtu, 1400);
	cr_assert_eq(g->raw_flags, IFF_UP | IFF_BROADCAST | IFF_MULTICAST);
	cr_assert_eq(g->n_ipaddresses, 2);
	cr_assert_eq(g->ipaddresses[0]->family, GRPC__IPFAMILY__v4);
	cr_assert_str_eq(g->ipaddresses[0]->address, "10.88.77.5");
	cr_assert_str_eq(g->ipaddresses[0]->mask, "24");
	cr_assert_eq(g->ipaddresses[1]->family, GRPC__IPFAMILY__v6);
	cr_assert_str_eq(g->ipaddresses[1]->address, "fd00:4b43::5");
	cr_assert_str_eq(g->ipaddresses[1]->mask, "64");

	cr_assert_eq(m.routes.n_routes, 3);
	r = m.routes.routes[0];
	cr_assert_str_eq(r->dest, "");
	cr_assert_str_eq(r->gateway, "10.88.77.1");
	cr_assert_str_eq(r->device, "eth0");
	r = m.routes.routes[1];
	cr_assert_str_eq(r->dest, "10.88.77.0/24");
	cr_assert_str_eq(r->gateway, "");
	cr_assert_str_eq(r->source, "10.88.77.5");
	cr_assert_eq(r->scope, RT_SCOPE_LINK);
	r = m.routes.routes[2];
	cr_assert_eq(r->family, GRPC__IPFAMILY__v6);
	cr_assert_str_eq(r->gateway, "fd00:4b43::1");
	cr_assert_eq(r->mtu, 1300);
}

/* The requests survive the wire: packed and unpacked as the agent would. */
Test(netmsg, packs)
{
	static struct sbx_net n;
	static struct sbx_netmsg m;
	uint8_t buf[4096];
	size_t len;
	Grpc__UpdateRoutesRequest *back;

	pod_net(&n);
	sbx_netmsg_build(&n, &m);
	len = grpc__update_routes_request__get_packed_size(&m.routes);
	cr_assert_lt(len, sizeof(buf));
	grpc__update_routes_request__pack(&m.routes, buf);
	back = grpc__update_routes_request__unpack(NULL, len, buf);
	cr_assert_not_null(back);
	cr_assert_eq(back->n_routes, 3);
	cr_assert_eq(back->routes[2]->mtu, 1300);
	grpc__update_routes_request__free_unpacked(back, NULL);
}

Test(netmsg, permanent_neighbours_last)
{
	static struct sbx_net n;
	static struct sbx_netmsg m;
	const Grpc__ARPNeighbor *g;

	pod_net(&n);
	n.n_neighs = 2;
	n.neighs[0] = (struct sbx_net_neigh){.family = AF_INET, .state = 0x80};
	ip(AF_INET, "169.254.1.1", n.neighs[0].ip);
	memcpy(n.neighs[0].lladdr, "\xee\xee\xee\xee\xee\xee", 6);
	strcpy(n.neighs[0].dev, "eth0");
	n.neighs[1] = n.neighs[0];
	strcpy(n.neighs[1].dev, "wg0"); /* not carried: left out */
	sbx_netmsg_build(&n, &m);
	cr_assert_eq(m.n_calls, 3);
	cr_assert_str_eq(m.methods[0], "UpdateInterfaces");
	cr_assert_str_eq(m.methods[1], "UpdateRoutes");
	cr_assert_str_eq(m.methods[2], "AddARPNeighbors");
	cr_assert_eq(m.neighs.neighbors->n_arpneighbors, 1);
	g = m.neighs.neighbors->arpneighbors[0];
	cr_assert_str_eq(g->toipaddress->address, "169.254.1.1");
	cr_assert_str_eq(g->lladdr, "ee:ee:ee:ee:ee:ee");
	cr_assert_str_eq(g->device, "eth0");
	cr_assert_eq(g->state, 0x80);
	/* None: two calls only (an agent without the method still works). */
	n.n_neighs = 0;
	sbx_netmsg_build(&n, &m);
	cr_assert_eq(m.n_calls, 2);
}
