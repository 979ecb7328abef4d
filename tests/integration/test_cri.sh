#!/usr/bin/env bash
# Kubernetes pods through containerd's CRI plugin (tests/cri/suite.py), for
# each containerd (Debian's 1.6, sid's 2.x) and each runtime handler: runc,
# the reference, then kuasar-vmm, which must pass the same cases. containerd,
# its CNI bridge and every pod address live in a network namespace made here.
# Exit 77 (with the reason) if this machine cannot run it at all.
# For local iteration: KC_CRI_ONLY=case,... (suite.py --only; the containerd
# restart runs only if "restart" is in the list, the native pass's sandboxer
# restarts only if "sbx_restart" is), KC_CRI_HANDLERS="runc" (default
# "runc kuasar-vmm"; for the native pass "kuasar-native kuasar-native-fifo").
# On containerd 2.x a third pass runs Kuasar's native mode (scripts/kc-env.sh
# KC_NATIVE): containerd drives vmm-sandboxer as a sandbox proxy plugin and
# talks to its task endpoint, with no shim on containerd's PATH; the pass fails
# if a containerd-shim-kuasar-vmm-v2 process is ever seen. KC_CRI_NATIVE=0
# leaves it out; KC_CRI_PASSES="native" runs only it (or "1", "2").
# kuasar-native-fifo runs the cases that carry container IO unless
# KC_CRI_NATIVE_FULL=1 (every case passes there too, it only takes longer).
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
	want=${KC_CRI_PASSES:-1 2 native}
	passes=()
	[[ " $want " != *" 1 "* ]] || passes+=(containerd)
	ctd2=$(kc_envmk CONTAINERD2)
	if [ -n "$ctd2" ] && [ -x "$ctd2" ]; then
		[[ " $want " != *" 2 "* ]] || passes+=("$ctd2")
		[[ " $want " != *" native "* || "${KC_CRI_NATIVE:-1}" = 0 ]] || passes+=("native:$ctd2")
	else
		echo "skipped: no containerd 2.x pass (scripts/setup-deps.sh containerd2)"
		echo "skipped: no native-mode pass (needs containerd 2.x)"
	fi
fi

