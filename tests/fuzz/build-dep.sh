#!/usr/bin/env bash
# Build a library for the fuzz harnesses from the Debian source package that
# scripts/setup-deps.sh keeps for the guest agent (the same version and
# patches the agent links), with clang, ASan, frame pointers and coverage:
# libFuzzer then sees inside the profile compiler and the protobuf decoder,
# and leak reports have whole stacks (the system libraries have no frame
# pointers), which tests/fuzz/lsan.supp needs to name a known leak.
#   build-dep.sh CC DSC OUTDIR   ->  OUTDIR/libseccomp.a or OUTDIR/libprotobuf-c.a
set -euo pipefail
cc=$1 dsc=$2
mkdir -p "$3"
out=$(cd "$3" && pwd)
name=${dsc##*/}
name=${name%%_*}
src=$out/$name-src
rm -rf "$src"
# (The .dsc was checked when setup-deps.sh fetched it; no keyring here.)
if ! log=$(dpkg-source -x "$dsc" "$src" 2>&1); then
	printf '%s\n' "$log" >&2
	exit 1
fi
flags=(-g -O1 -w -fno-omit-frame-pointer -fsanitize=address,fuzzer-no-link)
objs=()
case $name in
libseccomp)
	# As setup-deps.sh's recipe: configure.h is all configure makes that the
	# library needs; the syscall table is regenerated from Debian's syscalls.csv.
	cd "$src/src"
	printf '#define HAVE_LINUX_SECCOMP_H 1\n' >configure.h
	bash arch-gperf-generate syscalls.csv syscalls.perf.template
	gperf -m 100 --null-strings --pic -tCEG -T -S1 syscalls.perf >syscalls.perf.c
	for c in *.c; do
		[[ $c != arch-syscall-dump.c ]] || continue # a test program
		"$cc" "${flags[@]}" -I../include -I. -c "$c" -o "${c%.c}.o"
		objs+=("$PWD/${c%.c}.o")
	done
	;;
protobuf-c)
	cd "$src"
	"$cc" "${flags[@]}" -I. -c protobuf-c/protobuf-c.c -o protobuf-c.o
	objs+=("$PWD/protobuf-c.o")
	;;
*)
	echo "build-dep.sh: no recipe for $name" >&2
	exit 1
	;;
esac
lib=$out/lib${name#lib}.a
rm -f "$lib"
ar rcs "$lib" "${objs[@]}"
