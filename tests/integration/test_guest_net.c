/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's network setup (grpc.SandboxService UpdateInterfaces and
 * UpdateRoutes, guest-init/netcfg.c over the hand-written rtnetlink of
 * guest-init/netlink.c), driven through vmm-task's real API in host mode,
 * inside a network namespace of its own with veth links the test makes; the
 * result is read back with iproute2.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentctl.h"
#include "kuasar/sandbox.pb-c.h"
#include "rpc_call.h"
#include "testutil.h"
#include "util.h"

#define SVC (&grpc__sandbox_service__descriptor)
#define MAC "02:42:ac:11:00:02"

static struct agentctl A;

static void setup(void)
{
	kc_err *e = NULL;
	_cleanup_free_ char *bin = NULL;

	if (!tu_is_root())
		cr_skip_test("skipped: needs root (network namespaces)");
	if (system("command -v ip >/dev/null") != 0)
		cr_skip_test("skipped: iproute2 (ip) is not installed");
	/* Everything below happens in a namespace of this test process only. */
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	/* veth pairs (this host kernel has no dummy links); the peers up give
	 * the NICs a carrier. */
	cr_assert_eq(system("ip link add kcnic type veth peer name kcpeer && ip link set kcnic "
			    "address " MAC " && ip link set kcpeer up && ip link add eth0 type "
			    "veth peer name eth0p && ip link set eth0p up && ip link set lo up"),
		     0, "ip link add");
	bin = getenv("KC_AGENT") ? xstrdup(getenv("KC_AGENT")) : tu_bin("vmm-task");
	if (access(bin, X_OK) < 0)
		cr_skip_test("skipped: %s not built", bin);
	cr_assert_eq(agentctl_start(&A, bin, NULL, &e), 0, "start agent: %s", kc_err_msg(e));
}

static void teardown(void)
{
	agentctl_stop(&A);
}

TestSuite(guest_net, .init = setup, .fini = teardown, .timeout = 60);

static int update_interface(const char *mac, uint64_t mtu, uint32_t flags, kc_err **e)
{
	Grpc__IPAddress a4 = GRPC__IPADDRESS__INIT, a6 = GRPC__IPADDRESS__INIT, *pa[] = {&a4, &a6};
	Grpc__Interface in = GRPC__INTERFACE__INIT, *pin[] = {&in};
	Grpc__UpdateInterfacesRequest r = GRPC__UPDATE_INTERFACES_REQUEST__INIT;

	a4.family = GRPC__IPFAMILY__v4;
	a4.address = "10.88.77.5";
	a4.mask = "24";
	a6.family = GRPC__IPFAMILY__v6;
	a6.address = "fd00:77::5";
	a6.mask = "64";
	in.device = "eth0";
	in.name = "eth0";
	in.hwaddr = (char *)mac;
	in.mtu = mtu;
	in.raw_flags = flags;
	in.ipaddresses = pa;
	in.n_ipaddresses = 2;
	r.interfaces = pin;
	r.n_interfaces = 1;
	return kc_rpc_call_sync(A.cli, SVC, "UpdateInterfaces", &r.base, 10 * KC_NSEC_PER_SEC, NULL,
				e);
}

Test(guest_net, interface_found_by_mac_renamed_addressed_up)
{
	kc_err *e = NULL;
	_cleanup_free_ char *link = NULL, *addrs = NULL, *aside = NULL;

	/* Twice: the second replaces the addresses instead of adding more. */
	for (int i = 0; i < 2; i++)
		cr_assert_eq(update_interface(MAC, 1400, 0, &e), 0, "UpdateInterfaces: %s",
			     kc_err_msg(e));
	link = tu_sh_out("ip -o link show dev eth0");
	addrs = tu_sh_out("ip -o addr show dev eth0 | awk '{print $4}' | sort | tr '\\n' ' '");
	aside = tu_sh_out("ip -o link show | grep -c ': kcold'");
	cr_assert(strstr(link, MAC), "eth0 is not the NIC with the MAC: %s", link);
	cr_assert(strstr(link, "mtu 1400") && strstr(link, ",UP"), "link: %s", link);
	cr_assert(strstr(addrs, "10.88.77.5/24") && strstr(addrs, "fd00:77::5/64"), "addrs: %s",
		  addrs);
	cr_assert(!strstr(strstr(addrs, "10.88.77.5/24") + 1, "10.88.77.5/24"),
		  "address added twice: %s", addrs);
	cr_assert_eq(atoi(aside), 1, "the old eth0 was not moved aside: %s",
		     tu_sh_out("ip -o link show"));
}

