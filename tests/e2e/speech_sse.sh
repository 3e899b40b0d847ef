#!/usr/bin/env bash
# /v1/audio/speech with stream_format "sse": the audio as OpenAI's
# speech.audio.delta events, then speech.audio.done, for a hit, a synthesis
# in flight, an assembled answer and a conversion alike; the deltas decoded
# and joined are the bytes the same request gets as audio.
. "$(dirname "$0")/lib.sh"

start_upstream
start_tts sse
# WAV made by the fake only: mp3 is ttsaccel's conversion.
TTS_ENDPOINTS="$TTS_URL|formats=wav" TTS_HEALTH_INTERVAL=0 \
    NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon || finish

# sse JSON: the speech request JSON with stream_format "sse".
sse() { jq -c '. + {stream_format: "sse"}' <<<"$1"; }
# events NAME: $T/NAME.sse checked and decoded to $T/NAME.bin
# (speech_events.py); prints "DELTAS done IN OUT TOTAL" or "DELTAS error
# CODE", nothing when the events are malformed (the reason on stderr).
events() { python3 "$top/tests/e2e/speech_events.py" "$T/$1.sse" "$T/$1.bin"; }
# usage_of NAME: what events says, without the count of deltas.
usage_of() { local r; r=$(events "$1") && echo "${r#* }"; }
served_exact() { curl -sS -m 10 "$URL/cache/stats" | jq -r .served.exact; }

# A hit.  The usage counts the input's characters: 22 here (24 bytes).
hit='{"input":"Les cafés ouvrent tôt.","response_format":"wav"}'
eq "audio: a miss" "$(speech "$hit" "$T/hit.wav")" "200 miss"
eq "events: a hit" "$(speech "$(sse "$hit")" "$T/hit.sse")" "200 hit"
eq "events: Content-Type" "$(header "$T/hit.sse.h" Content-Type)" text/event-stream
eq "events: deltas, then done with usage (22 characters, no audio tokens)" \
    "$(usage_of hit)" "done 22 0 22"
check "hit: the deltas decoded are the audio's bytes" cmp -s "$T/hit.bin" "$T/hit.wav"
eq "stream_format audio: the audio itself" "$(speech "$(jq -c '. + {stream_format: "audio"}' <<<"$hit")" "$T/hit2.wav")" "200 hit"
check "stream_format audio: the same bytes" cmp -s "$T/hit2.wav" "$T/hit.wav"
eq "stream_format null: as none" "$(speech "$(jq -c '. + {stream_format: null}' <<<"$hit")" "$T/hit3.wav")" "200 hit"
eq "stream_format audio: audio/wav" "$(header "$T/hit2.wav.h" Content-Type)" audio/wav

# A synthesis in flight: the fake holds it unstarted while the events'
# request joins it, then sends it in 3 pieces a second apart.
fly='{"input":"This sentence is still being made.","response_format":"wav"}'
curl -sS -X POST "$TTS_URL/_fake/set?hold=1&chunks=3&chunk-delay-ms=1000" >/dev/null
speech "$fly" "$T/fly.wav" >"$T/fly.wav.r" &
bg1=$!
check "the synthesis reached the fake" wait_for synthesising sse "This sentence is still being made." 1
e0=$(served_exact)
speech "$(sse "$fly")" "$T/fly.sse" >"$T/fly.sse.r" &
bg2=$!
check "the events' request joined it" wait_for sh -c "[ \"\$(curl -sS -m 10 '$URL/cache/stats' | jq -r .served.exact)\" -gt $e0 ]"
curl -sS -X POST "$TTS_URL/_fake/set?hold=0&chunks=1&chunk-delay-ms=0" >/dev/null
wait "$bg1" "$bg2"
eq "in flight: the audio's request made it" "$(cat "$T/fly.wav.r")" "200 miss"
eq "in flight: the events' request joined" "$(cat "$T/fly.sse.r")" "200 inflight"
r=$(events fly)
eq "in flight: done with usage" "${r#* }" "done 34 0 34"
# Three pieces 2 s apart in all: the events follow them (several deltas).
check "in flight: deltas as the pieces came (${r%% *} deltas)" test "${r%% *}" -ge 2
check "in flight: the deltas decoded are the audio's bytes" cmp -s "$T/fly.bin" "$T/fly.wav"
eq "one synthesis for both" "$(nsynth sse "This sentence is still being made.")" 1

