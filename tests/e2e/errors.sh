#!/usr/bin/env bash
# Bad input gets a clear OpenAI-shaped error and the daemon keeps serving.
. "$(dirname "$0")/lib.sh"

start_upstream
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test MAX_BODY_BYTES=64K start_daemon

# refused STATUS-WANTED DESCRIPTION BODY [curl args]: a chat request (no
# key unless given) answered STATUS-WANTED with an OpenAI-shaped error.
refused() {
	local want=$1 desc=$2 body=$3; shift 3
	local code
	code=$(curl -sS -o "$T/resp" -w '%{http_code}' "$@" --data-binary "$body" \
	    "$URL/v1/chat/completions")
	eq "$desc: status" "$code" "$want"
	check "$desc: OpenAI error shape" jq -e \
	    '(.error.message|type=="string") and (.error.type|type=="string") and (.error|has("param")) and (.error|has("code"))' "$T/resp"
}
alive() {
	eq "still serving after $1" "$(curl -sS -m 5 "$URL/health" | jq -r .status)" ok
}

refused 400 "malformed JSON" '{"model":"m","messages":[' "${K[@]}"
alive "malformed JSON"
refused 400 "not an object" '[1,2,3]' "${K[@]}"
refused 400 "no messages" '{"model":"m"}' "${K[@]}"
refused 400 "invalid UTF-8" "$(printf '{"model":"m","messages":[{"role":"user","content":"\xff\xfe"}]}')" "${K[@]}"
alive "invalid UTF-8"
head -c 100000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -sS -o "$T/resp" -w '%{http_code}' "${K[@]}" --data-binary @"$T/big" "$URL/v1/chat/completions")
eq "oversized body: status" "$code" 413
check "oversized body: OpenAI error shape" jq -e '.error.message | test("MAX_BODY_BYTES")' "$T/resp"
alive "oversized body"
refused 400 "unknown tts_format" '{"model":"m","messages":[],"tts_format":"foo"}' "${K[@]}"
refused 400 "unknown X-TTS-Format" '{"model":"m","messages":[]}' "${K[@]}" -H 'X-TTS-Format: foo'
refused 400 "tts_speed out of range" '{"model":"m","messages":[],"tts_speed":9}' "${K[@]}"
alive "bad tts fields"
refused 401 "missing key" '{"model":"m","messages":[]}'
refused 401 "wrong key" '{"model":"m","messages":[]}' -H 'Authorization: Bearer sk-wrong'
refused 401 "key prefix" '{"model":"m","messages":[]}' -H 'Authorization: Bearer sk-tes'
refused 401 "basic auth" '{"model":"m","messages":[]}' -u user:sk-test
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$URL/v1/embeddings" -d '{}')
eq "pass-through needs a key too" "$code" 401
code=$(curl -sS -o "$T/resp" -w '%{http_code}' "${K[@]}" "$URL/v1/chat/completions")
eq "GET on chat is 405" "$code" 405
code=$(curl -sS -o "$T/resp" -w '%{http_code}' "$URL/nope")
eq "unknown path is 404" "$code" 404
check "404 OpenAI shape" jq -e '.error.message' "$T/resp"
# A client that sends half a request and vanishes.
(exec 3<>"/dev/tcp/127.0.0.1/$PORT"; printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"mod' >&3; exec 3>&-)
# Garbage instead of HTTP.
(exec 3<>"/dev/tcp/127.0.0.1/$PORT"; printf '\x00\x01\x02 garbage\r\n\r\n' >&3; sleep 0.1; exec 3>&-)
alive "vanished and garbage clients"
stop_daemon

# No upstream configured: chat is 503, models are the TTS ones.
NEWAPI_API_KEY=sk-test start_daemon
refused 503 "no upstream" '{"model":"m","messages":[]}' "${K[@]}"
contains "503 says what to set" "$(cat "$T/resp")" NEWAPI_BASE_URL
eq "models without upstream" "$(curl -sS "$URL/v1/models" | jq -r '.data[0].id')" liang
stop_daemon

# Upstream unreachable: 502 naming the failure.
NEWAPI_BASE_URL=http://127.0.0.1:$(free_port) NEWAPI_API_KEY=sk-test start_daemon
refused 502 "upstream unreachable" '{"model":"m","messages":[]}' "${K[@]}"
alive "unreachable upstream"
stop_daemon

# Start-up errors name the key and the source, exit non-zero.
out=$(CACHE_TTL=soon "$TTSACCEL" --check-config 2>&1); rc=$?
eq "bad env value exits 1" "$rc" 1
contains "bad env value named" "$out" "CACHE_TTL"
printf 'cache_ttl = 5\nport = eighty\n' >"$T/bad.conf"
out=$("$TTSACCEL" --config "$T/bad.conf" 2>&1); rc=$?
eq "bad file value exits 1" "$rc" 1
contains "bad file value located" "$out" "bad.conf line 2"
out=$("$TTSACCEL" --no-such-option 2>&1); rc=$?
eq "unknown option exits 1" "$rc" 1
out=$(NEWAPI_API_KEY=sk-secret-value "$TTSACCEL" --check-config 2>&1); rc=$?
eq "--check-config exits 0" "$rc" 0
contains "--check-config shows the key masked" "$out" "NEWAPI_API_KEY=****"
check "--check-config masks secrets" sh -c "! printf '%s' '$out' | grep -q sk-secret-value"
out=$(TTS_ENDPOINTS='http://127.0.0.1:9|key=hf_abcdef|max=2' "$TTSACCEL" --check-config 2>&1)
contains "--check-config masks endpoint keys" "$out" 'TTS_ENDPOINTS=http://127.0.0.1:9|key=****|max=2'
out=$(TTS_DEFAULT_FORMAT=ogg "$TTSACCEL" --check-config 2>&1); rc=$?
eq "bad TTS_DEFAULT_FORMAT exits 1" "$rc" 1
contains "bad TTS_DEFAULT_FORMAT named" "$out" TTS_DEFAULT_FORMAT
# The body is exactly one JSON object, and fields have their types: a 400
# naming the field in "param" (spec: wrong types are 400s).
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon
# body_err PATH DESCRIPTION PARAM FILE: a 400 of the OpenAI shape whose
# param is PARAM (null for the body as a whole), for the body in FILE.
body_err() {
	local path=$1 desc=$2 param=$3 file=$4 code
	code=$(curl -sS -o "$T/resp" -w '%{http_code}' "${K[@]}" \
	    --data-binary @"$file" "$URL$path")
	eq "$desc: status" "$code" 400
	eq "$desc: param" "$(jq -r '.error.param' "$T/resp")" "$param"
	check "$desc: OpenAI error shape" jq -e \
	    '(.error.message|type=="string") and .error.type=="invalid_request_error" and (.error.code|type=="string")' "$T/resp"
}
# typed PATH FIELD VALUE: the request with FIELD set to VALUE is a 400
# naming FIELD.
typed() {
	local path=$1 field=$2 value=$3 base
	if [ "$path" = /v1/audio/speech ]; then
		base='{"model":"tts-1","input":"Hello.","voice":"alloy"}'
	else
		base='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
	fi
	jq -c --arg f "$field" --argjson v "$value" '.[$f] = $v' <<<"$base" >"$T/typed"
	body_err "$path" "$path $field: $value" "$field" "$T/typed"
}
for p in /v1/audio/speech /v1/chat/completions; do
	printf '{"model":"m","input":"Hel\0lo","messages":[]}' >"$T/nul"
	body_err "$p" "$p: a raw NUL in the body" null "$T/nul"
	contains "$p: the NUL is named" "$(jq -r .error.message "$T/resp")" "NUL"
	printf '{"model":"m","input":"Hello.","messages":[]} x' >"$T/trail"
	body_err "$p" "$p: bytes after the JSON" null "$T/trail"
	contains "$p: the trailing bytes are named" \
	    "$(jq -r .error.message "$T/resp")" "after its JSON object"
	printf '{"model":"m","input":"Hello.","messages":[]}{}' >"$T/trail"
	body_err "$p" "$p: a second JSON object" null "$T/trail"
done
typed /v1/audio/speech model 5
typed /v1/audio/speech voice '[]'
typed /v1/audio/speech input 3
typed /v1/audio/speech speed '"x"'
typed /v1/audio/speech response_format 1
typed /v1/audio/speech instructions '{}'
typed /v1/chat/completions tts_enabled '"no"'
typed /v1/chat/completions tts_voice 1
typed /v1/chat/completions tts_events '"yes"'
typed /v1/chat/completions tts_model '[]'
typed /v1/chat/completions tts_format 2
typed /v1/chat/completions tts_speed '"fast"'
typed /v1/chat/completions stream '"true"'
typed /v1/chat/completions messages '{}'
# Whitespace after the object, and null fields, are fine.
printf '{"model":"m","messages":[{"role":"user","content":"hi"}],"tts_enabled":false,"stream":null}\r\n\t ' >"$T/ok"
code=$(curl -sS -o "$T/resp" -w '%{http_code}' "${K[@]}" --data-binary @"$T/ok" "$URL/v1/chat/completions")
eq "chat: whitespace after the object and a null stream are fine" "$code" 200
printf '{"input":"Fine.","model":null,"voice":null,"speed":null}\n' >"$T/ok"
code=$(curl -sS -o "$T/resp" -w '%{http_code}' "${K[@]}" --data-binary @"$T/ok" "$URL/v1/audio/speech")
eq "speech: null fields are the defaults" "$code" 200
alive "wrong types"
stop_daemon
finish
