#!/usr/bin/env bash
# boot-qemu.sh - boot the guest initramfs standalone under QEMU (the VMM our tests run).
#
# Usage: scripts/boot-qemu.sh [options]
#        scripts/boot-qemu.sh --stop DIR      stop a --background VM and wait for its cleanup
#   --machine pc|microvm  default pc. microvm boots the PVH vmlinux with virtio-mmio devices
#   --kernel PATH      default build/kernel/bzImage (pc) or build/kernel/vmlinux (microvm)
#   --cloud-kernel     Debian's cloud kernel ($CLOUD_KERNEL; -M pc only) with
#                      build/initramfs-cloud.cpio.gz (make initramfs-cloud: it carries the modules)
#   --initrd PATH      default build/initramfs.cpio.gz
#   --append STR       kernel command line (default: console=ttyS0 panic=-1 quiet
#                      task.sharefs_type=virtiofs; microvm adds tsc_early_khz=2000000)
#   --extra-append STR appended to the command line
#   --mem MB           guest memory (default 512)
#   --cpus N           vCPUs (default 1)
#   --dir DIR          runtime dir: sockets, logs, pid files (default: a new mktemp dir)
#   --share DIR        share DIR over virtio-fs, tag "kuasar" (virtiofsd)
#   --vsock auto|vhost|vhost-user
#                      auto (default): kernel vhost-vsock if /dev/vhost-vsock exists, else
#                      vhost-device-vsock (hybrid vsock socket DIR/task.vsock)
#   --cid N            guest CID (default 3)
#   --accel auto|kvm|tcg  auto: KVM only if the CPU flags show vmx/svm and /dev/kvm is usable
#   --background       run detached: console in DIR/console.log, QEMU pid in DIR/qemu.pid,
#                      QMP on DIR/qmp.sock; prints DIR on stdout once QEMU is up
#   --dry-run[=argv|sh] print the commands (argv: one argument per line, commands separated
#                      by an empty line; sh: shell-quoted lines) and exit
#
# DIR/agent.addr holds the agent's address (port 1024) in our endpoint syntax:
# hvsock://DIR/task.vsock:1024 or vsock://CID:1024. vhost-device-vsock and
# virtiofsd are stopped when QEMU exits. Foreground: the console is this terminal
# (serial ttyS0 multiplexed with the QEMU monitor: Ctrl-A X quits, Ctrl-A C monitor).
set -euo pipefail
shopt -s inherit_errexit

say() { printf 'boot-qemu: %s\n' "$*" >&2; }
die() { printf 'boot-qemu: error: %s\n' "$*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
orig_args=("$@")

# Paths of the helpers come from the environment, else from setup-deps' env.mk.
: "${HOME:=$(cd ~ && pwd)}"
KC_CACHE=${KC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c}
envmk() {
	local v=${!1:-}
	if [ -z "$v" ] && [ -f "$KC_CACHE/env.mk" ]; then
		v=$(sed -n "s/^$1 := //p" "$KC_CACHE/env.mk")
	fi
	printf '%s' "$v"
}

machine=pc
kernel=''
cloud=0
initrd=''
append=''
extra_append=''
mem=512
cpus=1
dir=''
share=''
vsock=auto
cid=3
accel=auto
background=0
supervise=0
dry=''
stop=''
qemu_bin=${QEMU:-qemu-system-x86_64}

need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--machine) need "$@"; machine=$2; shift 2 ;;
	--kernel) need "$@"; kernel=$2; shift 2 ;;
	--cloud-kernel) cloud=1; shift ;;
	--initrd) need "$@"; initrd=$2; shift 2 ;;
	--append) need "$@"; append=$2; shift 2 ;;
	--extra-append) need "$@"; extra_append=$2; shift 2 ;;
	--mem) need "$@"; mem=$2; shift 2 ;;
	--cpus) need "$@"; cpus=$2; shift 2 ;;
	--dir) need "$@"; dir=$2; shift 2 ;;
	--share) need "$@"; share=$2; shift 2 ;;
	--vsock) need "$@"; vsock=$2; shift 2 ;;
	--cid) need "$@"; cid=$2; shift 2 ;;
	--accel) need "$@"; accel=$2; shift 2 ;;
	--background) background=1; shift ;;
	--_supervise) supervise=1; shift ;; # internal: the detached half of --background
	--dry-run | --dry-run=argv) dry=argv; shift ;;
	--dry-run=sh) dry="sh"; shift ;;
	--stop) need "$@"; stop=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

# ------------------------------------------------------------------ --stop
pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
if [ -n "$stop" ]; then
	qpid=$(cat "$stop/qemu.pid" 2>/dev/null || true)
	spid=$(cat "$stop/supervisor.pid" 2>/dev/null || true)
	if pid_alive "$qpid"; then kill "$qpid"; fi
	# The supervisor removes its pid file after stopping the daemons.
	for _ in $(seq 500); do
		pid_alive "$spid" || break
		sleep 0.01
	done
	if pid_alive "$spid"; then
		kill "$spid" 2>/dev/null || true
		die "the VM in $stop did not stop within 5 s"
	fi
	exit 0
