#!/usr/bin/env bash
# make fuzz-smoke: run each libFuzzer target for SECONDS on its seed corpus
# (tests/fuzz/corpus/NAME, when there is one).  New inputs and crash
# artifacts go to a scratch directory, never into the repository.  Prints
# each target's executions; exits 1 if any target crashed.
# Usage: tests/fuzz/smoke.sh SECONDS build/fuzz/fuzz_NAME...
set -u
secs=$1
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ttsaccel-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failed=()
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	mkdir -p "$scratch/$name/new" "$scratch/$name/art"
	corpus=()
	[ -d "$top/tests/fuzz/corpus/$name" ] && corpus=("$top/tests/fuzz/corpus/$name")
	rc=0
	"$bin" -max_total_time="$secs" -print_final_stats=1 \
	    -artifact_prefix="$scratch/$name/art/" \
	    "$scratch/$name/new" "${corpus[@]}" >"$scratch/$name/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$name/log")
	if [ "$rc" -ne 0 ]; then
		failed+=("$name")
		printf 'FAIL  fuzz_%-12s status %d\n' "$name" "$rc"
		grep -E 'ERROR|SUMMARY|Assertion|panic|==[0-9]+==' "$scratch/$name/log" | head -n 20 | sed 's/^/    | /'
		for a in "$scratch/$name"/art/*; do
			[ -f "$a" ] && printf '    | input (base64): %s\n' "$(head -c 2000 "$a" | base64 -w0)"
		done
	else
		printf 'ok    fuzz_%-12s %s runs in %s s\n' "$name" "${execs:-?}" "$secs"
	fi
done
[ ${#failed[@]} -eq 0 ] && exit 0
echo "crashed: ${failed[*]}"
exit 1
