#!/usr/bin/env bash
# Bench section: resident memory and the cache's byte limit (spec §8).
#
# The daemon's VmRSS (/proc/PID/status) idle right after start, then after
# filling the cache with speech requests of distinct inputs (fake TTS,
# ~33-character inputs, one segment each, ~48 KB of WAV each) until /cache/stats counts
# evictions and the requests have passed the limit twice over, then after
# as many again (memory that keeps growing while the cache stays at its
# limit would be a leak).  /cache/stats is read after every request: the
# largest "bytes" seen must stay within 1% of CACHE_MAX_BYTES.  Goals:
# idle RSS under 8 MiB, the byte limit held within 1%.  RssAnon (heap and
# stacks) is printed too: the rest of RSS is shared libraries' pages.
#
# Knobs (environment): BENCH_MEMORY_LIMIT (CACHE_MAX_BYTES, default 8M),
# BENCH_MEMORY_PASSES (how many times the limit each phase sends,
# default 2).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

LIMIT=${BENCH_MEMORY_LIMIT:-8M}
PASSES=${BENCH_MEMORY_PASSES:-2}
KEY=sk-test
IDLE_GOAL_KB=8192

for f in "$TTSACCEL" "$BUILD/tests/fake_tts"; do
	[ -x "$f" ] || { echo "memory: $f is missing (make testbins)" >&2; exit 1; }
done

start_tts a || { echo "memory: fake_tts did not start" >&2; exit 1; }
NEWAPI_API_KEY=$KEY API_KEYS=$KEY TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 CACHE_MAX_BYTES=$LIMIT CACHE_MAX_SIZE=1000000 \
    LOG_LEVEL=WARNING start_daemon ||
	{ echo "memory: the daemon did not start" >&2; exit 1; }

# The daemon's own PID (start_daemon runs it under env, which execs).
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$DAEMON_PID/status"; }
anon() { sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$DAEMON_PID/status"; }
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$DAEMON_PID/status"; }
stats() { curl -s -m 5 "$URL/cache/stats"; }
num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"; }

sleep 0.5
idle=$(rss) idle_anon=$(anon)
[ -n "$idle" ] || { echo "memory: no VmRSS for PID $DAEMON_PID" >&2; exit 1; }
s=$(stats)
max_bytes=$(num max_bytes "$s")
[ -n "$max_bytes" ] || { echo "memory: /cache/stats has no max_bytes: $s" >&2; exit 1; }

# fill FROM COUNT: COUNT speech requests with distinct inputs; the
# largest cache "bytes" seen goes to $peak, failures to $bad.
peak=0 bad=0 sent=0
fill() {
	local i b code
	for ((i = $1; i < $1 + $2; i++)); do
		code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' \
		    -H "Authorization: Bearer $KEY" \
		    -H 'Content-Type: application/json' \
		    -d "{\"input\":\"Sentence number $i about the rain\",\"response_format\":\"wav\"}" \
		    "$URL/v1/audio/speech")
		[ "$code" = 200 ] || bad=$((bad + 1))
		sent=$((sent + 1))
		b=$(num bytes "$(stats)")
		[ -n "$b" ] && [ "$b" -gt "$peak" ] && peak=$b
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
	done
}

# How many requests make PASSES times the limit: the size of one answer.
one=$(curl -s -m 30 -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"input":"Sentence number 0 about the rain","response_format":"wav"}' \
    "$URL/v1/audio/speech" | wc -c)
[ "$one" -gt 0 ] || { echo "memory: the speech request failed" >&2; exit 1; }
count=$((max_bytes * PASSES / one + 1))
echo "memory: CACHE_MAX_BYTES=$LIMIT ($max_bytes bytes), answers of $one" \
    "bytes, $count requests per phase"

fill 1 "$count" || { echo "memory: the daemon died while filling" >&2; fails=1; exit 1; }
s1=$(stats)
full1=$(rss)
fill $((count + 1)) "$count" ||
	{ echo "memory: the daemon died while filling" >&2; fails=1; exit 1; }
s2=$(stats)
full2=$(rss) full2_anon=$(anon)
peakrss=$(hwm)

echo "  after phase 1: RSS $full1 KiB, cache $s1"
echo "  after phase 2: RSS $full2 KiB, cache $s2"
[ "$bad" -eq 0 ] || echo "  ($bad speech requests did not answer 200)"

bytes=$(num bytes "$s2") entries=$(num entries "$s2") ev=$(num evictions "$s2")
echo
echo "memory summary"
awk -v idle="$idle" -v f1="$full1" -v f2="$full2" -v hwm="$peakrss" \
    -v bytes="$bytes" -v max="$max_bytes" -v peak="$peak" \
    -v entries="$entries" -v ev="$ev" -v goal="$IDLE_GOAL_KB" -v sent="$sent" \
    -v ia="$idle_anon" -v fa="$full2_anon" '
BEGIN {
	printf "rss idle=%d KiB full=%d KiB (after %d requests) " \
	    "full2=%d KiB (growth %+d KiB) peak(VmHWM)=%d KiB\n",
	    idle, f1, sent / 2, f2, f2 - f1, hwm
	printf "of which anonymous (heap, stacks): idle=%d KiB full2=%d " \
	    "KiB; the rest is mapped files (libraries)\n", ia, fa
	printf "cache bytes=%d max_bytes=%d (%.2f%% of the limit; largest " \
	    "seen %d = %.2f%%) entries=%d evictions=%d\n", bytes, max,
	    100 * bytes / max, peak, 100 * peak / max, entries, ev
	printf "rss full - idle = %d KiB for %d KiB of cached audio " \
	    "(%.2fx)\n", f2 - idle, bytes / 1024,
	    (bytes > 0) ? (f2 - idle) * 1024 / bytes : 0
	printf "goal (idle RSS < %d KiB): %s\n", goal,
	    (idle < goal) ? "met" : "NOT met"
	printf "goal (cache bytes within 1%% of the limit, evictions seen): " \
	    "%s\n", (peak <= max * 1.01 && ev > 0) ? "met" : "NOT met"
}'
stop_daemon || { echo "memory: the daemon did not exit cleanly" >&2; exit 1; }
exit 0
