#!/usr/bin/env bash
# Hostile HTTP: log injection, wrong methods, oversized request lines and
# headers, ambiguous framing — each answered with an OpenAI-shaped error,
# and nothing a client sends can forge a log line.
. "$(dirname "$0")/lib.sh"

start_upstream
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon
wait_probe

# raw REQUEST: send bytes as they are, print the whole answer (5 s at most).
raw() {
	python3 - "$PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
        if b"\r\n\r\n" in out:
            head, _, body = out.partition(b"\r\n\r\n")
            n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                 if l.lower().startswith(b"content-length:")]
            if n and len(body) >= n[0]:
                break
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
EOF
}
# shaped DESC ANSWER STATUS CODE: the raw answer has this status and an
# OpenAI-shaped JSON body with this code.
shaped() {
	local desc=$1 ans=$2 st=$3 code=$4
	eq "$desc: status" "$(printf '%s' "$ans" | head -n 1 | tr -d '\r' | cut -d' ' -f2)" "$st"
	check "$desc: OpenAI-shaped JSON" jq -e --arg c "$code" \
	    '(.error.message|type=="string") and .error.code==$c' \
	    <<<"$(printf '%s' "$ans" | sed '1,/^\r$/d')"
}

# --- Log injection (the access log and error lines) ---
curl -sS --path-as-is -o /dev/null "$URL/v1/x%0a2026-01-01T00:00:00.000Z%20INFO%20FORGED%0d"
raw 'GET /v1/\x1b[2J\x1b]0;pwned\x07\xff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >/dev/null
raw 'GET /nope\\n HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >/dev/null
# The last one's line is written (the log is flushed every 50 ms).
wait_for grep -qF '/nope\\n ' "$T/daemon.log"
check "no forged log line" bash -c "! grep -q '^2026-01-01T00:00:00.000Z' '$T/daemon.log'"
check "no forged log line (anywhere at line start)" bash -c "! grep -q '^[^0-9]' '$T/daemon.log'"
check "no raw ESC, BEL or invalid UTF-8 in the log" bash -c \
    "! LC_ALL=C grep -q \$'[\\x01-\\x08\\x0b-\\x1f\\x7f\\xff]' '$T/daemon.log'"
check "ESC shown escaped" grep -qF '/v1/\x1b[2J\x1b]0;pwned\x07\xff' "$T/daemon.log"
check "a client's backslash doubled" grep -qF '/nope\\n ' "$T/daemon.log"

# --- Methods: 405 with Allow ---
for m in PUT DELETE PATCH; do
	code=$(curl -sS -o "$T/resp" -D "$T/hdr" -w '%{http_code}' -X "$m" "$URL/health")
	eq "$m /health" "$code" 405
	check "$m /health: Allow" grep -qi '^Allow: GET, HEAD, OPTIONS' "$T/hdr"
	check "$m /health: OpenAI shape" jq -e '.error.code=="method_not_allowed"' "$T/resp"
done
code=$(curl -sS -o "$T/resp" -D "$T/hdr" -w '%{http_code}' "${K[@]}" "$URL/v1/chat/completions")
eq "GET chat" "$code" 405
check "GET chat: Allow: POST" grep -qi '^Allow: POST, OPTIONS' "$T/hdr"
code=$(curl -sS -o "$T/resp" -D "$T/hdr" -w '%{http_code}' "$URL/cache/clear")
eq "GET /cache/clear" "$code" 405
check "GET /cache/clear: Allow: POST" grep -qi '^Allow: POST, OPTIONS' "$T/hdr"
code=$(curl -sS -o "$T/resp" -D "$T/hdr" -w '%{http_code}' -X DELETE "$URL/metrics")
eq "DELETE /metrics" "$code" 405
ans=$(raw 'TRACE /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
shaped "TRACE /v1/models" "$ans" 405 method_not_allowed
contains "TRACE: Allow" "$ans" "Allow: GET, HEAD, POST"
ans=$(raw 'CONNECT /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
shaped "CONNECT /v1/models" "$ans" 405 method_not_allowed
check "TRACE and CONNECT never reach the upstream" bash -c \
    "! grep -qE '\"method\":\"(TRACE|CONNECT)\"' '$T/upstream-requests.jsonl'"

# --- Sizes: 414 and 431 in JSON ---
long=$(head -c 20000 /dev/zero | tr '\0' a)
ans=$(raw "GET /v1/models?q=$long HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
shaped "20 KB request target" "$ans" 414 uri_too_long
hdrs=""
for i in $(seq 20); do hdrs+="X-Pad-$i: $(head -c 4000 /dev/zero | tr '\0' b)\r\n"; done
ans=$(raw "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${hdrs}Connection: close\r\n\r\n")
shaped "80 KB of headers" "$ans" 431 headers_too_large

# --- Framing: two Content-Length, or one with Transfer-Encoding ---
before=$(wc -l <"$T/upstream-requests.jsonl")
ans=$(raw 'POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}')
shaped "two Content-Length" "$ans" 400 ambiguous_framing
contains "two Content-Length: connection closed" "$ans" "Connection: close"
ans=$(raw 'POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}')
shaped "two equal Content-Length" "$ans" 400 ambiguous_framing
eq "ambiguous framing: nothing upstream" "$(wc -l <"$T/upstream-requests.jsonl")" "$before"
ans=$(raw 'POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}')
eq "one Content-Length is fine" "$(printf '%s' "$ans" | head -n 1 | tr -d '\r')" "HTTP/1.1 200 OK"
eq "still serving" "$(curl -sS -m 5 "$URL/health" | jq -r .status)" ok
stop_daemon
finish
