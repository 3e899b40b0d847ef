#!/usr/bin/env bash
# The fake OpenAI upstream itself, checked with curl directly (no daemon):
# the other end-to-end tests trust what it sends.
. "$(dirname "$0")/lib.sh"

need jq jq || finish
K=()	# the fake is asked directly, with no key

start_upstream
LOG=$T/upstream-requests.jsonl
REPLY="Hello! This is the fake upstream speaking. It streams a short reply in small pieces."

STREAM='{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}'

# --- plain streaming -------------------------------------------------------
chat_at "$UP_URL" "$STREAM" >"$T/plain.sse"
eq "stream reassembles to the reply" "$(sse_text <"$T/plain.sse")" "$REPLY"
eq "first chunk has role assistant" \
    "$(sse_json <"$T/plain.sse" | head -n1 | jq -r '.choices[0].delta.role')" assistant
eq "chunks carry the request's model" \
    "$(sse_json <"$T/plain.sse" | jq -r .model | sort -u)" gpt-test
eq "chunks are chat.completion.chunk with one id" \
    "$(sse_json <"$T/plain.sse" | jq -r '.object + " " + .id' | sort -u | wc -l)" 1
eq "last chunk finishes with stop" \
    "$(sse_json <"$T/plain.sse" | tail -n1 | jq -r '.choices[0].finish_reason')" stop
eq "stream ends with [DONE]" "$(sse_events <"$T/plain.sse" | tail -n1)" "[DONE]"
eq "4 code points per content delta (the last may be shorter)" \
    "$(sse_json <"$T/plain.sse" | jq -s -c '[.[] | .choices[0].delta.content // empty | select(. != "") | length] | [max, (.[:-1] | min)]')" '[4,4]'
eq "no usage without include_usage" \
    "$(sse_json <"$T/plain.sse" | jq -c 'select(.usage != null)' | wc -l)" 0

chat_at "$UP_URL" "$(jq -c '. + {stream_options: {include_usage: true}}' <<<"$STREAM")" >"$T/usage.sse"
eq "include_usage: last chunk has no choices and has usage" \
    "$(sse_json <"$T/usage.sse" | tail -n1 | jq -c '[.choices, (.usage.total_tokens > 0)]')" '[[],true]'

# --- odd but valid SSE framing ---------------------------------------------
for mode in multiline nospace crlf multiline,crlf,nospace; do
	chat_at "$UP_URL" "$STREAM" -H "X-Fake-Fault: $mode" >"$T/$mode.sse"
	eq "$mode: stream reassembles to the reply" "$(sse_text <"$T/$mode.sse")" "$REPLY"
	eq "$mode: ends with [DONE]" "$(sse_events <"$T/$mode.sse" | tail -n1)" "[DONE]"
done
check "multiline: data split over several lines" \
    test "$(grep -c '^data: ' "$T/multiline.sse")" -gt "$(grep -c '^$' "$T/multiline.sse")"
check "multiline: has event:, id: and comment lines" \
    bash -c "grep -q '^event: ' '$T/multiline.sse' && grep -q '^id: ' '$T/multiline.sse' && grep -q '^: ' '$T/multiline.sse'"
check "nospace: data:{ without a space" grep -q '^data:{' "$T/nospace.sse"
check "crlf: every line ends in CRLF" \
    test "$(grep -c $'\r$' "$T/crlf.sse")" -eq "$(wc -l <"$T/crlf.sse")"

# --- faults ----------------------------------------------------------------
rc=0
chat_at "$UP_URL" "$STREAM" -H 'X-Fake-Fault: die-after:3' >"$T/die.sse" || rc=$?
eq "die-after: curl sees a cut transfer (exit 18)" "$rc" 18
eq "die-after:3 sends 3 content chunks" \
    "$(sse_json <"$T/die.sse" | jq -r '.choices[0].delta.content // empty' | grep -c .)" 3
check "die-after: no [DONE]" bash -c "! grep -q DONE '$T/die.sse'"

code=$(curl -s -o "$T/500.json" -w '%{http_code} %{content_type}' -H 'X-Fake-Fault: status:500' \
    -d "$STREAM" "$UP_URL/v1/chat/completions")
eq "status:500 answers 500 with JSON" "$code" "500 application/json"
eq "status:500 body is an OpenAI error" "$(jq -r '.error.type' <"$T/500.json")" server_error
code=$(curl -s -o "$T/429.json" -w '%{http_code}' -H 'X-Fake-Fault: status:429' "$UP_URL/v1/models")
eq "status:429 on another path" "$code/$(jq -r .error.code <"$T/429.json")" "429/rate_limit_exceeded"

rc=0
chat_at "$UP_URL" "$STREAM" --max-time 3 -H 'X-Fake-Fault: hang' >"$T/hang.sse" || rc=$?
eq "hang: client times out (exit 28)" "$rc" 28
eq "hang: the first content chunk arrived" "$(sse_text <"$T/hang.sse")" "Hell"
# closed N: the log has N client_closed events.
closed() { [ "$(jq -c 'select(.event == "client_closed")' "$LOG" | wc -l)" -ge "$1" ]; }
wait_for closed 1
eq "hang: the log records the client leaving" \
    "$(jq -c 'select(.event == "client_closed") | .content_sent' "$LOG" | tail -n1)" 1

