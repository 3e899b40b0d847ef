#!/usr/bin/env bash
# Bench section: cache hits per second in every format (spec §8: "a
# converted format is a memory hit too").
#
# A backend that makes WAV only (fake_tts --formats wav); one text (35
# characters at speed 0.25: ~200 KB of WAV, one segment).  Its WAV is
# synthesised, then each of mp3, opus and flac is asked for once, which
# converts it (on a worker thread) and keeps it in the cache; then wrk
# asks for each format over and over, one after the other, same settings.
# Reported: requests per second per format and each one's ratio to WAV's
# from this run.  The goal: every format >= 0.9x WAV.
#
# Knobs (environment): BENCH_FORMATS_SECONDS (per format, default 5),
# BENCH_FORMATS_THREADS (wrk -t, default 2), BENCH_FORMATS_CONNECTIONS
# (wrk -c, default 50).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

SECS=${BENCH_FORMATS_SECONDS:-5}
THREADS=${BENCH_FORMATS_THREADS:-2}
CONNS=${BENCH_FORMATS_CONNECTIONS:-50}
KEY=sk-test
GOAL=0.9
INPUT="The quick brown fox jumps over dogs"
FORMATS="wav mp3 opus flac"

for f in "$TTSACCEL" "$BUILD/tests/fake_tts"; do
	[ -x "$f" ] || { echo "formats: $f is missing (make testbins)" >&2; exit 1; }
done
WRK=$(command -v wrk) ||
	{ echo "formats: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null

start_tts wavonly --formats wav ||
	{ echo "formats: fake_tts did not start" >&2; exit 1; }
NEWAPI_API_KEY=$KEY API_KEYS=$KEY TTS_ENDPOINTS="$TTS_URL|formats=wav" \
    TTS_HEALTH_INTERVAL=0 start_daemon ||
	{ echo "formats: the daemon did not start" >&2; exit 1; }

body() {
	printf '{"model":"tts-1","input":"%s","voice":"alloy","speed":0.25,"response_format":"%s"}' \
	    "$INPUT" "$1"
}
# speech FORMAT FILE: one request, body to FILE, headers to FILE.h
speech() {
	curl -s -m 30 -D "$2.h" -o "$2" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' -d "$(body "$1")" \
	    "$URL/v1/audio/speech"
}
conversions() { curl -s -m 5 "$URL/cache/stats" | jq -c .conversions; }

for fmt in $FORMATS; do
	speech "$fmt" "$T/first.$fmt" &&
	    speech "$fmt" "$T/second.$fmt" ||
		{ echo "formats: the $fmt requests failed" >&2; exit 1; }
	cache=$(sed -n 's/^X-TTS-Cache: *\([a-z]*\).*/\1/ip' "$T/second.$fmt.h")
	if [ "$cache" != hit ] || ! cmp -s "$T/first.$fmt" "$T/second.$fmt"; then
		echo "formats: the second $fmt request is not a hit of the" \
		    "first's bytes (X-TTS-Cache: $cache)" >&2
		exit 1
	fi
	cat >"$T/$fmt.lua" <<LUA
wrk.method = "POST"
wrk.body = '$(body "$fmt")'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
done
c0=$(conversions)

echo "formats: one text, WAV $(stat -c %s "$T/first.wav") bytes, mp3" \
    "$(stat -c %s "$T/first.mp3"), opus $(stat -c %s "$T/first.opus")," \
    "flac $(stat -c %s "$T/first.flac"); wrk -t$THREADS -c$CONNS -d${SECS}s each"
echo "  (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
measured=1
for fmt in $FORMATS; do
	"$WRK" -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$T/$fmt.lua" \
	    "$URL/v1/audio/speech" >"$T/$fmt.out" 2>&1
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$T/$fmt.out")
	non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T/$fmt.out")
	p50=$(awk '$1 == "50%" { print $2 }' "$T/$fmt.out")
	echo "    $fmt: ${rps:-?} requests/s, latency p50 ${p50:-?}${non2xx:+, $non2xx non-2xx}"
	if [ -z "$rps" ] || [ -n "$non2xx" ]; then
		sed 's/^/      /' "$T/$fmt.out" | head -n 20
		measured=0
	fi
	echo "${rps:-0}" >"$T/$fmt.rps"
	if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "formats: the daemon died under load" >&2
		exit 1
	fi
done
c1=$(conversions)

echo
echo "formats summary (hits per second; ratio to WAV, same run)"
wav=$(cat "$T/wav.rps")
line="wav=$wav"
met=1
for fmt in mp3 opus flac; do
	r=$(cat "$T/$fmt.rps")
	ratio=$(awk -v a="$r" -v b="$wav" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
	line="$line $fmt=$r ratio_$fmt=$ratio"
	awk -v x="$ratio" -v g="$GOAL" 'BEGIN { exit !(x >= g) }' || met=0
done
echo "$line"
echo "conversions during the runs: $(jq -n --argjson a "$c0" --argjson b "$c1" '$b.made - $a.made')" \
    "(hits served converted: $(jq -n --argjson a "$c0" --argjson b "$c1" '$b.hits - $a.hits'))"
echo "goal (every format >= ${GOAL}x WAV): $([ "$met" = 1 ] && echo met || echo "NOT met")"
stop_daemon || { echo "formats: the daemon did not exit cleanly" >&2; exit 1; }
[ "$measured" -eq 1 ] || exit 1
exit 0
