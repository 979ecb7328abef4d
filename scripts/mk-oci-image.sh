#!/usr/bin/env bash
# mk-oci-image.sh ROOTFS OUT.tar NAME CONFIG-JSON - an OCI image of one layer
# (ROOTFS's contents) for `ctr images import`, built locally (no registry is
# reachable here). CONFIG-JSON is the image config's "config" object, e.g.
# '{"Entrypoint":["/pause"]}'. Identical bytes for identical inputs: sorted
# entries, fixed owners and times.
set -euo pipefail
root=${1:?usage: mk-oci-image.sh ROOTFS OUT.tar NAME CONFIG-JSON}
out=${2:?}
name=${3:?}
cfg=${4:?}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarit() { # DIR OUT: reproducible tar of DIR's contents
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$1" -cf "$2" .
}
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
blob() { # FILE -> prints digest, stores the blob
	local d
	d=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "$layout/blobs/sha256/$d"
	echo "$d"
}
tarit "$root" "$work/layer.tar"
layer=$(blob "$work/layer.tar")
layer_size=$(stat -c %s "$work/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$cfg" "$layer" >"$work/config.json"
config=$(blob "$work/config.json")
config_size=$(stat -c %s "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$config" "$config_size" "$layer" "$layer_size" >"$work/manifest.json"
manifest=$(blob "$work/manifest.json")
manifest_size=$(stat -c %s "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"test"}}]}' \
	"$manifest" "$manifest_size" "$name" >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
mkdir -p "$(dirname "$out")"
tarit "$layout" "$out.tmp"
mv "$out.tmp" "$out"