fi

# ------------------------------------------------------------------ settings
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer"
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem must be a positive number of MiB"
[[ $cid =~ ^[0-9]+$ ]] && [ "$cid" -ge 3 ] || die "--cid must be >= 3"
case "$machine" in pc | microvm) ;; *) die "--machine must be pc or microvm" ;; esac
if [ $cloud = 1 ]; then
	[ "$machine" = pc ] || die "--cloud-kernel needs -M pc (Debian's kernel has no PVH entry)"
	kernel=${kernel:-$(envmk CLOUD_KERNEL)}
	[ -n "$kernel" ] || die "no Debian cloud kernel (run: scripts/setup-deps.sh vm)"
	initrd=${initrd:-$top/build/initramfs-cloud.cpio.gz}
fi
if [ -z "$kernel" ]; then
	if [ "$machine" = microvm ]; then kernel=$top/build/kernel/vmlinux; else kernel=$top/build/kernel/bzImage; fi
fi
initrd=${initrd:-$top/build/initramfs.cpio.gz}
append=${append:-console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs}
# microvm: without tsc_early_khz some boots hang calibrating the TSC under TCG.
if [ "$machine" = microvm ] && [[ " $append " != *" tsc_early_khz="* ]]; then
	append+=" tsc_early_khz=2000000"
fi
[ -z "$extra_append" ] || append+=" $extra_append"

case "$accel" in
auto)
	accel=tcg
	# /dev/kvm alone is not enough: a paravirtual (nested) KVM without vmx/svm
	# hangs ordinary guests.
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then accel=kvm; fi
	;;
kvm | tcg) ;;
*) die "--accel must be auto, kvm or tcg" ;;
esac
case "$vsock" in
auto) if [ -w /dev/vhost-vsock ]; then vsock=vhost; else vsock=vhost-user; fi ;;
vhost | vhost-user) ;;
*) die "--vsock must be auto, vhost or vhost-user" ;;
esac

own_dir=0
if [ -z "$dir" ]; then
	if [ -n "$dry" ]; then
		dir=${TMPDIR:-/tmp}/kc-vm.XXXXXX # placeholder: a dry run creates nothing
	else
		dir=$(mktemp -d "${TMPDIR:-/tmp}/kc-vm.XXXXXX")
		own_dir=1
	fi
fi
mkdir_dir() { mkdir -p "$dir" && dir=$(cd "$dir" && pwd); }

# ------------------------------------------------------------------ commands
build_cmds() {
	local dev_sfx
	if [ "$machine" = microvm ]; then dev_sfx=device; else dev_sfx=pci; fi

	vsock_cmd=()
	if [ "$vsock" = vhost-user ]; then
		local vdv
		vdv=$(envmk VHOST_DEVICE_VSOCK)
		vsock_cmd=("${vdv:-vhost-device-vsock}" --guest-cid "$cid" --socket "$dir/vhu.sock"
			--uds-path "$dir/task.vsock")
	fi
	fs_cmd=()
	if [ -n "$share" ]; then
		local vfs
		vfs=$(envmk VIRTIOFSD)
		fs_cmd=("${vfs:-/usr/lib/qemu/virtiofsd}" "--socket-path=$dir/virtiofs.sock"
			-o "source=$share" -o cache=auto)
	fi

	qemu_cmd=("$qemu_bin" -name kuasar-guest -nodefaults -no-user-config -no-reboot -display none)
	if [ "$accel" = kvm ]; then
		qemu_cmd+=(-accel kvm -cpu host)
	else
		qemu_cmd+=(-accel tcg -cpu max)
	fi
	# Guest RAM in a shared memfd: vhost-user daemons map it.
	if [ "$machine" = microvm ]; then
		qemu_cmd+=(-M "microvm,memory-backend=mem" -global virtio-mmio.force-legacy=false)
	else
		qemu_cmd+=(-M "pc,memory-backend=mem")
	fi
	qemu_cmd+=(-m "${mem}M" -smp "$cpus"
		-object "memory-backend-memfd,id=mem,size=${mem}M,share=on"
		-kernel "$kernel" -initrd "$initrd" -append "$append")
	if [ "$vsock" = vhost-user ]; then
		qemu_cmd+=(-chardev "socket,id=vsock0,path=$dir/vhu.sock"
			-device "vhost-user-vsock-$dev_sfx,chardev=vsock0")
	else
		qemu_cmd+=(-device "vhost-vsock-$dev_sfx,guest-cid=$cid")
	fi
	if [ -n "$share" ]; then
		qemu_cmd+=(-chardev "socket,id=fs0,path=$dir/virtiofs.sock"
			-device "vhost-user-fs-$dev_sfx,chardev=fs0,tag=kuasar")
	fi
	qemu_cmd+=(-qmp "unix:$dir/qmp.sock,server=on,wait=off" -pidfile "$dir/qemu.pid")
	if [ $background = 1 ] || [ $supervise = 1 ]; then
		qemu_cmd+=(-serial "file:$dir/console.log")
	else
		qemu_cmd+=(-serial mon:stdio)
	fi
}

