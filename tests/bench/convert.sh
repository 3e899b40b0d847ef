#!/usr/bin/env bash
# Bench section: does converting hold the event loop?  Speech in opus is
# converted from WAV on the worker threads, and kept in the cache (a
# repeat is a hit): so each request here is for a text not asked before.
# While BENCH_CONVERT_N clients ask for opus of new long texts back to back
# (each about BENCH_CONVERT_CHARS characters of fake speech: 30 ms of audio
# each), a client asks GET /health one request after another; its
# latencies are compared with the same client's on an idle daemon, same
# run.  Reported: one conversion's time, and /health's median and worst
# latency, idle and during the conversions (ratios, not absolute goals).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

N=${BENCH_CONVERT_N:-4}
CHARS=${BENCH_CONVERT_CHARS:-1500}
PROBES=${BENCH_CONVERT_PROBES:-200}

start_tts conv
TTS_ENDPOINTS="$TTS_URL|formats=wav" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
K=(-H 'Authorization: Bearer sk-test')
text=$(python3 -c "import sys; w='lorem ipsum dolor sit amet consectetur '; print((w * 100)[:int(sys.argv[1])].strip())" "$CHARS")
# body FORMAT [TAG]: the long text (made new by TAG) in FORMAT
body() { jq -cn --arg t "${2:-}$text" --arg f "$1" '{input:$t, response_format:$f}'; }
# The WAV first, so that the timed opus request only converts.
curl -sS "${K[@]}" -o "$T/long.wav" -d "$(body wav)" "$URL/v1/audio/speech"
secs=$(awk -v n="$(stat -c %s "$T/long.wav")" -v r="$(soxi -r "$T/long.wav")" 'BEGIN { print (n - 44) / 2 / r }')

probe() {  # probe N OUT: N sequential /health latencies in ms
	local i
	for i in $(seq "$1"); do
		curl -sS -o /dev/null -w '%{time_total}\n' "$URL/health"
	done | awk '{ printf "%.3f\n", $1 * 1000 }' >"$2"
}
pstat() {  # pstat FILE -> "p50 max"
	sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.2f %.2f", v[int((NR + 1) / 2)], v[NR] }'
}

probe "$PROBES" "$T/idle"
t0=$(date +%s.%N)
pids=()
for i in $(seq "$N"); do
	( n=0; while :; do n=$((n + 1)); curl -sS "${K[@]}" -o "$T/o$i.opus" -d "$(body opus "c$i n$n ")" "$URL/v1/audio/speech"; [ -f "$T/stop" ] && break; done ) &
	pids+=($!)
done
probe "$PROBES" "$T/busy"
touch "$T/stop"
wait "${pids[@]}"
t1=$(date +%s.%N)
one0=$(date +%s.%N)
curl -sS "${K[@]}" -o "$T/one.opus" -d "$(body opus)" "$URL/v1/audio/speech"
one1=$(date +%s.%N)

read -r ip50 imax < <(pstat "$T/idle")
read -r bp50 bmax < <(pstat "$T/busy")
awk -v s="$secs" -v c="$(echo "$one1 - $one0" | bc)" 'BEGIN { printf "one opus conversion of %.1f s of audio: %.0f ms (%.0f x real time)\n", s, c * 1000, s / c }'
echo "conversions during the run: $(curl -sS "$URL/cache/stats" | jq .conversions.made)"
echo "/health while $N clients convert to opus back to back ($PROBES probes each, $(echo "$t1 - $t0" | bc | cut -c1-5) s):"
awk -v a="$ip50" -v b="$imax" -v c="$bp50" -v d="$bmax" 'BEGIN {
	printf "  idle:   p50 %.2f ms, max %.2f ms\n", a, b
	printf "  busy:   p50 %.2f ms, max %.2f ms\n", c, d
	printf "  ratio:  p50 %.1fx, max %.1fx\n", c / a, d / b }'
stop_daemon
