#!/usr/bin/env bash
# `make install PREFIX=/usr/local` into a temporary DESTDIR: exactly the files
# mk/install.mk promises, with their modes; the unit and the config name the
# installed files; a second install keeps an edited config; the installed
# vmm-sandboxer starts with the installed config and exits 0 on SIGTERM. Exit
# 77 (with the reason) if this machine cannot run it.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (vmm-sandboxer, as installed, runs as root)"
build=${KC_BUILD:-$top/build}
# Building the kernel from cold takes minutes: that is `make kernel`'s job, not this test's.
for f in kernel/vmlinux kernel/bzImage; do
	[ -e "$build/$f" ] || skip "$build/$f is not built (make kernel)"
done

prefix=/usr/local
tmp=$(mktemp -d /tmp/kci-XXXXXX) # short: the sandboxer's socket lives under it
dest=$tmp/root
sbx_pid=''
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
finish() {
	[ -z "$sbx_pid" ] || kill -KILL "$sbx_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap finish EXIT

install_into() { # DESTDIR; a plain make, not part of the caller's make's jobserver
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$top" BUILD="$build" install DESTDIR="$1" PREFIX="$prefix" >"$tmp/make.log" 2>&1
}

if ! install_into "$dest"; then
	bad "make install failed:"
	tail -20 "$tmp/make.log"
	exit 1
fi
ok "make install DESTDIR=... PREFIX=$prefix"

# 1. the files mk/install.mk lists, nothing else
expected=$(
	printf '%s\n' "$prefix/bin/vmm-sandboxer" "$prefix/bin/containerd-shim-kuasar-vmm-v2" \
		"$prefix"/share/kuasar-c/{vmm-task,initramfs.cpio.gz,vmlinux,bzImage,vhost-device-vsock,config.toml.sample} \
		/var/lib/kuasar/config.toml /lib/systemd/system/vmm-sandboxer.service
	for f in "$top/README.md" "$top"/docs/*.md; do echo "$prefix/share/doc/kuasar-c/${f##*/}"; done
)
expected=$(sort <<<"$expected")
actual=$(cd "$dest" && find . ! -type d | sed 's/^\.//' | sort)
[ "$actual" = "$expected" ] && ok "file list ($(wc -l <<<"$actual") files)" ||
	bad "file list differs (< expected, > installed):"$'\n'"$(diff <(echo "$expected") <(echo "$actual"))"

# 2. modes, and the binaries are this build's
mode_bad=''
while read -r f; do
	case "$f" in
	*/bin/* | */vmm-task | */vhost-device-vsock) want=755 ;;
	*) want=644 ;;
	esac
	[ ! -e "$dest$f" ] || [ "$(stat -c %a "$dest$f")" = "$want" ] || mode_bad+=" $f"
done <<<"$expected"
[ -z "$mode_bad" ] && ok "modes 0755 (programs) / 0644 (data)" || bad "wrong mode:$mode_bad"
same=1
for b in vmm-sandboxer containerd-shim-kuasar-vmm-v2; do
	cmp -s "$build/bin/$b" "$dest$prefix/bin/$b" || same=0
done
cmp -s "$build/bin/vmm-task" "$dest$prefix/share/kuasar-c/vmm-task" || same=0
cmp -s "$build/kernel/vmlinux" "$dest$prefix/share/kuasar-c/vmlinux" || same=0
[ "$same" = 1 ] && ok "installed binaries and kernel are the build's" || bad "installed files differ from $build"
"$dest$prefix/bin/vmm-sandboxer" --version >/dev/null 2>&1 &&
	"$dest$prefix/bin/containerd-shim-kuasar-vmm-v2" -v >/dev/null 2>&1 &&
	ok "installed programs run (--version)" || bad "an installed program does not run"

