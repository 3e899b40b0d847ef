#!/usr/bin/env bash
# SIGTERM: stop accepting, let streams in progress finish, exit 0.
. "$(dirname "$0")/lib.sh"

start_upstream --delay-ms 100
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon

# A stream of ~20 chunks at 100 ms: about two seconds.
curl -sS -N -H 'Authorization: Bearer sk-test' -o "$T/stream.out" \
    -d '{"model":"m","messages":[{"role":"user","content":"ECHO:This reply takes a while to stream, chunk by chunk, so that a stop can wait for it."}],"stream":true}' \
    "$URL/v1/chat/completions" &
client=$!
sleep 0.5
kill -TERM "$DAEMON_PID"
sleep 0.3
code=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null)
eq "new connections refused while draining" "$code" 000
wait "$client"
contains "the stream in progress finished" "$(tail -n 3 "$T/stream.out")" "data: [DONE]"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "daemon exit status" "$rc" 0
check "drain logged" grep -q 'waiting for 1 stream' "$T/daemon.log"

# A stream longer than TTSACCEL_SHUTDOWN_TIMEOUT is cut at the deadline.
TTSACCEL_SHUTDOWN_TIMEOUT=1 NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon
curl -sS -N -H 'Authorization: Bearer sk-test' -H 'X-Fake-Fault: hang' -o /dev/null \
    -d '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}' \
    "$URL/v1/chat/completions" &
client=$!
sleep 0.3
t0=$SECONDS
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "exit 0 after the deadline" "$rc" 0
check "stopped within the bound" test $((SECONDS - t0)) -le 4
wait "$client" 2>/dev/null
finish
