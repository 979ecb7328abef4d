#!/usr/bin/env bash
# mkinitramfs.sh - build the guest initramfs (see docs/guest.md); `make initramfs` calls it.
#
# Usage: scripts/mkinitramfs.sh --mkcpio BIN --init BIN --out FILE [options]
#   --mkcpio BIN      build/host-tools/mkcpio
#   --init BIN        becomes /init (a stripped copy)
#   --out FILE        the image
#   --compress C      gzip (default) | lz4 | none
#   --modules DIR     /lib/modules/<ver> of a distro kernel: copy the virtio, vsock,
#                     fuse/virtiofs, overlay, block, net (and 9p if present) modules
#                     with their dependencies, plus /lib/modules/load.list
#   --extra-module M  with --modules, load module M too (repeatable; tests only, e.g.
#                     vsock_loopback to attack the agent from inside the VM)
#   --busybox BIN     static busybox as /bin/busybox, /bin/sh -> busybox (debug shell)
#   --stage DIR       scratch dir (default: FILE-stage)
#   --max-kib N       fail if the image is larger than N KiB
#
# The bytes depend only on the inputs: mkcpio sorts, zeroes owners and uses
# SOURCE_DATE_EPOCH (default 0) for every mtime; gzip -n stores no name/time.
set -euo pipefail
shopt -s inherit_errexit

say() { printf 'initramfs: %s\n' "$*" >&2; }
die() { printf 'initramfs: error: %s\n' "$*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
mkcpio='' init='' out='' compress=gzip modules='' busybox='' stage='' max_kib='' extra_modules=''
while [ $# -gt 0 ]; do
	case "$1" in
	--mkcpio) mkcpio=$2; shift 2 ;;
	--init) init=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--compress) compress=$2; shift 2 ;;
	--modules) modules=$2; shift 2 ;;
	--extra-module) extra_modules="$extra_modules $2"; shift 2 ;;
	--busybox) busybox=$2; shift 2 ;;
	--stage) stage=$2; shift 2 ;;
	--max-kib) max_kib=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
[ -x "$mkcpio" ] || die "--mkcpio: '$mkcpio' is not executable"
[ -f "$init" ] || die "--init: no file '$init'"
[ -n "$out" ] || die "--out is required"
case "$compress" in
gzip | none) ;;
lz4) command -v lz4 >/dev/null || die "lz4 not installed (scripts/setup-deps.sh vm)" ;;
*) die "--compress must be gzip, lz4 or none" ;;
esac
stage=${stage:-$out-stage}
rm -rf "$stage"
mkdir -p "$stage" "$(dirname "$out")"
extra=$stage/extra.list
: >"$extra"

# strip: the agent's symbols are of no use in the guest and double its size.
strip -o "$stage/init" "$init"

if [ -n "$busybox" ]; then
	[ -x "$busybox" ] || die "--busybox: '$busybox' is not executable"
	file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not statically linked"
	cp "$busybox" "$stage/busybox"
	cat >>"$extra" <<-EOF
		dir /bin 0755 0 0
		file /bin/busybox $stage/busybox 0755 0 0
		slink /bin/sh busybox 0777 0 0
	EOF
fi

# Modules a distro kernel (Debian cloud) needs for our devices, in the order
# listed; dependencies are pulled in from modules.dep ahead of their users.
WANT_MODULES="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	virtio_console vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
	fuse virtiofs overlay virtio_blk virtio_net$extra_modules"
OPTIONAL_MODULES="9pnet 9pnet_virtio 9p"

