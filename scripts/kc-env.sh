#!/usr/bin/env bash
# kc-env.sh: a private containerd + vmm-sandboxer using this tree's build, for
# the demo (scripts/demo.sh) and the containerd end-to-end test. Source it:
#   kc_env_up DIR      write configs under DIR, start vmm-sandboxer and
#                      containerd, import the busybox image ($KC_IMAGE)
#   kc_ctr ARGS...     ctr against that containerd
#   kc_env_down        stop both (sandboxes are shut down first)
# Needs root. DIR should be short: unix socket paths live under it.
# KC_BIN_DIR: where vmm-sandboxer and the shim come from (default build/bin;
# the sanitizer run uses build/san/bin).
# Which containerd (read by kc_env_up): KC_CONTAINERD (default: containerd on
# PATH) and KC_CTR (default: the ctr beside KC_CONTAINERD, else ctr on PATH).
# containerd 1.x gets a version-2 config, 2.x a version-3 one; KC_CTD_VERSION
# holds the version kc_env_up found.
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

# The config for containerd's major version: its own state and sockets under
# DIR, and no CRI (ctr needs none of it; it would only slow the start down).
# 2.x: CRI is three plugins, the pod-sandbox controllers need CRI, and NRI would
# listen on the host's /var/run/nri/nri.sock.
kc_containerd_toml() { # DIR MAJOR
	echo "# written by scripts/kc-env.sh"
	if [ "$2" -ge 2 ]; then
		cat <<TOML
version = 3
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.grpc.v1.sandbox-controllers", "io.containerd.nri.v1.nri"]
TOML
	else
		cat <<TOML
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
TOML
	fi
	cat <<TOML
root = "$1/ctd/root"
state = "$1/ctd/state"
[grpc]
  address = "$1/ctd/containerd.sock"
[ttrpc]
  address = "$1/ctd/containerd.sock.ttrpc"
TOML
}

kc_env_up() {
	KC_DIR=$1
	mkdir -p "$KC_DIR"/{vmm,ctd}
	local bin=${KC_BIN_DIR:-$KC_TOP/build/bin} vhost major
	vhost=$(kc_envmk VHOST_DEVICE_VSOCK)
	KC_CONTAINERD=${KC_CONTAINERD:-containerd}
	if [ -z "${KC_CTR:-}" ]; then
		KC_CTR=ctr
		[[ "$KC_CONTAINERD" != */* || ! -x "${KC_CONTAINERD%/*}/ctr" ]] ||
			KC_CTR=${KC_CONTAINERD%/*}/ctr
	fi
	# "containerd github.com/containerd/containerd/v2 2.1.9+unknown ..."
	KC_CTD_VERSION=$("$KC_CONTAINERD" --version | awk '{ sub(/^v/, "", $3); print $3 }')
	major=${KC_CTD_VERSION%%.*}
	[[ "$major" =~ ^[0-9]+$ ]] || {
		echo "cannot tell the version of $KC_CONTAINERD: [$KC_CTD_VERSION]" >&2
		return 1
	}
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
	kc_containerd_toml "$KC_DIR" "$major" >"$KC_DIR/containerd.toml"
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
		"$KC_CONTAINERD" --config "$KC_DIR/containerd.toml" >"$KC_DIR/containerd.log" 2>&1 &
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
	"${KC_CTR:-ctr}" --address "$KC_DIR/ctd/containerd.sock" "$@"
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
	[ -n "${KC_CTD_PID:-}" ] && kill "$KC_CTD_PID" 2>/dev/null && wait "$KC_CTD_PID" 2>/dev/null || true
	[ -n "${KC_SBX_PID:-}" ] && kill "$KC_SBX_PID" 2>/dev/null && wait "$KC_SBX_PID" 2>/dev/null || true
	KC_CTD_PID='' KC_SBX_PID=''
	# containerd leaves its mounts; nothing of ours may remain.
	grep -o " $KC_DIR[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	return 0
}
