#!/usr/bin/env bash
# Stock containerd 2.x (Debian sid's 2.1.9) driving vmm-sandboxer as a remote
# sandbox controller over gRPC: `[proxy_plugins.kuasar] type = "sandbox"`,
# which containerd speaks gRPC only (HTTP/2 on the unix socket). The calls
# go through containerd's own Controller service (sandboxer = "kuasar"), so
# containerd's gRPC client is the one talking to the daemon: Platform, errors
# with their codes and messages, Create, Status, a Wait answered by Stop, a
# Wait cancelled, Shutdown, and with a guest available a Start that boots a
# VM (tests/integration/grpc_controller.py --case containerd). containerd
# runs in a network namespace of its own. Exit 77 (with the reason) if this
# machine cannot run it.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
source "$top/scripts/kc-env.sh"
ctd=$(kc_envmk CONTAINERD2)
[ -n "$ctd" ] && [ -x "$ctd" ] || skip "no containerd 2.x (scripts/setup-deps.sh containerd2)"
bin=${KC_BIN_DIR:-$top/build/bin}
[ -x "$bin/vmm-sandboxer" ] || skip "$bin/vmm-sandboxer is not built"
for b in /usr/bin/python3 protoc ip nsenter; do
	command -v "$b" >/dev/null || skip "$b is not installed (scripts/setup-deps.sh cri)"
done
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null ||
	skip "python3-grpcio / python3-protobuf missing (scripts/setup-deps.sh cri)"

dir=$(mktemp -d /tmp/kc.XXXXXX)
netns=kcgrpc$$
sbx_pid='' ctd_pid=''
cleanup() {
	[ -n "$ctd_pid" ] && kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null
	[ -n "$sbx_pid" ] && kill "$sbx_pid" 2>/dev/null && wait "$sbx_pid" 2>/dev/null
	ip netns del "$netns" 2>/dev/null
	grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
	[ -n "${KC_TEST_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

# A guest if this machine has one (as scripts/kc-env.sh configures it), else
# a config whose missing kernel only matters to Start.
start=() vhost=$(kc_envmk VHOST_DEVICE_VSOCK)
if [ -e "$top/build/kernel/vmlinux" ] && [ -e "$top/build/initramfs.cpio.gz" ] &&
	[ -x /usr/bin/qemu-system-x86_64 ] && [ -x /usr/lib/qemu/virtiofsd ] &&
	[ -n "$vhost" ] && [ -x "$vhost" ]; then
	start=(--start)
	kernel=$top/build/kernel/vmlinux initrd=$top/build/initramfs.cpio.gz
else
	echo "skipped: Start through containerd (no guest: make kernel initramfs, QEMU, virtiofsd, vhost-device-vsock)"
	kernel=/nonexistent/vmlinux initrd=/nonexistent/initrd.img vhost=/nonexistent
fi
cat >"$dir/sandboxer.toml" <<TOML
[sandbox]
log_level = "debug"
[hypervisor]
type = "qemu"
memory_in_mb = 256
kernel_path = "$kernel"
initrd_path = "$initrd"
[hypervisor.virtiofsd]
flavour = "c"
path = "/usr/lib/qemu/virtiofsd"
[hypervisor.qemu]
machine = "microvm"
vhost_device_vsock = "$vhost"
TOML
mkdir -p "$dir/ctd" "$dir/cni"
cat >"$dir/containerd.toml" <<TOML
version = 3
disabled_plugins = ["io.containerd.nri.v1.nri"]
root = "$dir/ctd/root"
state = "$dir/ctd/state"
[grpc]
  address = "$dir/ctd/containerd.sock"
[ttrpc]
  address = "$dir/ctd/containerd.sock.ttrpc"
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ['/usr/lib/cni']
  conf_dir = '$dir/cni'
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
[proxy_plugins.kuasar]
  type = "sandbox"
  address = "$dir/sbx.sock"
TOML

"$bin/vmm-sandboxer" --listen "$dir/sbx.sock" --dir "$dir/vmm" --config "$dir/sandboxer.toml" \
	>"$dir/sandboxer.log" 2>&1 &
sbx_pid=$!
kc_wait_socket "$dir/sbx.sock" 10 || { echo "FAIL vmm-sandboxer did not start"; cat "$dir/sandboxer.log"; exit 1; }
ip netns add "$netns" && ip -n "$netns" link set lo up || { echo "FAIL ip netns add"; exit 1; }
nsenter "--net=/run/netns/$netns" "$ctd" --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 &
ctd_pid=$!
kc_wait_socket "$dir/ctd/containerd.sock" 20 || { echo "FAIL containerd did not start"; tail -30 "$dir/containerd.log"; exit 1; }
version=$("$ctd" --version | awk '{print $3}')
echo "# containerd $version, proxy plugin kuasar -> $dir/sbx.sock (gRPC)"

fails=0
if grep -q 'id=io.containerd.sandbox.controller.v1.kuasar' "$dir/containerd.log"; then
	echo "ok   - containerd loaded the proxy plugin io.containerd.sandbox.controller.v1.kuasar"
else
	echo "FAIL containerd did not load the proxy plugin"; fails=$((fails + 1))
fi
if ! /usr/bin/python3 "$top/tests/integration/grpc_controller.py" --case containerd "${start[@]}" \
	--socket "$dir/ctd/containerd.sock" --proto "$top/proto" --gen "$dir/py" \
	--log "$dir/sandboxer.log" --dir "$dir/vmm"; then
	fails=$((fails + 1))
	echo "--- vmm-sandboxer log ---"; tail -40 "$dir/sandboxer.log"
	echo "--- containerd log ---"; grep -iE 'kuasar|sandbox|error' "$dir/containerd.log" | tail -20
fi
# The daemon ends cleanly (the sanitizer build: nothing reported).
kill "$ctd_pid" && wait "$ctd_pid" 2>/dev/null
ctd_pid=''
kill "$sbx_pid"
wait "$sbx_pid"
rc=$?
sbx_pid=''
if [ "$rc" = 0 ] && ! grep -qE 'Sanitizer|runtime error:' "$dir/sandboxer.log"; then
	echo "ok   - vmm-sandboxer exited cleanly"
else
	echo "FAIL vmm-sandboxer exit $rc"; tail -40 "$dir/sandboxer.log"; fails=$((fails + 1))
fi
echo "containerd gRPC: $fails failed"
[ "$fails" = 0 ]
