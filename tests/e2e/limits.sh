#!/usr/bin/env bash
# Limits of one speech request (TTS_MAX_INPUT_CHARS, TTS_MAX_SEGMENTS):
# a 1.4 MB input of 30,000 sentences is refused at once with a 400 that
# names the limit hit, and the loop answers /health meanwhile; one within
# raised limits is taken without freezing the loop (the cache's eviction
# once walked every entry being synthesised on each insert).
. "$(dirname "$0")/lib.sh"

start_tts big --latency-ms 50
python3 -c '
import json
s = "".join("Sentence number %d of the long test input is here. " % i for i in range(30000))
print(json.dumps({"input": s}))' >"$T/big.json"
check "the input is 1.4 MB" test "$(stat -c %s "$T/big.json")" -gt 1400000

# health_times N: N /health requests one after another, the slowest in ms.
health_times() {
	local i worst=0 t
	for i in $(seq "$1"); do
		t=$(curl -sS -m 10 -o /dev/null -w '%{time_total}' "$URL/health")
		t=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
		[ "$t" -gt "$worst" ] && worst=$t
		sleep 0.05
	done
	echo "$worst"
}

# 1. Defaults: refused for its characters.
TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 start_daemon
eq "too many characters: 400" "$(speech_status @"$T/big.json" "$T/r1")" 400
eq "the code says which limit" "$(jq -r .error.code "$T/r1")" input_too_long
contains "the message names the option" "$(jq -r .error.message "$T/r1")" TTS_MAX_INPUT_CHARS
eq "the param is input" "$(jq -r .error.type "$T/r1")" invalid_request_error
eq "no synthesis was asked for" "$(wc -l <"$T/tts-big.jsonl" 2>/dev/null || echo 0)" 0
speech_status @"$T/big.json" "$T/r1b" >/dev/null &
bg=$!
check "/health answers meanwhile (each within 2 s)" test "$(health_times 10)" -lt 2000
wait "$bg"
stop_daemon

# 2. Characters allowed: refused for its segments.
TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 TTS_MAX_INPUT_CHARS=2000000 start_daemon
eq "too many segments: 400" "$(speech_status @"$T/big.json" "$T/r2")" 400
eq "the code says which limit" "$(jq -r .error.code "$T/r2")" too_many_segments
contains "the message names the option" "$(jq -r .error.message "$T/r2")" TTS_MAX_SEGMENTS
n=$(jq -r .error.message "$T/r2" | sed -n 's/.* makes \([0-9]*\) segments.*/\1/p')
check "and the count ($n)" test "${n:-0}" -ge 30000
eq "no synthesis was asked for" "$(wc -l <"$T/tts-big.jsonl" 2>/dev/null || echo 0)" 0
stop_daemon

# 3. Both raised, the cache at its default size (1000 entries): far
# more entries in flight than it may hold.  The loop
# stays responsive while they are put in and synthesised.
TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 TTS_MAX_INPUT_CHARS=2000000 \
    TTS_MAX_SEGMENTS=100000 \
    TTS_RETRY_COUNT=0 start_daemon
curl -sS -m 4 -o /dev/null -H 'Content-Type: application/json' \
    --data-binary @"$T/big.json" "$URL/v1/audio/speech" 2>/dev/null &
bg=$!
# in_flight_over N: more than N entries are being synthesised.
in_flight_over() { [ "$(curl -sS -m 5 "$URL/cache/stats" | jq .in_flight)" -gt "$1" ] 2>/dev/null; }
wait_for in_flight_over 1000
worst=$(health_times 20)
check "/health answers while 30,000 segments are in flight (slowest ${worst} ms, under 2 s)" \
    test "$worst" -lt 2000
stats=$(curl -sS -m 5 "$URL/cache/stats")
check "the entries are in the cache, in flight" test "$(jq .in_flight <<<"$stats")" -gt 1000
wait "$bg"
stop_daemon
finish
