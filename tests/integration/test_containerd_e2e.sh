#!/usr/bin/env bash
# containerd runs containers in kuasar-c microVMs: ctr -> containerd ->
# containerd-shim-kuasar-vmm-v2 -> vmm-sandboxer -> QEMU -> vmm-task. Exact
# output and exit codes, a tty, exec, kill, a seccomp profile (ctr --seccomp),
# two containers in one pod, events, a dying VM, a crashing shim, and nothing
# left behind.
#
# Usage: test_containerd_e2e.sh [CONTAINERD...]
#   One pass of the checks per containerd binary (its ctr: the one beside it,
#   else ctr on PATH). Default: Debian's containerd 1.6 on PATH, then sid's
#   containerd 2.x (CONTAINERD2 from scripts/setup-deps.sh containerd2) if it
#   was fetched; without it that pass is skipped with the reason.
# Exit 77 (with the reason) if this machine cannot run it at all.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
for b in qemu-system-x86_64 script; do
	command -v "$b" >/dev/null || skip "$b is not installed"
done
for f in build/bin/vmm-sandboxer build/bin/containerd-shim-kuasar-vmm-v2 build/kernel/vmlinux \
	build/initramfs.cpio.gz; do
	[ -e "$top/$f" ] || skip "$f is not built"
done

