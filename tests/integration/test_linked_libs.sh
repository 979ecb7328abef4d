#!/usr/bin/env bash
# Every library a binary links is called by it: each NEEDED library of a
# dynamic binary defines at least one symbol the binary uses, and each static
# library named on vmm-task's link line contributes code to it.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${KC_BIN:-$top/build/bin}
skip() { echo "skip: $*"; exit 77; }
command -v readelf >/dev/null && command -v nm >/dev/null || skip "binutils (readelf, nm) missing"
[ -x "$bin/vmm-task" ] || skip "$bin/vmm-task is not built"
fails=0
for b in vmm-sandboxer containerd-shim-kuasar-vmm-v2 vmm-task-host; do
	[ -x "$bin/$b" ] || continue
	undef=$(nm -D --undefined-only "$bin/$b" | awk '{print $2}' | sed 's/@.*//' | sort -u)
	for lib in $(readelf -d "$bin/$b" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
		case $lib in libc.so.* | ld-linux*) continue ;; esac
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
		[ -n "$path" ] || { echo "FAIL $b: cannot find $lib"; fails=$((fails + 1)); continue; }
		used=$(comm -12 <(echo "$undef") <(nm -D --defined-only "$path" | awk '{print $3}' | sed 's/@.*//' | sort -u) | wc -l)
		if [ "$used" -gt 0 ]; then
			echo "ok   - $b calls $lib ($used symbols)"
		else
			echo "FAIL $b links $lib but calls nothing in it"; fails=$((fails + 1))
		fi
	done
done
# vmm-task is static: the musl libraries on its link line must leave code in it.
libs=$(make -s -C "$top" --no-print-directory print-guest-libs 2>/dev/null)
syms=$(nm "$bin/vmm-task")
for l in $libs; do
	case $l in
	-ljansson) sym=json_ ;;
	-lprotobuf-c) sym=protobuf_c_ ;;
	-lseccomp) sym=seccomp_ ;;
	-lblkid) sym=blkid_ ;;
	-l*) echo "FAIL vmm-task: no symbol prefix known for $l"; fails=$((fails + 1)); continue ;;
	*) continue ;;
	esac
	if grep -q " [Tt] $sym" <<<"$syms"; then
		echo "ok   - vmm-task calls $l"
	else
		echo "FAIL vmm-task links $l but has none of its code"; fails=$((fails + 1))
	fi
done
[ -n "$libs" ] || { echo "FAIL: make print-guest-libs printed nothing"; fails=$((fails + 1)); }
echo "linked libraries: $fails failed"
[ $fails = 0 ]
