#!/usr/bin/env bash
# Real clients out of the box: with no TTS_MODEL_MAP or TTS_VOICE_MAP,
# OpenAI's stock model names (tts-1, tts-1-hd, gpt-4o-mini-tts), its voice
# alloy, and a missing model or voice meet what a chat prefetched; another
# model or voice gets audio of its own.  No response_format is mp3, as with
# OpenAI, unless TTS_DEFAULT_FORMAT says otherwise.  A backend's 400 to a
# request's voice never takes the endpoint out.
. "$(dirname "$0")/lib.sh"

# ask MODEL VOICE TEXT [FORMAT]: a speech body; an empty MODEL or VOICE is
# left out, as the front-ends that send none do.
ask() {
	jq -cn --arg m "$1" --arg v "$2" --arg t "$3" --arg f "${4:-}" \
	    '{input: $t} + (if $m == "" then {} else {model: $m} end) +
	    (if $v == "" then {} else {voice: $v} end) +
	    (if $f == "" then {} else {response_format: $f} end)'
}
# heard: the model/voice of the backend's last speech request.
heard() {
	jq -r 'select(.path == "/v1/audio/speech") | .body.model + "/" +
	    .body.voice' "$T/tts-stock.jsonl" | tail -n 1
}
# prefetched TEXT: a chat answered with TEXT, all its segments made; sets
# $id and $segs (its /segments).
prefetched() {
	id=$(chat_reply "$1")
	check "reply id" test -n "$id"
	check "every segment synthesised" wait_for reply_done "$id"
	segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments")
}

start_upstream --delay-ms 0
start_tts stock --reject-voice nosuch
TTS_ENDPOINTS=$TTS_URL NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 start_daemon

# 1. A chat prefetched with the defaults (liang, alloy), no maps.
text='The harbour was quiet at dawn. A single boat went out past the wall. Nobody on the pier waved.'
prefetched "$text"
seg=$(jq -r '.segments[1].text' <<<"$segs")
check "a segment to ask for" test -n "$seg"
eq "prefetched as liang/alloy" "$(heard)" "liang/alloy"
before=$(nreq stock)

# What the five front-ends send: tts-1 (or another stock model, or none),
# alloy or no voice, and mostly no response_format.
for m in tts-1 tts-1-hd gpt-4o-mini-tts ""; do
	for v in alloy ""; do
		eq "model '$m', voice '$v': a hit, no new synthesis" \
		    "$(speech "$(ask "$m" "$v" "$seg")" "$T/hit.mp3") $(nreq stock)" \
		    "200 hit $before"
	done
done
eq "tts-1/alloy as wav: a hit" \
    "$(speech "$(ask tts-1 alloy "$seg" wav)" "$T/hit.wav")" "200 hit"
eq "the whole reply as tts-1/alloy, wav: assembled from it" \
    "$(speech "$(ask tts-1 alloy "$text" wav)" "$T/all.wav")" "200 assembled"
eq "the whole reply as tts-1, no voice, mp3: converted from it" \
    "$(speech "$(ask tts-1 "" "$text")" "$T/all.mp3")" "200 hit"
eq "no new synthesis for any of them" "$(nreq stock)" "$before"

# No response_format: mp3, as OpenAI answers.
speech "$(ask tts-1 alloy "$seg")" "$T/fmt.mp3" >/dev/null
eq "no response_format: audio/mpeg" "$(header "$T/fmt.mp3.h" Content-Type)" \
    audio/mpeg
secs=$(dur mp3 "$T/fmt.mp3")
check "and it is mp3 ($secs s in its frames)" awk -v s="$secs" 'BEGIN { exit !(s > 0) }'

# 2. Another model or voice is said in that model or voice, never served
# another's audio.
eq "model kokoro: its own synthesis" \
    "$(speech "$(ask kokoro alloy "$seg")" "$T/k.mp3")" "200 miss"
eq "the backend heard kokoro/alloy" "$(heard)" "kokoro/alloy"
eq "voice nova: its own synthesis" \
    "$(speech "$(ask tts-1 nova "$seg")" "$T/n.mp3")" "200 miss"
eq "the backend heard liang/nova" "$(heard)" "liang/nova"
eq "Alloy (another case) is another voice" \
    "$(speech "$(ask tts-1 Alloy "$seg")" "$T/a.mp3")" "200 miss"
eq "the backend heard liang/Alloy" "$(heard)" "liang/Alloy"
eq "the stock names never reached the backend" \
    "$(jq -r 'select(.path == "/v1/audio/speech") | .body.model' \
    "$T/tts-stock.jsonl" | grep -cxE 'tts-1|tts-1-hd|gpt-4o-mini-tts')" 0