source "$top/scripts/kc-env.sh"
passes=("$@")
if [ ${#passes[@]} -eq 0 ]; then
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "containerd (and ctr) is not installed"
	passes=(containerd)
	ctd2=$(kc_envmk CONTAINERD2)
	if [ -n "$ctd2" ] && [ -x "$ctd2" ]; then
		passes+=("$ctd2")
	else
		skip2="no containerd 2.x (scripts/setup-deps.sh containerd2 could not fetch sid's containerd .deb)"
	fi
fi

fails=0 pass_fails=0 dir=''
ok() { echo "ok   - $KC_CTD_VERSION: $*"; }
bad() { echo "FAIL - $KC_CTD_VERSION: $*"; pass_fails=$((pass_fails + 1)); }
pass_end() {
	[ -n "$dir" ] || return 0
	kc_env_down
	# Sanitizer builds (KC_BIN_DIR=build/san/bin) report into these logs.
	if grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/*.log 2>/dev/null; then
		bad "sanitizer reports in the logs above"
		grep -h -A 20 -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/*.log | head -60
	fi
	if [ "$pass_fails" -ne 0 ]; then
		echo "--- containerd.log (tail)"; tail -40 "$dir/containerd.log"
		echo "--- sandboxer.log (tail)"; tail -40 "$dir/sandboxer.log"
	fi
	rm -rf "$dir"
	dir='' fails=$((fails + pass_fails)) pass_fails=0
}
trap pass_end EXIT

# The checks of one pass, against the containerd kc_env_up started in $dir.
checks() {
img=$KC_IMAGE rt=$KC_RUNTIME

# 1. exact output, exit codes 0 and 42
out=$(kc_ctr run --rm --runtime "$rt" "$img" t0 sh -c 'echo hello; echo world' 2>"$dir/err"); rc=$?
[ "$rc" = 0 ] && [ "$out" = $'hello\nworld' ] && ok "run: output and exit 0" ||
	bad "run: rc=$rc out=[$out] err=[$(cat "$dir/err")]"
out=$(kc_ctr run --rm --runtime "$rt" "$img" t42 sh -c 'echo out; echo err >&2; exit 42' 2>"$dir/err"); rc=$?
[ "$rc" = 42 ] && [ "$out" = out ] && [ "$(cat "$dir/err")" = err ] && ok "run: stdout, stderr, exit 42" ||
	bad "run 42: rc=$rc out=[$out] err=[$(cat "$dir/err")]"
# A lot of output from a process that exits at once: none of it may be lost.
n=$(kc_ctr run --rm --runtime "$rt" "$img" tbig sh -c 'seq 1 20000' | wc -l)
[ "$n" = 20000 ] && ok "run: 20000 lines, none lost" || bad "run big: got $n lines"

# 2. a tty (script gives ctr a terminal; its size must reach the container)
out=$(script -qec "stty cols 100 rows 30; $KC_CTR --address $dir/ctd/containerd.sock run -t --rm --runtime $rt $img ttty sh -c 'tty; stty size'" /dev/null | tr -d '\r')
echo "$out" | grep -q '/dev/pts/0$' && echo "$out" | grep -q '^30 100$' &&
	ok "run -t: a terminal of the caller's size" || bad "run -t: [$out]"

# 3. exec into a running container, then kill and remove it
kc_ctr run -d --runtime "$rt" "$img" tx sh -c 'echo $$ > /tmp/pid; sleep 1000' >/dev/null || bad "run -d"
out=$(kc_ctr tasks exec --exec-id e1 tx sh -c 'echo in-exec $(cat /tmp/pid); exit 7'); rc=$?
[ "$rc" = 7 ] && [ "$out" = "in-exec 1" ] && ok "exec: output and exit 7" || bad "exec: rc=$rc out=[$out]"
kc_ctr tasks kill -s SIGKILL tx || bad "kill"
st=$(kc_ctr tasks ls | awk '$1 == "tx" {print $3}')
for _ in $(seq 50); do [ "$st" = STOPPED ] && break; sleep 0.1; st=$(kc_ctr tasks ls | awk '$1 == "tx" {print $3}'); done
[ "$st" = STOPPED ] && ok "kill: task stopped" || bad "kill: status [$st]"
kc_ctr tasks delete tx >/dev/null && kc_ctr containers delete tx && ok "task rm, container rm" || bad "rm tx"

# 3b. ctr run --seccomp: containerd's default profile is enforced in the guest,
#     for the init and for an exec (CLONE_NEWUSER is denied by its clone rule)
out=$(kc_ctr run --rm --seccomp --runtime "$rt" "$img" tsc \
	sh -c 'grep "^Seccomp:" /proc/self/status; unshare -U true 2>&1; echo rc=$?' 2>"$dir/err"); rc=$?
[ "$rc" = 0 ] && echo "$out" | grep -q $'^Seccomp:\t2$' && echo "$out" | grep -q 'Operation not permitted' &&
	echo "$out" | grep -q '^rc=1$' && ok "run --seccomp: RuntimeDefault enforced in the guest" ||
	bad "run --seccomp: rc=$rc out=[$out] err=[$(cat "$dir/err")]"
kc_ctr run -d --seccomp --runtime "$rt" "$img" tscx sleep 1000 >/dev/null || bad "run -d --seccomp"
out=$(kc_ctr tasks exec --exec-id e1 tscx grep "^Seccomp:" /proc/self/status); rc=$?
[ "$rc" = 0 ] && [ "$out" = $'Seccomp:\t2' ] && ok "exec under --seccomp: filtered too" ||
	bad "exec --seccomp: rc=$rc out=[$out]"
kc_ctr tasks kill -s SIGKILL tscx; sleep 0.3
kc_ctr tasks delete tscx >/dev/null 2>&1; kc_ctr containers delete tscx || bad "rm tscx"

# 4. two containers in one pod share one VM
for c in p1 p2; do
	kc_ctr run -d --annotation io.kubernetes.cri.sandbox-id=pod1 --runtime "$rt" "$img" "$c" sleep 1000 >/dev/null || bad "run $c"
done
vms=$(ls "$dir/vmm" | wc -l)
h1=$(kc_ctr tasks exec --exec-id h p1 cat /proc/sys/kernel/random/boot_id)
h2=$(kc_ctr tasks exec --exec-id h p2 cat /proc/sys/kernel/random/boot_id)
[ "$vms" = 1 ] && [ -n "$h1" ] && [ "$h1" = "$h2" ] && ok "pod: two containers, one VM" ||
	bad "pod: $vms sandbox dirs, boot ids [$h1] [$h2]"
for c in p1 p2; do
	kc_ctr tasks kill -s SIGKILL "$c"; sleep 0.3
	kc_ctr tasks delete "$c" >/dev/null; kc_ctr containers delete "$c"
done

# 5. events: the real exit status reaches containerd; an OOM kill is reported
kc_ctr events >"$dir/events" 2>&1 &
evpid=$!
sleep 0.2
kc_ctr run --rm --runtime "$rt" "$img" tev sh -c 'exit 42' >/dev/null 2>&1
kc_ctr run --rm --runtime "$rt" --memory-limit 33554432 "$img" toom \
	sh -c 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived' >/dev/null 2>&1
sleep 0.5
kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null
for topic in /tasks/create /tasks/start /tasks/exit /tasks/delete /tasks/oom; do
	grep -q " $topic " "$dir/events" && ok "event $topic" || bad "no $topic event"
done
grep " /tasks/exit " "$dir/events" | grep tev | grep -q '"exit_status":42' &&
	ok "exit event carries status 42" || bad "exit event: $(grep tev "$dir/events")"

# 6. a VM that dies: its tasks exit with an error instead of hanging containerd
kc_ctr run -d --runtime "$rt" "$img" tdie sleep 1000 >/dev/null || bad "run tdie"
pkill -9 -f "qemu-system.*$dir/vmm/tdie/" || bad "no QEMU to kill for tdie"
st=''
for _ in $(seq 100); do
	st=$(kc_ctr tasks ls | awk '$1 == "tdie" {print $3}')
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
[ "$st" = STOPPED ] && ok "dead VM: task stopped" || bad "dead VM: task is [$st]"
kc_ctr tasks delete tdie >/dev/null 2>&1; kc_ctr containers delete tdie || bad "rm tdie"

# 7. a shim that crashes: containerd's `shim delete` cleans the host side and
#    stops the pod's VM
socks_before=$(ls /run/kuasar-c/shim 2>/dev/null | sort)
kc_ctr run -d --runtime "$rt" "$img" tcrash sleep 1000 >/dev/null || bad "run tcrash"
pkill -9 -f "containerd-shim-kuasar-vmm-v2 -namespace default -address $dir/ctd/containerd.sock -publish-binary .* -id tcrash" ||
	bad "no shim to kill"
gone=0
for _ in $(seq 100); do
	[ -d "$dir/vmm/tcrash" ] || { gone=1; break; }
	sleep 0.1
done
[ "$gone" = 1 ] && ok "crashed shim: VM stopped, sandbox removed" || bad "crashed shim: $dir/vmm/tcrash remains"
for _ in $(seq 50); do # `shim delete` removes it after stopping the VM
	left=$(comm -13 <(echo "$socks_before") <(ls /run/kuasar-c/shim 2>/dev/null | sort))
	[ -z "$left" ] && break
	sleep 0.1
done
[ -z "$left" ] && ok "crashed shim: its socket removed" || bad "crashed shim: socket left: $left"
kc_ctr tasks delete tcrash >/dev/null 2>&1; kc_ctr containers delete tcrash || bad "rm tcrash"

# 8. containerd's file:// log URI
kc_ctr run --rm --runtime "$rt" --log-uri "file://$dir/tlog.log" "$img" tlog sh -c 'echo logged; echo also >&2' >/dev/null 2>&1
[ "$(sort "$dir/tlog.log" 2>/dev/null | tr '\n' ' ')" = "also logged " ] && ok "log-uri file://" ||
	bad "log file: [$(cat "$dir/tlog.log" 2>/dev/null)]"

# 9. nothing left: no VM, virtiofsd, shim, mount or sandbox dir
sleep 0.5
# (Only ours: a shim's argv names our containerd's address, under $dir.)
left=$(pgrep -af "qemu-system|virtiofsd|vhost-device-vsock|containerd-shim-kuasar" | grep -F "$dir")
[ -z "$left" ] && ok "no VMM, virtiofsd or shim left" || bad "left processes: $left"
[ -z "$(ls -A "$dir/vmm")" ] && ok "no sandbox dir left" || bad "left: $(ls "$dir/vmm")"
mnt=$(grep -c " $dir/vmm" /proc/self/mountinfo)
[ "$mnt" = 0 ] && ok "no mount left" || bad "$mnt mounts left under $dir/vmm"
}

for ctd in "${passes[@]}"; do
	dir=$(mktemp -d /tmp/kce-XXXXXX) # short: unix socket paths live below it
	KC_CONTAINERD=$ctd KC_CTR='' KC_CTD_VERSION=$ctd
	echo "# containerd $ctd"
	if kc_env_up "$dir"; then
		checks
	else
		bad "environment did not come up"
	fi
	pass_end
done
[ -z "${skip2:-}" ] || echo "skipped: containerd 2.x pass: $skip2"
echo "containerd e2e ($(printf '%s ' "${passes[@]}")): $fails failed"
[ "$fails" = 0 ]
