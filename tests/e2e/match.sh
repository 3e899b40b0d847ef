#!/usr/bin/env bash
# Speech requests cut and cleaned the way real clients do are served from
# the segments a chat prefetched: runs, whole replies, partial overlaps,
# other formats converted.
. "$(dirname "$0")/lib.sh"
# asks TEXT [FORMAT]: the JSON body of a speech request as a client sends
# it, with the client's own model and voice; in WAV unless FORMAT (these
# checks read the WAV; no format at all, mp3, is stock.sh's).
asks() { say "$1" "${2:-wav}" | jq -c '{model: "tts-1", voice: "alloy"} + .'; }
served() { curl -sS "$URL/cache/stats" | jq -r ".served.$1"; }

start_upstream --chunk 3
start_tts m
TTS_ENDPOINTS="$TTS_URL|formats=wav" NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
	TTS_HEALTH_INTERVAL=0 TTS_MODEL_MAP=tts-1=liang TTS_VOICE_MAP=alloy=v1 \
	TTS_DEFAULT_MODEL=liang TTS_DEFAULT_VOICE=v1 start_daemon

reply='## Weather today

The weather today is **sunny** and warm. Take a hat with you, and some water! Rain is due tomorrow, so enjoy it.

- Walk in the park.
- Visit the *old* market 🎉.

