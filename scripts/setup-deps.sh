#!/usr/bin/env bash
# setup-deps.sh - install and build everything kuasar-c needs; idempotent and cached.
#
# Usage: scripts/setup-deps.sh [--print-env] [GROUP...]
#   GROUP       build | test | vm | kernel | containerd | containerd2 | cri | bench | all
#               (default: all). Groups only choose what gets installed; nothing is ever
#               removed. containerd2 is optional: if it cannot be fetched, setup warns,
#               leaves CONTAINERD2 empty and retries after a day (or when containerd2.failed
#               in the cache is deleted).
#   --print-env print KEY=VALUE lines on stdout (shell-assignable) after setup;
#               progress and errors always go to stderr.
#
# Environment:
#   KC_CACHE    cache dir, default ${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c (outside the
#               tree, so fresh clones reuse it). Delete a subdir to force a rebuild/refetch
#               (e.g. cloud-kernel/ to pick up a newer Debian kernel; sid/ likewise).
#
# Outputs: $KC_CACHE/env.mk (make syntax `KEY := VALUE`, rewritten only when it changes) with
#   MUSL_SYSROOT MUSL_KINC VHOST_DEVICE_VSOCK VIRTIOFSD CLOUD_KERNEL CLOUD_KERNEL_MODULES
#   LINUX_SOURCE_TARBALL BUSYBOX_STATIC GO CONTAINERD2 CRI_API_PROTO   (empty value = not
#   installed/built yet; CONTAINERD2 is sid's containerd 2.x binary, with its ctr beside it).
#   Step logs: $KC_CACHE/logs/<step>.log.
#
# What it does, per group:
#   apt packages (bookworm)       installed only when missing (needs root or sudo)
#   build: musl static libs       protobuf-c, jansson, libseccomp, libblkid built with musl-gcc from Debian
#                                 source packages (same source version as the host's -dev
#                                 package) into $KC_CACHE/musl-sysroot; kernel-header
#                                 symlinks in $KC_CACHE/musl-kinc
#   vm:    vhost-device-vsock     from Debian sid (.deb unpacked, not installed)
#          Debian cloud kernel    linux-image-<ver>-cloud-amd64 unpacked in $KC_CACHE/cloud-kernel
#   containerd2: containerd 2.x   sid's `containerd` .deb (containerd, ctr, containerd-shim-runc-v2)
#                                 unpacked in $KC_CACHE/containerd2; runs with bookworm's runc
#   cri:   CRI test suite         python3-grpcio, protoc, CNI plugins; CRI's api.proto from
#                                 sid's golang-k8s-cri-api-dev unpacked in $KC_CACHE/cri-api
# Downloads of other suites / source packages use a private apt configuration under
# $KC_CACHE/apt built from the system's mirror URI; the system apt config is not touched.
set -euo pipefail
shopt -s inherit_errexit

readonly SUITE=bookworm
readonly ALL_GROUPS="build test vm kernel containerd containerd2 cri bench"
# No unwind tables, as the agent's own objects (GUEST_CFLAGS): nothing in the guest
# unwinds, and they are about 8 KiB of vmm-task's 400 KiB budget.
MUSL_CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables"

say() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- arguments
print_env=0
groups=()
for arg in "$@"; do
	case "$arg" in
	--print-env) print_env=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	all) read -r -a groups <<<"$ALL_GROUPS" ;;
	build | test | vm | kernel | containerd | containerd2 | cri | bench) groups+=("$arg") ;;
	*) die "unknown argument '$arg' (groups: $ALL_GROUPS all; option: --print-env)" ;;
	esac
