#!/usr/bin/env bash
# Prefetch against fake TTS servers: one synthesis per key, priorities,
# retries, circuit breaking, limits, LRU.
. "$(dirname "$0")/lib.sh"
jobs_=()

# 1. Fifty identical concurrent requests: one synthesis, identical audio.
start_tts one --latency-ms 300 --chunks 3 --chunk-delay-ms 50
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
for i in $(seq 50); do
	speech '{"input":"Everyone asks for this one sentence.","response_format":"wav"}' "$T/same$i.wav" >/dev/null &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
eq "one backend request for 50 identical ones" "$(nreq one)" 1
check "all 50 answers identical" test "$(md5sum "$T"/same*.wav | awk '{print $1}' | sort -u | wc -l)" -eq 1
check "answers are WAV" sh -c "soxi '$T/same1.wav' >/dev/null 2>&1"
kinds=$(for i in $(seq 50); do header "$T/same$i.wav.h" X-TTS-Cache; done | sort | uniq -c | awk '{print $2}' | sort | tr '\n' ' ')
contains "one miss, the rest in flight or hits" "$kinds" "miss"
eq "a later one is a hit" "$(speech '{"input":"Everyone asks for this one sentence.","response_format":"wav"}' "$T/x.wav")" "200 hit"

# 2. A failure is not cached: the next request tries again.
curl -sS -X POST "$TTS_URL/_fake/set?fail-first=1&latency-ms=0" >/dev/null
out=$(speech '{"input":"This one fails first."}' "$T/f.json")
eq "a failed synthesis is a 502" "${out%% *}" 502
check "502 says why" jq -e '.error.message | test("500|injected")' "$T/f.json"
eq "then it is tried again, not served from cache" "$(speech '{"input":"This one fails first."}' "$T/f.wav")" "200 miss"
stop_daemon

# 3. Priorities: with one slot, segment 0 of every reply before segment 1.
start_upstream --delay-ms 0
start_tts prio --latency-ms 20
TTS_ENDPOINTS="$TTS_URL|max=1" NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
# The one slot is held busy until all four replies are in, however slowly
# the machine starts them.
curl -sS -X POST "$TTS_URL/_fake/set?hold=1" >/dev/null
for w in Alpha Bravo Charlie Delta; do
	chat "$(echo_chat "$w starts here now. $w goes on with more. $w says the third thing. $w ends at last.")" -o /dev/null &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$TTS_URL/_fake/set?hold=0" >/dev/null
check "all 16 segments synthesised" wait_for sh -c "test \$(grep -c /v1/audio/speech $T/tts-prio.jsonl) -ge 16"
order=$(jq -r 'select(.path=="/v1/audio/speech") | .body.input' "$T/tts-prio.jsonl")
last_first=0; first_later=999; n=0
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	*"starts here now."*) last_first=$n ;;
	*) [ "$first_later" -eq 999 ] && [ "$n" -gt 1 ] && first_later=$n ;;
	esac
done <<<"$order"
check "every reply's first segment ran before any reply's second (one slot: the very first excepted)" test "$last_first" -lt "$first_later"
stop_daemon

# 4. A dying endpoint: work goes elsewhere; it is taken out and comes back.
start_tts good
good=$TTS_URL
start_tts bad --fail-rate 1
bad=$TTS_URL
TTS_ENDPOINTS="$bad,$good" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=1 TTS_RETRY_COUNT=2 start_daemon
for i in 1 2 3 4 5 6; do
	eq "request $i served despite the failing endpoint" "$(speech_status "$(say "Retry test number $i.")" "$T/r$i.wav")" 200
done
check "the failing endpoint was tried" test "$(nreq bad)" -ge 1
# The circuit opens on the speech failures (the log says so); a probe of
# its /health (every second) may close it at once, so that one is made to
# fail too while the next request is placed.
check "and taken out (circuit open)" wait_for grep -q "endpoint $bad is down: HTTP 500" "$T/daemon.log"
ep_state() { [ "$(curl -sS "$URL/health" | jq -r --arg u "$1" '.endpoints[] | select(.url == $u) | .state')" = "$2" ]; }
curl -sS -X POST "$bad/_fake/down" >/dev/null
wait_for ep_state "$bad" down
nbad=$(nreq bad)
speech '{"input":"While it is down."}' "$T/w.wav" >/dev/null
eq "no work for an open circuit" "$(nreq bad)" "$nbad"
curl -sS -X POST "$bad/_fake/up" >/dev/null
curl -sS -X POST "$bad/_fake/set?fail-rate=0" >/dev/null
check "it recovers after a probe" wait_for ep_state "$bad" up
stop_daemon

# 5. The byte limit and true LRU order.
start_tts lru
# Each answer: 30 ms per code point at 48000 bytes/s = 1440 bytes/char.
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 CACHE_MAX_BYTES=100K start_daemon
speech '{"input":"Sentence number one is here.","response_format":"wav"}' "$T/1.wav" >/dev/null   # ~40 KB
speech '{"input":"Sentence number two is here.","response_format":"wav"}' "$T/2.wav" >/dev/null
eq "one is a hit (now most recent)" "$(speech '{"input":"Sentence number one is here.","response_format":"wav"}' "$T/1b.wav")" "200 hit"
speech '{"input":"Sentence number three is here.","response_format":"wav"}' "$T/3.wav" >/dev/null
stats=$(curl -sS "$URL/cache/stats")
check "bytes within CACHE_MAX_BYTES" test "$(echo "$stats" | jq .bytes)" -le 102400
check "an eviction happened" test "$(echo "$stats" | jq .evictions)" -ge 1
eq "the least recently used (two) was evicted" "$(speech '{"input":"Sentence number two is here.","response_format":"wav"}' "$T/2b.wav")" "200 miss"
stop_daemon

# 6. Never more than max in flight on an endpoint; all answered.
start_tts cap --latency-ms 100 --max-active 2
TTS_ENDPOINTS="$TTS_URL|max=2" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
for i in $(seq 12); do
	printf '%s\n' "$(speech_status "$(say "Distinct sentence $i.")" /dev/null)" >>"$T/codes" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
eq "all 12 answered 200" "$(sort -u "$T/codes" | tr '\n' ' ')" "200 "
eq "no request over max" "$(fake_stats "$TTS_URL" .violations)" 0
eq "max reached" "$(fake_stats "$TTS_URL" .max_active)" 2
stop_daemon

# 7. A mixed pool: a format goes only to the endpoints that make it.
start_tts wavonly
wavonly=$TTS_URL
start_tts mp3only --latency-ms 50
mp3only=$TTS_URL
TTS_ENDPOINTS="$wavonly|formats=wav|weight=10,$mp3only|formats=mp3" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
for i in 1 2 3 4 5 6; do
	printf '%s\n' "$(speech_status "$(say "Mixed pool sentence $i." mp3)" /dev/null)" >>"$T/mixed" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
eq "six mp3 requests answered" "$(sort -u "$T/mixed" | tr '\n' ' ')" "200 "
eq "all made by the mp3 endpoint" "$(nreq mp3only)" 6
eq "none sent to the WAV-only one (though cheaper)" "$(nreq wavonly)" 0
speech '{"input":"A WAV sentence for the mixed pool.","response_format":"wav"}' "$T/mw.wav" >/dev/null
eq "WAV goes to the WAV endpoint" "$(nreq wavonly)" 1
stop_daemon
finish
