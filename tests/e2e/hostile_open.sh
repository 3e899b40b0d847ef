#!/usr/bin/env bash
# Without client keys (API_KEYS=none) the daemon answers only what this
# machine asks for: a loopback Host (no DNS rebinding), no cross-site
# browser request, no wildcard CORS.
. "$(dirname "$0")/lib.sh"

start_upstream
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-operator API_KEYS=none start_daemon
wait_probe
UPLOG=$T/upstream-requests.jsonl
touch "$UPLOG"
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}],"tts_enabled":false}'

# status [curl args] URLPATH: the HTTP status; the body in $T/resp, the
# headers in $T/hdr.
status() {
	local path=${*: -1}
	curl -sS -m 5 -o "$T/resp" -D "$T/hdr" -w '%{http_code}' "${@:1:$#-1}" \
	    "$URL$path"
}
shape() {
	check "$1: OpenAI error with code $2" jq -e --arg c "$2" \
	    '(.error.message|type=="string") and .error.code==$c' "$T/resp"
}

# Host.
eq "no Host header given by hand (curl's own)" "$(status /health)" 200
eq "Host localhost" "$(status -H 'Host: localhost' /health)" 200
eq "Host LOCALHOST:port" "$(status -H "Host: LOCALHOST:$PORT" /health)" 200
eq "Host [::1]:port" "$(status -H "Host: [::1]:$PORT" /health)" 200
eq "Host evil.example" "$(status -H 'Host: evil.example' /health)" 403
shape "Host evil.example" host_not_allowed
contains "the 403 says what to do" "$(cat "$T/resp")" API_KEYS
eq "Host 127.0.0.1 on another port" "$(status -H 'Host: 127.0.0.1:1' /health)" 403
eq "Host localhost.evil.example" "$(status -H 'Host: localhost.evil.example' /health)" 403
eq "Host 127.0.0.1.nip.io" "$(status -H "Host: 127.0.0.1.nip.io:$PORT" /health)" 403
eq "Host [::1]x" "$(status -H 'Host: [::1]x' /health)" 403
before=$(wc -l <"$UPLOG")
eq "rebound chat" "$(status -H "Host: evil.example:$PORT" -d "$CHAT" \
    -H 'Content-Type: application/json' /v1/chat/completions)" 403
eq "rebound chat: nothing upstream" "$(wc -l <"$UPLOG")" "$before"

# Cross-site browser requests.
eq "cross-site text/plain POST" "$(status -H 'Origin: https://evil.example' \
    -H 'Content-Type: text/plain' -d "$CHAT" /v1/chat/completions)" 403
shape "cross-site POST" origin_not_allowed
eq "cross-site POST: nothing upstream" "$(wc -l <"$UPLOG")" "$before"
check "cross-site POST: no CORS header" bash -c "! grep -qi '^Access-Control-Allow-Origin' '$T/hdr'"
eq "Origin null" "$(status -H 'Origin: null' -d "$CHAT" /v1/chat/completions)" 403
eq "Sec-Fetch-Site cross-site without Origin" "$(status \
    -H 'Sec-Fetch-Site: cross-site' /v1/models)" 403
eq "cross-site preflight" "$(status -X OPTIONS -H 'Origin: https://evil.example' \
    -H 'Access-Control-Request-Method: POST' /v1/chat/completions)" 403
eq "cross-site requests: nothing upstream" "$(wc -l <"$UPLOG")" "$before"

# A page of this machine: its origin named back, never '*'.
eq "local page POST" "$(status -H 'Origin: http://localhost:3000' \
    -H 'Content-Type: application/json' -d "$CHAT" /v1/chat/completions)" 200
check "local page: its origin allowed" grep -qi \
    '^Access-Control-Allow-Origin: http://localhost:3000' "$T/hdr"
check "local page: Vary: Origin" grep -qi '^Vary: Origin' "$T/hdr"
eq "no Origin" "$(status /health)" 200
check "no wildcard CORS without keys" bash -c "! grep -qi '^Access-Control-Allow-Origin' '$T/hdr'"
stop_daemon

# An origin the operator names is let through, and only it.
NEWAPI_BASE_URL=$UP_URL API_KEYS=none TTSACCEL_CORS_ORIGIN=https://app.example \
    start_daemon
eq "named origin" "$(status -H 'Origin: https://app.example' /health)" 200
check "named origin allowed" grep -qi '^Access-Control-Allow-Origin: https://app.example' "$T/hdr"
eq "another origin" "$(status -H 'Origin: https://evil.example' /health)" 403
stop_daemon

# With keys, names are not restricted (the key is the guard).
NEWAPI_BASE_URL=$UP_URL API_KEYS=sk-client start_daemon
eq "keys: any Host" "$(status -H 'Host: api.example' /health)" 200
eq "keys: cross-site without a key" "$(status -H 'Origin: https://evil.example' \
    -d "$CHAT" /v1/chat/completions)" 401
check "keys: wildcard CORS as configured" grep -qi '^Access-Control-Allow-Origin: \*' "$T/hdr"
stop_daemon

# 'none' is refused off loopback, with a clear start-up error.
out=$("$TTSACCEL" --api-keys none --host 0.0.0.0 --check-config 2>&1)
eq "none on 0.0.0.0: exit status" "$?" 1
contains "none on 0.0.0.0: says why" "$out" "only allowed when listening on loopback"
finish
