#!/usr/bin/env bash
# Print why CC cannot build libFuzzer harnesses with ASan+UBSan here (nothing
# when it can): the compiler or its fuzzer runtime (libclang-rt) may be missing.
cc=${1:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "$cc not found (Debian: apt-get install clang)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n > 1 && d[0] == 1; }' \
	>"$tmp/p.c"
if ! out=$("$cc" -fsanitize=fuzzer,address,undefined "$tmp/p.c" -o "$tmp/p" 2>&1); then
	echo "$cc cannot link a libFuzzer harness: $(printf '%s\n' "$out" | grep -m1 -i error)"
fi
