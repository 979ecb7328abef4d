#!/usr/bin/env bash
# ttrpc interop with containerd's own Go ttrpc (1.1.1) and Task API stubs:
#   Go client (kcinterop-client) -> our C server (ttrpc-peer serve)
#   our C client (ttrpc-peer call) -> Go server (kcinterop-server)
# plus C->C and Go->Go as references. Each client makes the same real Task API
# calls (Create with mounts/terminal/stdio, State, Start, Wait parked until Kill
# all=true, NotFound/AlreadyExists/FailedPrecondition statuses, Unimplemented
# methods and services, the namespace header, deadlines from context.WithTimeout
# = timeout_nano on both sides, a 1 MiB request, 64 concurrent calls), checks
# every answer, and all four must print tests/interop/expected-output.txt.
# Exit 0 = pass, 77 = skipped (no Go toolchain), 1 = failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
expected=$root/tests/interop/expected-output.txt

tmp=$(mktemp -d)
srv=
cleanup() {
	[[ -n $srv ]] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Under make (test-integration) the C peer is a prerequisite; run by hand, build it.
if [[ -n ${KC_BUILD:-} ]]; then
	build=$KC_BUILD
else
	build=$root/build
	if ! make -C "$root" --no-print-directory -s build/tests/ttrpc-peer >"$tmp/make.log" 2>&1; then
		cat "$tmp/make.log"
		echo "FAIL: could not build the C peer"
		exit 1
	fi
fi
peer=$build/tests/ttrpc-peer
if [[ ! -x $peer ]]; then
	echo "FAIL: $peer not built (make interop-bins)"
	exit 1
fi
bash "$root/tests/interop/go-build.sh" "$build/go/bin" server client
rc=$?
[[ $rc == 0 ]] || exit $rc # 77 with the skip reason already printed
gosrv=$build/go/bin/kcinterop-server
gocli=$build/go/bin/kcinterop-client

fail=0
# pair NAME "SERVER CMD" "CLIENT CMD"
pair() {
	local name=$1 sock=$tmp/$1.sock srv_rc cli_rc
	read -r -a scmd <<<"$2"
	read -r -a ccmd <<<"$3"
	"${scmd[@]}" "unix://$sock" >"$tmp/$name.srv" 2>&1 &
	srv=$!
	timeout 60 "${ccmd[@]}" "unix://$sock" >"$tmp/$name.out" 2>"$tmp/$name.err"
	cli_rc=$?
	kill "$srv" 2>/dev/null
	wait "$srv"
	srv_rc=$?
	srv=
	# The servers exit 0 on SIGTERM; anything else is a crash or sanitizer report.
	if [[ $cli_rc != 0 || $srv_rc != 0 ]] || ! diff -u "$expected" "$tmp/$name.out" >"$tmp/$name.diff"; then
		echo "FAIL $name: client exit $cli_rc, server exit $srv_rc"
		sed 's/^/    client: /' "$tmp/$name.err"
		sed 's/^/    server: /' "$tmp/$name.srv"
		sed 's/^/    /' "$tmp/$name.diff"
		fail=1
	else
		echo "ok   $name ($(wc -l <"$tmp/$name.out") checked lines)"
	fi
}

pair go-client-c-server "$peer serve" "$gocli"
pair c-client-go-server "$gosrv" "$peer call"
pair c-client-c-server "$peer serve" "$peer call"
pair go-client-go-server "$gosrv" "$gocli"
[[ $fail == 0 ]] || exit 1
echo "Synthesis: Tested: 4 | Passing: 4 | Failing: 0 | Crashing: 0"
