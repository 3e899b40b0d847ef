#!/usr/bin/env bash
# `make bench`: run each benchmark section in turn and say how each went.
# A section is a command that prints its own results and exits non-zero
# only when it could not measure (a crash, a missing binary), not when a
# goal is missed.  To add one, add a line to the table below.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${TTSACCEL_BUILD:-build/std}
case $BUILD in /*) ;; *) BUILD=$here/../../$BUILD ;; esac
export TTSACCEL_BUILD=$BUILD

# name    command (run from the top of the tree; "?" = skip if absent)
sections=(
	"segment  ?$BUILD/tests/bench_segment"
	"cache    ?$BUILD/tests/bench_cache"
	"stream   $here/stream.sh"
	"rps      $here/rps.sh"
	"ttfa     $here/ttfa.sh"
	"interrupt $here/interrupt.sh"
	"hits     $here/hits.sh"
	"clients  $here/clients.sh"
	"memory   $here/memory.sh"
	"redis    $here/redis.sh"
	"convert  $here/convert.sh"
	"formats  $here/formats.sh"
)

# Run only the sections named on the command line, if any.
want=" $* "
failed=()
cd "$here/../.."
for row in "${sections[@]}"; do
	read -r name cmd <<<"$row"
	[ $# -eq 0 ] || [[ $want == *" $name "* ]] || continue
	case $cmd in
	\?*)	cmd=${cmd#\?}
		if [ ! -x "$cmd" ]; then
			echo "== $name: skipped ($cmd not built)"
			continue
		fi ;;
	esac
	echo "== $name"
	t0=$SECONDS
	if "$cmd"; then
		echo "== $name: done in $((SECONDS - t0)) s"
	else
		echo "== $name: FAILED (status $?) after $((SECONDS - t0)) s"
		failed+=("$name")
	fi
	echo
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench sections that failed to run: ${failed[*]}"
	exit 1
fi
