#!/usr/bin/env bash
# `make soak` (not in CI): SOAK_CHATS chats (default 10000) at
# SOAK_CONCURRENCY (default 20) against the fake upstream and fake TTS,
# each reply prefetched; the daemon's VmRSS is sampled every SOAK_EVERY
# chats (default 500) and printed as a series.  The goal is flat: the
# cache is at its limits early, replies expire, nothing else grows.
# Each chat has its own text (a distinct reply, distinct segments); one
# in ten asks for a whole answer instead of a stream.
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

CHATS=${SOAK_CHATS:-10000}
CONC=${SOAK_CONCURRENCY:-20}
EVERY=${SOAK_EVERY:-500}
KEY=sk-test

for f in "$TTSACCEL" "$BUILD/tests/fake_tts" "$FAKE_UPSTREAM"; do
	[ -x "$f" ] || { echo "soak: $f is missing (make testbins)" >&2; exit 1; }
done
start_upstream --chunk 8 || exit 1
# The request log of the fakes would only grow: not kept.
start_tts soak || exit 1
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-up API_KEYS=$KEY TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 CACHE_MAX_BYTES=16M CACHE_TTL=60 LOG_LEVEL=WARNING \
    start_daemon || exit 1

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$DAEMON_PID/status"; }
stats() { curl -s -m 5 "$URL/cache/stats"; }

# One chat: its number; prints its HTTP status.
cat >"$T/chat.sh" <<'SH'
#!/usr/bin/env bash
n=$1
stream=true
[ $((n % 10)) -eq 0 ] && stream=false
curl -s -m 60 -N -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $KEY" \
    -d '{"model":"m","stream":'$stream',"messages":[{"role":"user","content":"ECHO:Chat number '"$n"' begins here. It says a second thing, and then a third one. The end of chat '"$n"'."}]}' \
    "$URL/v1/chat/completions"
SH
chmod +x "$T/chat.sh"
export KEY URL

printf 'soak: %d chats at concurrency %d; VmRSS every %d chats\n' "$CHATS" "$CONC" "$EVERY"
# row CHATS: the figures after CHATS chats: VmRSS, the cache's finished
# audio (KB, entries), syntheses in flight, evictions, replies kept.
row() {
	local s
	s=$(stats)
	printf '%8d %10d %10d %8d %9d %9d %8d\n' "$1" "$(rss)" \
	    "$(($(jq .bytes <<<"$s") / 1024))" "$(jq .entries <<<"$s")" \
	    "$(jq .in_flight <<<"$s")" "$(jq .evictions <<<"$s")" \
	    "$(jq .replies <<<"$s")"
}
printf '%8s %10s %10s %8s %9s %9s %8s\n' chats rss_kb cache_kb entries \
    in_flight evictions replies
row 0
bad=0 t0=$SECONDS
for ((from = 1; from <= CHATS; from += EVERY)); do
	to=$((from + EVERY - 1))
	[ "$to" -gt "$CHATS" ] && to=$CHATS
	n=$(seq "$from" "$to" | xargs -P "$CONC" -n 1 "$T/chat.sh" | grep -vc '^200$')
	bad=$((bad + n))
	row "$to"
done
echo "soak: $CHATS chats in $((SECONDS - t0)) s, $bad not 200"
stop_daemon || exit 1
[ "$bad" -eq 0 ]
