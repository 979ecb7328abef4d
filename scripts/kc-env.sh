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
# PVH vmlinux, vhost-user vsock, virtiofs. KC_QEMU_MACHINE=pc: machine pc with
# bzImage instead (it can hot-plug disks). KC_KERNEL_DIR: where vmlinux /
# bzImage are (default build/kernel). KC_CTD_EXTRA_TOML: appended to
# containerd's config (snapshotter settings, e.g. blockfile's scratch_file).
# KC_CRI=1: containerd with its CRI plugin on (handlers kuasar-vmm and runc,
# sandbox image $KC_PAUSE_IMAGE, restrict_oom_score_adj), run inside a network
# namespace of its own ($KC_NETNS) with a CNI bridge there; the images
# $KC_PAUSE_IMAGE, $KC_CRI_IMAGE and $KC_NOETC_IMAGE are imported for CRI.
# KC_NATIVE=1 (with KC_CRI, containerd 2.x): Kuasar's native mode instead of
# the shim: `[proxy_plugins.kuasar] type = "sandbox"` on the sandboxer's socket,
# handlers kuasar-native (io_type streaming) and kuasar-native-fifo (fifo) with
# sandboxer = "kuasar", the sandboxer's task events to containerd's ttrpc
# socket, and no shim on containerd's PATH (handlers runc and these only).

KC_TOP=${KC_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
KC_IMAGE=${KC_IMAGE:-kuasar-c/busybox:test}
KC_RUNTIME=io.containerd.kuasar-vmm.v2
# CRI normalizes references: a name whose first component is "localhost"
# stays as it is (so it matches the imported name) and is never pulled.
KC_PAUSE_IMAGE=${KC_PAUSE_IMAGE:-localhost/kuasar-c/pause:test}
KC_CRI_IMAGE=${KC_CRI_IMAGE:-localhost/kuasar-c/busybox:test}
KC_NOETC_IMAGE=${KC_NOETC_IMAGE:-localhost/kuasar-c/busybox-noetc:test}

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
# DIR. Without KC_CRI no CRI (ctr needs none of it; it would only slow the
# start down). 2.x: CRI is three plugins, the pod-sandbox controllers need
# CRI, and NRI would listen on the host's /var/run/nri/nri.sock.
kc_containerd_toml() { # DIR MAJOR
	echo "# written by scripts/kc-env.sh"
	# Top-level keys first: in TOML, keys after a [table] belong to it.
	if [ "$2" -ge 2 ]; then
		echo "version = 3"
		if [ -n "${KC_CRI:-}" ]; then
			echo 'disabled_plugins = ["io.containerd.nri.v1.nri"]'
		else
			cat <<TOML
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.grpc.v1.sandbox-controllers", "io.containerd.nri.v1.nri"]
TOML
		fi
	else
		echo "version = 2"
		[ -n "${KC_CRI:-}" ] || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
	fi
	cat <<TOML
root = "$1/ctd/root"
state = "$1/ctd/state"
[grpc]
  address = "$1/ctd/containerd.sock"
[ttrpc]
  address = "$1/ctd/containerd.sock.ttrpc"
TOML
	[ -n "${KC_CRI:-}" ] || return 0
	if [ "$2" -ge 2 ]; then
		cat <<TOML
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '$KC_PAUSE_IMAGE'
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '$1/cni'
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
TOML
		if [ -n "${KC_NATIVE:-}" ]; then
			# No options table: CRI would make runtimeoptions of it, which
			# the task endpoint's runc Options cannot be read from.
			cat <<TOML
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kuasar-native]
    runtime_type = '$KC_RUNTIME'
    sandboxer = 'kuasar'
    io_type = 'streaming'
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kuasar-native-fifo]
    runtime_type = '$KC_RUNTIME'
    sandboxer = 'kuasar'
    io_type = 'fifo'
TOML
		else
			cat <<TOML
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kuasar-vmm]
    runtime_type = '$KC_RUNTIME'
TOML
		fi
		cat <<TOML
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
TOML
		[ -z "${KC_NATIVE:-}" ] || cat <<TOML
[proxy_plugins.kuasar]
  type = 'sandbox'
  address = '$1/sbx.sock'
TOML
	else
		cat <<TOML
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$KC_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$1/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kuasar-vmm]
      runtime_type = "$KC_RUNTIME"
TOML
	fi
}

# A CNI bridge (no masquerade, no iptables) for pods: every address lives in
# $KC_NETNS, containerd's network namespace. Dual stack: IPv4 and an IPv6
# unique local range (fd00::/8, never routed), the gateways on the bridge;
# MTU 1400 so that a pod's MTU is seen to come from CNI. promiscMode makes the
# bridge plugin turn IPv6 DAD off on the pod's interface (kc_env_up turns it
# off in $KC_NETNS for the bridge's own addresses): no tentative addresses.
KC_CNI_CONFLIST=10-kc.conflist
kc_cni_conf() { # DIR
	mkdir -p "$1/cni"
	cat >"$1/cni/$KC_CNI_CONFLIST" <<JSON
{"cniVersion": "1.0.0", "name": "kc-cri", "plugins": [
  {"type": "bridge", "bridge": "kccri0", "isGateway": true, "ipMasq": false, "mtu": 1400,
   "promiscMode": true,
   "ipam": {"type": "host-local", "dataDir": "$1/cni-ipam",
            "ranges": [[{"subnet": "10.88.77.0/24"}], [{"subnet": "fd00:4b43:1::/64"}]],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}},
  {"type": "loopback"}]}
JSON
}