Test(guest_net, noarp_flag)
{
	kc_err *e = NULL;
	_cleanup_free_ char *link = NULL;

	cr_assert_eq(update_interface(MAC, 0, 0x80 /* IFF_NOARP */, &e), 0, "%s", kc_err_msg(e));
	link = tu_sh_out("ip -o link show dev eth0");
	cr_assert(strstr(link, "NOARP"), "link: %s", link);
}

Test(guest_net, routes_replace_the_main_table)
{
	Grpc__Route net = GRPC__ROUTE__INIT, dflt = GRPC__ROUTE__INIT, far = GRPC__ROUTE__INIT,
		    v6 = GRPC__ROUTE__INIT;
	Grpc__Route *pr[] = {&dflt, &far, &net, &v6}; /* gateway-less last: must still work */
	Grpc__UpdateRoutesRequest r = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	kc_err *e = NULL;
	_cleanup_free_ char *routes = NULL, *routes6 = NULL;

	cr_assert_eq(update_interface(MAC, 1400, 0, &e), 0, "%s", kc_err_msg(e));
	net.dest = "10.88.0.0/16";
	net.device = "eth0";
	net.scope = 253; /* link */
	dflt.dest = "";
	dflt.gateway = "10.88.0.1";
	dflt.device = "eth0";
	far.dest = "10.99.0.0/16";
	far.gateway = "10.88.0.1";
	far.device = "eth0";
	far.mtu = 1300;
	v6.family = GRPC__IPFAMILY__v6;
	v6.dest = "";
	v6.gateway = "fd00:77::1";
	v6.device = "eth0";
	r.routes = pr;
	r.n_routes = 4;
	for (int i = 0; i < 2; i++)
		cr_assert_eq(kc_rpc_call_sync(A.cli, SVC, "UpdateRoutes", &r.base,
					      10 * KC_NSEC_PER_SEC, NULL, &e),
			     0, "UpdateRoutes: %s", kc_err_msg(e));
	routes = tu_sh_out("ip route show table main");
	routes6 = tu_sh_out("ip -6 route show table main");
	cr_assert(strstr(routes, "default via 10.88.0.1 dev eth0"), "%s", routes);
	cr_assert(strstr(routes, "10.99.0.0/16 via 10.88.0.1 dev eth0") &&
		      strstr(routes, "mtu 1300"),
		  "%s", routes);
	cr_assert(strstr(routes, "10.88.0.0/16 dev eth0"), "%s", routes);
	cr_assert(strstr(routes6, "default via fd00:77::1 dev eth0"), "%s", routes6);
	/* Replacing: the old default went when a new table came. */
	net.dest = "10.66.0.0/16";
	dflt.gateway = "10.66.0.1";
	far.gateway = "10.66.0.1";
	r.n_routes = 3;
	cr_assert_eq(
	    kc_rpc_call_sync(A.cli, SVC, "UpdateRoutes", &r.base, 10 * KC_NSEC_PER_SEC, NULL, &e),
	    0, "UpdateRoutes: %s", kc_err_msg(e));
	free(routes);
	routes = tu_sh_out("ip route show table main");
	cr_assert(!strstr(routes, "10.88.0.1") && strstr(routes, "default via 10.66.0.1"), "%s",
		  routes);
}

