/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's network carried into its VM by the real vmm-sandboxer under QEMU
 * (TCG), driven through the Controller API as containerd would, with a pod
 * netns the test builds as CNI would: a veth `eth0` (MAC, MTU 1400, an IPv4
 * /24 and an IPv6 ULA /64, default routes) whose peer sits in a second netns
 * standing for the node's bridge side.
 *
 *   pod_network_pc         Start -> the tap and both ingress qdiscs exist in
 *                          the pod netns; the guest answers ping (IPv4 and
 *                          IPv6) at the pod's addresses, a 1372-byte ping
 *                          fits the 1400 MTU unfragmented; the pod's
 *                          permanent neighbour entry is the guest's too (a
 *                          wrong one on purpose: its answers go astray);
 *                          Stop/Shutdown ->
 *                          no tap, no qdisc left on eth0
 *   recovery_microvm       the daemon is killed, then the VMM; the restarted
 *                          daemon removes the pod's qdisc (virtio-mmio NIC)
 *   missing_netns          Start names the netns path that is not there;
 *                          nothing is left behind
 *
 * Every address lives in the two namespaces made here.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <unistd.h>

#include "sbxctl.h"
#include "testutil.h"
#include "util.h"

#define POD_IP   "10.231.0.5"
#define NODE_IP  "10.231.0.1"
#define POD_IP6  "fd00:4b43:7::5"
#define NODE_IP6 "fd00:4b43:7::1"
#define NODE_IP2 "10.231.0.2"
#define POD_MAC  "0a:58:0a:e7:00:05"
#define WAIT_MS  120000

static struct sbxd D;
static char pod_ns[32], node_ns[32], pod_path[64];

static void setup(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sbxd_init(&D, "sbxnet");
	snprintf(pod_ns, sizeof(pod_ns), "kcsn-pod-%d", getpid());
	snprintf(node_ns, sizeof(node_ns), "kcsn-node-%d", getpid());
	snprintf(pod_path, sizeof(pod_path), "/var/run/netns/%s", pod_ns);
}

static void teardown(void)
{
	if (D.root && getenv("KC_TEST_VERBOSE")) {
		_cleanup_free_ char *log = sbxd_log(&D);
		fprintf(stderr, "--- vmm-sandboxer log ---\n%s\n", log);
	}
	sbxd_cleanup(&D);
	tu_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", pod_ns, node_ns);
}

TestSuite(sbxnet, .init = setup, .fini = teardown, .timeout = 300);

static void need(void)
{
	if (!tu_is_root())
		cr_skip_test("skipped: needs root (network namespaces)");
	if (tu_sh("command -v ip >/dev/null && command -v tc >/dev/null") != 0)
		cr_skip_test("skipped: ip/tc (iproute2) not installed");
	if (tu_sh("command -v busybox >/dev/null") != 0)
		cr_skip_test("skipped: busybox (ping) not installed");
	if (access("/dev/net/tun", R_OK | W_OK) < 0)
		cr_skip_test("skipped: no /dev/net/tun");
}

/* The pod netns as the CNI bridge plugin leaves it, and the node's side. */
static void net_up(void)
{
	cr_assert_eq(tu_sh("set -e; ip netns add %1$s; ip netns add %2$s;"
			   "ip -n %1$s link set lo up; ip -n %2$s link set lo up;"
			   "ip -n %1$s link add eth0 type veth peer name kcsnpeer netns %2$s;"
			   "ip -n %1$s link set eth0 address " POD_MAC " mtu 1400 up;"
			   "ip -n %1$s addr add " POD_IP "/24 dev eth0;"
			   "ip -n %1$s addr add " POD_IP6 "/64 dev eth0 nodad;"
			   "ip -n %1$s route add default via " NODE_IP ";"
			   "ip -n %1$s -6 route add default via " NODE_IP6 ";"
			   "ip -n %2$s link set kcsnpeer mtu 1400 up;"
			   "ip -n %2$s addr add " NODE_IP "/24 dev kcsnpeer;"
			   "ip -n %2$s addr add " NODE_IP6 "/64 dev kcsnpeer nodad;"
			   /* A second node address whose permanent neighbour entry
			    * in the pod is wrong on purpose: the guest must use it. */
			   "ip -n %2$s addr add " NODE_IP2 "/24 dev kcsnpeer;"
			   "ip -n %1$s neigh add " NODE_IP2 " lladdr 02:00:00:00:00:99 dev eth0 "
			   "nud permanent",
			   pod_ns, node_ns),
		     0, "could not build the test namespaces");
}

static void start_daemon(const char *machine)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *cfg = sbxd_qemu_config(machine, NULL, &why);
	kc_err *e = NULL;

	if (!cfg)
		cr_skip_test("skipped: %s", why);
	cr_assert_eq(sbxd_start(&D, cfg, &e), 0, "%s", kc_err_msg(e));
}

#define OK(expr) SBXD_OK(&D, expr)