rc=0
chat_at "$UP_URL" '{"messages":[]}' --max-time 3 -H 'X-Fake-Fault: hang' >/dev/null || rc=$?
wait_for closed 2
eq "hang, non-streaming: client leaving is noticed" \
    "$(jq -c 'select(.event == "client_closed")' "$LOG" | wc -l)" 2
eq "no request left in flight" "$(curl -s "$UP_URL/_fake/stats" | jq .active)" 0

# --- timing ----------------------------------------------------------------
t=$(chat_at "$UP_URL" "$STREAM" -o /dev/null -w '%{time_total}' -H 'X-Fake-First-Delay-Ms: 300')
check "first-delay-ms delays the stream ($t s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }'
t=$(chat_at "$UP_URL" "$STREAM" -o /dev/null -w '%{time_total}' -H 'X-Fake-Delay-Ms: 20' -H 'X-Fake-Chunk: 20')
check "delay-ms spaces the events ($t s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.1) }'
chat_at "$UP_URL" "$STREAM" -H 'X-Fake-Timestamps: 1' >"$T/ts.sse"
eq "timestamps: every chunk has t_sent_ns, increasing" \
    "$(sse_json <"$T/ts.sse" | jq -s '[.[] | .t_sent_ns] | (all(. > 1e18)) and (. == sort)')" true

# --- reasoning and tool calls ----------------------------------------------
chat_at "$UP_URL" "$STREAM" -H 'X-Fake-Reasoning: Let me think.' -H 'X-Fake-Tool-Call: 1' >"$T/tool.sse"
eq "reasoning_content deltas reassemble" \
    "$(sse_json <"$T/tool.sse" | jq -rj '.choices[0].delta.reasoning_content // empty')" "Let me think."
eq "content still complete with reasoning and tools" "$(sse_text <"$T/tool.sse")" "$REPLY"
eq "tool call: name, and arguments reassemble to JSON" \
    "$(sse_json <"$T/tool.sse" | jq -rj '.choices[0].delta.tool_calls[0]? | (.function.name // empty), (.function.arguments // empty)')" \
    'get_weather{"location":"Paris, France","unit":"celsius"}'
check "tool call: arguments come in several deltas" \
    test "$(sse_json <"$T/tool.sse" | jq -c '.choices[0].delta.tool_calls[0]?.index // empty' | wc -l)" -ge 3
eq "tool call: finish_reason tool_calls" \
    "$(sse_json <"$T/tool.sse" | jq -r '.choices[0].finish_reason // empty')" tool_calls

# --- per-request overrides in the body -------------------------------------
chat_at "$UP_URL" "$(jq -c '. + {x_fake: {reply: "Body override.", chunk: 100}}' <<<"$STREAM")" >"$T/xf.sse"
eq "x_fake in the body overrides the reply" "$(sse_text <"$T/xf.sse")" "Body override."
code=$(curl -s -o "$T/bad.json" -w '%{http_code}' -H 'X-Fake-Chunk: 0' -d "$STREAM" "$UP_URL/v1/chat/completions")
eq "a bad override is a 400 naming it" "$code $(jq -r .error.message <"$T/bad.json")" "400 header X-Fake-Chunk is too small"

# --- ECHO: and UTF-8 --------------------------------------------------------
UTF='你好，世界！这是一个测试。🎉😀 Emoji 👍🏽 and a family 👨‍👩‍👧.'
body=$(jq -nc --arg c "ECHO:$UTF" '{stream: true, messages: [{role: "system", content: "x"}, {role: "user", content: "no"}, {role: "assistant", content: "y"}, {role: "user", content: $c}]}')
chat_at "$UP_URL" "$body" >"$T/utf.sse"
eq "ECHO: streams the rest of the last user message verbatim" "$(sse_text <"$T/utf.sse")" "$UTF"
check "no delta splits a UTF-8 sequence" bash -c \
    "sed -n 's/^data: //p' '$T/utf.sse' | grep -v DONE | jq -r '.choices[0].delta.content // empty' | iconv -f UTF-8 -t UTF-8 >/dev/null"
body=$(jq -nc '{messages: [{role: "user", content: [{type: "text", text: "ECHO:parts "}, {type: "text", text: "joined"}]}]}')
eq "ECHO: with content parts" "$(chat_at "$UP_URL" "$body" | jq -r '.choices[0].message.content')" "parts joined"

# --- non-streaming ----------------------------------------------------------
chat_at "$UP_URL" '{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}' >"$T/ns.json"
eq "non-stream: one chat.completion" "$(jq -r '.object + " " + .model' <"$T/ns.json")" "chat.completion gpt-test"
eq "non-stream: content" "$(jq -r '.choices[0].message.content' <"$T/ns.json")" "$REPLY"
eq "non-stream: role and finish_reason" \
    "$(jq -r '.choices[0].message.role + " " + .choices[0].finish_reason' <"$T/ns.json")" "assistant stop"
