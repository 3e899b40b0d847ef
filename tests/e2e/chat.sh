#!/usr/bin/env bash
# The chat proxy end to end: streaming, assembly, rewriting, faults.
. "$(dirname "$0")/lib.sh"

start_upstream --delay-ms 5
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon
REQS=$T/upstream-requests.jsonl

# Streaming: every event passed through, the text intact.
out=$(chat '{"model":"m","messages":[{"role":"user","content":"ECHO:One. Two, three! 你好，世界。🙂"}],"stream":true}')
eq "streamed text" "$(printf '%s\n' "$out" | sse_text)" "One. Two, three! 你好，世界。🙂"
contains "stream ends with [DONE]" "$out" "data: [DONE]"
direct=$(curl -sS -N -d '{"model":"m","messages":[{"role":"user","content":"ECHO:One. Two, three! 你好，世界。🙂"}],"stream":true}' "$UP_URL/v1/chat/completions" | sed 's/"created":[0-9]*/"created":0/; s/chatcmpl-fake[0-9]*/ID/')
proxied=$(printf '%s\n' "$out" | sed 's/"created":[0-9]*/"created":0/; s/chatcmpl-fake[0-9]*/ID/')
eq "stream identical to direct" "$(echo "$proxied" | md5sum)" "$(echo "$direct" | md5sum)"

# The proxy's own fields are taken out and upstream always streams.
chat '{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false,"tts_enabled":true,"tts_voice":"nova","tts_model":"x","tts_format":"mp3","tts_speed":1.2,"tts_events":true}' \
    -H 'X-TTS-Voice: echo' -H 'X-Other: kept' >/dev/null
last=$(grep '"path":"/v1/chat/completions"' "$REQS" | tail -n 1)
body=$(printf '%s' "$last" | jq -r .body)
eq "tts_* fields removed" "$(printf '%s' "$body" | jq -c 'keys')" '["messages","model","stream","stream_options"]'
eq "upstream asked to stream" "$(printf '%s' "$body" | jq .stream)" true
eq "X-TTS-* headers not forwarded" "$(printf '%s' "$last" | jq -r '.headers["x-tts-voice"] // "absent"')" absent
eq "other headers forwarded" "$(printf '%s' "$last" | jq -r '.headers["x-other"]')" kept
eq "upstream key sent" "$(printf '%s' "$last" | jq -r '.headers.authorization')" "Bearer sk-test"

# Non-streaming: one assembled chat.completion.
out=$(chat '{"model":"m","messages":[{"role":"user","content":"ECHO:Assembled reply."}]}')
eq "object" "$(echo "$out" | jq -r .object)" chat.completion
eq "content" "$(echo "$out" | jq -r '.choices[0].message.content')" "Assembled reply."
eq "finish_reason" "$(echo "$out" | jq -r '.choices[0].finish_reason')" stop
eq "model" "$(echo "$out" | jq -r .model)" m
check "usage present" test "$(echo "$out" | jq '.usage.total_tokens > 0')" = true
check "id present" test -n "$(echo "$out" | jq -r '.id // empty')"
check "created present" test "$(echo "$out" | jq '.created > 0')" = true

# Tool calls joined by index; reasoning is not content.
out=$(chat '{"model":"m","messages":[{"role":"user","content":"x"}]}' -H 'X-Fake-Tool-Call: 1' -H 'X-Fake-Reasoning: Let me think.')
eq "tool call name" "$(echo "$out" | jq -r '.choices[0].message.tool_calls[0].function.name')" "$(curl -s -d '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":false}' -H 'X-Fake-Tool-Call: 1' "$UP_URL/v1/chat/completions" | jq -r '.choices[0].message.tool_calls[0].function.name')"
check "tool call arguments are JSON" sh -c "echo '$out' | jq -e '.choices[0].message.tool_calls[0].function.arguments | fromjson' >/dev/null"
eq "finish_reason tool_calls" "$(echo "$out" | jq -r '.choices[0].finish_reason')" tool_calls
eq "reasoning kept apart" "$(echo "$out" | jq -r '.choices[0].message.reasoning_content')" "Let me think."