# 3. unit and config: no placeholder left, every path they name is installed
unit=$dest/lib/systemd/system/vmm-sandboxer.service
conf=$dest/var/lib/kuasar/config.toml
if grep -n '@[A-Z_]*@' "$unit" "$conf" "$dest$prefix/share/kuasar-c/config.toml.sample"; then
	bad "unsubstituted @...@ placeholders"
else
	ok "no @...@ placeholders"
fi
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r exe _ <<<"$exec_start"
cfg_arg=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
[ "$exe" = "$prefix/bin/vmm-sandboxer" ] && [ -x "$dest$exe" ] &&
	[ "$cfg_arg" = /var/lib/kuasar/config.toml ] && [ -f "$dest$cfg_arg" ] &&
	ok "unit runs the installed vmm-sandboxer with the installed config" ||
	bad "unit ExecStart: [$exec_start]"
cmp -s "$conf" "$dest$prefix/share/kuasar-c/config.toml.sample" &&
	ok "config.toml is the sample" || bad "config.toml differs from config.toml.sample"
missing=''
for key in kernel_path initrd_path vhost_device_vsock; do
	v=$(sed -n "s/^$key = \"\(.*\)\"/\1/p" "$conf")
	[[ "$v" == "$prefix/share/kuasar-c/"* ]] && [ -f "$dest$v" ] || missing+=" $key=[$v]"
done
[ -z "$missing" ] && ok "config's kernel and initramfs are the installed ones" ||
	bad "config names files that were not installed:$missing"

# 4. the installed sandboxer accepts the installed config, serves, stops on SIGTERM
run_sandboxer() { # CONFIG NAME: start, wait for the socket, SIGTERM; log in $tmp/NAME.log
	local sock=$tmp/$2.sock log=$tmp/$2.log i rc
	"$dest$prefix/bin/vmm-sandboxer" --config "$1" --dir "$tmp/$2-vmm" --listen "$sock" \
		>"$log" 2>&1 &
	sbx_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] || ! kill -0 "$sbx_pid" 2>/dev/null && break
		sleep 0.05
	done
	if [ ! -S "$sock" ]; then
		kill -KILL "$sbx_pid" 2>/dev/null
		wait "$sbx_pid" 2>/dev/null
		sbx_pid=''
		echo "did not start: $(cat "$log")"
		return 1
	fi
	kill -TERM "$sbx_pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$sbx_pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$sbx_pid" 2>/dev/null; then
		kill -KILL "$sbx_pid"
		wait "$sbx_pid" 2>/dev/null
		sbx_pid=''
		echo "still running 5 s after SIGTERM"
		return 1
	fi
	wait "$sbx_pid"
	rc=$?
	sbx_pid=''
	[ "$rc" = 0 ] || { echo "exit status $rc after SIGTERM: $(cat "$log")"; return 1; }
	! grep -q 'error:' "$log" || { echo "errors: $(grep 'error:' "$log")"; return 1; }
}
why=$(run_sandboxer "$conf" installed) &&
	ok "vmm-sandboxer --config <installed config>: serves, exits 0 on SIGTERM" ||
	bad "vmm-sandboxer with the installed config: $why"
# With its paths under DESTDIR (where they are until the files are moved into
# place) the sandboxer finds the kernel and initramfs: no warning about them.
sed "s|\"$prefix/|\"$dest$prefix/|" "$conf" >"$tmp/rooted.toml"
why=$(run_sandboxer "$tmp/rooted.toml" rooted) &&
	! grep -E 'warn:.*(kernel_path|initrd_path)' "$tmp/rooted.log" &&
	ok "the sandboxer finds the installed kernel and initramfs" ||
	bad "installed kernel/initramfs: $why"

# 5. a second install keeps the administrator's config
echo '# edited by the administrator' >>"$conf"
if install_into "$dest" && tail -1 "$conf" | grep -q 'edited by the administrator'; then
	ok "reinstall keeps an existing config.toml"
else
	bad "reinstall: config.toml was replaced (or make install failed)"
fi

echo "install: $fails failed"
[ "$fails" = 0 ]
