#!/usr/bin/env bash
# Faulty backends: a client's error never takes an endpoint out; a local
# program gets bounded parameters and none of the daemon's descriptors.
. "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || { echo "socat is needed for this test" >&2; exit 1; }
K=(-H 'Authorization: Bearer sk-test')

adm() { printf '%s\n' "$@" | timeout 10 socat -t 5 - UNIX-CONNECT:"$SOCK"; }
# say JSON OUT -> status
say() { curl -sS --max-time 30 "${K[@]}" -o "$2" -w '%{http_code}' -d "$1" "$URL/v1/audio/speech"; }
nreq() { local n; n=$(grep -c '"path":"/v1/audio/speech"' "$1" 2>/dev/null); echo "${n:-0}"; }
wait_for() {  # wait_for CMD...: up to 10 s
	local i
	for i in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}

# 1. A voice the backend does not have: 20 requests answered its 400, the
# endpoint stays up, other clients get their audio.
start_tts one --reject-voice nosuch
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
bad=0
for i in $(seq 20); do
	code=$(say "{\"input\":\"Bad voice $i.\",\"voice\":\"nosuch\",\"response_format\":\"wav\"}" "$T/rej.json")
	[ "$code" = 400 ] || bad=$((bad + 1))
done
eq "20 refused requests: each gets the backend's 400" "$bad" 0
eq "OpenAI-shaped, the backend's message in it" \
    "$(jq -r '[.error.type, .error.code, (.error.message | test("Voice .nosuch. is not available"))] | @tsv' "$T/rej.json")" \
    "$(printf 'invalid_request_error\ttts_request_refused\ttrue')"
eq "each was asked once (not retried elsewhere)" "$(nreq "$T/tts-one.jsonl")" 20
eq "/health: the endpoint is up, no error counted" \
    "$(curl -sS "$URL/health" | jq -r '.endpoints[0] | "\(.state) \(.errors)"')" "up 0"
eq "endpoints.list: up" "$(adm '{"cmd":"endpoints.list"}' | jq -r '.data[0].state')" up
eq "another client still gets 200" \
    "$(say '{"input":"A good voice speaks.","response_format":"wav"}' "$T/good.wav")" 200
# The backend's own failures still count: three 500s take it out.
curl -sS -X POST "$TTS_URL/_fake/set?fail-first=3" >/dev/null
for i in 1 2 3; do say "{\"input\":\"Fails $i.\",\"response_format\":\"wav\"}" /dev/null >/dev/null; done
eq "three 500s: the endpoint is down" "$(curl -sS "$URL/health" | jq -r '.endpoints[0].state')" down
stop_daemon

# 2. A local program: a 200 KB instructions is the request's fault (a 400
# naming the limit, the program never run); a voice the program refuses
# (it exits 2) is answered 400 with its message, and the endpoint stays
# up; no descriptor of the daemon's reaches the program.
cat >"$T/prog.sh" <<EOF
#!/bin/sh
ls /proc/self/fd >"$T/fds"
case "\$TTS_VOICE" in
bad) echo "unknown voice: \$TTS_VOICE" >&2; exit 2 ;;
esac
cat >/dev/null
exec sox -q -n -r 24000 -b 16 -c 1 -t wav - synth 0.2 sine 440
EOF
chmod +x "$T/prog.sh"
TTS_ENDPOINTS="exec:$T/prog.sh" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
head -c 204800 /dev/zero | tr '\0' a >"$T/big.txt"
jq -cn --rawfile i "$T/big.txt" '{input:"Long instructions.",instructions:$i,response_format:"wav"}' >"$T/big.json"
rm -f "$T/fds"
eq "200 KB of instructions to a program: 400" \
    "$(curl -sS --max-time 30 "${K[@]}" -o "$T/big.out" -w '%{http_code}' --data-binary @"$T/big.json" "$URL/v1/audio/speech")" 400
contains "naming the limit" "$(jq -r .error.message "$T/big.out")" "longer than 32768 bytes"
check "the program was not run for it" test ! -e "$T/fds"
bad=0
for i in $(seq 5); do
	code=$(say "{\"input\":\"Refused $i.\",\"voice\":\"bad\",\"response_format\":\"wav\"}" "$T/bad.json")
	[ "$code" = 400 ] || bad=$((bad + 1))
done
eq "5 voices the program refuses: 400 each" "$bad" 0
contains "with what the program said" "$(jq -r .error.message "$T/bad.json")" "unknown voice: bad"
wait_for sh -c "curl -sS '$URL/health' | jq -e '.endpoints[0].in_flight == 0' >/dev/null"
eq "the program is still up" "$(curl -sS "$URL/health" | jq -r '.endpoints[0] | "\(.state) \(.errors)"')" "up 0"
rm -f "$T/fds"
eq "and speaks for others" "$(say '{"input":"The program speaks.","response_format":"wav"}' "$T/prog.wav")" 200
# (3 is the directory ls lists)
eq "it had only 0, 1 and 2 open" "$(sort -n "$T/fds" | tr '\n' ' ')" "0 1 2 3 "
stop_daemon

finish
