#!/usr/bin/env bash
# Upstream content that cJSON would mangle: a \u0000 escape inside a delta
# must not cut the rest of the delta in a non-streamed answer, and bytes
# that are not UTF-8 must not reach the JSON answer (U+FFFD instead).
. "$(dirname "$0")/lib.sh"

start_upstream --fault dirty --chunk 100
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-up API_KEYS=sk-test start_daemon

body='{"model":"m","messages":[{"role":"user","content":"ECHO:Hello~0world, more~x after. The end."}]}'
code=$(curl -sS -m 10 "${K[@]}" -o "$T/a.json" -w '%{http_code}' -d "$body" "$URL/v1/chat/completions")
eq "non-streamed answer: 200" "$code" 200
check "the answer is valid UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/a.json"
eq "nothing after the NUL is lost; both become U+FFFD" \
    "$(jq -r '.choices[0].message.content' "$T/a.json")" "Hello�world, more� after. The end."
curl -sS -N -m 10 "${K[@]}" -o "$T/s.txt" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"ECHO:a~0b~xc"}]}' "$URL/v1/chat/completions"
check "the fake did send \\u0000 and 0xff (a stream passes them as they came)" \
    python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(not (b"\\u0000" in d and b"\xff" in d))' "$T/s.txt"
stop_daemon
finish
