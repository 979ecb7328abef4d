#!/usr/bin/env bash
# The guest agent is one static binary (it is PID 1 of an initramfs with no
# libc), small enough for a tiny image.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/bin/vmm-task
[ -x "$bin" ] || { echo "skip: $bin is not built"; exit 77; }
command -v file >/dev/null || { echo "skip: file(1) is not installed"; exit 77; }
fails=0
desc=$(file "$bin")
if echo "$desc" | grep -q 'statically linked'; then echo "ok   - statically linked"; else echo "FAIL - $desc"; fails=1; fi
tmp=$(mktemp)
strip -o "$tmp" "$bin"
size=$(stat -c %s "$tmp")
rm -f "$tmp"
if [ "$size" -le $((400 * 1024)) ]; then echo "ok   - stripped size $((size / 1024)) KiB <= 400 KiB"
else echo "FAIL - stripped size $((size / 1024)) KiB > 400 KiB"; fails=1; fi
out=$("$bin" --version)
if [ "$out" = "vmm-task $(sed -n 's/^VERSION := //p' "$top/Makefile")" ]; then echo "ok   - $out"
else echo "FAIL - --version printed [$out]"; fails=1; fi
exit $fails