See [the forecast](https://example.com/f) for more.'
id=$(chat_reply "$reply")
wait_for reply_done "$id"
check "the chat made a reply" test -n "$id"
segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments" | jq '.segments | length')
check "it has several segments" test "$segs" -ge 4
n0=$(nreq m)
eq "every prefetched segment synthesised once" "$n0" "$segs"

# Open WebUI: sentence runs merged, markdown removed, tts-1/alloy.
eq "a run of sentences, cleaned" "$(speech "$(asks 'The weather today is sunny and warm. Take a hat with you, and some water!')" "$T/a.wav")" "200 assembled"
check "is WAV" sh -c "soxi '$T/a.wav' >/dev/null 2>&1"
# LobeChat: newlines made '. ', full-width punctuation half-width, folded.
eq "the whole reply with newlines as '. '" "$(speech "$(asks 'Weather today. The weather today is sunny and warm. Take a hat with you, and some water! Rain is due tomorrow, so enjoy it.. Walk in the park.. Visit the old market.. See the forecast for more.')" "$T/b.wav")" "200 assembled"
# LibreChat: the message as it is, markdown and all.
eq "the raw markdown message" "$(speech "$(asks "$reply")" "$T/c.wav")" "200 assembled"
# SillyTavern: asterisks removed, mp3: converted from the prefetched WAV.
out=$(speech "$(asks 'The weather today is sunny and warm. Take a hat with you, and some water!' mp3)" "$T/d.mp3")
check "mp3 of a run: answered ($out)" test "${out%% *}" = 200
check "and it is MP3" sh -c "head -c 3 '$T/d.mp3' | grep -q ID3 || od -An -tx1 -N2 '$T/d.mp3' | grep -q 'ff f'"
eq "no synthesis for any of these" "$(nreq m)" "$n0"
check "counted as assembled" test "$(served assembled)" -ge 3

# The same run twice gives the same bytes.
speech "$(asks 'The weather today is sunny and warm. Take a hat with you, and some water!')" "$T/a2.wav" >/dev/null
check "same text, same audio" cmp -s "$T/a.wav" "$T/a2.wav"
# The run's audio is the segments' audio in order: duration adds up.
d1=$(soxi -D "$T/a.wav")
check "a run lasts as long as its sentences ($d1 s)" awk -v d="$d1" 'BEGIN { exit !(d > 1.5) }'

# Chinese, as LobeChat sends it: full-width punctuation made half-width
# (so '.' no longer ends a sentence for the segmenter) and no spaces.
zh='今天天气很好，阳光明媚。我们下午去公园散步吧！记得带上水和帽子，傍晚可能会下雨。'
wait_for reply_done "$(chat_reply "$zh")"
n2=$(nreq m)
eq "Chinese made half-width" "$(speech "$(asks '今天天气很好,阳光明媚.我们下午去公园散步吧!记得带上水和帽子,傍晚可能会下雨.')" "$T/zh.wav")" "200 assembled"
eq "Chinese, full-width forms (ＡＢＣ) and case forgiven: no synthesis" "$(nreq m)" "$n2"

# Partial overlap: only the new sentence is synthesised.
p0=$(served partial)
n0=$(nreq m)
out=$(speech "$(asks 'Good morning to you all. The weather today is sunny and warm.')" "$T/p.wav")
eq "a partial overlap is answered" "${out%% *}" 200
eq "only the new sentence is synthesised" "$(nreq m)" $((n0 + 1))
jq -r 'select(.path=="/v1/audio/speech") | .body.input' "$T/tts-m.jsonl" | tail -1 >"$T/last"
contains "it was the new sentence" "$(cat "$T/last")" "Good morning"
eq "counted as partial" "$(served partial)" $((p0 + 1))

# A whole reply in another format: converted from its WAV, not made again.
n3=$(nreq m)
curl -sS "${K[@]}" -o "$T/r.wav" "$URL/v1/audio/replies/$id"
code=$(curl -sS "${K[@]}" -D "$T/rf.h" -o "$T/r.flac" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=flac")
eq "reply as flac" "$code" 200
contains "flac content type" "$(tr -d '\r' <"$T/rf.h")" "Content-Type: audio/flac"
eq "flac: same sample count as the WAV" "$(soxi -s "$T/r.flac" 2>&1)" "$(soxi -s "$T/r.wav" 2>&1)"
eq "flac: same rate" "$(soxi -r "$T/r.flac" 2>&1)" "$(soxi -r "$T/r.wav" 2>&1)"
code=$(curl -sS "${K[@]}" -D "$T/rm.h" -o "$T/r.mp3" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=mp3")
eq "reply as mp3" "$code" 200
contains "mp3 content type" "$(tr -d '\r' <"$T/rm.h")" "Content-Type: audio/mpeg"
eq "no synthesis for the formats" "$(nreq m)" "$n3"
code=$(curl -sS "${K[@]}" -o "$T/r.aac" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=aac")
check "aac, which we cannot make: an error, not audio ($code)" test "$code" -ge 400

# A chat that asks for mp3 (no endpoint makes it): prefetched as WAV, its
# whole audio converted; a format nothing can make is refused.
id3=$(chat_reply "Rivers run to the sea. Mountains stand tall." '{"tts_format":"mp3"}')
check "the mp3 chat made a reply" test -n "$id3"
check "its segments were made as WAV" wait_for sh -c "jq -r 'select(.path==\"/v1/audio/speech\") | .body.input + \" \" + (.body.response_format // \"wav\")' '$T/tts-m.jsonl' | grep -q 'Mountains stand tall. wav'"
code=$(curl -sS "${K[@]}" -D "$T/r3.h" -o "$T/r3.mp3" -w '%{http_code}' "$URL/v1/audio/replies/$id3")
eq "its audio, asked without ?format" "$code" 200
contains "is MP3, as the chat asked" "$(tr -d '\r' <"$T/r3.h")" "Content-Type: audio/mpeg"
check "and lasts over a second (two sentences)" awk -v m="$(dur mp3 "$T/r3.mp3")" 'BEGIN { exit !(m > 1) }'
code=$(chat "$(echo_chat "Never said." '{"tts_format":"aac"}')" -o "$T/aac.json" -w '%{http_code}')
eq "tts_format aac, which nothing here makes: 400" "$code" 400
eq "naming what it can" "$(jq -r .error.code "$T/aac.json")" unsupported_tts_format
contains "and the formats" "$(jq -r .error.message "$T/aac.json")" "ask for wav, pcm, flac, mp3 or opus"

# Other voice: not the prefetched audio.
out=$(speech "$(jq -cn '{model:"tts-1",voice:"other",input:"The weather today is sunny and warm."}')" "$T/v.wav")
eq "another voice is a miss" "$out" "200 miss"

# Text that is in no reply: the segmenter's cut, all new.
n1=$(nreq m)
speech "$(asks 'Nothing like this was said. Nor this.')" "$T/n.wav" >/dev/null
eq "unknown text synthesised" "$(nreq m)" $((n1 + 2))

# The daemon still serves.
eq "health after all that" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/health")" 200
stop_daemon
finish
