#!/usr/bin/env bash
# kc-env.sh: a private containerd + vmm-sandboxer using this tree's build, for
# the demo (scripts/demo.sh) and the containerd end-to-end test. Source it:
#   kc_env_up DIR      write configs under DIR, start vmm-sandboxer and
#                      containerd, import the busybox image ($KC_IMAGE)
#   kc_ctr ARGS...     ctr against that containerd
#   kc_env_down        stop both (sandboxes are shut down first)
# Needs root. DIR should be short: unix socket paths live under it.
# Machine: QEMU (KVM where the CPU allows it, TCG otherwise), microvm + our
# PVH vmlinux, vhost-user vsock, virtiofs.

KC_TOP=${KC_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
KC_IMAGE=${KC_IMAGE:-kuasar-c/busybox:test}
KC_RUNTIME=io.containerd.kuasar-vmm.v2

kc_envmk() { # KEY: a path from scripts/setup-deps.sh's env.mk
	local cache=${KC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c}
	sed -n "s/^$1 := //p" "$cache/env.mk" 2>/dev/null
}

kc_wait_socket() { # PATH SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

kc_env_up() {
	KC_DIR=$1
	mkdir -p "$KC_DIR"/{vmm,ctd}
	local bin=$KC_TOP/build/bin vhost
	vhost=$(kc_envmk VHOST_DEVICE_VSOCK)
	cat >"$KC_DIR/sandboxer.toml" <<TOML
# written by scripts/kc-env.sh
[sandbox]
log_level = "info"

[hypervisor]
type = "qemu"
path = "/usr/bin/qemu-system-x86_64"
vcpus = 1
memory_in_mb = 256
kernel_path = "$KC_TOP/build/kernel/vmlinux"
initrd_path = "$KC_TOP/build/initramfs.cpio.gz"
kernel_params = ""
entropy_source = "/dev/urandom"

[hypervisor.virtiofsd]
flavour = "c"
path = "/usr/lib/qemu/virtiofsd"
cache = "auto"

[hypervisor.qemu]
machine = "microvm"
accel = "auto"
vhost_device_vsock = "$vhost"
TOML
	cat >"$KC_DIR/containerd.toml" <<TOML
# written by scripts/kc-env.sh
version = 2
root = "$KC_DIR/ctd/root"
state = "$KC_DIR/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$KC_DIR/ctd/containerd.sock"
[ttrpc]
  address = "$KC_DIR/ctd/containerd.sock.ttrpc"
TOML
	"$bin/vmm-sandboxer" --listen "$KC_DIR/sbx.sock" --dir "$KC_DIR/vmm" \
		--config "$KC_DIR/sandboxer.toml" >"$KC_DIR/sandboxer.log" 2>&1 &
	KC_SBX_PID=$!
	kc_wait_socket "$KC_DIR/sbx.sock" 10 || {
		echo "vmm-sandboxer did not start:" >&2
		cat "$KC_DIR/sandboxer.log" >&2
		return 1
	}
	# containerd finds our shim on its PATH; the shim finds the sandboxer here.
	PATH=$bin:$PATH KUASAR_SANDBOXER_ADDRESS=$KC_DIR/sbx.sock \
		containerd --config "$KC_DIR/containerd.toml" >"$KC_DIR/containerd.log" 2>&1 &
	KC_CTD_PID=$!
	kc_wait_socket "$KC_DIR/ctd/containerd.sock" 20 || {
		echo "containerd did not start:" >&2
		tail -20 "$KC_DIR/containerd.log" >&2
		return 1
	}
	bash "$KC_TOP/scripts/mk-busybox-image.sh" "$KC_DIR/busybox.tar" "$KC_IMAGE" &&
		kc_ctr images import "$KC_DIR/busybox.tar" >/dev/null
}

kc_ctr() {
	ctr --address "$KC_DIR/ctd/containerd.sock" "$@"
}

kc_env_down() {
	[ -n "${KC_DIR:-}" ] || return 0
	local t
	# Remove what is left so shims stop their VMs, then stop the daemons.
	for t in $(kc_ctr tasks ls -q 2>/dev/null); do
		kc_ctr tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
		kc_ctr tasks delete "$t" >/dev/null 2>&1 || true
	done
	for t in $(kc_ctr containers ls -q 2>/dev/null); do
		kc_ctr containers delete "$t" >/dev/null 2>&1 || true
	done
	[ -n "${KC_CTD_PID:-}" ] && kill "$KC_CTD_PID" 2>/dev/null && wait "$KC_CTD_PID" 2>/dev/null
	[ -n "${KC_SBX_PID:-}" ] && kill "$KC_SBX_PID" 2>/dev/null && wait "$KC_SBX_PID" 2>/dev/null
	KC_CTD_PID='' KC_SBX_PID=''
	# containerd leaves its mounts; nothing of ours may remain.
	grep -o " $KC_DIR[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
	return 0
}
