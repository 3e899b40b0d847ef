#!/usr/bin/env bash
# Run the test suite: unit binaries, then end-to-end scripts.
# Usage: tests/run.sh [unit|deps|e2e|all] [NAME...]
# TTSACCEL_BUILD is the build directory holding the test binaries
# (set by make).  Ends with the checks that were skipped (TAP "# SKIP"
# lines, repeated so that none goes unseen) and "N passed, N failed";
# exit 1 if any failed, or if nothing ran.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export TTSACCEL_BUILD=${TTSACCEL_BUILD:-build/std}
what=${1:-all}
[ $# -gt 0 ] && shift
passed=0
failed=0
failures=()
skipped=()

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
	local s
	while IFS= read -r s; do
		skipped+=("$name: ${s#*# SKIP }")
	done < <(grep -a '^ok .*# SKIP' "$log")
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
	if ! compgen -G "$TTSACCEL_BUILD/tests/test_*" >/dev/null; then
		failed=$((failed + 1))
		failures+=(unit)
		echo "FAIL  no unit test binaries in $TTSACCEL_BUILD/tests (make testbins)"
	fi
	for t in "$TTSACCEL_BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		name=unit/$(basename "$t")
		want "$name" || continue
		run_one "$name" "$t"
	done
fi
if [ "$what" = deps ] || [ "$what" = all ]; then
	# The include-graph check (make check-deps) on its fixtures.
	want deps/selftest && run_one deps/selftest sh tests/deps/selftest.sh
	# The tree itself: no include cycle in daemon/ or cli/.
	want deps/tree && run_one deps/tree \
	    python3 tests/deps/check.py -I daemon daemon cli
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
if [ ${#skipped[@]} -gt 0 ]; then
	echo "skipped (${#skipped[@]}):"
	printf '  %s\n' "${skipped[@]}"
fi
if [ $((passed + failed)) -eq 0 ]; then
	failed=1
	failures+=("nothing ran (${what} ${filter[*]})")
fi
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
