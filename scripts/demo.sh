#!/usr/bin/env bash
# demo.sh: the main job. A private containerd (Debian's 1.6, or KC_CONTAINERD)
# runs a busybox container in a kuasar-c microVM through
# containerd-shim-kuasar-vmm-v2 and vmm-sandboxer, and prints what the
# container printed. Run as root, after `make all initramfs kernel` (`make
# demo` does everything).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "demo: run as root (containerd, mounts, VMs)" >&2; exit 1; }
source "$top/scripts/kc-env.sh"
dir=$(mktemp -d /tmp/kc-demo-XXXXXX)
trap 'kc_env_down; rm -rf "$dir"' EXIT
kc_env_up "$dir"
echo "demo: containerd $KC_CTD_VERSION, runtime $KC_RUNTIME, image $KC_IMAGE"
echo "demo: ctr run --rm --runtime $KC_RUNTIME $KC_IMAGE demo ..."
start=$(date +%s%N)
kc_ctr run --rm --runtime "$KC_RUNTIME" "$KC_IMAGE" demo sh -c \
	'echo "Hello from a kuasar-c microVM!"; echo "kernel: $(uname -r), cpus: $(nproc), memory: $(awk "/MemTotal/ {print \$2}" /proc/meminfo) kB"; echo "cgroup: $(cat /proc/self/cgroup)"'
end=$(date +%s%N)
echo "demo: container exited 0 after $(((end - start) / 1000000)) ms (VM boot included, $(grep -q -E 'vmx|svm' /proc/cpuinfo && echo KVM || echo 'QEMU TCG: no hardware virtualization here'))"
