#!/usr/bin/env bash
# TTS_MODEL_MAP and TTS_VOICE_MAP: the names clients send become the
# backends' before keying, so a client's tts-1/alloy meets a chat prefetched
# as liang/v1, and the backend only ever hears the mapped names.
. "$(dirname "$0")/lib.sh"

# The model/voice of the backend's speech requests, one line each, in order.
heard() { jq -r 'select(.path=="/v1/audio/speech") | .body.model + "/" + .body.voice' "$T/tts-maps.jsonl"; }

start_upstream --delay-ms 0
start_tts maps
TTS_ENDPOINTS=$TTS_URL NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_MODEL_MAP='tts-1=liang, tts-1-hd=liang' \
    TTS_VOICE_MAP=alloy=v1 start_daemon

# A chat prefetched with the backend's names.
text='The harbour was quiet at dawn. A single boat went out past the wall. Nobody on the pier waved.'
id=$(chat_reply "$text" '{"tts_model":"liang","tts_voice":"v1"}')
check "reply id" test -n "$id"
check "every segment synthesised" wait_for reply_done "$id"
segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments")
n=$(jq '.segments | length' <<<"$segs")
check "several segments" test "$n" -ge 2
eq "one backend request per segment" "$(nreq maps)" "$n"
eq "the backend heard liang/v1" "$(heard | sort -u)" "liang/v1"

# A client asking with its own names meets the prefetched audio.
seg1=$(jq -r '.segments[1].text' <<<"$segs")
before=$(nreq maps)
eq "tts-1/alloy for a prefetched segment is a hit" \
    "$(speech "$(jq -cn --arg t "$seg1" '{model:"tts-1",voice:"alloy",input:$t,response_format:"wav"}')" "$T/a.wav")" "200 hit"
eq "tts-1-hd/alloy too" \
    "$(speech "$(jq -cn --arg t "$seg1" '{model:"tts-1-hd",voice:"alloy",input:$t,response_format:"wav"}')" "$T/b.wav")" "200 hit"
# The defaults (liang, alloy) are mapped as well: alloy is v1.
eq "no model or voice: the mapped defaults, a hit" \
    "$(speech "$(jq -cn --arg t "$seg1" '{input:$t,response_format:"wav"}')" "$T/c.wav")" "200 hit"
eq "the whole reply as tts-1/alloy is assembled from it" \
    "$(speech "$(jq -cn --arg t "$text" '{model:"tts-1",voice:"alloy",input:$t,response_format:"wav"}')" "$T/d.wav")" "200 assembled"
eq "no new backend request" "$(nreq maps)" "$before"

# A chat naming the client's names prefetches under the backend's: same keys.
id2=$(chat_reply "$text" '{"tts_model":"tts-1","tts_voice":"alloy","tts_events":true}')
check "second reply id" test -n "$id2"
check "its segments done" wait_for reply_done "$id2"
eq "the same keys as the first reply" \
    "$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id2/segments" | jq -c '[.segments[].key]')" \
    "$(jq -c '[.segments[].key]' <<<"$segs")"
eq "still no new backend request" "$(nreq maps)" "$before"

# Unmapped names other than OpenAI's stock ones pass unchanged; matching is
# exact and case-sensitive.
eq "unmapped voice: a miss" \
    "$(speech '{"model":"tts-1","voice":"nova","input":"An unmapped voice speaks."}' "$T/e.wav")" "200 miss"
eq "the backend heard liang/nova" "$(heard | tail -n 1)" "liang/nova"
speech '{"model":"kokoro","voice":"Alloy","input":"Names as they are."}' "$T/f.wav" >/dev/null
eq "unmapped model, voice of another case: unchanged" "$(heard | tail -n 1)" "kokoro/Alloy"
# An OpenAI model the map does not name is the default, as with no map.
speech '{"model":"gpt-4o-mini-tts","voice":"alloy","input":"Another stock name."}' "$T/f2.wav" >/dev/null
eq "unmapped stock model: the default, mapped voice" "$(heard | tail -n 1)" "liang/v1"
eq "speech requests named tts-1 never reach the backend" "$(heard | grep -c '^tts-1')" 0
stop_daemon

# --check-config shows the maps; a bad one is an error that names it.
out=$(cd "$T" && TTS_MODEL_MAP=' tts-1=liang,,tts-1-hd = liang ' TTS_VOICE_MAP=alloy=v1 \
    "$TTSACCEL" --check-config 2>&1); rc=$?
eq "--check-config exits 0" "$rc" 0
contains "--check-config shows TTS_VOICE_MAP" "$out" "TTS_VOICE_MAP=alloy=v1"
contains "--check-config shows the model map in effect" "$out" \
    "# model map (exact, case-sensitive): tts-1=liang,tts-1-hd=liang"
contains "--check-config shows the voice map in effect" "$out" \
    "# voice map (exact, case-sensitive): alloy=v1"
out=$(cd "$T" && "$TTSACCEL" --check-config 2>&1)
contains "no maps: none" "$out" "# model map (exact, case-sensitive): none"
out=$(cd "$T" && TTS_VOICE_MAP='alloy=v1,nova' "$TTSACCEL" --check-config 2>&1); rc=$?
eq "a bad voice map exits 1" "$rc" 1
contains "naming TTS_VOICE_MAP and the pair" "$out" "TTS_VOICE_MAP: 'nova' is not a client=backend pair"
out=$(cd "$T" && TTS_MODEL_MAP='=liang' "$TTSACCEL" --check-config 2>&1); rc=$?
eq "a bad model map exits 1" "$rc" 1
contains "naming TTS_MODEL_MAP and the pair" "$out" "TTS_MODEL_MAP: '=liang' lacks the client name"
out=$(cd "$T" && timeout 10 env TTS_MODEL_MAP='tts-1=' TTSACCEL_SOCKET="$T/bad.sock" \
    "$TTSACCEL" --port "$(free_port)" 2>&1); rc=$?
eq "the daemon does not start with a bad map: exit 1" "$rc" 1
contains "and says why" "$out" "TTS_MODEL_MAP: 'tts-1=' lacks the backend name"

# Maps from the file, changed by a reload; a bad one keeps the old.
printf 'tts_voice_map = alloy=v1\n' >"$T/maps.conf"
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 \
    start_daemon --config "$T/maps.conf"
speech '{"voice":"alloy","input":"Before the reload."}' "$T/g.wav" >/dev/null
eq "from the file: alloy is v1" "$(heard | tail -n 1)" "liang/v1"
printf 'tts_voice_map = alloy=v2\n' >"$T/maps.conf"
kill -HUP "$DAEMON_PID"
check "reloaded" wait_for grep -q 'configuration reloaded' "$T/daemon.log"
speech '{"voice":"alloy","input":"After the reload."}' "$T/h.wav" >/dev/null
eq "after the reload: alloy is v2" "$(heard | tail -n 1)" "liang/v2"
printf 'tts_voice_map = alloy\n' >"$T/maps.conf"
kill -HUP "$DAEMON_PID"
check "a bad map: the reload fails, naming it" wait_for grep -q \
    "reload failed.*TTS_VOICE_MAP: 'alloy'" "$T/daemon.log"
speech '{"voice":"alloy","input":"After a failed reload."}' "$T/i.wav" >/dev/null
eq "the old map is kept" "$(heard | tail -n 1)" "liang/v2"
stop_daemon
finish
