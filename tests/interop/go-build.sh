#!/usr/bin/env bash
# Build the Go programs under tests/interop/go (GOPATH layout) offline, against
# Debian's containerd 1.6 and ttrpc 1.1.1 sources in /usr/share/gocode.
#
#   tests/interop/go-build.sh OUTDIR PROG...    PROG: server client bench
#
# OUTDIR/kcinterop-PROG is rebuilt only when a Go source is newer than it.
# Exits 77 after printing "skip: <reason>" when there is no Go toolchain.
# The build cache goes to $KC_CACHE/go-build (KC_CACHE defaulting as in the
# Makefile), never into the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$1
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)

gobin=$(command -v go || true)
[[ -z $gobin && -x /usr/lib/go/bin/go ]] && gobin=/usr/lib/go/bin/go
if [[ -z $gobin ]]; then
	echo "skip: no Go toolchain (package golang-go; 'make test-deps' installs it)"
	exit 77
fi
gocode=/usr/share/gocode/src/github.com/containerd
for pkg in ttrpc containerd/runtime/v2/task; do
	if [[ ! -d $gocode/$pkg ]]; then
		echo "go-build: missing $gocode/$pkg (packages golang-github-containerd-ttrpc-dev," \
			"golang-github-containerd-containerd-dev; 'make test-deps' installs them)" >&2
		exit 1
	fi
done

export GO111MODULE=off GOFLAGS= GOPATH=$here/go:/usr/share/gocode
export GOCACHE=${KC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kuasar-c}/go-build
newest_src=$(find "$here/go/src" -name '*.go' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
for prog in "$@"; do
	bin=$out/kcinterop-$prog
	if [[ -x $bin && $bin -nt $newest_src ]]; then
		continue
	fi
	echo "  GO	$bin" >&2
	"$gobin" build -o "$bin.tmp" "kcinterop/$prog"
	mv -f "$bin.tmp" "$bin"
done