fails=0
dir=''
watch=''
cleanup() {
	[ -n "$watch" ] && kill "$watch" 2>/dev/null && wait "$watch" 2>/dev/null
	watch=''
	kc_env_down
	[ -n "$dir" ] && rm -rf "$dir"
	dir=''
}
trap cleanup EXIT
# Native mode: any containerd-shim-kuasar-vmm-v2 process of our containerd
# (containerd gives a shim its socket, under DIR, as -address) is a failure;
# other containerds on the machine may run shims of their own.
shim_watch() { # FILE DIR: appends what it sees, until killed
	local p cmd a
	while :; do
		for p in /proc/[0-9]*; do
			{ mapfile -d '' -t a <"$p/cmdline"; } 2>/dev/null || continue
			cmd="${a[*]}"
			[[ "$cmd" != *containerd-shim-kuasar-vmm-v2*"$2"* ]] || echo "${p#/proc/} $cmd" >>"$1"
		done
		sleep 0.1
	done
}
for ctd in "${passes[@]}"; do
	# Short: <dir>/vmm/<64-char pod id>/task.vsock_<port> must fit a socket path.
	dir=$(mktemp -d /tmp/kc.XXXXXX)
	native='' handlers=${KC_CRI_HANDLERS:-runc kuasar-vmm} watch=''
	crashed=()
	if [[ "$ctd" == native:* ]]; then
		native=1 ctd=${ctd#native:} handlers=${KC_CRI_HANDLERS:-kuasar-native kuasar-native-fifo}
	fi
	KC_CRI=1 KC_CONTAINERD=$ctd KC_CTR='' KC_NETNS='' KC_NATIVE=$native
	export KC_CRI
	if ! kc_env_up "$dir"; then
		echo "FAIL $ctd: environment did not start"
		tail -30 "$dir/containerd.log" 2>/dev/null | sed 's/^/    /'
		fails=$((fails + 1))
		cleanup
		continue
	fi
	echo "# containerd $KC_CTD_VERSION (CRI${native:+, native mode: sandboxer = kuasar, no shim})"
	if [ -n "$native" ]; then
		if tr '\0' '\n' <"/proc/$KC_CTD_PID/environ" | grep '^PATH=' | tr ':=' '\n\n' |
			while read -r d; do [ -n "$d" ] && [ -e "$d/containerd-shim-kuasar-vmm-v2" ] && echo "$d"; done | grep -q .; then
			echo "FAIL native: containerd's PATH leads to containerd-shim-kuasar-vmm-v2"
			fails=$((fails + 1))
		else
			echo "ok   - native: containerd's PATH has no containerd-shim-kuasar-vmm-v2"
		fi
		: >"$dir/shims.seen"
		shim_watch "$dir/shims.seen" "$dir" &
		watch=$!
	fi
	run() { # HANDLER ARGS...
		local h=$1
		shift
		# In containerd's network namespace: its streaming server listens there.
		nsenter "--net=/run/netns/$KC_NETNS" /usr/bin/python3 "$top/tests/cri/suite.py" --socket "$dir/ctd/containerd.sock" \
			--api-proto "$api" --gen "$build/cri-py" --handler "$h" --logs "$dir/logs" \
			--label "$KC_CTD_VERSION/$h" --sandboxer-dir "$dir/vmm" \
			--cni-conf "$dir/cni/$KC_CNI_CONFLIST" "$@"
	}
	for h in $handlers; do
		only=${KC_CRI_ONLY:-}
		if [[ -n "$native" && "$h" == kuasar-native-fifo && -z "$only" && -z "${KC_CRI_NATIVE_FULL:-}" ]]; then
			# Only the IO type differs from kuasar-native: the cases whose IO
			# it carries (time; KC_CRI_NATIVE_FULL=1 runs every case).
			only=lifecycle,pod_identity,exec,streaming,stop_grace,restart
			echo "# $h: the cases that carry container IO ($only); KC_CRI_NATIVE_FULL=1 for all"
		fi
		run "$h" ${only:+--only "$only"} || fails=$((fails + 1))
		# A containerd restart while a pod runs.
		if [[ -z "$only" || ",$only," == *,restart,* ]]; then
			if run "$h" --phase before-restart --state "$dir/restart.json"; then
				kill "$KC_CTD_PID" && wait "$KC_CTD_PID" 2>/dev/null
				kc_ctd_start
				kc_wait_socket "$dir/ctd/containerd.sock" 20
				run "$h" --phase after-restart --state "$dir/restart.json" || fails=$((fails + 1))
			else
				fails=$((fails + 1))
			fi
		fi
		# Native mode: vmm-sandboxer restarts, with either io type.
		[[ -n "$native" ]] || continue
		[[ -z "${KC_CRI_ONLY:-}" || ",$KC_CRI_ONLY," == *,sbx_restart,* ]] || continue
		if run "$h" --phase before-sbx-restart --state "$dir/sbx.json"; then
			# Planned: containerd down, the sandboxer killed and started again.
			kill "$KC_CTD_PID" && wait "$KC_CTD_PID" 2>/dev/null
			kill -9 "$KC_SBX_PID" && wait "$KC_SBX_PID" 2>/dev/null
			sleep 2 # output piles up in the guest meanwhile
			if kc_sbx_start; then
				kc_ctd_start
				kc_wait_socket "$dir/ctd/containerd.sock" 20
				run "$h" --phase after-sbx-restart-quiet --state "$dir/sbx.json" ||
					fails=$((fails + 1))
				# A crash under a running containerd.
				kill -9 "$KC_SBX_PID" && wait "$KC_SBX_PID" 2>/dev/null
				if kc_sbx_start; then
					run "$h" --phase after-sbx-crash --state "$dir/sbx.json" ||
						fails=$((fails + 1))
					# containerd's own copies of these containers' streams broke
					# with the connection: expected for them, and only for them.
					crashed+=($(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["counter"], s["hb"])' "$dir/sbx.json"))
				else
					echo "FAIL $h: vmm-sandboxer did not come back after kill -9"
					fails=$((fails + 1))
				fi
			else
				echo "FAIL $h: vmm-sandboxer did not come back"
				kc_ctd_start
				kc_wait_socket "$dir/ctd/containerd.sock" 20
				fails=$((fails + 1))
			fi
		else
			fails=$((fails + 1))
		fi
	done
	if [ -n "$watch" ]; then
		kill "$watch" && wait "$watch" 2>/dev/null
		if [ -s "$dir/shims.seen" ] || grep -q 'containerd-shim-kuasar-vmm-v2' "$dir/containerd.log"; then
			echo "FAIL native: a shim ran (or containerd looked for one):"
			sort -u "$dir/shims.seen" | head -5 | sed 's/^/    /'
			grep 'containerd-shim-kuasar-vmm-v2' "$dir/containerd.log" | head -3 | cut -c1-300 | sed 's/^/    /'
			fails=$((fails + 1))
		else
			echo "ok   - native: no containerd-shim-kuasar-vmm-v2 process ran"
		fi
		# Every stream ends as containerd's readers expect (no error at EOF).
		pipe_errs=$(grep 'level=error msg="Failed to pipe' "$dir/containerd.log" |
			grep -v -F "${crashed[@]/#/-e}" 2>/dev/null)
		[ ${#crashed[@]} -gt 0 ] || pipe_errs=$(grep 'level=error msg="Failed to pipe' "$dir/containerd.log")
		if [ -n "$pipe_errs" ]; then
			echo "FAIL native: containerd failed to pipe a stream:"
			echo "$pipe_errs" | head -3 | cut -c1-300 | sed 's/^/    /'
			fails=$((fails + 1))
		else
			echo "ok   - native: every stream ended cleanly (no \"Failed to pipe\" in containerd's log)"
		fi
	fi
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
