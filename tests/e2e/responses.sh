#!/usr/bin/env bash
# The Responses API (POST /v1/responses) end to end: passed through byte
# for byte like a chat, its output text (and nothing else) prefetched.
. "$(dirname "$0")/lib.sh"

start_upstream --delay-ms 5
start_tts r
TTS_ENDPOINTS=$TTS_URL NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 start_daemon
REQS=$T/upstream-requests.jsonl
REPLY='The first sentence is here. The second one follows it! And a third ends the reply.'
THINK='Private reasoning words stay unspoken.'

# resp_body TEXT [JSON]: a Responses request that the fake answers with
# TEXT, with a reasoning summary and a function call around the message,
# and the fields of JSON added.
resp_body() {
	local x=${2:-}
	[ -n "$x" ] || x='{}'
	jq -cn --arg t "ECHO:$1" --arg r "$THINK" --argjson x "$x" \
	    '{model: "m", input: $t, stream: true,
	      x_fake: {reasoning: $r, tool_call: true}} + $x'
}
# norm: ids and times of the fake's events made the same for a comparison.
norm() { sed -E 's/"(created_at)":[0-9]+/"\1":0/g; s/(resp|msg|rs|fc|call)_fake[0-9]+/\1_ID/g'; }
# spoken ID: the texts of reply ID's segments, joined by a space.
spoken() {
	curl -sS -m 10 "${K[@]}" "$URL/v1/audio/replies/$1/segments" |
	    jq -r '[.segments[].text] | join(" ")'
}

# 1. Streaming: every event as upstream sent it, byte for byte.
body=$(resp_body "$REPLY")
out=$(responses_at "$URL" "$body")
id=$(reply_id)
direct=$(K=(); responses_at "$UP_URL" "$body")
check "events came (response.completed last)" \
    test "$(printf '%s\n' "$out" | grep '^event:' | tail -n 1)" = "event: response.completed"
eq "stream byte-identical to direct" "$(printf '%s' "$out" | norm | md5sum)" \
    "$(printf '%s' "$direct" | norm | md5sum)"
ctype=$(header "$T/chat.h" Content-Type)
K=(); responses_at "$UP_URL" "$body" -o /dev/null; K=(-H 'Authorization: Bearer sk-test')
eq "upstream's Content-Type" "$ctype" "$(header "$T/chat.h" Content-Type)"
check "X-TTS-Reply-Id on a Responses stream" grep -q '^r[0-9a-f]\{16\}$' <<<"$id"
eq "the SSE text is the reply" "$(printf '%s\n' "$out" | sse_json |
    jq -rj 'select(.type == "response.output_text.delta") | .delta')" "$REPLY"

