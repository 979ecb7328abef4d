#!/usr/bin/env bash
# Run the libFuzzer harnesses one after the other (make fuzz / make fuzz-smoke).
#   KC_FUZZ_BIN      directory of the fuzz_<name> binaries
#   KC_FUZZ_CORPUS   the checked-in seeds, <corpus>/<name>/ (only read)
#   KC_FUZZ_MODE     smoke: new inputs and crashes go to a temporary directory
#                    long:  they go to $KC_FUZZ_OUT/{corpus,artifacts,logs}
#   KC_FUZZ_SECONDS  per harness; KC_FUZZ_ONLY=a,b runs only those
#   KC_FUZZ_SKIP     a reason the harnesses could not be built: skip (exit 77)
# Prints one line per harness (executions, time, corpus size); fails if any
# harness found a crash, a leak, undefined behaviour or a hang.
set -uo pipefail
mode=${KC_FUZZ_MODE:-smoke}
secs=${KC_FUZZ_SECONDS:-10}
if [[ -n ${KC_FUZZ_SKIP:-} ]]; then
	echo "skipped: fuzz harnesses not built: $KC_FUZZ_SKIP"
	exit 77
fi
bin=${KC_FUZZ_BIN:?}
corpus=${KC_FUZZ_CORPUS:?}

# Inputs above these sizes are cut (each harness also refuses more than its
# parser would ever be given).
declare -A max_len=(
	[frame]=65536 [ttrpc_server]=65536 [grpc_server]=65536 [ttrpc_client]=65536 [pb]=65536
	[spec]=65536 [seccomp]=65536 [cmdline]=4096 [toml]=16384 [config]=16384
	[state]=16384 [pod]=16384 [qmp]=16384
)

# Known leaks of libraries (each explained there).
export LSAN_OPTIONS=suppressions=$(dirname "$0")/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}

tmp=$(mktemp -d /tmp/kc-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [[ $mode == long ]]; then
	out=${KC_FUZZ_OUT:?}
	mkdir -p "$out/corpus" "$out/artifacts" "$out/logs"
else
	out=$tmp
fi

fail=0 ran=0
for b in "$bin"/fuzz_*; do
	[[ -x $b ]] || continue
	name=${b##*/fuzz_}
	if [[ -n ${KC_FUZZ_ONLY:-} && ,$KC_FUZZ_ONLY, != *",$name,"* ]]; then
		continue
	fi
	mkdir -p "$out/corpus/$name" "$out/artifacts"
	log=$out/logs/$name.log
	[[ $mode == long ]] || log=$tmp/$name.log
	seeds=()
	[[ -d $corpus/$name ]] && seeds=("$corpus/$name")
	# The first directory receives new inputs: never the checked-in corpus.
	nice -n 19 "$b" -max_total_time="$secs" -max_len="${max_len[$name]:-16384}" -timeout=25 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
		"$out/corpus/$name" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	ran=$((ran + 1))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	n=$(find "$out/corpus/$name" -type f | wc -l)
	if [[ $rc == 0 ]]; then
		echo "fuzz_$name: ${execs:-?} executions in ${took:-?} s, $n new inputs, no crash"
	else
		fail=1
		echo "fuzz_$name: FAILED (exit $rc) after ${execs:-?} executions; log: $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|.*runtime error)' \
			"$log" | head -20 | sed 's/^/    /'
		[[ $mode == long ]] || tail -40 "$log" | sed 's/^/    /'
	fi
done
if [[ $ran == 0 ]]; then
	echo "no fuzz_* binaries in $bin"
	exit 1
fi
exit $fail
