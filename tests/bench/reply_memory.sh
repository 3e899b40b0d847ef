#!/usr/bin/env bash
# Memory of one large chat reply (not in CI): a reply of REPLY_MB MiB
# (default 64) streamed from the fake upstream through the daemon, then
# the same answer not streamed.  VmRSS is sampled every 50 ms while it
# flows; printed: the reply's size, the daemon's RSS before, its peak
# while (VmHWM), right after, and once the reply expired (CACHE_TTL=2, on
# the daemon's timer, no request meanwhile), each also as a ratio to the
# reply's size; audio_kb is the part of after_kb that is the cache's
# audio (finished and in flight, bounded by the cache's own limits), not
# the reply's.  A reply's prefetch stops at REPLY_MAX_BYTES: what stays
# must be that, not the reply.
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

MB=${REPLY_MB:-64}
KEY=sk-test
# 1 KiB of text, repeated.
unit=$(python3 -c 'import sys; s = "A long answer goes on and on here, sentence after sentence. " * 20; sys.stdout.write(s[:1024])')
rep=$((MB * 1024))

for f in "$TTSACCEL" "$BUILD/tests/fake_tts" "$FAKE_UPSTREAM"; do
	[ -x "$f" ] || { echo "reply_memory: $f is missing (make testbins)" >&2; exit 1; }
done
start_upstream --chunk 65536 --repeat "$rep" --reply "$unit" || exit 1
start_tts mem || exit 1
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-up API_KEYS=$KEY TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 CACHE_TTL=2 LOG_LEVEL=WARNING start_daemon || exit 1

kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$DAEMON_PID/status"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# cachekb: the cache's finished audio and what is in flight, in KB.
cachekb() { curl -sS -m 5 "$URL/cache/stats" | jq '(.bytes + .in_flight_bytes) / 1024 | floor'; }
replies() { curl -sS -m 5 "$URL/cache/stats" | jq .replies; }
replies_are() { [ "$(replies)" = "$1" ]; }

# one STREAM: a chat (stream true or false), its answer counted; prints
# the figures.
one() {
	local stream=$1 before peak=0 r after got sampler
	before=$(kb VmRSS)
	# VmHWM is the peak since start: reset it (Linux >= 4.0).
	echo 5 >"/proc/$DAEMON_PID/clear_refs" 2>/dev/null || true
	( while kill -0 "$DAEMON_PID" 2>/dev/null; do kb VmRSS; sleep 0.05; done ) >"$T/rss-$stream" &
	sampler=$!
	got=$(curl -sS -m 600 -N -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' \
	    -d '{"model":"m","stream":'"$stream"',"messages":[{"role":"user","content":"Say it."}]}' \
	    "$URL/v1/chat/completions" | wc -c)
	after=$(kb VmRSS) acache=$(cachekb)
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	peak=$(sort -n "$T/rss-$stream" | tail -n 1)
	hwm=$(kb VmHWM)
	[ "${hwm:-0}" -gt "${peak:-0}" ] && peak=$hwm
	wait_secs 30 replies_are 0 || echo "reply_memory: the reply did not expire" >&2
	sleep 1.5	# glibc trims on the next free; let the timer run once more
	r=$(kb VmRSS)
	printf '%-9s %10d %10d %10d %10d %10d %10d  %s %s %s\n' "stream=$stream" \
	    $((got / 1024)) "$before" "$peak" "$after" "$acache" "$r" \
	    "$(ratio $((peak - before)) $((got / 1024)))" \
	    "$(ratio $((after - before)) $((got / 1024)))" \
	    "$(ratio $((r - before)) $((got / 1024)))"
}

echo "reply_memory: a reply of $MB MiB of text; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %10s %10s %10s %10s %10s %10s  %s\n' "" answer_kb rss_before peak_kb \
    after_kb audio_kb expired_kb "(peak-before)/answer (after-before)/answer (expired-before)/answer"
one true
one false
stop_daemon
