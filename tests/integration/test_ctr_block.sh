#!/usr/bin/env bash
# Containers on hot-plugged disks (issue 15), end to end with containerd 2.x
# and ctr, QEMU machine pc (it can hot-plug; TCG here):
#   blockfile  `ctr run --snapshotter blockfile`: the rootfs is the
#              snapshot's ext4 image on virtio-blk, shown from inside
#              (/dev/vdX ext4 on /), never mounted on the host; sandbox.json
#              records the disk while it runs; a file written there is in the
#              image after; nothing is left after delete
#   erofs      `ctr run --snapshotter erofs` (when the plugin loads): runs;
#              an active erofs snapshot is an overlay over layers containerd
#              mounts on the host, so its rootfs stays on virtio-fs
#   volume     `--mount type=ext4|xfs,src=/dev/loopN,dst=/data`: a loop
#              device the test makes, written in the container, read back on
#              the host after; no loop device left
#   device     `--device /dev/loopN` (linux.devices, type b): the container
#              reads the raw device's first bytes at its host path, with the
#              guest's major:minor
#   devmapper  skipped: device-mapper is absent from these machines' kernels
# Needs the guest side (vmm-task with block support) and a guest kernel with
# ACPI PCI hot-plug; skips naming what is missing. Run under
# `flock -o /tmp/kc-vm.lock`.
# KC_KERNEL_DIR: the guest kernel (default build/kernel).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
for b in qemu-system-x86_64 losetup mkfs.ext4 truncate; do
	command -v "$b" >/dev/null || skip "$b is not installed"
done
source "$top/scripts/kc-env.sh"
kdir=${KC_KERNEL_DIR:-$top/build/kernel}
for f in build/bin/vmm-sandboxer build/bin/containerd-shim-kuasar-vmm-v2 build/bin/vmm-task \
	build/initramfs.cpio.gz; do
	[ -e "$top/$f" ] || skip "$f is not built"
done
[ -e "$kdir/bzImage" ] || skip "no $kdir/bzImage (make kernel)"
grep -q '^CONFIG_HOTPLUG_PCI_ACPI=y' "$kdir/config" 2>/dev/null ||
	skip "the guest kernel ($kdir) has no CONFIG_HOTPLUG_PCI_ACPI"
grep -qa 'io.kuasar-c.block-devices' "$top/build/bin/vmm-task" ||
	skip "the guest agent has no block-device support (block-contract.md, guest side)"
ctd=$(kc_envmk CONTAINERD2)
[ -n "$ctd" ] && [ -x "$ctd" ] || skip "no containerd 2.x (scripts/setup-deps.sh containerd2)"
losetup -f >/dev/null 2>&1 || skip "no free loop device"