# Assembled from several segments under one WAV header: first in flight
# (the header's lengths unknown yet), then from the cache (exact).
long='{"input":"Rivers run to the sea. Mountains stand tall and still! Clouds drift over them all day.","response_format":"wav"}'
eq "assembled events, synthesised" "$(speech "$(sse "$long")" "$T/as1.sse")" "200 assembled"
r=$(events as1)
eq "assembled: done with usage" "${r#* }" "done 86 0 86"
eq "assembled audio, from the cache" "$(speech "$long" "$T/as.wav")" "200 assembled"
check "assembled: the same samples" cmp -s <(tail -c +45 "$T/as1.bin") <(tail -c +45 "$T/as.wav")
eq "assembled events, from the cache" "$(speech "$(sse "$long")" "$T/as2.sse")" "200 assembled"
r=$(events as2)
eq "assembled from the cache: done" "${r#* }" "done 86 0 86"
check "assembled: the deltas decoded are the audio's bytes" cmp -s "$T/as2.bin" "$T/as.wav"
check "the WAV is exact" exact_wav "$T/as2.bin"

# Converted: mp3 from the fake's WAV, on a worker, then from the cache.
mp3='{"input":"Conversion happens before the events.","response_format":"mp3"}'
eq "mp3 events, converted" "$(speech "$(sse "$mp3")" "$T/mp3.sse")" "200 miss"
eq "mp3 events: Content-Type" "$(header "$T/mp3.sse.h" Content-Type)" text/event-stream
eq "mp3: done with usage" "$(usage_of mp3)" "done 37 0 37"
eq "mp3 audio, the conversion cached" "$(speech "$mp3" "$T/mp3.mp3")" "200 hit"
check "mp3: the deltas decoded are the audio's bytes" cmp -s "$T/mp3.bin" "$T/mp3.mp3"
check "mp3: MPEG frames" awk -v d="$(dur mp3 "$T/mp3.bin")" 'BEGIN { exit !(d > 0.5) }'
eq "mp3 events again: a hit" "$(speech "$(sse "$mp3")" "$T/mp3b.sse")" "200 hit"
usage_of mp3b >/dev/null
check "mp3 hit: the same bytes" cmp -s "$T/mp3b.bin" "$T/mp3.mp3"

# Nothing to say: the short silence, as events too.
eq "nothing to say: events" "$(speech "$(sse '{"input":"🙂","response_format":"wav"}')" "$T/empty.sse")" "200 empty"
eq "nothing to say: done" "$(usage_of empty)" "done 1 0 1"
speech '{"input":"🙂","response_format":"wav"}' "$T/empty.wav" >/dev/null
check "nothing to say: the silence's bytes" cmp -s "$T/empty.bin" "$T/empty.wav"

# A failure once the events have begun: an error event ends them (the
# first segment is in the cache, the second refused by the backend).
curl -sS -m 10 -o /dev/null "${K[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"input":"Alpha is first here.","voice":"nova","response_format":"wav"}' "$URL/v1/audio/speech"
curl -sS -X POST "$TTS_URL/_fake/set?reject-voice=nova" >/dev/null
eq "a failure after the start: still 200" "$(speech "$(sse '{"input":"Alpha is first here. Bravo is refused there.","voice":"nova","response_format":"wav"}')" "$T/fail.sse")" "200 assembled"
r=$(events fail)
eq "it ends with an error event, not a cut" "${r#* }" "error tts_request_refused"
check "after the first segment's deltas (${r%% *})" test "${r%% *}" -ge 1
curl -sS -X POST "$TTS_URL/_fake/set?reject-voice=" >/dev/null

# Any other stream_format: a 400 naming it.
for v in '"ogg"' '""' '"SSE"' 1 true '["sse"]'; do
	eq "stream_format $v: 400" "$(speech_status "{\"input\":\"Hello.\",\"stream_format\":$v}" "$T/bad.json")" 400
	eq "stream_format $v: the param and code" "$(jq -r '.error.param + " " + .error.code + " " + .error.type' "$T/bad.json")" \
	    "stream_format invalid_stream_format invalid_request_error"
done
contains "the message says what to send" "$(jq -r .error.message "$T/bad.json")" '"audio"'
stop_daemon

# The shutdown's deadline while the events go on: an error event ends
# them, a clean end (curl exits 0), not a transfer cut short.
curl -sS -X POST "$TTS_URL/_fake/set?chunks=40&chunk-delay-ms=250" >/dev/null
TTSACCEL_SHUTDOWN_TIMEOUT=1 TTS_ENDPOINTS="$TTS_URL|formats=wav" \
    TTS_HEALTH_INTERVAL=0 NEWAPI_API_KEY=sk-test start_daemon || finish
curl -sS -m 30 -o "$T/down.sse" "${K[@]}" -H 'Content-Type: application/json' \
    --data-binary "$(sse "$(say "Streamed slowly to the end." wav)")" \
    "$URL/v1/audio/speech" 2>/dev/null &
bg=$!
check "the events have begun" wait_for grep -qs speech.audio.delta "$T/down.sse"
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "exit 0 after the deadline" "$rc" 0
rc=0; wait "$bg" || rc=$?
eq "the events end cleanly (curl exits 0)" "$rc" 0
eq "with an error event" "$(usage_of down)" "error shutting_down"
eq "logged as cut by shutdown" "$(grep -c 'cut by shutdown' "$T/daemon.log")" 1
finish
