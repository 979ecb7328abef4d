#!/usr/bin/env bash
# A container in a network namespace its caller made (`ctr run --with-ns
# network:/var/run/netns/NS`), set up as a CNI plugin would: a veth eth0 with
# an IPv4 /24, an IPv6 unique local /64, MTU 1400 and default routes, its peer
# in a second namespace that plays the node. The container sees the same
# addresses, MAC, MTU and routes; TCP works both ways with the node, IPv4 and
# IPv6, exact bytes; once the container is gone nothing of the runtime is left
# in the namespace (no kctap* link, no ingress qdisc on the veth) and the veth
# is still there. kuasar-vmm (the VM gets the interface) and runc (joins the
# namespace itself: the reference) run the same checks.
#
# Usage: test_ctr_net.sh [CONTAINERD...]   (default: Debian's 1.6, then sid's 2.x)
#   KC_CTR_NET_RUNTIMES: the runtimes to run (default: runc, then kuasar-vmm)
# Exit 77 (with the reason) if this machine cannot run it at all.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
for b in ip tc nsenter runc qemu-system-x86_64 /usr/bin/python3; do
	command -v "$b" >/dev/null || skip "$b is not installed"
done
for f in build/bin/vmm-sandboxer build/bin/containerd-shim-kuasar-vmm-v2 build/kernel/vmlinux \
	build/initramfs.cpio.gz; do
	[ -e "$top/$f" ] || skip "$f is not built"
done
[ -d /proc/sys/net/ipv6 ] || skip "the kernel has no IPv6 (the pod network is dual stack)"
ip netns add kcnet-probe$$ 2>/dev/null || skip "cannot create network namespaces"
ip -n kcnet-probe$$ link add kcp0 type veth peer name kcp1 2>/dev/null ||
	{ ip netns del kcnet-probe$$; skip "no veth support"; }
ip netns del kcnet-probe$$

