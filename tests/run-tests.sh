#!/usr/bin/env bash
# Run test binaries/scripts of one tier and print one summary line.
# Criterion binaries report skips themselves ("[SKIP]" lines with a reason);
# shell tests exit 77 to skip and print their reason first.
set -uo pipefail
tier=$1; shift
pass=0; fail=0; skip=0; single_skips=0; failed=()
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
	# Criterion prints one "[SKIP] suite::test: reason" per skipped test and does
	# not count them in "Tested"; shell tests print "skipped: reason" lines.
	skips=$(printf '%s\n' "$out" | grep -E '\[SKIP\]|Skipping|skipped:' || true)
	nskip=0
	if [[ -n $skips ]]; then
		nskip=$(printf '%s\n' "$skips" | wc -l)
		printf '%s\n' "$skips" | sed "s|^|SKIP $tier/$name: |"
	fi
	tested=$(printf '%s\n' "$summary" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	if [[ $rc == 0 && -n $tested && $tested == 0 && $nskip -gt 0 ]]; then
		# Nothing ran: that is a skip, not a pass.
		skip=$((skip + 1)); single_skips=$((single_skips + nskip))
		echo "SKIP $tier/$name (all $nskip tests skipped)"
		continue
	fi
	single_skips=$((single_skips + nskip))
	if [[ $rc == 0 ]]; then
		pass=$((pass + 1))
		echo "PASS $tier/$name ${summary:+($(echo "$summary" | sed 's/.*Synthesis: //'))}${nskip:+$([[ $nskip -gt 0 ]] && echo " ($nskip skipped)")}"
	else
		fail=$((fail + 1)); failed+=("$name")
		echo "FAIL $tier/$name (exit $rc)"
		printf '%s\n' "$out" | tail -60 | sed 's/^/    /'
	fi
done
echo "== $tier: $pass passed, $fail failed, $skip skipped; $single_skips single tests skipped"
[[ $fail == 0 ]]
