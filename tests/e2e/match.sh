#!/usr/bin/env bash
# Speech requests cut and cleaned the way real clients do are served from
# the segments a chat prefetched: runs, whole replies, partial overlaps,
# other formats converted.
. "$(dirname "$0")/lib.sh"
K=(-H 'Authorization: Bearer sk-test')

speech() {  # speech JSON OUT -> "STATUS CACHE"
	curl -sS "${K[@]}" -D "$T/h.$$" -o "$2" -w '%{http_code}' -d "$1" "$URL/v1/audio/speech" >"$T/code.$$"
	printf '%s %s' "$(cat "$T/code.$$")" "$(tr -d '\r' <"$T/h.$$" | sed -n 's/^X-TTS-Cache: //p')"
}
say() {  # say TEXT [FORMAT] -> JSON body as a client sends it
	jq -cn --arg t "$1" --arg f "${2:-}" '{model:"tts-1",voice:"alloy",input:$t} + (if $f == "" then {} else {response_format:$f} end)'
}
nreq() { grep -c '"path":"/v1/audio/speech"' "$T/tts-m.jsonl" 2>/dev/null || echo 0; }
served() { curl -sS "$URL/cache/stats" | jq -r ".served.$1"; }
chat() {  # chat REPLY -> reply id; waits until every segment is done
	local body id i
	body=$(jq -cn --arg t "ECHO:$1" '{model:"m",stream:true,messages:[{role:"user",content:$t}]}')
	id=$(curl -sS "${K[@]}" -D - -o /dev/null -d "$body" "$URL/v1/chat/completions" | tr -d '\r' | sed -n 's/^X-TTS-Reply-Id: //p')
	for i in $(seq 100); do
		curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments" | jq -e '.state == "complete" and all(.segments[]; .state == "done")' >/dev/null && break
		sleep 0.1
	done
	printf '%s' "$id"
}

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
id=$(chat "$reply")
check "the chat made a reply" test -n "$id"
segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments" | jq '.segments | length')
check "it has several segments" test "$segs" -ge 4
n0=$(nreq)
eq "every prefetched segment synthesised once" "$n0" "$segs"

# Open WebUI: sentence runs merged, markdown removed, tts-1/alloy, no format.
eq "a run of sentences, cleaned" "$(speech "$(say 'The weather today is sunny and warm. Take a hat with you, and some water!')" "$T/a.wav")" "200 assembled"
check "is WAV" sh -c "soxi '$T/a.wav' >/dev/null 2>&1"
# LobeChat: newlines made '. ', full-width punctuation half-width, folded.
eq "the whole reply with newlines as '. '" "$(speech "$(say 'Weather today. The weather today is sunny and warm. Take a hat with you, and some water! Rain is due tomorrow, so enjoy it.. Walk in the park.. Visit the old market.. See the forecast for more.')" "$T/b.wav")" "200 assembled"
# LibreChat: the message as it is, markdown and all.
eq "the raw markdown message" "$(speech "$(say "$reply")" "$T/c.wav")" "200 assembled"
# SillyTavern: asterisks removed, mp3: converted from the prefetched WAV.
out=$(speech "$(say 'The weather today is sunny and warm. Take a hat with you, and some water!' mp3)" "$T/d.mp3")
check "mp3 of a run: answered ($out)" test "${out%% *}" = 200
check "and it is MP3" sh -c "head -c 3 '$T/d.mp3' | grep -q ID3 || od -An -tx1 -N2 '$T/d.mp3' | grep -q 'ff f'"
eq "no synthesis for any of these" "$(nreq)" "$n0"
check "counted as assembled" test "$(served assembled)" -ge 3

# The same run twice gives the same bytes.
speech "$(say 'The weather today is sunny and warm. Take a hat with you, and some water!')" "$T/a2.wav" >/dev/null
check "same text, same audio" cmp -s "$T/a.wav" "$T/a2.wav"
# The run's audio is the segments' audio in order: duration adds up.
d1=$(soxi -D "$T/a.wav")
check "a run lasts as long as its sentences ($d1 s)" awk -v d="$d1" 'BEGIN { exit !(d > 1.5) }'

# Chinese, as LobeChat sends it: full-width punctuation made half-width
# (so '.' no longer ends a sentence for the segmenter) and no spaces.
zh='今天天气很好，阳光明媚。我们下午去公园散步吧！记得带上水和帽子，傍晚可能会下雨。'
chat "$zh" >/dev/null
n2=$(nreq)
eq "Chinese made half-width" "$(speech "$(say '今天天气很好,阳光明媚.我们下午去公园散步吧!记得带上水和帽子,傍晚可能会下雨.')" "$T/zh.wav")" "200 assembled"
eq "Chinese, full-width forms (ＡＢＣ) and case forgiven: no synthesis" "$(nreq)" "$n2"

