#!/usr/bin/env bash
# The cloud-hypervisor boot path, verified by exact argv: no cloud-hypervisor binary
# exists on our machines. Each case compares scripts/boot-ch.sh --dry-run output with
# the expected command lines, and every flag/value against the syntax cloud-hypervisor
# documents (cloud-hypervisor/src/main.rs clap args, vmm/src/config.rs parsers).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
boot=$top/scripts/boot-ch.sh
fails=0
n=0

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# --- cloud-hypervisor's documented syntax ---------------------------------------
# Keys each option parser accepts (OptionParser::add calls in vmm/src/config.rs).
declare -A KEYS=(
	[cpus]="boot max topology kvm_hyperv max_phys_bits affinity features nested core_scheduling profile"
	[memory]="size file mergeable hotplug_method hotplug_size hotplugged_size shared hugepages hugepage_size prefault reserve thp"
	[vsock]="socket cid id iommu pci_segment pci_device_id"
	[fs]="tag socket num_queues queue_size id pci_segment pci_device_id"
	[api-socket]="path fd"
)
# Flags that take a plain value (path or string), and the console modes.
PLAIN_FLAGS=" kernel initramfs cmdline "
CONSOLE_MODES=" off null pty tty "
TOGGLE_KEYS=" shared hugepages mergeable prefault reserve thp iommu kvm_hyperv nested "
SIZE_KEYS=" size hotplug_size hotplugged_size hugepage_size "

# Check one cloud-hypervisor argv (passed as arguments) against the syntax.
check_syntax() {
	local -A seen=()
	shift # the binary
	local need_shared=0 shared=0
	while [ $# -gt 0 ]; do
		local flag=$1 name=${1#--} val=${2-}
		[[ $flag == --* ]] || { fail "expected a --flag, got '$flag'"; return; }
		[ $# -ge 2 ] || { fail "$flag has no value"; return; }
		[[ $val != --* ]] || { fail "$flag is followed by another flag"; return; }
		shift 2
		if [ -n "${seen[$name]:-}" ]; then
			fail "--$name given twice (it is not an Append option we use that way)"
		fi
		seen[$name]=1
		if [[ $PLAIN_FLAGS == *" $name "* ]]; then
			[ -n "$val" ] || fail "--$name is empty"
			continue
		fi
		case "$name" in
		console | serial)
			if [[ $CONSOLE_MODES != *" $val "* ]] && [[ $val != file=* ]] && [[ $val != socket=* ]]; then
				fail "--$name '$val' is not off|null|pty|tty|file=|socket="
			fi
			continue
			;;
		esac
		[ -n "${KEYS[$name]:-}" ] || { fail "unknown or unexpected flag --$name"; continue; }
		local kv key v
		IFS=, read -r -a kvs <<<"$val"
		for kv in "${kvs[@]}"; do
			[[ $kv == *=* ]] || { fail "--$name: '$kv' is not key=value"; continue; }
			key=${kv%%=*} v=${kv#*=}
			[[ " ${KEYS[$name]} " == *" $key "* ]] || fail "--$name: unknown key '$key'"
			if [[ $TOGGLE_KEYS == *" $key "* ]] && [[ $v != on && $v != off ]]; then
				fail "--$name: $key=$v is not on|off"
			fi
			if [[ $SIZE_KEYS == *" $key "* ]] && ! [[ $v =~ ^[0-9]+[KMG]?$ ]]; then
				fail "--$name: $key=$v is not a byte size (N[K|M|G])"
			fi
			[ "$name/$key" != memory/shared ] || [ "$v" != on ] || shared=1
		done
		case "$name" in
		cpus) [[ $val =~ (^|,)boot=[1-9][0-9]*(,|$) ]] || fail "--cpus lacks boot=N" ;;
		vsock)
			[[ $val =~ (^|,)cid=[0-9]+(,|$) ]] || fail "--vsock lacks cid="
			[[ $val =~ (^|,)socket=/ ]] || fail "--vsock lacks socket=PATH"
			;;
		fs)
			need_shared=1
			[[ $val =~ (^|,)tag=[^,]+ ]] || fail "--fs lacks tag="
			[[ $val =~ (^|,)socket=/ ]] || fail "--fs lacks socket=PATH"
			;;
		esac
	done
	[ -n "${seen[kernel]:-}" ] || fail "no --kernel"
	# vmm/src/config.rs: vhost-user devices need --memory shared=on.
	[ $need_shared = 0 ] || [ $shared = 1 ] || fail "--fs without --memory shared=on"
	# Default --console is tty: with the serial console on tty as well, both would
	# write to the terminal; we always choose one explicitly.
	[ -n "${seen[console]:-}" ] || fail "--console not given (its default is tty)"
}

# run_case NAME EXPECTED-FILE ARGS...: exact argv (--dry-run), then syntax of the CH command.
run_case() {
	local name=$1 expected=$2
	shift 2
	n=$((n + 1))
	local got
	if ! got=$(bash "$boot" --dry-run "$@" 2>&1); then
		fail "$name: boot-ch.sh --dry-run failed: $got"
		return
	fi
	if [ "$got" != "$expected" ]; then
		fail "$name: argv differs"
		diff <(printf '%s\n' "$expected") <(printf '%s\n' "$got") | sed 's/^/    /' >&2 || true
		return
	fi
	# The last command (after the last empty line) is cloud-hypervisor.
	local -a cur=()
	while IFS= read -r line; do
		if [ -z "$line" ]; then cur=(); else cur+=("$line"); fi
	done <<<"$got"
	check_syntax "${cur[@]}"
	echo "ok $n - $name"
}

