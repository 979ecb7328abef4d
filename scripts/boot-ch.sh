#!/usr/bin/env bash
# boot-ch.sh - boot the guest initramfs standalone under cloud-hypervisor.
#
# Usage: scripts/boot-ch.sh [options]
#   --kernel PATH       PVH kernel (default build/kernel/vmlinux)
#   --initramfs PATH    default build/initramfs.cpio.gz
#   --cmdline STR       kernel command line (default: console=ttyS0 panic=-1 quiet
#                       task.sharefs_type=virtiofs; console=hvc0 with --console virtio)
#   --cpus N            vCPUs (default 1)
#   --mem MB            guest memory in MiB (default 512)
#   --dir DIR           runtime dir for sockets (default: a new mktemp dir)
#   --share DIR         share DIR over virtio-fs, tag "kuasar" (starts virtiofsd first)
#   --console serial|virtio
#                       serial (default): guest console on the 8250 (ttyS0), VMM
#                       --serial tty --console off; virtio: hvc0, --console tty --serial off
#   --api               also open the REST API socket DIR/api.sock
#   --ch PATH           cloud-hypervisor binary (default $CLOUD_HYPERVISOR, else PATH)
#   --virtiofsd PATH    the Rust virtiofsd (default $CH_VIRTIOFSD, else PATH)
#   --dry-run[=argv|sh] print the commands instead of running them: argv (default) is one
#                       argument per line, commands separated by an empty line; sh is
#                       one shell-quoted line per command
#
# The guest's agent listens on vsock port 1024; reach it through the hybrid vsock
# socket DIR/task.vsock ("CONNECT 1024\n" -> "OK ..."). Flag syntax follows
# cloud-hypervisor's own CLI (cloud-hypervisor/src/main.rs, vmm/src/config.rs).
# No cloud-hypervisor binary exists on our CI machines: tests check --dry-run output.
set -euo pipefail
shopt -s inherit_errexit

say() { printf 'boot-ch: %s\n' "$*" >&2; }
die() { printf 'boot-ch: error: %s\n' "$*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=$top/build/kernel/vmlinux
initramfs=$top/build/initramfs.cpio.gz
cmdline=''
cpus=1
mem=512
dir=''
share=''
console=serial
api=0
ch=${CLOUD_HYPERVISOR:-}
virtiofsd=${CH_VIRTIOFSD:-}
dry=''

need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) need "$@"; kernel=$2; shift 2 ;;
	--initramfs) need "$@"; initramfs=$2; shift 2 ;;
	--cmdline) need "$@"; cmdline=$2; shift 2 ;;
	--cpus) need "$@"; cpus=$2; shift 2 ;;
	--mem) need "$@"; mem=$2; shift 2 ;;
	--dir) need "$@"; dir=$2; shift 2 ;;
	--share) need "$@"; share=$2; shift 2 ;;
	--console) need "$@"; console=$2; shift 2 ;;
	--api) api=1; shift ;;
	--ch) need "$@"; ch=$2; shift 2 ;;
	--virtiofsd) need "$@"; virtiofsd=$2; shift 2 ;;
	--dry-run | --dry-run=argv) dry=argv; shift ;;
	--dry-run=sh) dry="sh"; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer"
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem must be a positive number of MiB"
case "$console" in
serial) console_args=(--console off --serial tty) def_console=ttyS0 ;;
virtio) console_args=(--console tty --serial off) def_console=hvc0 ;;
*) die "--console must be serial or virtio" ;;
esac
cmdline=${cmdline:-console=$def_console panic=-1 quiet task.sharefs_type=virtiofs}

# Without the binary only --dry-run can work: say so before touching anything.
if [ -z "$ch" ]; then
	ch=$(command -v cloud-hypervisor || true)
	if [ -z "$ch" ]; then
		[ -n "$dry" ] || die "no cloud-hypervisor binary (not in PATH, \$CLOUD_HYPERVISOR unset);" \
			"it is not packaged for Debian and cannot run here: use --dry-run, or scripts/boot-qemu.sh"
		ch=cloud-hypervisor
	fi