# A chat naming a stock model prefetches under the default: the same keys.
id1=$id
prefetched "$text"
eq "a chat with no tts_model: the same keys as before" \
    "$(jq -c '[.segments[].key]' <<<"$segs")" \
    "$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id1/segments" | jq -c '[.segments[].key]')"
id2=$(chat_reply "$text" '{"tts_model":"tts-1","tts_voice":"alloy"}')
check "tts-1/alloy chat done" wait_for reply_done "$id2"
eq "a chat naming tts-1/alloy: the same keys" \
    "$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id2/segments" | jq -c '[.segments[].key]')" \
    "$(jq -c '[.segments[].key]' <<<"$segs")"

# 3. A client's 400 never takes the endpoint out: 20 requests for a voice
# the backend does not have (stock model, no format, as a client sends).
bad=0
for i in $(seq 20); do
	r=$(speech "$(ask tts-1 nosuch "Voice $i is not there.")" "$T/rej.json")
	[ "$r" = 400 ] || bad=$((bad + 1))
done
eq "20 requests the backend refuses: 400 each" "$bad" 0
eq "OpenAI-shaped" "$(jq -r '.error.type' "$T/rej.json")" invalid_request_error
eq "/health: the endpoint is up, no error counted" \
    "$(curl -sS "$URL/health" | jq -r '"\(.status) \(.endpoints[0].state) \(.endpoints[0].errors)"')" \
    "ok up 0"
eq "another client still gets 200" \
    "$(speech "$(ask tts-1 alloy "Another client speaks.")" "$T/other.mp3")" \
    "200 miss"
stop_daemon

# 4. TTS_DEFAULT_FORMAT still decides when set.
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 \
    TTS_DEFAULT_FORMAT=wav start_daemon
speech "$(ask tts-1 alloy "A format the operator chose.")" "$T/op.wav" >/dev/null
eq "TTS_DEFAULT_FORMAT=wav: audio/wav" "$(header "$T/op.wav.h" Content-Type)" \
    audio/wav
check "and it is WAV" exact_wav "$T/op.wav"
eq "/v1/audio/models says so" \
    "$(curl -sS "${K[@]}" "$URL/v1/audio/models" | jq -r .default_format)" wav
stop_daemon
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
eq "unset: /v1/audio/models says mp3" \
    "$(curl -sS "${K[@]}" "$URL/v1/audio/models" | jq -r .default_format)" mp3
stop_daemon

# 5. When the default is one of OpenAI's own names, the operator speaks to
# OpenAI's names: each stock name is a model (voice) of its own.
TTS_ENDPOINTS=$TTS_URL NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_DEFAULT_MODEL=tts-1 TTS_DEFAULT_VOICE=nova \
    start_daemon
prefetched "$text"
seg=$(jq -r '.segments[1].text' <<<"$segs")
eq "prefetched as tts-1/nova" "$(heard)" "tts-1/nova"
eq "tts-1/nova: a hit" "$(speech "$(ask tts-1 nova "$seg")" "$T/o1.mp3")" "200 hit"
eq "nothing named: a hit" "$(speech "$(ask "" "" "$seg")" "$T/o2.mp3")" "200 hit"
eq "tts-1-hd: its own synthesis" \
    "$(speech "$(ask tts-1-hd nova "$seg")" "$T/o3.mp3")" "200 miss"
eq "the backend heard tts-1-hd/nova" "$(heard)" "tts-1-hd/nova"
eq "alloy: its own synthesis" \
    "$(speech "$(ask tts-1 alloy "$seg")" "$T/o4.mp3")" "200 miss"
eq "the backend heard tts-1/alloy" "$(heard)" "tts-1/alloy"
stop_daemon

# 6. The operator's map wins over the rule.
TTS_ENDPOINTS=$TTS_URL NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_MODEL_MAP=tts-1-hd=liang-hd \
    TTS_VOICE_MAP=alloy=v2 start_daemon
prefetched "$text"
seg=$(jq -r '.segments[1].text' <<<"$segs")
eq "the default voice is mapped too: prefetched as liang/v2" "$(heard)" \
    "liang/v2"
eq "tts-1 (not mapped): a hit" \
    "$(speech "$(ask tts-1 alloy "$seg")" "$T/m1.mp3")" "200 hit"
eq "tts-1-hd, mapped elsewhere: its own synthesis" \
    "$(speech "$(ask tts-1-hd alloy "$seg")" "$T/m2.mp3")" "200 miss"
eq "the backend heard liang-hd/v2" "$(heard)" "liang-hd/v2"
stop_daemon
finish