done
[ ${#groups[@]} -gt 0 ] || read -r -a groups <<<"$ALL_GROUPS"
declare -A G=()
for g in "${groups[@]}"; do G[$g]=1; done

: "${HOME:=$(cd ~ && pwd)}" # CI may run with a bare environment
KC_CACHE=${KC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c}
case "$KC_CACHE" in
*[[:space:]]*) die "KC_CACHE must not contain whitespace (make cannot quote it): '$KC_CACHE'" ;;
esac
SYSROOT=$KC_CACHE/musl-sysroot
KINC=$KC_CACHE/musl-kinc
LOGS=$KC_CACHE/logs
mkdir -p "$KC_CACHE" "$LOGS"

# Serialise parallel make invocations: everything below mutates the cache (and dpkg).
exec 9>"$KC_CACHE/.lock"
if ! flock -n 9; then
	say "waiting for lock $KC_CACHE/.lock"
	flock 9
fi

did_work=0

# Run one named step with its output in $LOGS/<name>.log; on failure show the log tail
# and stop (a failed build tree stays for inspection until the next try). The body runs
# in a subshell with its own `set -e` (a function called from `if`/`||` would silently
# ignore errexit).
run_step() {
	local name=$1 rc
	shift
	local log=$LOGS/$name.log
	set +e
	(
		set -euxo pipefail # trace: the log's tail then shows the command that failed
		"$@"
	) >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	if [ $rc -ne 0 ]; then
		tail -n 25 "$log" | sed 's/^/  | /' >&2
		die "step '$name' failed (exit $rc); full log: $log"
	fi
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# True when some Release index under $1 was fetched within the last day.
lists_fresh() {
	[ -d "$1" ] && [ -n "$(find "$1" -maxdepth 1 -name '*Release' -mmin -1440 -print -quit)" ]
}

# ---------------------------------------------------------------- 1. Debian packages
declare -A PKGS=()
add_pkgs() { local p; for p in "$@"; do PKGS[$p]=1; done; }
# dpkg-dev (dpkg-source) and xz-utils unpack the source packages of the musl libraries;
# libmnl-dev: the sandboxer's pod network (taps, tc); libnghttp2-dev: its gRPC transport.
# gperf regenerates libseccomp's syscall table. libseccomp-dev, libblkid-dev: the glibc agent
# build (and they name the source versions of the musl builds).
[ -n "${G[build]:-}" ] && add_pkgs gcc make musl-tools protobuf-c-compiler libprotobuf-c-dev \
	libjansson-dev libseccomp-dev libblkid-dev libmnl-dev libnghttp2-dev gperf pkg-config clang-format file dpkg-dev xz-utils \
	ca-certificates
[ -n "${G[test]:-}" ] && add_pkgs libcriterion-dev golang-go golang-github-containerd-ttrpc-dev \
	golang-github-containerd-containerd-dev socat strace busybox-static cpio lz4 python3 \
	xfsprogs erofs-utils
# kmod: depmod generates the cloud kernel's modules.dep (the .deb does not ship it).
[ -n "${G[vm]:-}" ] && add_pkgs qemu-system-x86 qemu-system-common busybox-static cpio lz4 \
	ca-certificates kmod
[ -n "${G[kernel]:-}" ] && add_pkgs linux-source-6.1 flex bison libelf-dev bc libssl-dev cpio \
	xz-utils
[ -n "${G[containerd]:-}" ] && add_pkgs containerd runc
[ -n "${G[containerd2]:-}" ] && add_pkgs runc
[ -n "${G[cri]:-}" ] && add_pkgs python3 python3-grpcio python3-protobuf protobuf-compiler \
	containernetworking-plugins iproute2 util-linux
[ -n "${G[bench]:-}" ] && add_pkgs hyperfine

declare -A SRCVER=() # binary package -> its source package version (keys the musl builds)
query_pkgs() {
	local name st src ver out
	MISSING=()
	# One dpkg-query for all: unknown packages only print to stderr (exit 1), so ignore rc.
	out=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev} ${source:Package} ${source:Version}\n' \
		"${!PKGS[@]}" 2>/dev/null || true)
	declare -A ok=()
	while read -r name st src ver; do
		[ "$st" = ii ] || continue
		ok[$name]=1
		SRCVER[$name]="$src $ver"
	done <<<"$out"
	for name in "${!PKGS[@]}"; do
		[ -n "${ok[$name]:-}" ] || MISSING+=("$name")
	done
}

apt_install() {
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends
		-o DPkg::Lock::Timeout=300)
	local updated=0
	if ! lists_fresh /var/lib/apt/lists; then
		as_root apt-get -q -o DPkg::Lock::Timeout=300 update
		updated=1
	fi
	if ! as_root "${apt[@]}" install "$@"; then
		[ $updated -eq 0 ] || return 1
		# Stale lists (package versions gone from the mirror): refresh once and retry.
		as_root apt-get -q -o DPkg::Lock::Timeout=300 update
		as_root "${apt[@]}" install "$@"
	fi
}