elif [ -z "$dry" ] && [ ! -x "$ch" ]; then
	die "cloud-hypervisor binary '$ch' is not executable"
fi
if [ -n "$share" ] && [ -z "$virtiofsd" ]; then
	virtiofsd=$(command -v virtiofsd || true)
	if [ -z "$virtiofsd" ]; then
		[ -n "$dry" ] || die "--share needs the Rust virtiofsd (--virtiofsd PATH or \$CH_VIRTIOFSD)"
		virtiofsd=virtiofsd
	fi
fi

own_dir=0
if [ -z "$dir" ]; then
	if [ -n "$dry" ]; then
		dir=${TMPDIR:-/tmp}/kc-ch.XXXXXX # placeholder: a dry run creates nothing
	else
		dir=$(mktemp -d "${TMPDIR:-/tmp}/kc-ch.XXXXXX")
		own_dir=1
	fi
fi

# virtiofsd first: cloud-hypervisor connects to its socket while creating the VM.
fs_cmd=()
if [ -n "$share" ]; then
	fs_cmd=("$virtiofsd" --log-level=info "--socket-path=$dir/virtiofs.sock"
		"--shared-dir=$share" --cache=never --thread-pool-size=4)
fi
# --memory shared=on: vhost-user devices (virtio-fs) need guest memory the
# daemon can map; Kuasar always sets it.
ch_cmd=("$ch" --kernel "$kernel" --initramfs "$initramfs" --cmdline "$cmdline"
	--cpus "boot=$cpus" --memory "size=${mem}M,shared=on"
	--vsock "cid=3,socket=$dir/task.vsock")
if [ -n "$share" ]; then
	ch_cmd+=(--fs "tag=kuasar,socket=$dir/virtiofs.sock")
fi
ch_cmd+=("${console_args[@]}")
if [ $api = 1 ]; then
	ch_cmd+=(--api-socket "path=$dir/api.sock")
fi

# --dry-run output (shq, print_cmd).
source "$(dirname "${BASH_SOURCE[0]}")/print-cmd.sh"
if [ -n "$dry" ]; then
	if [ ${#fs_cmd[@]} -gt 0 ]; then
		print_cmd "${fs_cmd[@]}"
		[ "$dry" = sh ] || echo
	fi
	print_cmd "${ch_cmd[@]}"
	exit 0
fi

[ -f "$kernel" ] || die "no kernel '$kernel' (make kernel)"
[ -f "$initramfs" ] || die "no initramfs '$initramfs' (make initramfs)"
mkdir -p "$dir"
fs_pid=''
cleanup() {
	if [ -n "$fs_pid" ]; then
		kill "$fs_pid" 2>/dev/null || true
		wait "$fs_pid" 2>/dev/null || true
	fi
	rm -f "$dir/virtiofs.sock" "$dir/task.vsock" "$dir/api.sock"
	if [ $own_dir = 1 ]; then
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A stale socket from an earlier run makes cloud-hypervisor fail to bind.
rm -f "$dir/task.vsock" "$dir/virtiofs.sock" "$dir/api.sock"

if [ -n "$share" ]; then
	"${fs_cmd[@]}" 2>"$dir/virtiofsd.log" &
	fs_pid=$!
	for _ in $(seq 500); do
		[ -S "$dir/virtiofs.sock" ] && break
		kill -0 "$fs_pid" 2>/dev/null || die "virtiofsd exited; see $dir/virtiofsd.log"
		sleep 0.01
	done
	[ -S "$dir/virtiofs.sock" ] || die "virtiofsd did not create $dir/virtiofs.sock within 5 s"
fi
say "runtime dir $dir (agent: hybrid vsock $dir/task.vsock port 1024)"
rc=0
"${ch_cmd[@]}" || rc=$?
exit $rc
