#!/usr/bin/env bash
# Bench section: non-streamed chat completions ("stream": false) through
# the proxy versus straight to the fake upstream (issue: 5,000 requests a
# second, at most +100 us median over direct).
#
# wrk sends the same small chat over and over.  The fake upstream answers
# at once (no first delay, the reply in one delta); the daemon forwards
# each (asking the fake for a stream) and prefetches the
# reply's speech from a fake TTS (prefetch on; the replies are all the
# same text, so after the first their segments are cache hits and the TTS
# is not what is measured).  wrk is closed-loop (wrk2, which holds a rate,
# is not packaged), so two kinds of measurement, alternating direct and
# proxied, BENCH_RPS_REPEAT times each:
#   - latency at a fixed, low concurrency (BENCH_RPS_LAT_CONNECTIONS):
#     the percentiles of each request's time, and added = proxy - direct;
#   - throughput at BENCH_RPS_CONNECTIONS connections: requests a second
#     through the proxy (goal >= 5,000) beside direct.
# The daemon's CPU (fraction of a core, /proc/PID/stat) and RSS are given
# for each proxied run, with the fake upstream's CPU (near a whole core it
# would be what limits).  The summary takes the medians of the repeats.
#
# Knobs (environment): BENCH_RPS_SECONDS (per measurement, default 5),
# BENCH_RPS_LAT_CONNECTIONS (default 4), BENCH_RPS_CONNECTIONS (default
# 64), BENCH_RPS_THREADS (wrk -t, default 2), BENCH_RPS_REPEAT (default 2).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

SECS=${BENCH_RPS_SECONDS:-5}
LATC=${BENCH_RPS_LAT_CONNECTIONS:-4}
CONNS=${BENCH_RPS_CONNECTIONS:-64}
THREADS=${BENCH_RPS_THREADS:-2}
REPEAT=${BENCH_RPS_REPEAT:-2}
KEY=sk-test
GOAL_RPS=5000
GOAL_US=100

for f in "$TTSACCEL" "$FAKE_UPSTREAM" "$BUILD/tests/fake_tts"; do
	[ -x "$f" ] || { echo "rps: $f is missing (make testbins)" >&2; exit 1; }
done
WRK=$(command -v wrk) ||
	{ echo "rps: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null
[ "$THREADS" -le "$LATC" ] || THREADS=$LATC

# The daemon asks the upstream for a stream even when its client does
# not (to prefetch the speech as the text comes): the fake sends the
# reply as one content delta (--chunk), so that it is not the fake's
# event ticks that are measured.
start_upstream --first-delay-ms 0 --chunk 100000 ||
	{ echo "rps: the fake upstream did not start" >&2; exit 1; }
start_tts fast || { echo "rps: fake_tts did not start" >&2; exit 1; }
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=$KEY API_KEYS=$KEY \
    TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 start_daemon ||
	{ echo "rps: the daemon did not start" >&2; exit 1; }

cat >"$T/chat.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '{"model":"gpt-4o-mini","stream":false,"messages":[{"role":"user","content":"Say hello."}]}'
done = function(summary, latency, requests)
	io.write(string.format("RPS p50=%d p90=%d p99=%d\n",
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99)))
end
LUA