if [ ${#PKGS[@]} -gt 0 ]; then
	query_pkgs
	if [ ${#MISSING[@]} -gt 0 ]; then
		mapfile -t MISSING < <(printf '%s\n' "${MISSING[@]}" | sort)
		say "apt-get install ${MISSING[*]} ..."
		t0=$SECONDS
		run_step apt-install apt_install "${MISSING[@]}"
		say "installed in $((SECONDS - t0)) s"
		query_pkgs
		[ ${#MISSING[@]} -eq 0 ] || die "still not installed after apt-get: ${MISSING[*]}"
		did_work=1
	fi
fi

# ---------------------------------------------------------------- private apt configs
# Print "URI SUITE" for every enabled `deb` entry of the system's apt sources.
system_repos() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk '
		function flush(  n, m, i, j, U, S) {
			if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") {
				n = split(uris, U, /[ \t]+/); m = split(suites, S, /[ \t]+/)
				for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print U[i], S[j]
			}
			types = uris = suites = ""; enabled = "yes"
		}
		BEGIN { enabled = "yes" }
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[A-Za-z-]+:/ {
			k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
			gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (k == "types") types = v; else if (k == "uris") uris = v
			else if (k == "suites") suites = v; else if (k == "enabled") enabled = tolower(v)
		}
		END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [opt=val ...] URI SUITE COMPONENTS...
		awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
			print $i, $(i + 1) }' "$f"
	done
}

REPOS=""
MIRROR=""
load_mirror() {
	[ -z "$MIRROR" ] || return 0
	REPOS=$(system_repos | sed 's#/* # #')
	# The main archive is the entry serving the plain suite (not -security/-updates).
	MIRROR=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$REPOS")
	[ -n "$MIRROR" ] || MIRROR=$(awk '$1 !~ /security/ { print $1; exit }' <<<"$REPOS")
	[ -n "$MIRROR" ] || die "no Debian mirror URI found in /etc/apt/sources.list{,.d/*.sources}"
}

# papt NAME CMD ARGS...: apt-get/apt-cache against private config $KC_CACHE/apt/NAME.
papt() {
	local d=$KC_CACHE/apt/$1 cmd=$2
	shift 2
	"$cmd" -q -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Sandbox::User=root -o Acquire::Languages=none "$@"
}

# Write the private sources file for NAME (deb + deb-src of all $SUITE* suites of the
# system, or of sid from the main mirror) and refresh its lists when older than a day.
papt_ready() {
	local name=$1 d=$KC_CACHE/apt/$1 want="" uri suite
	load_mirror
	if [ "$name" = sid ]; then
		want="deb $MIRROR sid main"$'\n'
	else
		while read -r uri suite; do
			case "$suite" in
			"$SUITE" | "$SUITE"-updates | "$SUITE"-security)
				want+="deb $uri $suite main"$'\n'"deb-src $uri $suite main"$'\n' ;;
			esac
		done <<<"$REPOS"
		[ -n "$want" ] || want="deb $MIRROR $SUITE main"$'\n'"deb-src $MIRROR $SUITE main"$'\n'
	fi
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	if [ ! -f "$d/sources.list" ] || [ "$(<"$d/sources.list")"$'\n' != "$want" ]; then
		printf '%s' "$want" >"$d/sources.list"
		rm -f "$d/lists/"*Release* # sources changed: force an update
	fi
	if [ "${2:-}" = force ] || ! lists_fresh "$d/lists"; then
		papt "$name" apt-get update
	fi
}

# Run an apt command in the private config; if it fails, update the lists once and retry.
papt_retry() {
	local name=$1
	papt_ready "$name"
	papt "$@" || { papt_ready "$name" force && papt "$@"; }
}

# ---------------------------------------------------------------- 2. musl static libraries
# Recipes run inside the unpacked source tree; any change to a recipe changes its stamp.
recipe_protobuf_c() {
	# Only the runtime is needed in the guest: one C file.
	# shellcheck disable=SC2086
	musl-gcc $MUSL_CFLAGS -I. -c protobuf-c/protobuf-c.c -o protobuf-c.o
	ar rcs libprotobuf-c.a protobuf-c.o
	install -D -m644 libprotobuf-c.a "$SYSROOT/lib/libprotobuf-c.a"
	install -D -m644 protobuf-c/protobuf-c.h "$SYSROOT/include/protobuf-c/protobuf-c.h"
}

recipe_jansson() {
	# No generated configure in the source package; jansson needs only two config headers
	# (values as its CMake build computes them on Linux), so compile src/*.c directly.
	sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' \
		-e 's/@json_have_localeconv@/1/' -e 's/@json_have_atomic_builtins@/1/' \
		-e 's/@json_have_sync_builtins@/1/' src/jansson_config.h.in >src/jansson_config.h
	cat >src/jansson_private_config.h <<-'EOF'
		#define HAVE_ENDIAN_H 1
		#define HAVE_FCNTL_H 1
		#define HAVE_SCHED_H 1
		#define HAVE_UNISTD_H 1
		#define HAVE_SYS_PARAM_H 1
		#define HAVE_SYS_STAT_H 1
		#define HAVE_SYS_TIME_H 1
		#define HAVE_SYS_TYPES_H 1
		#define HAVE_STDINT_H 1
		#define HAVE_CLOSE 1
		#define HAVE_GETPID 1
		#define HAVE_GETTIMEOFDAY 1
		#define HAVE_OPEN 1
		#define HAVE_READ 1
		#define HAVE_SCHED_YIELD 1
		#define HAVE_SYNC_BUILTINS 1
		#define HAVE_ATOMIC_BUILTINS 1
		#define HAVE_LOCALE_H 1
		#define HAVE_SETLOCALE 1
		#define HAVE_INT32_T 1
		#define HAVE_UINT32_T 1
		#define HAVE_UINT16_T 1
		#define HAVE_UINT8_T 1
		#define HAVE_SSIZE_T 1
		#define USE_URANDOM 1
		#define INITIAL_HASHTABLE_ORDER 3
	EOF
	local c
	for c in src/*.c; do
		# shellcheck disable=SC2086
		musl-gcc $MUSL_CFLAGS -DHAVE_CONFIG_H -Isrc -c "$c" -o "${c%.c}.o"
	done
	ar rcs libjansson.a src/*.o
	install -D -m644 libjansson.a "$SYSROOT/lib/libjansson.a"
	install -D -m644 src/jansson.h "$SYSROOT/include/jansson.h"
	install -D -m644 src/jansson_config.h "$SYSROOT/include/jansson_config.h"
}

recipe_libseccomp() {
	# configure's only product the library needs is configure.h. Debian's patch
	# updates syscalls.csv, so the name table is regenerated with gperf as its
	# build does (the tarball's syscalls.perf.c predates the patch).
	cd src
	printf '#define HAVE_LINUX_SECCOMP_H 1\n' >configure.h
	bash arch-gperf-generate syscalls.csv syscalls.perf.template
	gperf -m 100 --null-strings --pic -tCEG -T -S1 syscalls.perf >syscalls.perf.c
	local c
	for c in *.c; do
		[ "$c" != arch-syscall-dump.c ] || continue # a test program
		# shellcheck disable=SC2086
		musl-gcc $MUSL_CFLAGS -I../include -I. -I"$KINC" -c "$c" -o "${c%.c}.o"
	done
	ar rcs libseccomp.a ./*.o
	install -D -m644 libseccomp.a "$SYSROOT/lib/libseccomp.a"
	install -D -m644 ../include/seccomp.h "$SYSROOT/include/seccomp.h"
	install -D -m644 ../include/seccomp-syscalls.h "$SYSROOT/include/seccomp-syscalls.h"
}

recipe_libblkid() {
	# util-linux: configure with every program off and only libblkid on, then make just
	# that library. The kernel UAPI headers come from $KINC (musl-gcc does not search
	# /usr/include). A Debian patch edits configure.ac: touching the shipped autotools
	# outputs after it keeps make from wanting to rerun autoreconf.
	touch aclocal.m4 configure Makefile.in config.h.in
	# The agent only asks "which filesystem is on this disk": keep the superblock probers
	# of what a snapshotter or volume hands us, and of what must not be taken for a
	# filesystem (RAID, LVM, LUKS, swap); no partition table probers (the partitions
	# chain is never enabled). Each prober is linked in through these tables, and the
	# full set would put vmm-task over its 400 KiB budget (test_agent_binary.sh).
	local f keep
	for f in superblocks/superblocks.c:'linuxraid|lvm2|luks|swap|xfs|ext4dev|ext4|ext3|ext2|jbd|squashfs|btrfs|f2fs|erofs' \
		partitions/partitions.c:'none'; do
		keep=${f#*:} f=libblkid/src/${f%%:*}
		grep -q '^static const struct blkid_idinfo \*idinfos\[\] =' "$f"
		awk -v keep="$keep" '
			/^static const struct blkid_idinfo \*idinfos\[\] =/ { inlist = 1 }
			inlist && /^};/ { inlist = 0 }
			inlist && match($0, /&[a-z0-9_]+_idinfo/) {
				if (substr($0, RSTART + 1, RLENGTH - 8) !~ ("^(" keep ")$")) next
			}
			{ print }
		' "$f" >"$f.new"
		mv "$f.new" "$f"
	done
	# shellcheck disable=SC2086
	./configure -q CC=musl-gcc CFLAGS="$MUSL_CFLAGS -I$KINC" \
		--disable-all-programs --enable-libblkid --disable-shared --enable-static \
		--disable-nls --disable-bash-completion --without-udev --without-systemd \
		--without-python --without-readline --without-ncurses --without-tinfo \
		--without-cap-ng --without-libmagic --without-econf --without-audit --without-selinux
	make -j2 libblkid.la
	install -D -m644 .libs/libblkid.a "$SYSROOT/lib/libblkid.a"
	install -D -m644 libblkid/src/blkid.h "$SYSROOT/include/blkid/blkid.h"
}

# Fetch SRCPKG=VER (kept in $KC_CACHE/src/dl), unpack it into a fresh build dir, run RECIPE.
build_from_source() {
	local srcpkg=$1 ver=$2 recipe=$3 dl=$KC_CACHE/src/dl
	local dsc=$dl/${srcpkg}_${ver#*:}.dsc
	mkdir -p "$dl"
	if [ ! -f "$dsc" ]; then
		(
			cd "$dl"
			papt_retry bookworm apt-get source --download-only "$srcpkg=$ver"
		)
		[ -f "$dsc" ] || { echo "no $dsc after apt-get source"; exit 1; }
	fi
	rm -rf "$KC_CACHE/src/build-$srcpkg".*
	local build
	build=$(mktemp -d "$KC_CACHE/src/build-$srcpkg.XXXXXX")
	dpkg-source -x "$dsc" "$build/src"
	(
		cd "$build/src"
		"$recipe"
	)
	rm -rf "$build"
	# Drop the files of older versions of this source package.
	local keep f
	keep=$(awk '/^Files:/ { f = 1; next } /^[^ ]/ { f = 0 } f { print $3 }' "$dsc")
	for f in "$dl/${srcpkg}"_*; do
		[ "$f" = "$dsc" ] || grep -qxF "${f##*/}" <<<"$keep" || rm -f "$f"
	done
}

# musl_lib NAME DEVPKG RECIPE: build unless the stamp matches source version + recipe.
musl_lib() {
	local name=$1 devpkg=$2 recipe=$3 srcpkg ver key stamp=$SYSROOT/.stamp-$1
	read -r srcpkg ver <<<"${SRCVER[$devpkg]:-}"
	[ -n "${ver:-}" ] || die "$devpkg is not installed: cannot tell which $name source to build"
	key="$srcpkg $ver $(declare -f "$recipe" | sha256sum | cut -c1-16) $MUSL_CFLAGS"
	local have=""
	[ ! -f "$stamp" ] || read -r have <"$stamp"
	[ "$have" != "$key" ] || return 0
	say "building $name $ver (musl) ..."
	local t0=$SECONDS
	rm -f "$stamp"
	run_step "musl-$name" build_from_source "$srcpkg" "$ver" "$recipe"
	printf '%s\n' "$key" >"$stamp"
	say "built $name in $((SECONDS - t0)) s"
	did_work=1
}

ensure_kinc() {
	# musl-gcc does not search /usr/include; expose just the kernel UAPI headers.
	local pair link target
	mkdir -p "$KINC"
	for pair in linux:/usr/include/linux asm:/usr/include/x86_64-linux-gnu/asm \
		asm-generic:/usr/include/asm-generic; do
		link=$KINC/${pair%%:*} target=${pair#*:}
		[ -d "$target" ] || die "kernel headers missing: $target (package linux-libc-dev)"
		[ "$(readlink "$link" 2>/dev/null)" = "$target" ] || ln -sfn "$target" "$link"
	done
}

if [ -n "${G[build]:-}" ]; then
	ensure_kinc
	musl_lib protobuf-c libprotobuf-c-dev recipe_protobuf_c
	musl_lib jansson libjansson-dev recipe_jansson
	musl_lib libseccomp libseccomp-dev recipe_libseccomp
	musl_lib libblkid libblkid-dev recipe_libblkid
fi

# ---------------------------------------------------------------- 3./4. unpacked .debs
# fetch_deb NAME CONFIG PKG DEST CHECK-FN: download PKG with the private config, unpack it
# into DEST (replacing it), run CHECK-FN DEST, and stamp DEST with the .deb's name.
fetch_deb() {
	local cfg=$1 pkg=$2 dest=$3 check=$4 tmp deb
	tmp=$(mktemp -d "$KC_CACHE/.fetch.XXXXXX")
	(
		cd "$tmp"
		papt_retry "$cfg" apt-get download "$pkg"
	)
	deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)
	[ -n "$deb" ] || { echo "apt-get download $pkg produced no .deb"; exit 1; }
	dpkg -x "$deb" "$tmp/root"
	"$check" "$tmp/root"
	rm -rf "$dest"
	mkdir -p "${dest%/*}"
	mv "$tmp/root" "$dest"
	basename "$deb" >"$dest/.stamp"
	rm -rf "$tmp"
}

check_vsock() { "$1/usr/bin/vhost-device-vsock" --help >/dev/null; }

check_containerd2() {
	local v
	v=$("$1/usr/bin/containerd" --version)
	echo "$v"
	"$1/usr/bin/ctr" --version
	# sid may move on to a newer major version one day: this group is about 2.x.
	awk '{ exit !($3 ~ /^v?2\./) }' <<<"$v" || { echo "not containerd 2.x: $v"; exit 1; }
}

# The versioned image package the cloud metapackage currently points at.
cloud_kernel_pkg() {
	papt_ready bookworm >&2
	papt bookworm apt-cache depends linux-image-cloud-amd64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-cloud-amd64$/ { print $2; exit }'
}

check_kernel() {
	local kver
	kver=$(find "$1/boot" -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//')
	[ -n "$kver" ] || { echo "no boot/vmlinuz-* in the package"; exit 1; }
	local moddir=$1/lib/modules/$kver
	[ -d "$moddir" ] || moddir=$1/usr/lib/modules/$kver
	[ -d "$moddir" ] || { echo "no modules dir for $kver"; exit 1; }
	# Debian generates modules.dep in postinst, which dpkg -x does not run.
	if [ ! -f "$moddir/modules.dep" ]; then
		local base=${moddir%/lib/modules/*}
		depmod -b "$base" "$kver"
	fi
	[ -f "$moddir/modules.dep" ]
}

fetch_cloud_kernel() {
	local pkg
	pkg=$(cloud_kernel_pkg)
	[ -n "$pkg" ] || { echo "linux-image-cloud-amd64 depends on no linux-image-*-cloud-amd64"; exit 1; }
	echo "cloud kernel package: $pkg"
	fetch_deb bookworm "$pkg" "$KC_CACHE/cloud-kernel" check_kernel
}

if [ -n "${G[vm]:-}" ]; then
	if [ ! -f "$KC_CACHE/sid/.stamp" ] || [ ! -x "$KC_CACHE/sid/usr/bin/vhost-device-vsock" ]; then
		say "fetching vhost-device-vsock (sid) ..."
		t0=$SECONDS
		run_step vhost-device-vsock fetch_deb sid vhost-device-vsock "$KC_CACHE/sid" check_vsock
		say "got $(<"$KC_CACHE/sid/.stamp") in $((SECONDS - t0)) s"
		did_work=1
	fi
	if [ ! -f "$KC_CACHE/cloud-kernel/.stamp" ]; then
		say "fetching Debian cloud kernel ..."
		t0=$SECONDS
		run_step cloud-kernel fetch_cloud_kernel
		say "got $(<"$KC_CACHE/cloud-kernel/.stamp") in $((SECONDS - t0)) s"
		did_work=1
	fi
fi

if [ -n "${G[containerd2]:-}" ] && [ ! -x "$KC_CACHE/containerd2/usr/bin/containerd" ]; then
	# Optional: a failure is remembered for a day instead of failing every run.
	c2fail=$KC_CACHE/containerd2.failed
	if [ -n "$(find "$c2fail" -mmin -1440 2>/dev/null)" ]; then
		say "skipping containerd 2.x: fetching it failed less than a day ago (see $c2fail)"
	else
		say "fetching containerd 2.x (sid) ..."
		t0=$SECONDS
		set +e
		(run_step containerd2 fetch_deb sid containerd "$KC_CACHE/containerd2" check_containerd2)
		rc=$?
		set -e
		if [ $rc -eq 0 ]; then
			rm -f "$c2fail"
			say "got $(<"$KC_CACHE/containerd2/.stamp") in $((SECONDS - t0)) s"
		else
			printf 'see %s\n' "$LOGS/containerd2.log" >"$c2fail"
			rm -rf "$KC_CACHE"/.fetch.* # what fetch_deb left (we hold the lock)
			say "warning: no containerd 2.x (optional; the containerd e2e test skips its 2.x pass)"
		fi
		did_work=1
	fi
fi

check_cri_api() {
	find "$1" -path '*cri-api/pkg/apis/runtime/v1/api.proto' | grep -q .
}

if [ -n "${G[cri]:-}" ] && [ ! -f "$KC_CACHE/cri-api/.stamp" ]; then
	say "fetching CRI's api.proto (sid golang-k8s-cri-api-dev) ..."
	t0=$SECONDS
	run_step cri-api fetch_deb sid golang-k8s-cri-api-dev "$KC_CACHE/cri-api" check_cri_api
	say "got $(<"$KC_CACHE/cri-api/.stamp") in $((SECONDS - t0)) s"
	did_work=1
fi

# ---------------------------------------------------------------- environment
# Values describe what is on disk now, whichever groups this run was asked for.
first() { local f; for f in "$@"; do if [ -e "$f" ]; then printf '%s' "$f"; break; fi; done; }

declare -A ENV=()
ENV_KEYS=(MUSL_SYSROOT MUSL_KINC VHOST_DEVICE_VSOCK VIRTIOFSD CLOUD_KERNEL CLOUD_KERNEL_MODULES
	LINUX_SOURCE_TARBALL BUSYBOX_STATIC GO CONTAINERD2 CRI_API_PROTO)
for k in "${ENV_KEYS[@]}"; do ENV[$k]=""; done
if [ -f "$SYSROOT/.stamp-protobuf-c" ] && [ -f "$SYSROOT/.stamp-jansson" ] &&
	[ -f "$SYSROOT/.stamp-libseccomp" ] && [ -f "$SYSROOT/.stamp-libblkid" ]; then
	ENV[MUSL_SYSROOT]=$SYSROOT
fi
[ ! -L "$KINC/linux" ] || ENV[MUSL_KINC]=$KINC
ENV[VHOST_DEVICE_VSOCK]=$(first "$KC_CACHE/sid/usr/bin/vhost-device-vsock")
ENV[VIRTIOFSD]=$(first /usr/lib/qemu/virtiofsd)
ENV[CLOUD_KERNEL]=$(first "$KC_CACHE"/cloud-kernel/boot/vmlinuz-*)
if [ -n "${ENV[CLOUD_KERNEL]}" ]; then
	kver=${ENV[CLOUD_KERNEL]##*/vmlinuz-}
	ENV[CLOUD_KERNEL_MODULES]=$(first "$KC_CACHE/cloud-kernel/lib/modules/$kver" \
		"$KC_CACHE/cloud-kernel/usr/lib/modules/$kver")
fi
ENV[LINUX_SOURCE_TARBALL]=$(first /usr/src/linux-source-6.1.tar.xz)
# /bin/busybox is only static when it comes from busybox-static (not from busybox).
if [ -x /bin/busybox ] && [ "$(dpkg-query -W -f='${db:Status-Abbrev}' busybox-static 2>/dev/null || true)" = "ii " ]; then
	ENV[BUSYBOX_STATIC]=/bin/busybox
fi
ENV[GO]=$(command -v go || true)
ENV[CONTAINERD2]=$(first "$KC_CACHE/containerd2/usr/bin/containerd")
ENV[CRI_API_PROTO]=$(first "$KC_CACHE"/cri-api/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto)

mk="" sh=""
for k in "${ENV_KEYS[@]}"; do
	mk+="$k := ${ENV[$k]}"$'\n'
	if [ -n "${ENV[$k]}" ]; then
		sh+="$(printf '%s=%q' "$k" "${ENV[$k]}")"$'\n'
	else
		sh+="$k="$'\n'
	fi
done
if [ ! -f "$KC_CACHE/env.mk" ] || [ "$(<"$KC_CACHE/env.mk")"$'\n' != "$mk" ]; then
	printf '%s' "$mk" >"$KC_CACHE/env.mk.tmp"
	mv "$KC_CACHE/env.mk.tmp" "$KC_CACHE/env.mk"
fi

if [ $did_work -eq 0 ]; then
	say "ok (cache $KC_CACHE)"
else
	say "done (cache $KC_CACHE; env in $KC_CACHE/env.mk)"
fi
[ $print_env -eq 0 ] || printf '%s' "$sh"