kc_env_up() {
	KC_DIR=$1
	mkdir -p "$KC_DIR"/{vmm,ctd}
	local bin=${KC_BIN_DIR:-$KC_TOP/build/bin} vhost major
	local machine=${KC_QEMU_MACHINE:-microvm} kdir=${KC_KERNEL_DIR:-$KC_TOP/build/kernel} kimg=vmlinux
	[ "$machine" = microvm ] || kimg=bzImage
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
kernel_path = "$kdir/$kimg"
initrd_path = "$KC_TOP/build/initramfs.cpio.gz"
kernel_params = "${KC_KERNEL_PARAMS:-}"
entropy_source = "/dev/urandom"

[hypervisor.virtiofsd]
flavour = "c"
path = "/usr/lib/qemu/virtiofsd"
cache = "auto"

[hypervisor.qemu]
machine = "$machine"
accel = "auto"
vhost_device_vsock = "$vhost"
TOML
	kc_containerd_toml "$KC_DIR" "$major" >"$KC_DIR/containerd.toml"
	[ -z "${KC_CTD_EXTRA_TOML:-}" ] || printf '%s\n' "$KC_CTD_EXTRA_TOML" >>"$KC_DIR/containerd.toml"
	kc_sbx_start || return 1
	if [ -n "${KC_CRI:-}" ]; then
		kc_cni_conf "$KC_DIR"
		KC_NETNS=${KC_NETNS:-kccri$$}
		ip netns add "$KC_NETNS" && ip -n "$KC_NETNS" link set lo up &&
			ip netns exec "$KC_NETNS" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
				net.ipv6.conf.default.accept_dad=0 || return 1
	fi
	kc_ctd_start
	kc_wait_socket "$KC_DIR/ctd/containerd.sock" 20 || {
		echo "containerd did not start:" >&2
		tail -20 "$KC_DIR/containerd.log" >&2
		return 1
	}
	if [ -n "${KC_CRI:-}" ]; then
		kc_cri_images || return 1
	fi
	bash "$KC_TOP/scripts/mk-busybox-image.sh" "$KC_DIR/busybox.tar" "$KC_IMAGE" &&
		kc_ctr images import "$KC_DIR/busybox.tar" >/dev/null
}

# (Re)start vmm-sandboxer (it recovers what a previous run left in
# $KC_DIR/vmm); its log is appended.
kc_sbx_start() {
	local bin=${KC_BIN_DIR:-$KC_TOP/build/bin} events=()
	[ -z "${KC_NATIVE:-}" ] || events=(--events-address "$KC_DIR/ctd/containerd.sock.ttrpc")
	rm -f "$KC_DIR/sbx.sock"
	"$bin/vmm-sandboxer" --listen "$KC_DIR/sbx.sock" --dir "$KC_DIR/vmm" \
		--config "$KC_DIR/sandboxer.toml" "${events[@]}" >>"$KC_DIR/sandboxer.log" 2>&1 &
	KC_SBX_PID=$!
	kc_wait_socket "$KC_DIR/sbx.sock" 30 || {
		echo "vmm-sandboxer did not start:" >&2
		tail -30 "$KC_DIR/sandboxer.log" >&2
		return 1
	}
}

# (Re)start containerd (in $KC_NETNS with KC_CRI); its log is appended.
kc_ctd_start() {
	local bin=${KC_BIN_DIR:-$KC_TOP/build/bin} in_ns=() path=$PATH
	[ -z "${KC_NETNS:-}" ] || in_ns=(nsenter "--net=/run/netns/$KC_NETNS")
	# containerd finds our shim on its PATH; the shim finds the sandboxer here.
	# Native mode: no shim, so containerd's PATH must not lead to one.
	if [ -n "${KC_NATIVE:-}" ]; then
		path=$(kc_path_without_shim)
	else
		path=$bin:$PATH
	fi
	PATH=$path KUASAR_SANDBOXER_ADDRESS=$KC_DIR/sbx.sock \
		"${in_ns[@]}" "$KC_CONTAINERD" --config "$KC_DIR/containerd.toml" >>"$KC_DIR/containerd.log" 2>&1 &
	KC_CTD_PID=$!
}

# $PATH without the directories that hold containerd-shim-kuasar-vmm-v2.
kc_path_without_shim() {
	local d out='' IFS=:
	for d in $PATH; do
		[ -e "$d/containerd-shim-kuasar-vmm-v2" ] || out=${out:+$out:}$d
	done
	echo "$out"
}

# The CRI suite's images, in CRI's namespace: a scratch pause image (only a
# static /pause), busybox, and busybox without /etc.
kc_cri_images() {
	local pause=${KC_PAUSE_BIN:?KC_PAUSE_BIN: the static pause binary}
	mkdir -p "$KC_DIR/pause-root"
	cp "$pause" "$KC_DIR/pause-root/pause"
	bash "$KC_TOP/scripts/mk-oci-image.sh" "$KC_DIR/pause-root" "$KC_DIR/pause.tar" \
		"$KC_PAUSE_IMAGE" '{"Entrypoint":["/pause"]}' &&
		bash "$KC_TOP/scripts/mk-busybox-image.sh" "$KC_DIR/cri-busybox.tar" "$KC_CRI_IMAGE" &&
		bash "$KC_TOP/scripts/mk-busybox-image.sh" "$KC_DIR/noetc.tar" "$KC_NOETC_IMAGE" --no-etc || return 1
	local t
	for t in pause cri-busybox noetc; do
		kc_ctr -n k8s.io images import "$KC_DIR/$t.tar" >/dev/null || return 1
	done
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
	if [ -n "${KC_NETNS:-}" ]; then
		ip netns del "$KC_NETNS" 2>/dev/null || true
		KC_NETNS=''
	fi
	# containerd leaves its mounts; nothing of ours may remain.
	grep -o " $KC_DIR[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	return 0
}