# --dry-run output (shq, print_cmd).
source "$(dirname "${BASH_SOURCE[0]}")/print-cmd.sh"

if [ -n "$dry" ]; then
	build_cmds
	for c in vsock_cmd fs_cmd; do
		declare -n ref=$c
		if [ ${#ref[@]} -gt 0 ]; then
			print_cmd "${ref[@]}"
			[ "$dry" = sh ] || echo
		fi
		unset -n ref
	done
	print_cmd "${qemu_cmd[@]}"
	exit 0
fi

[ -f "$kernel" ] || die "no kernel '$kernel' (make kernel)"
[ -f "$initrd" ] || die "no initramfs '$initrd' (make initramfs)"
[ -n "$share" ] && { [ -d "$share" ] || die "--share: no directory '$share'"; }
command -v "$qemu_bin" >/dev/null || die "no $qemu_bin (run: scripts/setup-deps.sh vm)"

# ------------------------------------------------------------------ --background
if [ $background = 1 ] && [ $supervise = 0 ]; then
	mkdir_dir
	rm -f "$dir/qemu.pid" "$dir/supervisor.pid" "$dir/failed"
	# Re-run detached (own session, no terminal) as the supervisor: it owns the
	# daemons and cleans them up when QEMU exits.
	setsid "$0" "${orig_args[@]}" --dir "$dir" --_supervise </dev/null >"$dir/supervisor.log" 2>&1 &
	sup=$!
	# Up = pid file written and QMP socket created (QEMU writes the former first).
	for _ in $(seq 1000); do
		[ -s "$dir/qemu.pid" ] && [ -S "$dir/qmp.sock" ] && break
		if [ -e "$dir/failed" ] || ! pid_alive "$sup"; then
			sed 's/^/  | /' "$dir/supervisor.log" >&2
			die "the VM did not start (log: $dir/supervisor.log)"
		fi
		sleep 0.01
	done
	[ -S "$dir/qmp.sock" ] || die "QEMU did not start within 10 s (log: $dir/supervisor.log)"
	printf '%s\n' "$dir"
	exit 0
fi

# ------------------------------------------------------------------ run
mkdir_dir
build_cmds
daemon_pids=()
qemu_pid=''
cleanup() {
	local rc=$?
	if pid_alive "$qemu_pid"; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
	for p in "${daemon_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${daemon_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -f "$dir/vhu.sock" "$dir/task.vsock" "$dir"/task.vsock_* "$dir/virtiofs.sock" "$dir/qmp.sock"
	[ $rc = 0 ] || [ $supervise = 0 ] || touch "$dir/failed"
	if [ $supervise = 1 ]; then rm -f "$dir/supervisor.pid"; fi
	if [ $own_dir = 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
[ $supervise = 0 ] || echo $$ >"$dir/supervisor.pid"
rm -f "$dir/vhu.sock" "$dir/task.vsock" "$dir/virtiofs.sock" "$dir/qmp.sock" "$dir/qemu.pid"

start_daemon() { # name socket argv...
	local name=$1 sock=$2
	shift 2
	"$@" >"$dir/$name.log" 2>&1 &
	daemon_pids+=($!)
	for _ in $(seq 500); do
		[ -S "$sock" ] && return 0
		pid_alive "$!" || { cat "$dir/$name.log" >&2; die "$name exited (log: $dir/$name.log)"; }
		sleep 0.01
	done
	die "$name did not create $sock within 5 s (log: $dir/$name.log)"
}
if [ ${#vsock_cmd[@]} -gt 0 ]; then
	[ -x "${vsock_cmd[0]}" ] || die "no vhost-device-vsock '${vsock_cmd[0]}' (run: scripts/setup-deps.sh vm)"
	start_daemon vhost-device-vsock "$dir/vhu.sock" "${vsock_cmd[@]}"
	echo "hvsock://$dir/task.vsock:1024" >"$dir/agent.addr"
else
	echo "vsock://$cid:1024" >"$dir/agent.addr"
fi
if [ ${#fs_cmd[@]} -gt 0 ]; then
	[ -x "${fs_cmd[0]}" ] || die "no virtiofsd '${fs_cmd[0]}' (run: scripts/setup-deps.sh vm)"
	start_daemon virtiofsd "$dir/virtiofs.sock" "${fs_cmd[@]}"
fi

if [ $supervise = 1 ]; then
	: >"$dir/console.log"
	date +%s%N >"$dir/qemu.start" # the boot benchmark's time zero
	"${qemu_cmd[@]}" &
	qemu_pid=$!
	rc=0
	wait "$qemu_pid" || rc=$?
	qemu_pid=''
	echo "$rc" >"$dir/qemu.exit"
	exit 0
fi
say "runtime dir $dir; agent at $(cat "$dir/agent.addr"); $machine, $accel, $(basename "$kernel")"
# A child, not exec: the traps stop the daemons when QEMU exits, and forward
# TERM/INT to QEMU. <&0: a background job's stdin would be /dev/null otherwise.
rc=0
"${qemu_cmd[@]}" <&0 &
qemu_pid=$!
wait "$qemu_pid" || rc=$?
qemu_pid=''
exit $rc
