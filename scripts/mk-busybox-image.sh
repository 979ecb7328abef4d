#!/usr/bin/env bash
# mk-busybox-image.sh OUT.tar [NAME] [--no-etc] - a busybox OCI image built
# locally (scripts/mk-oci-image.sh), ready for `ctr images import`. --no-etc
# leaves out /etc entirely (as many real images do: the runtime must create
# mount points such as /etc/resolv.conf itself).
set -euo pipefail
out=${1:?usage: mk-busybox-image.sh OUT.tar [NAME] [--no-etc]}
name=${2:-kuasar-c/busybox:test}
no_etc=${3:-}
busybox=${BUSYBOX_STATIC:-/bin/busybox}
[ -x "$busybox" ] || { echo "mk-busybox-image: $busybox missing (package busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,proc,sys,dev,tmp,root,var,run}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
if [ "$no_etc" != --no-etc ]; then
	mkdir -p "$root/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
fi
bash "$(dirname "$0")/mk-oci-image.sh" "$root" "$out" "$name" \
	'{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}'