# 2. Its output text is prefetched; reasoning and tool calls are not.
check "the reply is segmented and synthesised" wait_for reply_done "$id"
eq "segments hold the output text, in order" "$(spoken "$id")" "$REPLY"
seg=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments")
check "no reasoning in /segments" not grep -q 'reasoning' <<<"$seg"
check "no tool call arguments in /segments" not grep -q 'Paris' <<<"$seg"
check "no reasoning synthesised" not grep -q 'Private reasoning' "$T/tts-r.jsonl"
check "no tool call synthesised" not grep -q 'Paris' "$T/tts-r.jsonl"
eq "one synthesis per sentence" "$(nreq r)" 3
code=$(curl -sS -m 30 "${K[@]}" -o "$T/whole.wav" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=wav")
eq "whole-reply audio answered" "$code" 200
check "whole-reply audio is one exact WAV" exact_wav "$T/whole.wav"
check "whole-reply audio holds the three segments" bigger "$T/whole.wav" 10000

# 3. The proxy's own fields and headers go no further; nothing else
# changes.
responses_at "$URL" "$(resp_body 'Fields test.' '{"tts_voice":"nova","tts_format":"mp3","tts_speed":1.5,"tts_events":false}')" \
    -H 'X-TTS-Model: x' -H 'X-Other: kept' -o /dev/null
last=$(grep '"path":"/v1/responses"' "$REQS" | tail -n 1)
eq "tts_* fields removed" "$(printf '%s' "$last" | jq -r .body | jq -c 'keys')" \
    '["input","model","stream","x_fake"]'
eq "X-TTS-* headers not forwarded" "$(printf '%s' "$last" | jq -r '.headers["x-tts-model"] // "absent"')" absent
eq "other headers forwarded" "$(printf '%s' "$last" | jq -r '.headers["x-other"]')" kept
eq "upstream key sent" "$(printf '%s' "$last" | jq -r '.headers.authorization')" "Bearer sk-test"
raw='{"model":"m",  "input":"ECHO:Bytes kept.","stream":true , "temperature":0.30000000000000004}'
responses_at "$URL" "$raw" -o /dev/null
eq "without tts_* fields the body goes upstream byte for byte" \
    "$(grep '"path":"/v1/responses"' "$REQS" | tail -n 1 | jq -r .body)" "$raw"

# 4. tts_events: the segments' comment lines, the events unchanged.
responses_at "$URL" "$(resp_body "$REPLY" '{"tts_events":true}')" >"$T/events.sse"
(K=(); responses_at "$UP_URL" "$(resp_body "$REPLY")" >"$T/direct.sse")
check "tts comment lines in the stream" grep -q '^: tts ' "$T/events.sse"
# Each is a comment line and a blank line, after an event.
eq "without them, the events as direct" "$(sed '/^: tts /{N;d}' "$T/events.sse" | norm | md5sum)" \
    "$(norm <"$T/direct.sse" | md5sum)"

# 5. Non-streaming: the JSON answer as upstream's, prefetched from its text.
body=$(resp_body 'A whole answer arrives at once. It is spoken too.' '{"stream":false}')
out=$(responses_at "$URL" "$body")
id=$(reply_id)
direct=$(K=(); responses_at "$UP_URL" "$body")
eq "non-streamed answer as direct" "$(printf '%s' "$out" | norm)" "$(printf '%s' "$direct" | norm)"
eq "object response" "$(jq -r .object <<<"$out")" response
eq "upstream was not asked to stream" "$(grep '"path":"/v1/responses"' "$REQS" | tail -n 2 | head -n 1 | jq -r .body | jq .stream)" false
check "X-TTS-Reply-Id on a non-streamed answer" grep -q '^r[0-9a-f]\{16\}$' <<<"$id"
check "the whole answer is prefetched" wait_for reply_done "$id"
eq "its segments are the output text only" "$(spoken "$id")" \
    "A whole answer arrives at once. It is spoken too."

# 6. Speech off: no reply id, nothing prefetched.
n=$(nreq r)
responses_at "$URL" "$(resp_body 'Not spoken at all.' '{"tts_enabled":false}')" -o /dev/null
eq "tts_enabled false: no reply id" "$(reply_id)" ""
responses_at "$URL" "$(resp_body 'Not spoken either.')" -H 'X-TTS-Enabled: false' -o /dev/null
eq "X-TTS-Enabled false: no reply id" "$(reply_id)" ""
eq "nothing synthesised with speech off" "$(nreq r)" "$n"

# 7. Errors: no key, a bad field, upstream's status, a stream cut short.
n=$(grep -c '"path":"/v1/responses"' "$REQS")
code=$(K=(); responses_at "$URL" "$(resp_body x)" -o "$T/e.json" -w '%{http_code}')
eq "no key: 401" "$code" 401
eq "401 is OpenAI-shaped" "$(jq -r .error.type "$T/e.json")" invalid_request_error
code=$(responses_at "$URL" '{"model":"m","input":"x","tts_enabled":"yes"}' -o "$T/e.json" -w '%{http_code}')
eq "a tts field of the wrong type: 400" "$code" 400
eq "the 400 names it" "$(jq -r .error.param "$T/e.json")" tts_enabled
eq "neither reached upstream" "$(grep -c '"path":"/v1/responses"' "$REQS")" "$n"
for stream in true false; do
	code=$(responses_at "$URL" "$(resp_body x "{\"stream\":$stream}")" -H 'X-Fake-Fault: status:429' -o "$T/e.json" -w '%{http_code}')
	eq "stream $stream: upstream 429 passed" "$code" 429
	eq "stream $stream: upstream error body" "$(jq -r .error.type "$T/e.json")" rate_limit_error
done
out=$(responses_at "$URL" "$(resp_body "$REPLY")" -H 'X-Fake-Fault: die-after:2')
contains "a cut stream ends with an error event" "$(printf '%s' "$out" | tail -n 3)" 'event: error'
contains "which says so" "$(printf '%s' "$out" | tail -n 2)" '"code":"upstream_failed"'

# Other methods and paths under /v1/responses are passed on as they are.
out=$(curl -sS "${K[@]}" "$URL/v1/responses/resp_123?include=x")
eq "GET /v1/responses/{id} passed through" "$(jq -r '.echo.method + " " + .echo.path' <<<"$out")" "GET /v1/responses/resp_123"

stop_daemon
finish
