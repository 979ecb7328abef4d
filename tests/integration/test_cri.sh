#!/usr/bin/env bash
# Kubernetes pods through containerd's CRI plugin (tests/cri/suite.py), for
# each containerd (Debian's 1.6, sid's 2.x) and each runtime handler: runc,
# the reference, then kuasar-vmm, which must pass the same cases. containerd,
# its CNI bridge and every pod address live in a network namespace made here.
# Exit 77 (with the reason) if this machine cannot run it at all.
# For local iteration: KC_CRI_ONLY=case,... (suite.py --only; the containerd
# restart runs only if "restart" is in the list), KC_CRI_HANDLERS="runc" (default
# "runc kuasar-vmm").
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
build=${KC_BUILD:-$top/build}
for f in build/bin/vmm-sandboxer build/bin/containerd-shim-kuasar-vmm-v2 build/kernel/vmlinux \
	build/initramfs.cpio.gz; do
	[ -e "$top/$f" ] || skip "$f is not built"
done
KC_PAUSE_BIN=$build/tests/cri-pause
[ -x "$KC_PAUSE_BIN" ] || skip "$KC_PAUSE_BIN is not built (make $build/tests/cri-pause)"
export KC_PAUSE_BIN
for b in /usr/bin/python3 protoc nsenter ip tc runc qemu-system-x86_64; do
	command -v "$b" >/dev/null || skip "$b is not installed (scripts/setup-deps.sh cri)"
done
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null ||
	skip "python3-grpcio / python3-protobuf missing (scripts/setup-deps.sh cri)"
[ -x /usr/lib/cni/bridge ] || skip "CNI plugins missing (containernetworking-plugins)"
[ -d /proc/sys/net/ipv6 ] || skip "the kernel has no IPv6 (the pod network is dual stack)"

source "$top/scripts/kc-env.sh"
api=$(kc_envmk CRI_API_PROTO)
cache=${KC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c}
[ -n "$api" ] || api=$(find "$cache/cri-api" -path '*runtime/v1/api.proto' -print -quit 2>/dev/null)
[ -n "$api" ] && [ -f "$api" ] || skip "no CRI api.proto (scripts/setup-deps.sh cri)"
passes=("$@")
if [ ${#passes[@]} -eq 0 ]; then
	command -v containerd >/dev/null || skip "containerd is not installed"
	passes=(containerd)
	ctd2=$(kc_envmk CONTAINERD2)
	if [ -n "$ctd2" ] && [ -x "$ctd2" ]; then passes+=("$ctd2"); else
		echo "skipped: no containerd 2.x pass (scripts/setup-deps.sh containerd2)"; fi
fi

fails=0
dir=''
cleanup() {
	kc_env_down
	[ -n "$dir" ] && rm -rf "$dir"
	dir=''
}
trap cleanup EXIT
for ctd in "${passes[@]}"; do
	# Short: <dir>/vmm/<64-char pod id>/task.vsock_<port> must fit a socket path.
	dir=$(mktemp -d /tmp/kc.XXXXXX)
	KC_CRI=1 KC_CONTAINERD=$ctd KC_CTR='' KC_NETNS=''
	export KC_CRI
	if ! kc_env_up "$dir"; then
		echo "FAIL $ctd: environment did not start"
		tail -30 "$dir/containerd.log" 2>/dev/null | sed 's/^/    /'
		fails=$((fails + 1))
		cleanup
		continue
	fi
	echo "# containerd $KC_CTD_VERSION (CRI)"
	run() { # HANDLER ARGS...
		local h=$1
		shift
		# In containerd's network namespace: its streaming server listens there.
		nsenter "--net=/run/netns/$KC_NETNS" /usr/bin/python3 "$top/tests/cri/suite.py" --socket "$dir/ctd/containerd.sock" \
			--api-proto "$api" --gen "$build/cri-py" --handler "$h" --logs "$dir/logs" \
			--label "$KC_CTD_VERSION/$h" --sandboxer-dir "$dir/vmm" \
			--cni-conf "$dir/cni/$KC_CNI_CONFLIST" "$@"
	}
	only=${KC_CRI_ONLY:-}
	for h in ${KC_CRI_HANDLERS:-runc kuasar-vmm}; do
		run "$h" ${only:+--only "$only"} || fails=$((fails + 1))
		[[ -z "$only" || ",$only," == *,restart,* ]] || continue
		# A containerd restart while a pod runs.
		if run "$h" --phase before-restart --state "$dir/restart.json"; then
			kill "$KC_CTD_PID" && wait "$KC_CTD_PID" 2>/dev/null
			kc_ctd_start
			kc_wait_socket "$dir/ctd/containerd.sock" 20
			run "$h" --phase after-restart --state "$dir/restart.json" || fails=$((fails + 1))
		else
			fails=$((fails + 1))
		fi
	done
	if [ $fails -gt 0 ]; then
		echo "--- containerd log (tail) ---"
		grep -i 'level=error' "$dir/containerd.log" | tail -8 | cut -c1-400 | sed 's/^/    /'
		echo "--- sandboxer log (tail) ---"
		tail -20 "$dir/sandboxer.log" | sed 's/^/    /'
	fi
	cleanup
done
echo "CRI suite: $fails failed"
[ $fails = 0 ]
