#!/usr/bin/env bash
# Formats made from WAV: converted on worker threads, kept in the cache.
# A backend that makes only WAV; the same mp3, opus and flac request
# twice: the second is a hit with the same bytes and no new conversion;
# requests for one conversion at once share one encoding; the loop answers
# while 20 long conversions run; SIGTERM during conversions exits cleanly.
. "$(dirname "$0")/lib.sh"

start_tts wavonly --formats wav
TTS_ENDPOINTS="$TTS_URL|formats=wav" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon

conv() { curl -sS -m 10 "$URL/cache/stats" | jq -r ".conversions.$1"; }

# --- a repeat is a hit: same bytes, no new conversion
text="Served from memory."
eq "the WAV: synthesised" "$(speech "$(say "$text" wav)" "$T/w.wav")" "200 miss"
for fmt in mp3 opus flac; do
	made=$(conv made) hits=$(conv hits)
	eq "$fmt: converted from the cached WAV" "$(speech "$(say "$text" $fmt)" "$T/a.$fmt")" "200 hit"
	eq "$fmt: one conversion" "$(conv made)" $((made + 1))
	eq "$fmt again: a hit" "$(speech "$(say "$text" $fmt)" "$T/b.$fmt")" "200 hit"
	check "$fmt again: the same bytes" cmp -s "$T/a.$fmt" "$T/b.$fmt"
	eq "$fmt again: no new conversion" "$(conv made)" $((made + 1))
	eq "$fmt again: counted as a converted hit" "$(conv hits)" $((hits + 1))
done
eq "the backend was asked for WAV only" "$(jq -r 'select(.body) | .body.response_format' "$T/tts-wavonly.jsonl" | sort -u)" wav
eq "one synthesis for all of it" "$(curl -sS "$URL/cache/stats" | jq .syntheses)" 1
check "the converted audio is in the cache's bytes" test "$(curl -sS "$URL/cache/stats" | jq .bytes)" -ge \
    "$(( $(stat -c %s "$T/w.wav") + $(stat -c %s "$T/a.mp3") + $(stat -c %s "$T/a.opus") + $(stat -c %s "$T/a.flac") ))"
check "metrics count conversions" sh -c "curl -sS '$URL/metrics' | grep -q '^ttsaccel_conversions_total 3$'"
check "and converted hits" sh -c "curl -sS '$URL/metrics' | grep -q '^ttsaccel_conversion_hits_total 3$'"
# Nothing to say: the silence is converted once too.
made=$(conv made)
eq "silence in mp3" "$(speech "$(say 🙂 mp3)" "$T/s1.mp3")" "200 empty"
eq "again" "$(speech "$(say 🎉 mp3)" "$T/s2.mp3")" "200 empty"
check "the same bytes" cmp -s "$T/s1.mp3" "$T/s2.mp3"
eq "one conversion for both" "$(conv made)" $((made + 1))

# --- requests for one conversion at once: one encoding
curl -sS -X POST "$TTS_URL/_fake/set?hold=1" >/dev/null
text2="Five at once."
made=$(conv made) joined=$(conv joined)
asked=$(curl -sS "$URL/cache/stats" | jq '.served.miss + .served.converted')
pids=()
for i in 1 2 3 4 5; do
	speech "$(say "$text2" opus)" "$T/same$i.opus" -m 60 >/dev/null &
	pids+=($!)
done
# Each is counted as served when it arrives (the first as a miss).
check "all five arrived, waiting on one synthesis" wait_for sh -c \
    "curl -sS '$URL/cache/stats' | jq -e '.served.miss + .served.converted == $((asked + 5)) and .in_flight == 1' >/dev/null"
curl -sS -X POST "$TTS_URL/_fake/set?hold=0" >/dev/null
wait "${pids[@]}"
ok=1
for i in 2 3 4 5; do cmp -s "$T/same1.opus" "$T/same$i.opus" || ok=0; done
check "all five got the same bytes" test "$ok" = 1
eq "one Ogg stream" "$(head -c 4 "$T/same1.opus")" OggS
eq "one encoding" "$(conv made)" $((made + 1))
eq "four joined it" "$(conv joined)" $((joined + 4))

# --- the loop answers while 20 long conversions run
curl -sS -X POST "$TTS_URL/_fake/set?min-ms=30000" >/dev/null
for i in $(seq 20); do
	speech "$(say "Long text number $i for the workers." wav)" "$T/long$i.wav" >/dev/null
done
eq "20 WAVs of 30 s each in the cache" "$(curl -sS "$URL/cache/stats" | jq .syntheses)" 22
made=$(conv made)
pids=()
for i in $(seq 20); do
	speech "$(say "Long text number $i for the workers." mp3)" "$T/long$i.mp3" -m 120 >"$T/long$i.status" &
	pids+=($!)
done
busy() { curl -sS -m 10 "$URL/cache/stats" | jq -e '.conversions.running + .conversions.queued >= 1' >/dev/null; }
check "conversions are running (and /cache/stats answers meanwhile)" wait_for busy
# valgrind runs one thread at a time: the loop waits its turn behind four
# workers there.
hm=10
[ -n "${TTSACCEL_VALGRIND:-}" ] && hm=60
eq "/health answers meanwhile" "$(curl -sS -m "$hm" -o /dev/null -w '%{http_code}' "$URL/health")" 200
eq "a WAV hit is served meanwhile" "$(speech "$(say "$text" wav)" "$T/w2.wav")" "200 hit"
check "no more threads than the pool has" sh -c "curl -sS '$URL/cache/stats' | jq -e '.conversions.running <= 4' >/dev/null"
wait "${pids[@]}"
ok=1
for i in $(seq 20); do
	[ "$(cat "$T/long$i.status")" = "200 hit" ] && [ "$(dur mp3 "$T/long$i.mp3" | cut -d. -f1)" -ge 29 ] || ok=0
done
check "all 20 answered with 30 s of mp3" test "$ok" = 1
eq "20 conversions" "$(conv made)" $((made + 20))
stop_daemon

# --- SIGTERM while conversions run: a clean exit
TTSACCEL_SHUTDOWN_TIMEOUT=1 TTS_ENDPOINTS="$TTS_URL|formats=wav" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
for i in $(seq 20); do
	speech "$(say "Stopping text number $i." wav)" "$T/stop$i.wav" >/dev/null
done
pids=()
for i in $(seq 20); do
	speech "$(say "Stopping text number $i." flac)" "$T/stop$i.flac" -m 120 >/dev/null 2>&1 &
	pids+=($!)
done
check "conversions are running" wait_for busy
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "exit 0 with conversions under way" "$rc" 0
check "it waited for them as streams" grep -q 'waiting for [1-9][0-9]* stream' "$T/daemon.log"
check "nothing reported by the sanitizers" sh -c "! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error' '$T/daemon.log'"
wait "${pids[@]}" 2>/dev/null
finish