source "$top/scripts/kc-env.sh"
passes=("$@")
if [ ${#passes[@]} -eq 0 ]; then
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "containerd (and ctr) is not installed"
	passes=(containerd)
	ctd2=$(kc_envmk CONTAINERD2)
	if [ -n "$ctd2" ] && [ -x "$ctd2" ]; then passes+=("$ctd2"); else
		echo "skipped: no containerd 2.x pass (scripts/setup-deps.sh containerd2)"; fi
fi

# Every address lives in the two namespaces made here.
A4=10.77.66.2 G4=10.77.66.1 A6=fd00:4b43:2::2 G6=fd00:4b43:2::1 MTU=1400
LINE_PORT=7070 ECHO_PORT=7071 NODE_PORT=7080
nc_py() { /usr/bin/python3 "$top/tests/cri/netcheck.py" "$@"; }
# The container's servers: "pong:" + the first line on LINE_PORT, an echo on ECHO_PORT.
resp="printf '%s\\n' '#!/bin/sh' 'read l' 'echo \"pong:\$l\"' >/tmp/kc-resp && chmod +x /tmp/kc-resp &&
{ nc -ll -p $ECHO_PORT -e cat & exec nc -ll -p $LINE_PORT -e /tmp/kc-resp; }"
listening="i=0; while [ \$i -lt 100 ]; do [ \$(netstat -ltn | grep -c -E ':($LINE_PORT|$ECHO_PORT) ') -ge 2 ] &&
exit 0; sleep 0.1; i=\$((i+1)); done; netstat -ltn; exit 1"

fails=0 pass_fails=0 dir='' node='' cns=''
ok() { echo "ok   - $KC_CTD_VERSION/$rtname: $*"; }
bad() {
	echo "FAIL - $KC_CTD_VERSION/$rtname: $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/      /'
	pass_fails=$((pass_fails + 1))
}
net_down() {
	[ -n "$cns" ] && ip netns del "$cns" 2>/dev/null
	[ -n "$node" ] && ip netns del "$node" 2>/dev/null
	cns='' node=''
}
pass_end() {
	net_down
	[ -n "$dir" ] || return 0
	kc_env_down
	# Sanitizer builds (KC_BIN_DIR=build/san/bin) report into these logs.
	if grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/*.log 2>/dev/null; then
		rtname=daemons
		bad "sanitizer reports in the logs above" \
			"$(grep -h -A 20 -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/*.log | head -60)"
	fi
	if [ "$pass_fails" -ne 0 ]; then
		echo "--- sandboxer.log (tail)"; tail -20 "$dir/sandboxer.log"
	fi
	rm -rf "$dir"
	dir='' fails=$((fails + pass_fails)) pass_fails=0
}
trap pass_end EXIT

# The node's namespace and the container's, joined by a veth.
net_up() { # N
	node=kcnet-node$$ cns=kcnet-ctr$$-$1
	ip netns add "$node" && ip netns add "$cns" || return 1
	local n
	for n in "$node" "$cns"; do
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
	ip -n "$node" link add kcnode0 mtu $MTU type veth peer name eth0 netns "$cns" &&
		ip -n "$node" addr add $G4/24 dev kcnode0 &&
		ip -n "$node" addr add $G6/64 dev kcnode0 nodad &&
		ip -n "$node" link set kcnode0 up &&
		ip -n "$cns" addr add $A4/24 dev eth0 &&
		ip -n "$cns" addr add $A6/64 dev eth0 nodad &&
		ip -n "$cns" link set eth0 mtu $MTU up &&
		ip -n "$cns" route add default via $G4 &&
		ip -n "$cns" -6 route add default via $G6
}

kctaps() { ip "$@" -o link show | awk -F': ' '$2 ~ /^kctap/ {print $2}'; }

checks() { # RUNTIME N
	local rt=$1 id=cnet$2 out mac tok want
	net_up "$2" || { bad "cannot set up the namespaces"; return; }
	mac=$(ip -n "$cns" -o link show eth0 | awk '{for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1)}')
	if ! out=$(kc_ctr run -d --runtime "$rt" --with-ns "network:/var/run/netns/$cns" "$KC_IMAGE" "$id" \
		sh -c "$resp" 2>&1); then
		bad "ctr run -d --with-ns network:... failed" "$out"
		net_down
		return
	fi
	out=$(kc_ctr tasks exec --exec-id w "$id" sh -c "$listening" 2>&1) ||
		bad "the container's nc servers do not listen" "$out"
	out=$(kc_ctr tasks exec --exec-id i "$id" sh -c "$(nc_py script)" 2>&1 |
		nc_py iface $MTU $A4/24 $A6/64 $G4 $G6 "$mac") && ok "eth0: addresses, MAC, MTU $MTU, default routes" ||
		bad "eth0 as the container sees it" "$out"
	if [ "$rt" = "$KC_RUNTIME" ]; then
		# What is looked for once the container is gone must be what is there now.
		out="$(kctaps -n "$cns") / $(tc -n "$cns" qdisc show dev eth0)"
		[ -n "$(kctaps -n "$cns")" ] && tc -n "$cns" qdisc show dev eth0 | grep -q ingress &&
			ok "running: a kctap* link and an ingress qdisc on eth0 in the namespace" ||
			bad "running: no kctap* link or no ingress qdisc on eth0 in the namespace" "$out"
	fi
	for a in $A4 $A6; do
		out=$(ip netns exec "$node" /usr/bin/python3 "$top/tests/cri/netcheck.py" line "$a" $LINE_PORT "kc-$id-$a") &&
			out=$(ip netns exec "$node" /usr/bin/python3 "$top/tests/cri/netcheck.py" echo "$a" $ECHO_PORT 262144) &&
			ok "node -> container $a: a line and 256 KiB echoed" || bad "node -> container $a" "$out"
	done
	for g in $G4 $G6; do
		ip netns exec "$node" /usr/bin/python3 "$top/tests/cri/netcheck.py" serve "$g" $NODE_PORT >"$dir/srv" 2>&1 &
		local srv=$! i
		for ((i = 0; i < 100; i++)); do grep -qs ready "$dir/srv" && break; sleep 0.05; done
		tok=kc-node-$RANDOM$RANDOM
		out=$(kc_ctr tasks exec --exec-id c "$id" sh -c "echo $tok | nc -w 10 $g $NODE_PORT" 2>&1)
		kill "$srv" 2>/dev/null # what it got is in the file already
		wait "$srv" 2>/dev/null
		want="got $tok from $([ "$g" = $G4 ] && echo $A4 || echo $A6)"
		[ "$out" = "node:$tok" ] && grep -qxF "$want" "$dir/srv" &&
			ok "container -> node $g: the token from the container's address, the reply back" ||
			bad "container -> node $g: the container read [$out], expected [node:$tok]" \
				"node side: $(tr '\n' ' ' <"$dir/srv") (expected: $want)"
	done
	kc_ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1
	for ((i = 0; i < 100; i++)); do
		[ "$(kc_ctr tasks ls | awk -v id="$id" '$1 == id {print $3}')" = STOPPED ] && break
		sleep 0.1
	done
	kc_ctr tasks delete "$id" >/dev/null 2>&1
	kc_ctr containers delete "$id" || bad "ctr containers delete $id"
	local left
	left="$(kctaps -n "$cns") $(kctaps -n "$node") $(kctaps)"
	[ -z "${left// /}" ] && ok "no kctap* link left (container netns, node, root netns)" ||
		bad "links left after the container: $left"
	out=$(tc -n "$cns" qdisc show dev eth0 | grep ingress)
	[ -z "$out" ] && ok "no ingress qdisc left on the veth" || bad "ingress qdisc left on the veth" "$out"
	out=$(ip -n "$cns" -o link show eth0 2>&1) && ok "the veth is still in its namespace" ||
		bad "eth0 is gone from the namespace" "$out"
	net_down
}

for ctd in "${passes[@]}"; do
	dir=$(mktemp -d /tmp/kcn-XXXXXX) # short: unix socket paths live below it
	KC_CONTAINERD=$ctd KC_CTR='' KC_CTD_VERSION=$ctd rtname=daemons
	if kc_env_up "$dir" >/dev/null; then
		echo "# containerd $KC_CTD_VERSION"
		n=0
		for rt in ${KC_CTR_NET_RUNTIMES:-io.containerd.runc.v2 $KC_RUNTIME}; do
			rtname=${rt#io.containerd.} n=$((n + 1))
			checks "$rt" $n
		done
	else
		bad "environment did not come up" "$(tail -20 "$dir/containerd.log" 2>/dev/null)"
	fi
	pass_end
done
echo "ctr with a network namespace ($(printf '%s ' "${passes[@]}")): $fails failed"
[ "$fails" = 0 ]
