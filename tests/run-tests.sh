#!/usr/bin/env bash
# Run test binaries/scripts of one tier and print one summary line.
# Criterion binaries report skips themselves ("[SKIP]" lines with a reason);
# shell tests exit 77 to skip and print their reason first.
set -uo pipefail
tier=$1; shift
pass=0; fail=0; skip=0; failed=()
for t in "$@"; do
	name=$(basename "$t")
	case "$t" in
	*.sh) out=$(bash "$t" 2>&1); rc=$? ;;
	*) out=$("$t" --jobs=1 --verbose=0 2>&1); rc=$? ;;
	esac
	if [[ $rc == 77 ]]; then
		skip=$((skip + 1))
		echo "SKIP $tier/$name: $(printf '%s\n' "$out" | grep -i 'skip' | tail -1)"
		continue
	fi
	summary=$(printf '%s\n' "$out" | grep -E 'Synthesis:' | tail -1)
	skips=$(printf '%s\n' "$out" | grep -E '\[SKIP\]|Skipping|skipped:' || true)
	if [[ -n $skips ]]; then
		printf '%s\n' "$skips" | sed "s|^|SKIP $tier/$name: |"
	fi
	if [[ $rc == 0 ]]; then
		pass=$((pass + 1))
		echo "PASS $tier/$name ${summary:+($(echo "$summary" | sed 's/.*Synthesis: //'))}"
	else
		fail=$((fail + 1)); failed+=("$name")
		echo "FAIL $tier/$name (exit $rc)"
		printf '%s\n' "$out" | tail -60 | sed 's/^/    /'
	fi
done
echo "== $tier: $pass passed, $fail failed, $skip skipped"
[[ $fail == 0 ]]