fails=0 dir='' loops=()
ok() { echo "ok   - $*"; }
bad() {
	echo "FAIL - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/      /'
	fails=$((fails + 1))
}
cleanup() {
	local l
	kc_env_down
	# Sanitizer builds (KC_BIN_DIR=build/san/bin) report into these logs.
	if [ -n "$dir" ] && grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/*.log 2>/dev/null; then
		bad "sanitizer reports in the logs above" \
			"$(grep -h -A 20 -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/*.log | head -60)"
	fi
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	if [ -n "$dir" ]; then
		[ "$fails" = 0 ] || { echo "--- sandboxer.log (tail)"; tail -30 "$dir/sandboxer.log"; }
		grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
		rm -rf "$dir"
	fi
}
trap cleanup EXIT

dir=$(mktemp -d /tmp/kcb-XXXXXX) # short: unix socket paths live below it
truncate -s 128M "$dir/scratch.ext4" && mkfs.ext4 -q -F "$dir/scratch.ext4" ||
	skip "cannot make the blockfile scratch image"
KC_CONTAINERD=$ctd KC_CTR='' KC_QEMU_MACHINE=pc KC_KERNEL_DIR=$kdir
KC_CTD_EXTRA_TOML="[plugins.'io.containerd.snapshotter.v1.blockfile']
  scratch_file = '$dir/scratch.ext4'
  fs_type = 'ext4'
  mount_options = ['loop']
  recreate_scratch = true"
kc_env_up "$dir" >/dev/null || { bad "environment did not come up" "$(tail -20 "$dir/containerd.log")"; exit 1; }
echo "# containerd $KC_CTD_VERSION, QEMU machine pc"
RT=$KC_RUNTIME

plugin_ok() { kc_ctr plugins ls 2>/dev/null | awk -v id="$1" '$2 == id {print $NF}' | grep -qx ok; }
# The root mount as the container sees it: "SOURCE FSTYPE".
root_mnt='awk '\''$2 == "/" {print $1, $3}'\'' /proc/mounts | tail -1'
wait_stopped() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(kc_ctr tasks ls | awk -v id="$1" '$1 == id {print $3}')" = STOPPED ] && return 0
		sleep 0.1
	done
	return 1
}
remove() { # ID
	kc_ctr tasks kill -s SIGKILL "$1" >/dev/null 2>&1
	wait_stopped "$1"
	kc_ctr tasks delete "$1" >/dev/null 2>&1
	kc_ctr containers delete "$1" >/dev/null 2>&1
}

# ------------------------------------------------------------------ blockfile
if plugin_ok blockfile; then
	id=bf1 tok=kc-bf-$RANDOM$RANDOM
	if out=$(kc_ctr run -d --snapshotter blockfile --runtime "$RT" "$KC_IMAGE" $id sleep 600 2>&1); then
		out=$(kc_ctr tasks exec --exec-id r $id sh -c "$root_mnt; echo $tok >/kc-tok; sync; cat /kc-tok" 2>&1)
		first=$(printf '%s\n' "$out" | head -1)
		[[ "$first" =~ ^/dev/vd[a-z]+\ ext4$ ]] && [ "$(printf '%s\n' "$out" | tail -1)" = "$tok" ] &&
			ok "blockfile: the rootfs is $first in the guest, writable" ||
			bad "blockfile: the rootfs as the container sees it" "$out"
		st=$(cat "$dir"/vmm/*/sandbox.json 2>/dev/null)
		grep -q '"state": "added"' <<<"$st" && grep -q "blockfile/snapshots/" <<<"$st" &&
			ok "blockfile: sandbox.json records the snapshot's disk" ||
			bad "blockfile: sandbox.json has no disk for the snapshot" "$st"
		out=$(grep -E " $dir/vmm/[^ ]*/$id/rootfs " /proc/self/mountinfo)
		[ -z "$out" ] && ok "blockfile: nothing mounted on the host for the rootfs" ||
			bad "blockfile: the rootfs is mounted on the host" "$out"
		snap=$(grep -o '"path": "[^"]*blockfile/snapshots/[^"]*"' <<<"$st" | head -1 | cut -d'"' -f4)
		kc_ctr tasks kill -s SIGKILL $id >/dev/null 2>&1
		wait_stopped $id
		kc_ctr tasks delete $id >/dev/null 2>&1
		# The task is gone, the snapshot not yet (the container holds it).
		got=''
		if [ -n "$snap" ] && [ -f "$snap" ]; then
			mkdir -p "$dir/m" && mount -o ro,loop "$snap" "$dir/m" 2>/dev/null &&
				got=$(cat "$dir/m/kc-tok" 2>&1)
			umount "$dir/m" 2>/dev/null
		fi
		[ "$got" = "$tok" ] && ok "blockfile: the file written in the container is in the image" ||
			bad "blockfile: the snapshot image ($snap) lacks the container's file" "$got"
		kc_ctr containers delete $id >/dev/null 2>&1
		out=$(losetup -a | grep "$dir" | grep -v -e scratch -e vol-)
		[ -z "$out" ] && ok "blockfile: no loop device left on the snapshots" || bad "blockfile: loop devices left" "$out"
		out=$(ls "$dir"/vmm 2>/dev/null)
		[ -z "$out" ] && ok "blockfile: the sandbox is gone" || bad "blockfile: sandbox dirs left" "$out"
	else
		bad "blockfile: ctr run failed" "$out"
	fi
else
	bad "blockfile: the snapshotter did not load" "$(kc_ctr plugins ls | grep blockfile; grep -i blockfile "$dir/containerd.log" | tail -5)"
fi

