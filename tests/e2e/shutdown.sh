#!/usr/bin/env bash
# SIGTERM: stop accepting, let streams in progress finish, exit 0.
. "$(dirname "$0")/lib.sh"

start_upstream --delay-ms 100
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon

# A stream of ~20 chunks at 100 ms: about two seconds.
curl -sS -N "${K[@]}" -o "$T/stream.out" \
    -d '{"model":"m","messages":[{"role":"user","content":"ECHO:This reply takes a while to stream, chunk by chunk, so that a stop can wait for it."}],"stream":true}' \
    "$URL/v1/chat/completions" &
client=$!
wait_for grep -qs '^data: ' "$T/stream.out"
kill -TERM "$DAEMON_PID"
# Draining: the listener is closed before this is said.
wait_for grep -q 'waiting for 1 stream' "$T/daemon.log"
code=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null)
eq "new connections refused while draining" "$code" 000
wait "$client"
contains "the stream in progress finished" "$(tail -n 3 "$T/stream.out")" "data: [DONE]"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "daemon exit status" "$rc" 0
check "drain logged" grep -q 'waiting for 1 stream' "$T/daemon.log"

# Streams longer than TTSACCEL_SHUTDOWN_TIMEOUT are cut at the deadline:
# each ends with an error event (OpenAI-shaped), logged as cut by
# shutdown; those that finish in time finish; a chat not yet answered
# gets a 503.
TTSACCEL_SHUTDOWN_TIMEOUT=1 NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon
clients=()
for i in 1 2 3 4 5 6; do
	case $i in
	[1-3]) fault=hang ;;		# never ends: cut
	4) fault=hang:3 ;;		# a few chunks, then quiet: cut
	*) fault=none ;;		# ~2 chunks at 100 ms: done in time
	esac
	msg=$([ "$i" -ge 5 ] && echo 'ECHO:Short one.' || echo x)
	curl -sS -N -m 30 "${K[@]}" -H "X-Fake-Fault: $fault" \
	    -o "$T/cut$i.out" \
	    -d '{"model":"m","messages":[{"role":"user","content":"'"$msg"'"}],"stream":true}' \
	    "$URL/v1/chat/completions" &
	clients+=($!)
done
curl -sS -m 30 "${K[@]}" -H 'X-Fake-Fault: hang' \
    -o "$T/whole.out" -w '%{http_code}' \
    -d '{"model":"m","messages":[{"role":"user","content":"x"}]}' \
    "$URL/v1/chat/completions" >"$T/whole.code" &
clients+=($!)
# All seven at the upstream (after the first part's one chat).
nchats() { grep -c '"path":"/v1/chat/completions"' "$T/upstream-requests.jsonl"; }
nchats_ge() { [ "$(nchats)" -ge "$1" ]; }
wait_for nchats_ge 8
t0=$SECONDS
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "exit 0 after the deadline" "$rc" 0
check "stopped within the bound (not the clients' 30 s)" test $((SECONDS - t0)) -le 10
wait "${clients[@]}" 2>/dev/null
done_=0 cut=0 bad=0
for i in 1 2 3 4 5 6; do
	last=$(grep '^data: ' "$T/cut$i.out" | tail -n 1)
	if [ "$last" = "data: [DONE]" ]; then
		done_=$((done_ + 1))
	elif jq -e '.error.code == "shutting_down" and .error.type == "server_error" and (.error.message | test("send the request again")) and (.error | has("param"))' <<<"${last#data: }" >/dev/null 2>&1; then
		cut=$((cut + 1))
	else
		bad=$((bad + 1)); echo "# stream $i ends with: $last"
	fi
done
eq "every stream either finished or ended with an error event" "$bad" 0
eq "the short ones finished" "$done_" 2
eq "the long ones were cut with an error event" "$cut" 4
eq "the chat not yet answered got a 503" "$(cat "$T/whole.code")" 503
eq "an OpenAI-shaped error" "$(jq -r .error.type "$T/whole.out")" server_error
eq "cuts logged as such" "$(grep -c 'cut by shutdown' "$T/daemon.log")" 5
eq "none logged as closed by the client" "$(grep -c 'client closed' "$T/daemon.log")" 0
# Audio at the deadline: a stream whose first bytes are sent is cut
# without its last chunk, so the client sees a transfer cut short (curl
# exit 18), not a clean end; a speech request not yet answered gets a
# 503.  Logged as cut by shutdown.
start_tts slow --chunks 40 --chunk-delay-ms 250
TTSACCEL_SHUTDOWN_TIMEOUT=1 TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 start_daemon
curl -sS -m 20 -o "$T/a1.wav" "${K[@]}" -H 'Content-Type: application/json' \
    --data-binary "$(say "Streamed slowly." wav)" \
    "$URL/v1/audio/speech" 2>/dev/null &
a1=$!
check "the audio stream has begun" wait_for test -s "$T/a1.wav"
eq "one synthesis in flight" "$(curl -sS "$TTS_URL/_fake/stats" | jq -r .active)" 1
curl -sS -X POST "$TTS_URL/_fake/set?hold=1" >/dev/null
curl -sS -m 20 -o "$T/a2.json" -w '%{http_code}' "${K[@]}" \
    -H 'Content-Type: application/json' \
    --data-binary "$(say "Held back." wav)" \
    "$URL/v1/audio/speech" >"$T/a2.code" 2>/dev/null &
a2=$!
check "the second speech request is held" wait_for sh -c "test \"\$(curl -sS '$TTS_URL/_fake/stats' | jq -r .active)\" = 2"
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
eq "exit 0 after the deadline" "$rc" 0
rc=0; wait "$a1" || rc=$?
eq "the audio stream cut: the client sees a transfer cut short" "$rc" 18
rc=0; wait "$a2" || rc=$?
eq "the speech request not yet answered: 503" "$rc $(cat "$T/a2.code")" "0 503"
eq "saying to send it again" "$(jq -r .error.code "$T/a2.json")" shutting_down
eq "both logged as cut by shutdown" "$(grep -c 'cut by shutdown' "$T/daemon.log")" 2
curl -sS -X POST "$TTS_URL/_fake/set?hold=0" >/dev/null
finish