# Multi-line events, data: without a space, CRLF: passed intact.
for mode in multiline nospace crlf; do
	out=$(chat '{"model":"m","messages":[{"role":"user","content":"ECHO:Faulty framing works."}],"stream":true}' -H "X-Fake-Fault: $mode")
	direct=$(curl -sS -N -H "X-Fake-Fault: $mode" -d '{"model":"m","messages":[{"role":"user","content":"ECHO:Faulty framing works."}],"stream":true}' "$UP_URL/v1/chat/completions")
	eq "$mode: bytes as upstream sent them" "$(printf '%s' "$out" | sed 's/"created":[[:space:]]*[0-9]*//; s/chatcmpl-fake[0-9]*//' | md5sum)" "$(printf '%s' "$direct" | sed 's/"created":[[:space:]]*[0-9]*//; s/chatcmpl-fake[0-9]*//' | md5sum)"
	out=$(chat '{"model":"m","messages":[{"role":"user","content":"ECHO:Faulty framing works."}]}' -H "X-Fake-Fault: $mode")
	eq "$mode: assembled" "$(echo "$out" | jq -r '.choices[0].message.content')" "Faulty framing works."
done

# Upstream errors pass through with their status and body.
code=$(chat '{"model":"m","messages":[]}' -H 'X-Fake-Fault: status:429' -o "$T/err.json" -w '%{http_code}')
eq "upstream 429 passed" "$code" 429
eq "upstream error body" "$(jq -r .error.type "$T/err.json")" rate_limit_error

# Upstream dies mid-stream: the stream ends with an error event.
out=$(chat '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}' -H 'X-Fake-Fault: die-after:2')
contains "error event at the end" "$(printf '%s' "$out" | tail -n 2)" '"type":"upstream_error"'
code=$(chat '{"model":"m","messages":[{"role":"user","content":"x"}]}' -H 'X-Fake-Fault: die-after:2' -o /dev/null -w '%{http_code}')
eq "non-streamed upstream death is a 502" "$code" 502

# Client disconnects: the upstream transfer is cancelled.
n0=$(grep -c client_closed "$REQS" || true)
chat '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}' -H 'X-Fake-Fault: hang' -m 1 >/dev/null 2>&1
chat '{"model":"m","messages":[{"role":"user","content":"x"}]}' -H 'X-Fake-Delay-Ms: 200' -m 1 >/dev/null 2>&1
cancelled() { [ "$(grep -c client_closed "$REQS")" -ge $((n0 + 2)) ]; }
wait_for cancelled
eq "both upstream transfers cancelled" "$(grep -c client_closed "$REQS")" $((n0 + 2))

# Pass-through of other /v1 paths, with query and method.
out=$(curl -sS "${K[@]}" -X PUT -d 'raw body' "$URL/v1/files/abc?purpose=x&y=%20z")
eq "pass-through method" "$(echo "$out" | jq -r .echo.method)" PUT
eq "pass-through path" "$(echo "$out" | jq -r .echo.path)" /v1/files/abc
eq "pass-through query" "$(echo "$out" | jq -r .echo.query)" "purpose=x&y=%20z"
eq "pass-through body" "$(echo "$out" | jq -r .echo.body)" "raw body"
eq "models listed" "$(curl -sS "$URL/v1/models" | jq -r '.data[0].id')" fake-model
eq "TTS model appended to the list" "$(curl -sS "$URL/v1/models" | jq -r '.data[-1].id + " " + .data[-1].owned_by')" "liang ttsaccel"
eq "audio models" "$(curl -sS "$URL/v1/audio/models" | jq -r '.models[0]')" liang

# Headers: X-Request-Id and CORS on every response, preflight.
hdrs=$(curl -sS -D - -o /dev/null "$URL/health")
contains "X-Request-Id" "$hdrs" "X-Request-Id: "
contains "CORS origin" "$hdrs" "Access-Control-Allow-Origin: *"
hdrs=$(curl -sS -D - -o /dev/null -X OPTIONS -H 'Origin: http://x' -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization,content-type' "$URL/v1/chat/completions")
contains "preflight 204" "$hdrs" "HTTP/1.1 204"
contains "preflight methods" "$hdrs" "Access-Control-Allow-Methods: "
contains "preflight headers" "$hdrs" "Access-Control-Allow-Headers: authorization,content-type"
hdrs=$(chat '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}' -D - -o /dev/null)
check "X-TTS-Reply-Id on chat" grep -q '^X-TTS-Reply-Id: r[0-9a-f]\{16\}' <<<"$hdrs"
hdrs=$(chat '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"tts_enabled":false}' -D - -o /dev/null)
contains "tts off: the chat is answered" "$hdrs" "HTTP/1.1 200"
check "no reply id when tts is off" sh -c '! grep -q "^X-TTS-Reply-Id:"' <<<"$hdrs"
eq "health" "$(curl -sS "$URL/health" | jq -r .status)" ok
eq "root" "$(curl -sS "$URL/" | jq -r .service)" ttsaccel

# The access log has one line per request.
check "access log line" grep -q 'POST /v1/chat/completions 200' "$T/daemon.log"

stop_daemon
check "clean stop logged" grep -q 'stopped' "$T/daemon.log"
finish
