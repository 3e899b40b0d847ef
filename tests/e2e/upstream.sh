#!/usr/bin/env bash
# What the daemon knows of its upstream: the start-up probe and its one
# warning, /health's "upstream" object (up, failing, unreachable, not
# configured; never a 503 for it) and `ttsaccelctl health`'s line; and
# /v1/models with the TTS model appended.
. "$(dirname "$0")/lib.sh"
need jq jq || finish

start_tts fast --latency-ms 5
health() { curl -sS "$URL/health"; }
now() { date +%s.%N; }
ustate() { [ "$(health | jq -r .upstream.state)" = "$1" ]; }
chat_code() {  # chat_code [CURL ARGS...]: the status of a short chat
	chat '{"model":"m","messages":[{"role":"user","content":"ECHO:Hi."}]}' \
	    -o /dev/null -w '%{http_code}' "$@"
}

# --- an upstream that does not exist: one warning, /health says so.
DEAD=$(free_port)
NEWAPI_BASE_URL=http://127.0.0.1:$DEAD NEWAPI_API_KEY=sk-test \
    TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 start_daemon || finish
check "start-up: the upstream that cannot be reached is logged" wait_for \
    grep -q "the upstream http://127.0.0.1:$DEAD cannot be reached" "$T/daemon.log"
check "/health: the upstream is unreachable" wait_for ustate unreachable
code=$(curl -s -o "$T/h1.json" -w '%{http_code}' "$URL/health")
eq "/health: still 200, speech works" "$code/$(jq -r .status "$T/h1.json")" 200/ok
eq "/health: never answered" \
    "$(jq -c '.upstream | [.answered_seconds_ago, .status]' "$T/h1.json")" "[null,null]"
check "/health: the error says why ($(jq -r .upstream.error "$T/h1.json"))" \
    test -n "$(jq -r '.upstream.error // empty' "$T/h1.json")"
check "/health: and when" jq -e '.upstream.error_seconds_ago >= 0' "$T/h1.json" >/dev/null
eq "a chat: 502" "$(chat_code)" 502
eq "the warning is said once" \
    "$(grep -c 'cannot be reached' "$T/daemon.log")" 1
run "$TTSACCELCTL" -s "$SOCK" health
eq "ttsaccelctl health: exit 0 (speech works)" "$rc" 0
contains "ttsaccelctl health: says the upstream is unreachable" "$out" \
    "upstream: unreachable: "
run "$TTSACCELCTL" -s "$SOCK" --json health
eq "ttsaccelctl --json health: the state" \
    "$(jq -r .upstream.state <<<"$out")" unreachable
stop_daemon

# --- an upstream that answers: the probe asks /v1/models with the key.
start_upstream
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 TTS_DEFAULT_MODEL=tts-x start_daemon || finish
check "/health: the upstream is up" wait_for ustate up
check "the probe: GET /v1/models with the upstream key" wait_for sh -c \
    "jq -e 'select(.path == \"/v1/models\" and .headers.authorization == \"Bearer sk-test\")' \
    '$T/upstream-requests.jsonl' >/dev/null"
eq "/health: its answer" "$(health | jq -c '.upstream | [.status, .error]')" "[200,null]"
check "/health: answered lately" sh -c \
    "curl -sS '$URL/health' | jq -e '.upstream.answered_seconds_ago < 10' >/dev/null"
contains "start-up: the log says it answers" "$(cat "$T/daemon.log")" \
    "the upstream $UP_URL answers (GET /v1/models: 200)"
check "and no warning" sh -c "! grep -q 'cannot be reached' '$T/daemon.log'"
run "$TTSACCELCTL" -s "$SOCK" health
contains "ttsaccelctl health: the upstream is up" "$out" "upstream: up (answered "

# A 5xx answer: failing, with the status as the error.
eq "a chat the upstream answers 500" "$(chat_code -H 'X-Fake-Fault: status:500')" 500
eq "/health: failing" "$(health | jq -c '.upstream | [.state, .status, .error]')" \
    '["failing",500,"answered HTTP 500"]'
eq "a chat answered again" "$(chat_code)" 200
eq "/health: up again" "$(health | jq -r .upstream.state)" up

# /v1/models: the upstream's list with the TTS model appended.
models=$(curl -sS "$URL/v1/models")
direct=$(curl -sS "$UP_URL/v1/models")
eq "/v1/models: the upstream's models first" \
    "$(jq -c '[.data[].id][:-1]' <<<"$models")" "$(jq -c '[.data[].id]' <<<"$direct")"
eq "/v1/models: then the TTS model" \
    "$(jq -c '.data[-1] | [.id, .owned_by]' <<<"$models")" '["tts-x","ttsaccel"]'

# The upstream goes away: the next chat finds it unreachable.
kill -TERM "$UP_PID"; wait "$UP_PID" 2>/dev/null
t0=$(now)	# the news is no older than t0 ...
eq "a chat with the upstream gone: 502" "$(chat_code)" 502
t1=$(now)	# ... and no younger than t1
eq "/health: unreachable" "$(health | jq -r .upstream.state)" unreachable
eq "/health: still 200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" 200
# It comes back with no chat to tell: once the news is over 30 s old, a
# look at /health sends a probe, and the next look shows its answer.
spawn upstream2 "$FAKE_UPSTREAM" --port "$UP_PORT"
wait_port "$UP_PORT"
# (by the clock: however slow the steps between, 5 s short of 30, then
# 1 s past it)
sleep "$(awk -v t="$t0" -v n="$(now)" 'BEGIN { d = t + 25 - n; print (d > 0 ? d : 0) }')"
eq "/health at 25 s: still unreachable (no probe yet)" \
    "$(health | jq -r .upstream.state)" unreachable
sleep "$(awk -v t="$t1" -v n="$(now)" 'BEGIN { d = t + 31 - n; print (d > 0 ? d : 0) }')"
health >/dev/null
check "past 30 s: a look at /health probes, and the next sees it up" \
    wait_for ustate up
stop_daemon

# --- no upstream configured.
TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 start_daemon || finish
eq "/health: not configured" "$(health | jq -c .upstream)" '{"state":"not configured"}'
run "$TTSACCELCTL" -s "$SOCK" health
contains "ttsaccelctl health: not configured" "$out" "upstream: not configured"
check "no probe, no warning" sh -c "! grep -q 'the upstream' '$T/daemon.log'"
stop_daemon
finish
