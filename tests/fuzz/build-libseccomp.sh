#!/usr/bin/env bash
# Build libseccomp for the fuzz harnesses from the Debian source package that
# scripts/setup-deps.sh keeps for the guest agent (the same version and
# patches the agent links), with clang, ASan, frame pointers and coverage:
# libFuzzer then sees inside the profile compiler, and leak reports have
# whole stacks (the system library has no frame pointers), which
# tests/fuzz/lsan.supp needs to name one known libseccomp leak.
#   build-libseccomp.sh CC DSC OUTDIR   ->  OUTDIR/libseccomp.a
set -euo pipefail
cc=$1 dsc=$2
mkdir -p "$3"
out=$(cd "$3" && pwd)
rm -rf "$out/libseccomp-src"
# (The .dsc was checked when setup-deps.sh fetched it; no keyring here.)
if ! log=$(dpkg-source -x "$dsc" "$out/libseccomp-src" 2>&1); then
	printf '%s\n' "$log" >&2
	exit 1
fi
cd "$out/libseccomp-src/src"
# As setup-deps.sh's recipe: configure.h is all configure makes that the
# library needs; the syscall table is regenerated from Debian's syscalls.csv.
printf '#define HAVE_LINUX_SECCOMP_H 1\n' >configure.h
bash arch-gperf-generate syscalls.csv syscalls.perf.template
gperf -m 100 --null-strings --pic -tCEG -T -S1 syscalls.perf >syscalls.perf.c
objs=()
for c in *.c; do
	[[ $c != arch-syscall-dump.c ]] || continue # a test program
	"$cc" -g -O1 -w -fno-omit-frame-pointer -fsanitize=address,fuzzer-no-link \
		-I../include -I. -c "$c" -o "${c%.c}.o"
	objs+=("${c%.c}.o")
done
rm -f "$out/libseccomp.a"
ar rcs "$out/libseccomp.a" "${objs[@]}"
