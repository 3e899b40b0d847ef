#!/usr/bin/env bash
# Bench section: interruption (barge-in) on a pool that cannot keep up.
#
# One fake TTS with few slots (BENCH_INT_MAX, default 2) and a latency
# (BENCH_INT_LATENCY_MS, default 150) behind ttsaccel; voice clients as in
# the ttfa section (ttfabench --mode proxy --unique: streamed chat, the
# reply's audio played as it comes, no sentence shared between chats).  Three kinds of run, alternated in one run of
# this script:
#   alone   10 chats at once;
#   mixed   20 chats at once, 10 of them interrupted (DELETE of the reply)
#           once their first audio came; the figures are the other 10's;
#   uncut   20 chats at once, none interrupted (what mixed would cost).
# It reports the 10 others' median first audio (TTFA) and silence in mixed
# against alone (goal: within 10 %), and the backend syntheses mixed saved
# against uncut (the fake's speech requests).  The interrupted chats'
# first segments still take their turn on the pool (an interrupt comes
# after the first audio), so the others' first audio cannot be as early
# as alone while those first segments are queued before theirs.
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

TB=$BUILD/tests/ttfabench
DELAY=${BENCH_INT_DELAY_MS:-30}
LAT=${BENCH_INT_LATENCY_MS:-150}
MAX=${BENCH_INT_MAX:-2}
ROUNDS=${BENCH_INT_ROUNDS:-2}
KEY=sk-test
GOAL=1.10

for f in "$TTSACCEL" "$TB" "$FAKE_UPSTREAM" "$BUILD/tests/fake_tts"; do
	[ -x "$f" ] || { echo "interrupt: $f is missing (make testbins)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null

start_upstream --timestamps --delay-ms "$DELAY" --chunk 4 ||
	{ echo "interrupt: the fake upstream did not start" >&2; exit 1; }
start_tts pool --latency-ms "$LAT" ||
	{ echo "interrupt: fake_tts did not start" >&2; exit 1; }
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=$KEY API_KEYS=$KEY \
    TTS_ENDPOINTS="$TTS_URL|max=$MAX" TTS_HEALTH_INTERVAL=0 start_daemon ||
	{ echo "interrupt: the daemon did not start" >&2; exit 1; }

seed=100
# run LABEL CHATS INTERRUPTED: one measurement; its RESULT line to
# $T/LABEL.res, the backend syntheses it caused to $T/LABEL.syn.
run() {
	local label=$1 n=$2 k=$3 before after rc
	seed=$((seed + 1))
	before=$(fake_stats "$TTS_URL" .speech)
	"$TB" --mode proxy --url "$URL" --key "$KEY" --chats "$n" \
	    --unique --interrupt "$k" --rounds 1 --seed "$seed" --latency-ms "$LAT" \
	    --timeout 120 --label "$label" >"$T/$label.out" 2>"$T/$label.err"
	rc=$?
	# The syntheses of the run: until the daemon has none in flight.
	wait_secs 60 sh -c "curl -sS '$URL/cache/stats' |
	    jq -e '.in_flight == 0' >/dev/null"
	after=$(fake_stats "$TTS_URL" .speech)
	echo $((after - before)) >"$T/$label.syn"
	grep '^RESULT ' "$T/$label.out" >"$T/$label.res"
	if [ $rc -ne 0 ] || [ ! -s "$T/$label.res" ]; then
		echo "    $label: status $rc; first problems:"
		head -n 5 "$T/$label.err" | sed 's/^/      /'
	fi
	echo "    $(cat "$T/$label.res") syntheses=$(cat "$T/$label.syn")"
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1"; }
# sum FIELD LABEL...: the sum of a RESULT field (or .syn with "syn").
sum() {
	local f=$1 l t=0 v
	shift
	for l in "$@"; do
		if [ "$f" = syn ]; then v=$(cat "$T/$l.syn"); else v=$(field "$T/$l.res" "$f"); fi
		t=$(awk -v a="$t" -v b="${v:-nan}" 'BEGIN { print a + b }')
	done
	echo "$t"
}

echo "  pool: 1 endpoint, $MAX slot(s), ${LAT} ms latency; upstream ${DELAY} ms a chunk"
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
alone=() mixed=() uncut=()
for r in $(seq "$ROUNDS"); do
	run "alone$r" 10 0; alone+=("alone$r")
	run "mixed$r" 20 10; mixed+=("mixed$r")
	run "uncut$r" 20 0; uncut+=("uncut$r")
done
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
ta=$(sum ttfa_p50_ms "${alone[@]}") tm=$(sum ttfa_p50_ms "${mixed[@]}")
sa=$(sum silence_p50_ms "${alone[@]}") sm=$(sum silence_p50_ms "${mixed[@]}")
nm=$(sum syn "${mixed[@]}") nu=$(sum syn "${uncut[@]}")
rt=$(ratio "$tm" "$ta")
echo "  the 10 not interrupted, mixed / alone (sums of the rounds' medians):"
echo "    first audio: ${tm} ms / ${ta} ms = ${rt} (goal <= $GOAL)"
echo "    silence:     ${sm} ms / ${sa} ms = $(ratio "$sm" "$sa")"
echo "  backend syntheses: mixed ${nm}, uncut ${nu}: $((nu - nm)) saved ($(ratio $((nu - nm)) "$nu") of uncut)"
if awk -v r="$rt" -v g="$GOAL" 'BEGIN { exit !(r <= g) }'; then
	echo "  goal met: first audio within 10 % of the chats alone"
else
	echo "  goal missed: first audio more than 10 % above the chats alone"
fi
exit 0