if [ -n "$modules" ]; then
	[ -f "$modules/modules.dep" ] || die "--modules: no $modules/modules.dep (run depmod)"
	mkdir -p "$stage/modules"
	builtin=()
	[ ! -f "$modules/modules.builtin" ] || builtin=("$modules/modules.builtin")
	# modules.dep: "path: dep1 dep2 ..." where the deps are the transitive closure,
	# innermost last. The order is a depth-first post-order walk: every module after
	# all of its dependencies.
	order=$(awk -v want="$WANT_MODULES" -v opt="$OPTIONAL_MODULES" '
		function modname(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", n); gsub(/-/, "_", n); return n }
		FILENAME ~ /modules\.builtin$/ { builtin[modname($1)] = 1; next }
		{
			p = $1; sub(/:$/, "", p); m = modname(p)
			path[m] = p; deps[m] = ""
			for (i = 2; i <= NF; i++) deps[m] = deps[m] " " modname($i)
		}
		function visit(m,   d, n, i) {
			if (m in done) return
			done[m] = 1
			n = split(deps[m], d, " ")
			for (i = n; i >= 1; i--) visit(d[i])
			print path[m]
		}
		function take(list, required,   w, n, i) {
			n = split(list, w, " ")
			for (i = 1; i <= n; i++) {
				if (w[i] in path) visit(w[i])
				else if (w[i] in builtin) printf "builtin %s\n", w[i] > "/dev/stderr"
				else if (required) printf "missing %s\n", w[i] > "/dev/stderr"
			}
		}
		END { take(want, 1); take(opt, 0) }
	' "${builtin[@]}" "$modules/modules.dep" 2>"$stage/modules.notes")
	while read -r kind name; do
		case "$kind" in
		builtin) say "module $name is built into the kernel" ;;
		missing) say "warning: module $name is neither in modules.dep nor built in" ;;
		esac
	done <"$stage/modules.notes"
	: >"$stage/load.list"
	declare -A seen=()
	while read -r rel; do
		[ -n "$rel" ] || continue
		src=$modules/$rel
		[ -f "$src" ] || die "modules.dep names $rel but $src does not exist"
		# One flat directory: the load order lives in load.list, not in paths.
		base=$(basename "$rel")
		base=${base%.xz}
		base=${base%.zst}
		base=${base%.gz}
		[ -z "${seen[$base]:-}" ] || die "two modules named $base"
		seen[$base]=1
		case "$rel" in
		*.ko.xz) xz -dc "$src" >"$stage/modules/$base" ;;
		*.ko.zst) zstd -qdc "$src" >"$stage/modules/$base" ;;
		*.ko.gz) gzip -dc "$src" >"$stage/modules/$base" ;;
		*) cp "$src" "$stage/modules/$base" ;;
		esac
		printf 'file /lib/modules/%s %s 0644 0 0\n' "$base" "$stage/modules/$base" >>"$extra"
		printf '%s\n' "$base" >>"$stage/load.list"
	done <<<"$order"
	printf 'file /lib/modules/load.list %s 0644 0 0\n' "$stage/load.list" >>"$extra"
	say "modules ($(wc -l <"$stage/load.list")): $(sed 's/\.ko$//' "$stage/load.list" | tr '\n' ' ')"
fi

KC_INIT=$stage/init KC_SRC=$top/initramfs \
	"$mkcpio" -o "$stage/initramfs.cpio" "$top/initramfs/initramfs.list" "$extra"

case "$compress" in
gzip) gzip -n -9 -c "$stage/initramfs.cpio" >"$out.tmp" ;;
# The kernel's lz4 decompressor only reads the legacy frame format (-l).
lz4) lz4 -q -l -9 -c "$stage/initramfs.cpio" >"$out.tmp" ;;
none) cp "$stage/initramfs.cpio" "$out.tmp" ;;
esac
mv "$out.tmp" "$out"

bytes=$(stat -c %s "$out")
kib=$(((bytes + 1023) / 1024))
say "$out: $kib KiB ($bytes bytes, $compress; cpio $(stat -c %s "$stage/initramfs.cpio") bytes, init $(stat -c %s "$stage/init") bytes)"
if [ -n "$max_kib" ] && [ "$kib" -gt "$max_kib" ]; then
	die "$out is $kib KiB, over the $max_kib KiB budget"
fi