# 0. The syntax checker itself catches what it claims to.
n=$((n + 1))
bad_fails=$(
	fails=0
	check_syntax ch --kernel /k --cpus boot=1,cores=2 --memory size=1Gi,shared=yes \
		--fs tag=x,socket=/s --vsock cid=3 --serial tty 2>/dev/null
	echo $fails
)
if [ "$bad_fails" -ge 6 ]; then
	echo "ok $n - the syntax checker rejects a bad argv ($bad_fails findings)"
else
	fail "the syntax checker found only $bad_fails problems in a bad argv"
fi

CH=/opt/ch/cloud-hypervisor
K=/var/lib/kc/vmlinux
I=/var/lib/kc/initramfs.cpio.gz
R=/run/kc/vm1

# 1. Minimal: serial console on the terminal, virtio console off.
run_case "serial console, defaults" "$(
	cat <<EOF
$CH
--kernel
$K
--initramfs
$I
--cmdline
console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs
--cpus
boot=1
--memory
size=512M,shared=on
--vsock
cid=3,socket=$R/task.vsock
--console
off
--serial
tty
EOF
)" --ch "$CH" --kernel "$K" --initramfs "$I" --dir "$R"

# 2. Shared dir: virtiofsd first (Rust virtiofsd syntax, as cloud-hypervisor's
#    docs/fs.md runs it), then --fs after --vsock; more CPUs and memory.
run_case "virtio-fs share, 2 vCPUs, 1 GiB" "$(
	cat <<EOF
/usr/libexec/virtiofsd
--log-level=info
--socket-path=$R/virtiofs.sock
--shared-dir=/srv/kc/share
--cache=never
--thread-pool-size=4

$CH
--kernel
$K
--initramfs
$I
--cmdline
console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs
--cpus
boot=2
--memory
size=1024M,shared=on
--vsock
cid=3,socket=$R/task.vsock
--fs
tag=kuasar,socket=$R/virtiofs.sock
--console
off
--serial
tty
EOF
)" --ch "$CH" --kernel "$K" --initramfs "$I" --dir "$R" --cpus 2 --mem 1024 \
	--share /srv/kc/share --virtiofsd /usr/libexec/virtiofsd

# 3. virtio console (hvc0) as Kuasar uses it, custom command line, REST API socket.
run_case "virtio console, custom cmdline, api socket" "$(
	cat <<EOF
$CH
--kernel
$K
--initramfs
$I
--cmdline
console=hvc0 task.debug task.log_level=debug
--cpus
boot=1
--memory
size=256M,shared=on
--vsock
cid=3,socket=$R/task.vsock
--console
tty
--serial
off
--api-socket
path=$R/api.sock
EOF
)" --ch "$CH" --kernel "$K" --initramfs "$I" --dir "$R" --mem 256 --console virtio \
	--cmdline "console=hvc0 task.debug task.log_level=debug" --api

# 4. The default command line follows the console choice.
n=$((n + 1))
got=$(bash "$boot" --dry-run --ch "$CH" --dir "$R" --console virtio | sed -n '/^--cmdline$/{n;p}')
if [ "$got" = "console=hvc0 panic=-1 quiet task.sharefs_type=virtiofs" ]; then
	echo "ok $n - default cmdline with --console virtio"
else
	fail "default cmdline with --console virtio: '$got'"
fi

# 5. Shell-quoted form: one line per command, quoting only where needed.
n=$((n + 1))
got=$(bash "$boot" --dry-run=sh --ch "$CH" --kernel "$K" --initramfs "$I" --dir "$R")
want="$CH --kernel $K --initramfs $I --cmdline 'console=ttyS0 panic=-1 quiet task.sharefs_type=virtiofs' --cpus boot=1 --memory size=512M,shared=on --vsock cid=3,socket=$R/task.vsock --console off --serial tty"
if [ "$got" = "$want" ]; then
	echo "ok $n - --dry-run=sh"
else
	fail "--dry-run=sh: got '$got'"
fi
# ... and it is valid shell that yields the same argv.
n=$((n + 1))
argv=$(bash -c 'f() { printf "%s\n" "$@"; }; eval "f ${1#* }"' _ "$got")
if [ "$argv" = "$(bash "$boot" --dry-run --ch "$CH" --kernel "$K" --initramfs "$I" --dir "$R" | tail -n +2)" ]; then
	echo "ok $n - --dry-run=sh re-parses to the --dry-run argv"
else
	fail "--dry-run=sh does not re-parse to the same argv"
fi

# 6. Without --dry-run and without a binary: a clear refusal, nothing started.
n=$((n + 1))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
out=$(env -u CLOUD_HYPERVISOR PATH=/usr/bin:/bin bash "$boot" --dir "$tmp/vm" 2>&1) || rc=$?
if [ $rc != 0 ] && [[ $out == *"no cloud-hypervisor binary"* ]] && [ ! -e "$tmp/vm" ]; then
	echo "ok $n - refuses to run without a cloud-hypervisor binary"
else
	fail "missing binary: rc=$rc, output '$out'"
fi

# 7. Bad values are rejected before anything runs.
for bad in "--cpus 0" "--mem 12x" "--console hvc"; do
	n=$((n + 1))
	# shellcheck disable=SC2086 # split on purpose
	if bash "$boot" --dry-run --ch "$CH" $bad >/dev/null 2>&1; then
		fail "accepted $bad"
	else
		echo "ok $n - rejects $bad"
	fi
done

if [ $fails != 0 ]; then
	echo "$fails of $n checks failed" >&2
	exit 1
fi
echo "all $n checks passed"