static void start_pod(const char *id, struct sbx_started *st)
{
	const char *ann[] = {"io.kuasar.vm.memory_mb", "256", NULL};
	OK(sbx_create_netns(&D, id, ann, pod_path, err));
	OK(sbx_start(&D, id, st, err));
}

static char *tap_name(void)
{
	/* ip netns exec mounts the netns' own /sys. */
	_cleanup_free_ char *in =
	    tu_sh_out("ip netns exec %s cat /sys/class/net/eth0/ifindex", pod_ns);
	in[strcspn(in, "\n")] = '\0';
	return xasprintf("kctap%s", in);
}

static bool has_ingress(const char *dev)
{
	_cleanup_free_ char *q = tu_sh_out("tc -n %s qdisc show dev %s 2>/dev/null", pod_ns, dev);
	return strstr(q, "ingress") != NULL;
}

static bool link_exists(const char *dev)
{
	return tu_sh("ip -n %s link show %s >/dev/null 2>&1", pod_ns, dev) == 0;
}

static void assert_no_network_left(const char *tap)
{
	_cleanup_free_ char *links = tu_sh_out("ip -n %s -o link show", pod_ns);
	cr_assert(!link_exists(tap), "%s is still in the pod netns", tap);
	cr_assert(!strstr(links, "kctap"), "a tap is left: %s", links);
	cr_assert(!has_ingress("eth0"), "an ingress qdisc is left on eth0");
}

static void stop_and_remove(const char *id)
{
	struct sbx_wait w;
	OK(sbx_wait_begin(&D, id, &w, err));
	OK(sbx_stop(&D, id, 0, err));
	cr_assert(sbx_wait_end(&D, &w, WAIT_MS), "Wait after Stop");
	OK(sbx_shutdown(&D, id, err));
}

/* The guest answers a ping from the node side: up to ~20 s for its NIC. */
static int ping(const char *flags, const char *addr)
{
	return tu_sh("ip netns exec %s busybox ping %s -c 1 -W 20 %s >/dev/null 2>&1", node_ns,
		     flags, addr);
}

/* One echo from NODE_IP2, two seconds for the answer. */
static int ping_from_ip2(void)
{
	return tu_sh("ip netns exec %s busybox ping -I " NODE_IP2 " -c 1 -W 2 " POD_IP
		     " >/dev/null 2>&1",
		     node_ns);
}

Test(sbxnet, pod_network_pc)
{
	struct sbx_started st = {0};
	_cleanup_free_ char *tap = NULL;
	_cleanup_free_ char *filters = NULL;

	need();
	net_up();
	start_daemon("pc");
	start_pod("pod-net1", &st);
	tap = tap_name();
	cr_assert(link_exists(tap), "no %s in the pod netns", tap);
	cr_assert(has_ingress("eth0") && has_ingress(tap), "ingress qdiscs missing");
	filters = tu_sh_out("tc -n %s filter show dev eth0 ingress", pod_ns);
	cr_assert(strstr(filters, "mirred") && strstr(filters, tap), "no redirect eth0 -> %s: %s",
		  tap, filters);
	cr_assert_eq(ping("", POD_IP), 0, "the guest does not answer at " POD_IP);
	cr_assert_eq(ping("-6", POD_IP6), 0, "the guest does not answer at " POD_IP6);
	/* 1372 + 28 = 1400: fits the pod MTU without fragments. */
	cr_assert_eq(ping("-s 1372", POD_IP), 0, "a full-MTU ping failed");
	/* The guest answers NODE_IP2 at the pod's permanent (wrong) MAC: lost. */
	cr_assert_neq(ping_from_ip2(), 0, "the guest ignored the pod's permanent neighbour");
	stop_and_remove("pod-net1");
	assert_no_network_left(tap);
	sbx_started_clear(&st);
}

Test(sbxnet, recovery_microvm)
{
	struct sbx_started st = {0};
	_cleanup_free_ char *tap = NULL;

	need();
	net_up();
	start_daemon("microvm");
	start_pod("pod-net2", &st);
	tap = tap_name();
	cr_assert(has_ingress("eth0"), "no ingress qdisc on eth0");
	cr_assert_eq(ping("", POD_IP), 0, "the guest does not answer at " POD_IP);
	sbxd_kill(&D, SIGKILL);
	cr_assert_eq(kill((pid_t)st.pid, SIGKILL), 0);
	sbx_reap();
	OK(sbxd_restart(&D, err));
	assert_no_network_left(tap);
	sbx_started_clear(&st);
}

Test(sbxnet, missing_netns)
{
	struct sbx_started st = {0};
	const char *ann[] = {"io.kuasar.vm.memory_mb", "256", NULL};
	kc_err *e = NULL;

	need();
	start_daemon("microvm");
	OK(sbx_create_netns(&D, "pod-net3", ann, "/var/run/netns/kcsn-none", err));
	cr_assert_lt(sbx_start(&D, "pod-net3", &st, &e), 0);
	cr_assert(strstr(kc_err_msg(e), "/var/run/netns/kcsn-none"), "%s", kc_err_msg(e));
	kc_err_free(e);
	OK(sbx_shutdown(&D, "pod-net3", err));
}