# ------------------------------------------------------------------ erofs
if plugin_ok erofs && command -v mkfs.erofs >/dev/null; then
	if out=$(kc_ctr run --rm --snapshotter erofs --runtime "$RT" "$KC_IMAGE" ero1 sh -c "$root_mnt" 2>&1); then
		ok "erofs: a container runs (rootfs: $out; an active snapshot is an overlay: virtio-fs)"
	else
		bad "erofs: ctr run failed" "$out"
	fi
else
	echo "skipped: erofs snapshotter not loaded or no mkfs.erofs ($(kc_ctr plugins ls | awk '$2 == "erofs"' | tr -s ' '))"
fi

# ------------------------------------------------------------------ volumes
volume() { # FSTYPE SIZE MKFS...
	local fs=$1 size=$2 img=$dir/vol-$1.img loop id=vol-$1 tok=kc-vol-$RANDOM$RANDOM got
	shift 2
	truncate -s "$size" "$img" && "$@" "$img" >/dev/null 2>&1 || { bad "$fs volume: mkfs"; return; }
	loop=$(losetup -f --show "$img") || { bad "$fs volume: losetup"; return; }
	loops+=("$loop")
	out=$(kc_ctr run --rm --runtime "$RT" --mount "type=$fs,src=$loop,dst=/data,options=rw" "$KC_IMAGE" $id \
		sh -c "echo $tok >/data/hello && sync && awk '\$2 == \"/data\" {print \$1, \$3}' /proc/mounts" 2>&1)
	[[ "$out" =~ ^/dev/vd[a-z]+\ $fs$ ]] && ok "$fs volume: $out in the container" ||
		bad "$fs volume: /data as the container sees it" "$out"
	losetup -d "$loop" && loops=("${loops[@]/$loop/}")
	out=$(losetup -j "$img")
	[ -z "$out" ] && ok "$fs volume: no loop device left" || bad "$fs volume: loop device left" "$out"
	mkdir -p "$dir/m" && mount -o ro,loop -t "$fs" "$img" "$dir/m" && got=$(cat "$dir/m/hello" 2>&1)
	umount "$dir/m" 2>/dev/null
	[ "${got:-}" = "$tok" ] && ok "$fs volume: written in the container, read back on the host" ||
		bad "$fs volume: the host reads [${got:-}], expected [$tok]"
}
volume ext4 64M mkfs.ext4 -q -F
if command -v mkfs.xfs >/dev/null; then
	volume xfs 320M mkfs.xfs -q -f
else
	echo "skipped: xfs volume: mkfs.xfs is not installed (xfsprogs)"
fi

# ------------------------------------------------------------------ raw device
img=$dir/raw.img tok=kc-raw-$RANDOM$RANDOM
truncate -s 16M "$img" && printf '%s' "$tok" | dd of="$img" conv=notrunc status=none
if loop=$(losetup -f --show "$img"); then
	loops+=("$loop")
	hostnum=$(stat -c '%t:%T' "$loop")
	out=$(kc_ctr run --rm --runtime "$RT" --device "$loop" "$KC_IMAGE" raw1 \
		sh -c "head -c ${#tok} $loop; echo; stat -c '%t:%T' $loop" 2>&1)
	[ "$(printf '%s\n' "$out" | head -1)" = "$tok" ] && ok "device: the container reads $loop's bytes" ||
		bad "device: the container's read of $loop" "$out"
	gnum=$(printf '%s\n' "$out" | tail -1)
	[ -n "$gnum" ] && [ "$gnum" != "$hostnum" ] && ok "device: guest numbers $gnum (host $hostnum)" ||
		bad "device: the node's numbers in the container [$gnum], host [$hostnum]"
else
	bad "device: losetup"
fi

# ------------------------------------------------------------------ devmapper
if grep -qw device-mapper /proc/misc 2>/dev/null; then
	echo "skipped: devmapper: no test written for a host with device-mapper"
else
	echo "skipped: devmapper: device-mapper is absent from this machine's host kernel"
fi

cleanup
trap - EXIT
dir=''
echo "ctr with block devices (containerd $KC_CTD_VERSION): $fails failed"
[ "$fails" = 0 ]