# Partial overlap: only the new sentence is synthesised.
p0=$(served partial)
n0=$(nreq)
out=$(speech "$(say 'Good morning to you all. The weather today is sunny and warm.')" "$T/p.wav")
eq "a partial overlap is answered" "${out%% *}" 200
eq "only the new sentence is synthesised" "$(nreq)" $((n0 + 1))
jq -r 'select(.path=="/v1/audio/speech") | .body.input' "$T/tts-m.jsonl" | tail -1 >"$T/last"
contains "it was the new sentence" "$(cat "$T/last")" "Good morning"
eq "counted as partial" "$(served partial)" $((p0 + 1))

# A whole reply in another format: converted from its WAV, not made again.
n3=$(nreq)
curl -sS "${K[@]}" -o "$T/r.wav" "$URL/v1/audio/replies/$id"
code=$(curl -sS "${K[@]}" -D "$T/rf.h" -o "$T/r.flac" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=flac")
eq "reply as flac" "$code" 200
contains "flac content type" "$(tr -d '\r' <"$T/rf.h")" "Content-Type: audio/flac"
eq "flac: same sample count as the WAV" "$(soxi -s "$T/r.flac" 2>&1)" "$(soxi -s "$T/r.wav" 2>&1)"
eq "flac: same rate" "$(soxi -r "$T/r.flac" 2>&1)" "$(soxi -r "$T/r.wav" 2>&1)"
code=$(curl -sS "${K[@]}" -D "$T/rm.h" -o "$T/r.mp3" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=mp3")
eq "reply as mp3" "$code" 200
contains "mp3 content type" "$(tr -d '\r' <"$T/rm.h")" "Content-Type: audio/mpeg"
eq "no synthesis for the formats" "$(nreq)" "$n3"
code=$(curl -sS "${K[@]}" -o "$T/r.aac" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=aac")
check "aac, which we cannot make: an error, not audio ($code)" test "$code" -ge 400

# A chat that asks for mp3 (no endpoint makes it): prefetched as WAV, its
# whole audio converted; a format nothing can make is refused.
body=$(jq -cn '{model:"m",stream:true,tts_format:"mp3",messages:[{role:"user",content:"ECHO:Rivers run to the sea. Mountains stand tall."}]}')
id3=$(curl -sS "${K[@]}" -D - -o /dev/null -d "$body" "$URL/v1/chat/completions" | tr -d '\r' | sed -n 's/^X-TTS-Reply-Id: //p')
check "the mp3 chat made a reply" test -n "$id3"
check "its segments were made as WAV" wait_for sh -c "jq -r 'select(.path==\"/v1/audio/speech\") | .body.input + \" \" + (.body.response_format // \"wav\")' '$T/tts-m.jsonl' | grep -q 'Mountains stand tall. wav'"
code=$(curl -sS "${K[@]}" -D "$T/r3.h" -o "$T/r3.mp3" -w '%{http_code}' "$URL/v1/audio/replies/$id3")
eq "its audio, asked without ?format" "$code" 200
contains "is MP3, as the chat asked" "$(tr -d '\r' <"$T/r3.h")" "Content-Type: audio/mpeg"
check "and lasts over a second (two sentences)" awk -v m="$(dur mp3 "$T/r3.mp3")" 'BEGIN { exit !(m > 1) }'
body=$(jq -cn '{model:"m",stream:true,tts_format:"aac",messages:[{role:"user",content:"ECHO:Never said."}]}')
code=$(curl -sS "${K[@]}" -o "$T/aac.json" -w '%{http_code}' -d "$body" "$URL/v1/chat/completions")
eq "tts_format aac, which nothing here makes: 400" "$code" 400
eq "naming what it can" "$(jq -r .error.code "$T/aac.json")" unsupported_tts_format
contains "and the formats" "$(jq -r .error.message "$T/aac.json")" "ask for wav, pcm, flac, mp3 or opus"

# Other voice: not the prefetched audio.
out=$(speech "$(jq -cn '{model:"tts-1",voice:"other",input:"The weather today is sunny and warm."}')" "$T/v.wav")
eq "another voice is a miss" "$out" "200 miss"

# Text that is in no reply: the segmenter's cut, all new.
n1=$(nreq)
speech "$(say 'Nothing like this was said. Nor this.')" "$T/n.wav" >/dev/null
eq "unknown text synthesised" "$(nreq)" $((n1 + 2))

# The daemon still serves.
eq "health after all that" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/health")" 200
stop_daemon
finish