eq "non-stream: usage" "$(jq '.usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' <"$T/ns.json")" true
chat_at "$UP_URL" '{"stream":false}' -H 'X-Fake-Tool-Call: 1' -H 'X-Fake-Reasoning: Hmm.' >"$T/nstool.json"
eq "non-stream: tool_calls and reasoning_content" \
    "$(jq -r '.choices[0] | [.finish_reason, .message.tool_calls[0].function.name, .message.reasoning_content] | join(" ")' <"$T/nstool.json")" \
    "tool_calls get_weather Hmm."

# --- other endpoints --------------------------------------------------------
eq "/v1/models lists two models" "$(curl -s "$UP_URL/v1/models" | jq -r '.object + " " + (.data | length | tostring)')" "list 2"
curl -s -X PUT -H 'X-Custom: 1' -d 'some body' "$UP_URL/v1/files/abc?purpose=x&y=2" >"$T/echo.json"
eq "echo path answers what arrived" \
    "$(jq -r '.echo | [.method, .path, .query, .body, .headers["x-custom"]] | join("|")' <"$T/echo.json")" \
    "PUT|/v1/files/abc|purpose=x&y=2|some body|1"
eq "outside /v1/: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$UP_URL/nope")" 404

# --- the request log ---------------------------------------------------------
eq "log: one line per request, with lowercased headers and the body" \
    "$(jq -c 'select(.path == "/v1/files/abc") | [.method, .query, .headers["x-custom"], .body]' "$LOG")" \
    '["PUT","purpose=x&y=2","1","some body"]'

# --- 200 concurrent streams ---------------------------------------------------
# Each holds its first event for up to 10 minutes (curl gives up at 3).
# Once all 200 have arrived, however long a busy machine takes to start
# them, /_fake/release starts them all.
mkdir "$T/conc"
clients=()
for i in $(seq 200); do
	chat_at "$UP_URL" "$STREAM" -m 180 -H 'X-Fake-First-Delay-Ms: 600000' -H 'X-Fake-Delay-Ms: 10' >"$T/conc/$i.sse" &
	clients+=($!)
done
all_arrived() { [ "$(curl -s "$UP_URL/_fake/stats" | jq .active)" = 200 ]; }
wait_secs 120 all_arrived
eq "200 streams were in flight at once" "$(curl -s "$UP_URL/_fake/stats" | jq .max_active)" 200
eq "release: all 200 started" "$(curl -s -X POST "$UP_URL/_fake/release" | jq .released)" 200
wait "${clients[@]}"
eq "200 concurrent streams all complete" "$(grep -l '^data: \[DONE\]' "$T"/conc/*.sse | wc -l)" 200
eq "200 concurrent streams each reassemble to the reply" \
    "$(cat "$T"/conc/*.sse | sse_json | jq -s -c 'group_by(.id) | [length, (map(map(.choices[0]?.delta.content // "") | add) | unique)]')" \
    "[200,[$(jq -c -n --arg r "$REPLY" '$r')]]"
rm -rf "$T/conc"

# --- auth, --help, signals ----------------------------------------------------
p=$(free_port)
spawn upstream-key "$FAKE_UPSTREAM" --port "$p" --require-key sk-right \
    --log "$T/upstream-key.jsonl"
KEY_PID=$LAST_PID
wait_port "$p"
code=$(curl -s -o "$T/401.json" -w '%{http_code}' "http://127.0.0.1:$p/v1/models")
eq "--require-key: no key is 401" "$code $(jq -r .error.type <"$T/401.json")" "401 invalid_request_error"
eq "--require-key: wrong key is 401" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-wrong' "http://127.0.0.1:$p/v1/models")" 401
eq "--require-key: right key is 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-right' "http://127.0.0.1:$p/v1/models")" 200
# SIGTERM with a stream in flight: exit 0, promptly.
curl -sN --max-time 30 -H 'Authorization: Bearer sk-right' -H 'X-Fake-Fault: hang' \
    -d "$STREAM" "http://127.0.0.1:$p/v1/chat/completions" >/dev/null &
hung=$!
wait_for grep -qs chat/completions "$T/upstream-key.jsonl"
kill -TERM "$KEY_PID"
rc=0
timeout 10 tail --pid="$KEY_PID" -f /dev/null || rc=$?
eq "SIGTERM: exits promptly" "$rc" 0
rc=0
wait "$KEY_PID" || rc=$?
eq "SIGTERM: exit status 0" "$rc" 0
wait "$hung"

check "--help exits 0 and lists --fault" bash -c "'$FAKE_UPSTREAM' --help | grep -q -- --fault"
rc=0
"$FAKE_UPSTREAM" --port 1 --fault bogus 2>/dev/null || rc=$?
eq "a bad option exits 2" "$rc" 2

finish
