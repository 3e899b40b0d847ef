#!/usr/bin/env bash
# Run the test suite: unit binaries, then end-to-end scripts.
# Usage: tests/run.sh [unit|e2e|all] [NAME...]
# TTSACCEL_BUILD is the build directory holding the test binaries
# (set by make).  Ends with "N passed, N failed"; exit 1 if any failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export TTSACCEL_BUILD=${TTSACCEL_BUILD:-build/std}
what=${1:-all}
[ $# -gt 0 ] && shift
passed=0
failed=0
failures=()

run_one() {
	local name=$1; shift
	local log
	log=$(mktemp)
	local start=$SECONDS
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		printf 'ok    %-40s %3ds\n' "$name" $((SECONDS - start))
	else
		failed=$((failed + 1))
		failures+=("$name")
		printf 'FAIL  %-40s %3ds\n' "$name" $((SECONDS - start))
		# The failed checks first, then the end of the output.
		grep -A4 '^not ok' "$log" | head -n 60 | sed 's/^/    ! /'
		sed 's/^/    | /' "$log" | tail -n 60
	fi
	rm -f "$log"
}

want() {
	local name=$1
	[ $# -eq 1 ] && [ ${#filter[@]} -eq 0 ] && return 0
	local f
	for f in "${filter[@]}"; do
		[[ $name == *"$f"* ]] && return 0
	done
	return 1
}
filter=("$@")

if [ "$what" = unit ] || [ "$what" = all ]; then
	for t in "$TTSACCEL_BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		name=unit/$(basename "$t")
		want "$name" || continue
		run_one "$name" "$t"
	done
fi
if [ "$what" = e2e ] || [ "$what" = all ]; then
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		[ "$(basename "$t")" = lib.sh ] && continue
		name=e2e/$(basename "$t" .sh)
		want "$name" || continue
		run_one "$name" bash "$t"
	done
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
