#!/usr/bin/env bash
# Secrets in a TTS endpoint's URL (a password, a user, a query value) and
# its key= option are never shown: not in /health or /metrics, not over the
# admin socket (endpoint list, stats, watch events, errors), not in the
# log.  An endpoint is named either by the URL typed or by the name shown.
. "$(dirname "$0")/lib.sh"
need jq jq || finish
CTL=$TTSACCELCTL
PW=pw-s3cr3t
KEY=sk-k3ys3cr3t
# none DESCRIPTION TEXT: neither secret is in TEXT (and TEXT is not empty).
none() {
	if [ -n "$2" ] && [[ $2 != *"$PW"* ]] && [[ $2 != *"$KEY"* ]] &&
	    [[ $2 != *qs3cr3t* ]]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		echo "    in: $2" | head -c 2000; echo
		fails=$((fails + 1))
	fi
}

start_tts a
A_URL="http://user:$PW@127.0.0.1:$TTS_PORT"
A_SHOWN="http://user:****@127.0.0.1:$TTS_PORT"
start_tts b
B_URL="http://$PW@127.0.0.1:$TTS_PORT"
B_SHOWN="http://****@127.0.0.1:$TTS_PORT"
NEWAPI_API_KEY=sk-test LOG_LEVEL=debug TTS_ENDPOINTS="$A_URL|key=$KEY" \
    start_daemon
export TTSACCEL_SOCKET=$SOCK

"$CTL" watch --json >"$T/watch.out" 2>&1 &
W=$!
PIDS+=("$W")
wait_for sh -c "test \$('$CTL' --json stats | jq -r .watchers) -eq 1"
eq "speech through an endpoint with a password" "$(speak "A secret word.")" 200
wait_for grep -q 'segment.done' "$T/watch.out"

health=$(curl -sS "$URL/health")
contains "/health names the endpoint, masked" "$health" "$A_SHOWN"
none "/health shows no secret" "$health"
metrics=$(curl -sS "$URL/metrics")
contains "/metrics names the endpoint, masked" "$metrics" "endpoint=\"$A_SHOWN\""
none "/metrics shows no secret" "$metrics"
list=$("$CTL" endpoint list 2>&1)
contains "endpoint list names it, masked" "$list" "$A_SHOWN"
none "endpoint list shows no secret" "$list"
none "endpoint list --json shows no secret" "$("$CTL" --json endpoint list 2>&1)"
stats=$("$CTL" --json stats 2>&1)
contains "--json stats names it, masked" "$stats" "$A_SHOWN"
none "--json stats shows no secret" "$stats"

# Added live with a user only (a token), then named as typed.
out=$("$CTL" endpoint add "$B_URL" 2>&1)
contains "endpoint add answers with the name masked" "$out" "$B_SHOWN"
none "and shows no secret" "$out"
out=$("$CTL" endpoint add "$B_URL" 2>&1)
none "adding it twice: the error shows no secret" "$out"
out=$("$CTL" endpoint add "http://u:$PW@127.0.0.1:1/?k=qs3cr3t|bogus=1" 2>&1)
contains "a bad endpoint: an error" "$out" "unknown option"
none "a bad endpoint: the error shows no secret" "$out"
out=$("$CTL" endpoint drain "http://u:$PW@127.0.0.1:1" 2>&1)
contains "draining no endpoint: an error" "$out" "no endpoint 'http://u:****@127.0.0.1:1'"
none "and it shows no secret" "$out"
out=$("$CTL" --json endpoint remove "$B_URL" 2>&1)
check "endpoint remove by the URL typed" \
    test "$("$CTL" --json endpoint list | jq 'length')" -eq 1
# Drained by the name shown: the watch event names it masked.
"$CTL" endpoint drain "$A_SHOWN" >/dev/null 2>&1
check "endpoint drain by the name shown" wait_for sh -c \
    "'$CTL' --json endpoint list | jq -e 'length == 0' >/dev/null"
check "watch saw the drain" wait_for grep -q draining "$T/watch.out"
kill -INT "$W"
wait "$W" 2>/dev/null
watch=$(cat "$T/watch.out")
contains "watch events name it, masked" "$watch" "$A_SHOWN"
none "watch events show no secret" "$watch"
stop_daemon
log=$(cat "$T/daemon.log")
contains "the log names it, masked" "$log" "$A_SHOWN"
none "the log (debug) shows no secret" "$log"
finish
