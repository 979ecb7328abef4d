#!/usr/bin/env bash
# build-kernel.sh - build the guest kernel from Debian's linux-source tarball and
# the fragments in kernel-config/; cached, so an unchanged second run is instant.
#
# Usage: scripts/build-kernel.sh [--out DIR] [--jobs N] [--config-only]
#   --out DIR      where vmlinux, bzImage and config land (default build/kernel)
#   --jobs N       parallel make jobs (default: nproc)
#   --config-only  generate and check .config, do not compile
#
# Environment:
#   LINUX_SOURCE_TARBALL  default /usr/src/linux-source-6.1.tar.xz (package linux-source-6.1)
#   KC_CACHE              cache dir (as in scripts/setup-deps.sh)
#
# How: `make tinyconfig`, merge every kernel-config/*.conf with merge_config.sh -m,
# `make olddefconfig`, then fail naming each fragment option whose final value
# differs (a missing dependency silently drops an option otherwise). Results live
# in $KC_CACHE/kernel/<key>/ where key hashes the fragments, the source version,
# the compiler and this script. One out-of-tree object dir per source version is
# reused across keys, so changing one option rebuilds incrementally.
set -euo pipefail
shopt -s inherit_errexit

say() { printf 'kernel: %s\n' "$*" >&2; }
die() { printf 'kernel: error: %s\n' "$*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/kernel
jobs=$(nproc)
config_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
	--config-only) config_only=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	*) die "unknown argument '$1'" ;;
	esac
done

: "${HOME:=$(cd ~ && pwd)}"
KC_CACHE=${KC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c}
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
[ -r "$tarball" ] || die "no kernel source tarball '$tarball' (run: scripts/setup-deps.sh kernel)"
for tool in make gcc flex bison bc perl; do
	command -v "$tool" >/dev/null || die "missing '$tool' (run: scripts/setup-deps.sh kernel)"
done

mapfile -t frags < <(find "$top/kernel-config" -maxdepth 1 -name '*.conf' | LC_ALL=C sort)
[ ${#frags[@]} -gt 0 ] || die "no fragments in $top/kernel-config"

# The source version: the package version when dpkg knows the file, plus size and
# mtime so a replaced tarball never reuses a stale build.
pkgver=$(dpkg-query -W -f='${Version}' "$(basename "$tarball" .tar.xz)" 2>/dev/null || true)
srcid="$(basename "$tarball") ${pkgver:-unknown} $(stat -c '%s %Y' "$tarball")"
srckey=$(printf '%s' "$srcid" | sha256sum | cut -c1-16)

# KCFLAGS: no .note.gnu.property "x86 ISA used" note in vmlinux, as cloud-hypervisor's
# own kernel recipe does; its ELF loader only wants the PVH note.
kcflags="-Wa,-mx86-used-note=no"
key=$( {
	for f in "${frags[@]}"; do printf '== %s\n' "$(basename "$f")"; cat "$f"; done
	printf '== source %s\n== cc %s\n== kcflags %s\n' "$srcid" "$(gcc --version | head -1)" "$kcflags"
	cat "$0"
} | sha256sum | cut -c1-16)

kdir=$KC_CACHE/kernel
res=$kdir/$key
mkdir -p "$kdir" "$KC_CACHE/logs"

publish() {
	mkdir -p "$out"
	local f
	for f in vmlinux bzImage config; do
		# A hard link is free and survives a later cache prune; fall back to a copy
		# when build/ is on another filesystem.
		ln -f "$res/$f" "$out/$f" 2>/dev/null || cp -f "$res/$f" "$out/$f"
	done
	printf '%s\n' "$key" >"$out/key"
	say "$out: vmlinux $(($(stat -c %s "$out/vmlinux") / 1024)) KiB, bzImage $(($(stat -c %s "$out/bzImage") / 1024)) KiB (cache $res)"
}

if [ $config_only = 0 ] && [ -f "$res/.done" ]; then
	publish
	exit 0
fi

# One build at a time per cache: the object dir is shared between keys.
exec 9>"$kdir/.lock"
flock -n 9 || { say "waiting for $kdir/.lock"; flock 9; }
if [ $config_only = 0 ] && [ -f "$res/.done" ]; then
	publish
	exit 0
fi

src=$kdir/src-$srckey
if [ ! -f "$src/.extracted" ]; then
	say "extracting $tarball"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xf "$tarball" -C "$src.tmp" --strip-components=1
	touch "$src.tmp/.extracted"
	mv "$src.tmp" "$src"
fi
obj=$kdir/obj-$srckey
mkdir -p "$obj"
log=$KC_CACHE/logs/kernel.log
: >"$log"

kmake() {
	make -C "$src" O="$obj" KCFLAGS="$kcflags" "$@" >>"$log" 2>&1 || {
		tail -n 30 "$log" | sed 's/^/  | /' >&2
		die "'make $*' failed; full log: $log"
	}
}

say "configuring (tinyconfig + ${#frags[@]} fragments, key $key)"
kmake tinyconfig
(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}") \
	>>"$log" 2>&1 || die "merge_config.sh failed; full log: $log"
kmake olddefconfig

# Every fragment line must survive olddefconfig unchanged.
declare -A final=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) final[${line%%=*}]=${line#*=} ;;
	esac
done <"$obj/.config"
bad=0
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) opt=${line%%=*} want=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#\# } opt=${opt%% *} want=n ;;
		*) continue ;;
		esac
		have=${final[$opt]:-n}
		if [ "$have" != "$want" ]; then
			if [ -z "${final[$opt]:-}" ] && [ "$want" != n ]; then
				say "$(basename "$f"): $opt=$want is missing from the final .config (unmet dependency or unknown symbol)"
			else
				say "$(basename "$f"): $opt=$want but the final .config has $opt=$have"
			fi
			bad=1
		fi
	done <"$f"
done
[ $bad = 0 ] || die "fragment options did not survive olddefconfig (see above)"
say "config ok: every fragment option is in $obj/.config"
if [ $config_only = 1 ]; then
	mkdir -p "$out"
	cp -f "$obj/.config" "$out/config"
	exit 0
fi

say "building vmlinux + bzImage with -j$jobs (log: $log)"
start=$(date +%s)
kmake -j"$jobs" vmlinux bzImage
say "built in $(($(date +%s) - start)) s"

rm -rf "$res.tmp"
mkdir -p "$res.tmp"
cp "$obj/vmlinux" "$res.tmp/vmlinux"
cp "$obj/arch/x86/boot/bzImage" "$res.tmp/bzImage"
cp "$obj/.config" "$res.tmp/config"
touch "$res.tmp/.done"
rm -rf "$res"
mv "$res.tmp" "$res"
publish