Test(guest_net, errors_name_what_was_wrong)
{
	kc_err *e = NULL;
	Grpc__Route bad = GRPC__ROUTE__INIT, *pr[] = {&bad};
	Grpc__UpdateRoutesRequest r = GRPC__UPDATE_ROUTES_REQUEST__INIT;

	cr_assert_lt(update_interface("zz:not-a-mac", 0, 0, &e), 0);
	cr_assert(strstr(e->msg, "hwAddr") && strstr(e->msg, "eth0"), "%s", e->msg);
	kc_err_freep(&e);
	cr_assert_lt(update_interface("02:00:00:00:00:99", 0, 0, &e), 0);
	cr_assert(strstr(e->msg, "no link has MAC 02:00:00:00:00:99"), "%s", e->msg);
	kc_err_freep(&e);
	bad.dest = "10.1.2.3/99";
	r.routes = pr;
	r.n_routes = 1;
	cr_assert_lt(
	    kc_rpc_call_sync(A.cli, SVC, "UpdateRoutes", &r.base, 10 * KC_NSEC_PER_SEC, NULL, &e),
	    0);
	cr_assert(strstr(e->msg, "10.1.2.3/99") && strstr(e->msg, "bad destination"), "%s", e->msg);
	kc_err_free(e);
	/* PID 1 (here: the agent) still answers. */
	cr_assert_eq(sandbox_check(&A, &e), 0, "%s", kc_err_msg(e));
}

/* Beyond Kuasar (Kata's AddARPNeighbors): static neighbours, v4 and v6. */
Test(guest_net, permanent_neighbours)
{
	Grpc__IPAddress ip4 = GRPC__IPADDRESS__INIT, ip6 = GRPC__IPADDRESS__INIT;
	Grpc__ARPNeighbor n4 = GRPC__ARPNEIGHBOR__INIT, n6 = GRPC__ARPNEIGHBOR__INIT;
	Grpc__ARPNeighbor *pn[] = {&n4, &n6};
	Grpc__ARPNeighbors l = GRPC__ARPNEIGHBORS__INIT;
	Grpc__AddARPNeighborsRequest r = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	_cleanup_free_ char *neigh = NULL;
	kc_err *e = NULL;

	cr_assert_eq(update_interface(MAC, 1400, 0, &e), 0, "%s", kc_err_msg(e));
	ip4.family = GRPC__IPFAMILY__v4;
	ip4.address = "10.88.77.1";
	ip6.family = GRPC__IPFAMILY__v6;
	ip6.address = "fd00:77::1";
	n4.toipaddress = &ip4;
	n6.toipaddress = &ip6;
	n4.device = n6.device = "eth0";
	n4.lladdr = "ee:ee:ee:ee:ee:01";
	n6.lladdr = "ee:ee:ee:ee:ee:02";
	n4.state = n6.state = NUD_PERMANENT;
	l.arpneighbors = pn;
	l.n_arpneighbors = 2;
	r.neighbors = &l;
	cr_assert_eq(kc_rpc_call_sync(A.cli, SVC, "AddARPNeighbors", &r.base, 10 * KC_NSEC_PER_SEC,
				      NULL, &e),
		     0, "%s", kc_err_msg(e));
	neigh = tu_sh_out("ip neigh show dev eth0; ip -6 neigh show dev eth0");
	cr_assert(strstr(neigh, "10.88.77.1 lladdr ee:ee:ee:ee:ee:01 PERMANENT"), "%s", neigh);
	cr_assert(strstr(neigh, "fd00:77::1 lladdr ee:ee:ee:ee:ee:02 PERMANENT"), "%s", neigh);

	/* A device that is not there is named. */
	n4.device = "nosuch0";
	l.n_arpneighbors = 1;
	cr_assert_lt(kc_rpc_call_sync(A.cli, SVC, "AddARPNeighbors", &r.base, 10 * KC_NSEC_PER_SEC,
				      NULL, &e),
		     0);
	cr_assert(strstr(kc_err_msg(e), "nosuch0"), "%s", kc_err_msg(e));
	kc_err_freep(&e);
}
