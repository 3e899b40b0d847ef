#!/usr/bin/env bash
# Memory bounds of chat replies: a reply longer than REPLY_MAX_BYTES
# streams whole to its client while its prefetch stops (logged once);
# finished replies go after CACHE_TTL on a timer, with no later request.
. "$(dirname "$0")/lib.sh"

start_upstream --chunk 64
start_tts mem
nsegs() { curl -sS "${K[@]}" "$URL/v1/audio/replies/$1/segments" | jq '.segments | length'; }

# 1. A 60 KB reply with REPLY_MAX_BYTES=4K.
python3 - "$T" <<'PY'
import json, sys
text = "".join("Line %d of a very long answer goes on here. " % i for i in range(1400))
open(sys.argv[1] + "/long.txt", "w").write(text)
json.dump({"model": "m", "stream": True,
    "messages": [{"role": "user", "content": "ECHO:" + text}]},
    open(sys.argv[1] + "/long.json", "w"))
PY
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-up API_KEYS=sk-test TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 REPLY_MAX_BYTES=4K start_daemon
chat @"$T/long.json" -m 60 | sse_text >"$T/got.txt"
check "the client got the whole reply ($(stat -c %s "$T/got.txt") bytes)" cmp -s "$T/got.txt" "$T/long.txt"
id=$(reply_id)
check "a reply id ($id)" test -n "$id"
n=$(nsegs "$id")
check "its prefetch stopped: $n segments, all within 4K of text (under 200)" \
    test "${n:-0}" -gt 0 -a "${n:-0}" -lt 200
eq "logged once" "$(grep -c 'REPLY_MAX_BYTES' "$T/daemon.log")" 1
eq "the reply counts as cut short" \
    "$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments" | jq -r .state)" cut
stop_daemon

# 2. The same reply with the default cap: every segment is prefetched.
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-up API_KEYS=sk-test TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 start_daemon
chat @"$T/long.json" -m 60 | sse_text >"$T/got2.txt"
check "the client got the whole reply" cmp -s "$T/got2.txt" "$T/long.txt"
n=$(nsegs "$(reply_id)")
check "uncapped, far more segments ($n)" test "${n:-0}" -gt 1000
eq "nothing logged about the cap" "$(grep -c 'REPLY_MAX_BYTES' "$T/daemon.log")" 0
stop_daemon

# 3. Finished replies expire on their own: CACHE_TTL=1, no later request
# but the stats (which expire nothing).
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-up API_KEYS=sk-test TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 CACHE_TTL=1 start_daemon
printf '%s' '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' >"$T/short.json"
chat @"$T/short.json" >/dev/null
chat @"$T/short.json" >/dev/null
eq "two replies kept" "$(curl -sS "$URL/cache/stats" | jq .replies)" 2
# replies_kept N: /cache/stats counts N replies (asking expires nothing).
replies_kept() { [ "$(curl -sS "$URL/cache/stats" | jq .replies)" = "$1" ]; }
check "gone after their TTL" wait_for replies_kept 0
stop_daemon
finish