# One answer each way, checked before anything is timed.
for u in "$UP_URL" "$URL"; do
	code=$(curl -s -m 10 -o "$T/one.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	    -d '{"model":"gpt-4o-mini","stream":false,"messages":[{"role":"user","content":"Say hello."}]}' \
	    "$u/v1/chat/completions")
	if [ "$code" != 200 ] || ! jq -e '.choices[0].message.content' \
	    "$T/one.json" >/dev/null; then
		echo "rps: $u answered $code:" >&2
		head -c 300 "$T/one.json" >&2
		exit 1
	fi
done

# measure LABEL URL CONNECTIONS: one wrk run; its figures (rps= p50= p90=
# p99= in us, errors=, cpu= of the daemon, upcpu=, rss=) go to $T/LABEL.res.
measure() {
	local label=$1 url=$2 c=$3 t0 t1 d0 d1 u0 u1
	t0=$(date +%s%N) d0=$(cpu_ticks "$DAEMON_PID") u0=$(cpu_ticks "$UP_PID")
	"$WRK" -t"$THREADS" -c"$c" -d"${SECS}s" --timeout 10s -s "$T/chat.lua" \
	    "$url/v1/chat/completions" >"$T/$label.out" 2>&1
	t1=$(date +%s%N) d1=$(cpu_ticks "$DAEMON_PID") u1=$(cpu_ticks "$UP_PID")
	awk -v cpu="$(cpu_share "$d0" "$d1" "$t0" "$t1")" \
	    -v upcpu="$(cpu_share "$u0" "$u1" "$t0" "$t1")" \
	    -v rss="$(rss_kib "$DAEMON_PID")" '
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx|Socket errors/ { errors = errors $0 ";" }
	/^RPS / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END {
		printf "rps=%.0f p50=%d p90=%d p99=%d cpu=%s upcpu=%s rss=%s " \
		    "errors=%s\n", rps, v["p50"], v["p90"], v["p99"], cpu,
		    upcpu, rss, errors == "" ? "none" : "yes"
	}' "$T/$label.out" >"$T/$label.res"
	if grep -q 'errors=yes' "$T/$label.res"; then
		echo "    $label: wrk reports errors:"
		grep -E 'Non-2xx|Socket errors' "$T/$label.out" | sed 's/^/      /'
	fi
	echo "    $label: $(cat "$T/$label.res") load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# field FILE NAME: a value from a .res line.
field() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" "$1"; }

# median NAME LABEL-PREFIX: the median of NAME over the repeats.
median() {
	local i
	for i in $(seq "$REPEAT"); do field "$T/$2-$i.res" "$1"; done |
	    sort -n | awk '{ v[NR] = $1 } END {
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "rps: non-streamed chat completions, $SECS s per measurement, wrk -t$THREADS"
echo "  (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
# A first run each way, not counted: connections made, caches warm.
measure warm-direct "$UP_URL" "$LATC" >/dev/null
measure warm-proxy "$URL" "$LATC" >/dev/null
for i in $(seq "$REPEAT"); do
	echo "  latency at $LATC connections, run $i:"
	measure "latdirect-$i" "$UP_URL" "$LATC"
	measure "latproxy-$i" "$URL" "$LATC"
	echo "  throughput at $CONNS connections, run $i:"
	measure "maxdirect-$i" "$UP_URL" "$CONNS"
	measure "maxproxy-$i" "$URL" "$CONNS"
	if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "rps: the daemon died" >&2
		exit 1
	fi
done

echo
echo "rps summary (medians of $REPEAT; latency in us; added = proxy - direct)"
awk -v c="$LATC" -v goal="$GOAL_US" \
    -v drps="$(median rps latdirect)" -v prps="$(median rps latproxy)" \
    -v d50="$(median p50 latdirect)" -v p50="$(median p50 latproxy)" \
    -v d90="$(median p90 latdirect)" -v p90="$(median p90 latproxy)" \
    -v d99="$(median p99 latdirect)" -v p99="$(median p99 latproxy)" \
    -v cpu="$(median cpu latproxy)" -v rss="$(median rss latproxy)" '
BEGIN {
	printf "at %d connections: direct %.0f req/s p50=%d p90=%d p99=%d; " \
	    "proxy %.0f req/s p50=%d p90=%d p99=%d; added p50=%+d p90=%+d " \
	    "p99=%+d; daemon cpu=%.2f core rss=%d KiB\n", c, drps, d50, d90,
	    d99, prps, p50, p90, p99, p50 - d50, p90 - d90, p99 - d99, cpu, rss
	printf "goal (<= %d us added median): %d us, %s\n", goal, p50 - d50,
	    p50 - d50 <= goal ? "met" : "NOT met"
}'
awk -v c="$CONNS" -v goal="$GOAL_RPS" \
    -v drps="$(median rps maxdirect)" -v prps="$(median rps maxproxy)" \
    -v d50="$(median p50 maxdirect)" -v p50="$(median p50 maxproxy)" \
    -v d99="$(median p99 maxdirect)" -v p99="$(median p99 maxproxy)" \
    -v cpu="$(median cpu maxproxy)" -v rss="$(median rss maxproxy)" \
    -v upcpu="$(median upcpu maxdirect)" '
BEGIN {
	printf "at %d connections: direct %.0f req/s (fake upstream cpu=%.2f " \
	    "core) p50=%d p99=%d; proxy %.0f req/s p50=%d p99=%d (ratio " \
	    "%.2f of direct); daemon cpu=%.2f core rss=%d KiB\n", c, drps,
	    upcpu, d50, d99, prps, p50, p99, (drps > 0 ? prps / drps : 0), cpu,
	    rss
	printf "goal (>= %d req/s through the proxy): %.0f (%.2fx the goal), " \
	    "%s\n", goal, prps, prps / goal, (prps >= goal ? "met" : "NOT met")
}'

stop_daemon || { echo "rps: the daemon did not exit cleanly" >&2; exit 1; }
exit 0
