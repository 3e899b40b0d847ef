#!/usr/bin/env bash
# Bench section: real clients' speech requests after a streamed chat
# (spec 3.5, issue 8).  Runs tests/e2e/clients.sh -- five simulated
# front-ends (tests/clients/simulate.py) over the reply corpus, each with a
# fresh daemon -- and prints, per client, the share of its requests
# answered without a new backend synthesis (goal: 95%) beside the share an
# exact-text cache would serve (the original service keys on the exact
# text: a request counts there when its input is verbatim one of the
# reply's prefetched segments or the whole reply), and how the daemon
# said it served them (X-TTS-Cache).  Missing the goal is reported, not a
# failure of the section; the figures are kept in $BENCH_CLIENTS_JSON if set.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/ttsaccel-bench-clients.XXXXXX")
trap 'rm -rf "$out"' EXIT
json=${BENCH_CLIENTS_JSON:-$out/summary.json}

CLIENTS_JSON=$json bash "$top/tests/e2e/clients.sh" >"$out/log" 2>&1
status=$?
if [ ! -s "$json" ]; then
	echo "clients: no figures; the run said:" >&2
	tail -n 40 "$out/log" >&2
	exit 1
fi
python3 "$top/tests/clients/simulate.py" report "$json" | sed 's/^/  /'
echo "  no-synth: requests answered without a new backend synthesis (goal >= 95%)"
echo "  exact-txt: what an exact-text cache (the original's key) would serve"
grep '^not ok' "$out/log" | grep -v 'answered without a new synthesis' | sed 's/^/  /'
[ "$status" -eq 0 ] || echo "  (tests/e2e/clients.sh: goal not met or a check failed)"
exit 0
