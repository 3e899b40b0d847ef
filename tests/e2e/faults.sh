#!/usr/bin/env bash
# Faulty backends: a client's error never takes an endpoint out; a local
# program gets bounded parameters and none of the daemon's descriptors.
. "$(dirname "$0")/lib.sh"
need socat socat || finish
# 1. A voice the backend does not have: 20 requests answered its 400, the
# endpoint stays up, other clients get their audio.
start_tts one --reject-voice nosuch
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
bad=0
for i in $(seq 20); do
	code=$(speech_status "{\"input\":\"Bad voice $i.\",\"voice\":\"nosuch\",\"response_format\":\"wav\"}" "$T/rej.json")
	[ "$code" = 400 ] || bad=$((bad + 1))
done
eq "20 refused requests: each gets the backend's 400" "$bad" 0
eq "OpenAI-shaped, the backend's message in it" \
    "$(jq -r '[.error.type, .error.code, (.error.message | test("Voice .nosuch. is not available"))] | @tsv' "$T/rej.json")" \
    "$(printf 'invalid_request_error\ttts_request_refused\ttrue')"
eq "each was asked once (not retried elsewhere)" "$(nreq one)" 20
eq "/health: the endpoint is up, no error counted" \
    "$(curl -sS "$URL/health" | jq -r '.endpoints[0] | "\(.state) \(.errors)"')" "up 0"
eq "endpoints.list: up" "$(adm '{"cmd":"endpoints.list"}' | jq -r '.data[0].state')" up
eq "another client still gets 200" \
    "$(speech_status '{"input":"A good voice speaks.","response_format":"wav"}' "$T/good.wav")" 200
# The backend's own failures still count: three 500s take it out.
curl -sS -X POST "$TTS_URL/_fake/set?fail-first=3" >/dev/null
for i in 1 2 3; do speech_status "{\"input\":\"Fails $i.\",\"response_format\":\"wav\"}" /dev/null >/dev/null; done
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
    "$(speech_status @"$T/big.json" "$T/big.out")" 400
contains "naming the limit" "$(jq -r .error.message "$T/big.out")" "longer than 32768 bytes"
check "the program was not run for it" test ! -e "$T/fds"
bad=0
for i in $(seq 5); do
	code=$(speech_status "{\"input\":\"Refused $i.\",\"voice\":\"bad\",\"response_format\":\"wav\"}" "$T/bad.json")
	[ "$code" = 400 ] || bad=$((bad + 1))
done
eq "5 voices the program refuses: 400 each" "$bad" 0
contains "with what the program said" "$(jq -r .error.message "$T/bad.json")" "unknown voice: bad"
wait_for sh -c "curl -sS '$URL/health' | jq -e '.endpoints[0].in_flight == 0' >/dev/null"
eq "the program is still up" "$(curl -sS "$URL/health" | jq -r '.endpoints[0] | "\(.state) \(.errors)"')" "up 0"
rm -f "$T/fds"
eq "and speaks for others" "$(speech_status '{"input":"The program speaks.","response_format":"wav"}' "$T/prog.wav")" 200
eq "its streamed WAV (a guessed length) served whole" "$(stat -c %s "$T/prog.wav")" 9644
# (3 is the directory ls lists)
eq "it had only 0, 1 and 2 open" "$(sort -n "$T/fds" | tr '\n' ' ')" "0 1 2 3 "
stop_daemon

# 3. Answers that are not audio of the format asked: never cached, never
# served; retried on another endpoint.
start_tts html --answer text
html=$TTS_URL
start_tts good
good=$TTS_URL
TTS_ENDPOINTS="$html|weight=100,$good" NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
bad=0
for i in 1 2 3 4; do
	code=$(speech_status "$(say "Served from the good one $i." wav)" "$T/g$i.wav")
	{ [ "$code" = 200 ] && soxi "$T/g$i.wav" >/dev/null 2>&1; } || bad=$((bad + 1))
done
eq "an endpoint answering HTML: every request served as WAV by the other" "$bad" 0
check "the HTML one was asked" test "$(nreq html)" -ge 1
stop_daemon

TTS_ENDPOINTS=$html NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
n0=$(nreq html)
eq "HTML alone: 502" "$(speech_status "$(say "Never audio." wav)" "$T/h.json")" 502
contains "saying it is not audio" "$(jq -r .error.message "$T/h.json")" "not audio"
speech_status "$(say "Never audio." wav)" "$T/h2.json" >/dev/null
eq "not cached: asked again" "$(nreq html)" $((n0 + 2))
stop_daemon

start_tts cut --answer truncated
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
# (its first bytes were streamed already: the client's answer ends short)
speech_status "$(say "Cut in the middle." wav)" "$T/c.wav" >/dev/null
check "a WAV cut short: the client's answer is not made whole" not exact_wav "$T/c.wav"
check "the reason logged" grep -q "cut short" "$T/daemon.log"
speech_status "$(say "Cut in the middle." wav)" /dev/null >/dev/null
eq "not cached: asked again" "$(nreq cut)" 2
# The stream is cut without its last chunk: the client can tell that the
# audio it got is not whole (curl: transfer closed, exit 18).
run curl -sS -m 30 "${K[@]}" -H 'Content-Type: application/json' \
    -o "$T/c3.wav" --data-binary "$(say "Cut in the middle." wav)" \
    "$URL/v1/audio/speech"
eq "a stream cut short ends as a cut transfer, not a clean end" "$rc" 18
check "and some audio came first" test -s "$T/c3.wav"
stop_daemon

start_tts stream --unknown-length --chunks 4
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
eq "a streamed WAV (unknown length) is audio" "$(speech_status "$(say "Streamed without a length." wav)" "$T/s.wav")" 200
eq "served whole" "$(($(stat -c %s "$T/s.wav") - 44))" $((26 * 30 * 24 * 2))
stop_daemon

# Asked for mp3, answered WAV: the endpoint is remembered as not making
# mp3, and mp3 is converted from its WAV from then on.
start_tts wavonly --answer wav
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
code=$(speech_status '{"input":"Only WAV here.","response_format":"mp3"}' "$T/m1.out")
eq "mp3 answered with WAV: refused (502), asking to ask again" "$code $(jq -r .error.message "$T/m1.out" | grep -o 'ask again')" "502 ask again"
code=$(speech_status '{"input":"Only WAV here.","response_format":"mp3"}' "$T/m2.mp3")
eq "asked again: 200 audio/mpeg" "$code $(header "$T/m2.mp3.h" Content-Type)" "200 audio/mpeg"
eq "made from the WAV asked of it" "$(jq -r 'select(.path=="/v1/audio/speech") | .body.response_format // "wav"' "$T/tts-wavonly.jsonl" | tail -n1)" wav
stop_daemon

# 4. An answer over TTS_MAX_AUDIO_BYTES fails, is not cached, and does not
# count against the endpoint.
start_tts long --min-ms 5000
TTS_ENDPOINTS=$TTS_URL TTS_MAX_AUDIO_BYTES=100K NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
speech_status "$(say "Five seconds of audio." wav)" "$T/l.wav" >/dev/null
check "a 240 KB answer over a 100 KB cap: no more than the cap sent" test "$(stat -c %s "$T/l.wav")" -le 102400
check "the reason logged, naming the limit" grep -q "TTS_MAX_AUDIO_BYTES (102400 bytes)" "$T/daemon.log"
speech_status "$(say "Five seconds of audio." wav)" /dev/null >/dev/null
eq "asked once each time: not retried, not cached" "$(nreq long)" 2
eq "the endpoint is up" "$(curl -sS "$URL/health" | jq -r '.endpoints[0] | "\(.state) \(.errors)"')" "up 0"
stop_daemon

# 5. A backend killed -9 mid-reply, its segments part way through: each is
# synthesised again elsewhere, the bytes already sent kept; no segment is
# lost, and the reply audio (and a reader streaming it meanwhile) holds
# every segment whole.  a sends its chunks 5 s apart, so a segment on it is
# still part way when the kill comes, however slow the machine.
start_upstream
start_tts a --chunks 10 --chunk-delay-ms 5000
a=$TTS_URL; a_pid=$TTS_PID
start_tts b --chunks 10 --chunk-delay-ms 80
b=$TTS_URL
TTS_ENDPOINTS="$a|weight=5,$b" TTS_DEFAULT_FORMAT=wav NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 start_daemon
id=$(chat_reply "The first sentence is here. The second one follows it. A third one comes next. The fourth goes on. Then a fifth. And the sixth ends it.")
curl -sS --max-time 60 "${K[@]}" -o "$T/live.wav" "$URL/v1/audio/replies/$id?format=wav" &
live=$!
# part_way: a segment on a has some of its bytes, not all.
part_way() {
	curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments" | jq -e --arg a "$a" \
	    'any(.segments[]; .endpoint == $a and .bytes > 0 and .state != "done")' >/dev/null
}
check "a is synthesising part way" wait_for part_way
kill -9 "$a_pid"
done_all() { curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments" | jq -e '.segments | length > 0 and all(.state == "done" or .state == "failed")' >/dev/null; }
check "the reply's segments end" wait_secs 60 done_all
segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments")
eq "0 lost segments" "$(jq -r '[.segments[].state] | map(select(. != "done")) | length' <<<"$segs")" 0
check "one was cut part way and made again" grep -q "first .* bytes came before .* failed" "$T/daemon.log"
want=$(jq '[.segments[].text | length * 30 | if . < 100 then 100 else . end | . * 24] | add' <<<"$segs")
curl -sS --max-time 30 "${K[@]}" -o "$T/after.wav" "$URL/v1/audio/replies/$id?format=wav"
eq "the reply audio holds every segment's samples" "$(soxi -s "$T/after.wav")" "$want"
wait "$live"
eq "and so did the reader streaming it meanwhile" "$((($(stat -c %s "$T/live.wav") - 44) / 2))" "$want"
stop_daemon

# 6. A reply whose segments come at two rates and layouts (24 kHz mono,
# 48 kHz stereo): the merged WAV is one rate and layout, the first
# segment's, every segment brought to it at its own length.
start_tts mono --latency-ms 50
mono=$TTS_URL
start_tts stereo --latency-ms 50 --rate 48000 --channels 2
stereo=$TTS_URL
TTS_ENDPOINTS="$mono|max=1,$stereo|max=1" TTS_DEFAULT_FORMAT=wav NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 start_daemon
id=$(chat_reply "One rate here for a start. Another rate there maybe. A third sentence to share. A fourth one for luck. The fifth is the last.")
check "the reply's segments end" wait_for done_all
check "both endpoints made some" sh -c "[ $(nreq mono) -ge 1 ] && [ $(nreq stereo) -ge 1 ]"
segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments")
curl -sS --max-time 30 "${K[@]}" -o "$T/mixed.wav" "$URL/v1/audio/replies/$id?format=wav"
rate=$(soxi -r "$T/mixed.wav"); ch=$(soxi -c "$T/mixed.wav")
want=$(jq --argjson r "$rate" '[.segments[].text | length * 30 | if . < 100 then 100 else . end | . * $r / 1000] | add' <<<"$segs")
eq "one layout, the first segment's" "$rate $ch" "$([ "$(jq -r '.segments[0].endpoint' <<<"$segs")" = "$stereo" ] && echo "48000 2" || echo "24000 1")"
eq "every segment at its length in it" "$(soxi -s "$T/mixed.wav")" "$want"
check "the other rate was brought to it" grep -q "brought from" "$T/daemon.log"
# The same as mp3 (joined, then converted): one rate too.
code=$(curl -sS --max-time 30 "${K[@]}" -o "$T/mixed.mp3" -w '%{http_code}' "$URL/v1/audio/replies/$id?format=mp3")
d=$(dur mp3 "$T/mixed.mp3")
eq "as mp3: 200" "$code" 200
check "as mp3: the whole length ($d s)" awk -v d="$d" -v w="$want" -v r="$rate" 'BEGIN { s = w / r; exit !(d > s - 0.2 && d < s + 0.2) }'
stop_daemon

# 7. An endpoint that refuses a format with a 400: the request's fault
# until the same model, voice and speed worked there in another format;
# then the format is remembered as not made there and converted from WAV.
start_tts wavpcm --formats wav,pcm
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon
eq "mp3 refused, nothing known yet: the backend's 400" \
    "$(speech_status '{"input":"Format one.","voice":"nova","response_format":"mp3"}' "$T/f1.json") $(jq -r .error.code "$T/f1.json")" "400 tts_request_refused"
eq "the same voice as WAV works" "$(speech_status '{"input":"Format two.","voice":"nova","response_format":"wav"}' "$T/f2.wav")" 200
code=$(speech_status '{"input":"Format three.","voice":"nova","response_format":"mp3"}' "$T/f3.json")
eq "mp3 refused again: now known as the format's fault (502, ask again)" \
    "$code $(jq -r .error.message "$T/f3.json" | grep -o 'ask again')" "502 ask again"
code=$(speech_status '{"input":"Format three.","voice":"nova","response_format":"mp3"}' "$T/f4.mp3")
eq "asked again: converted, 200 audio/mpeg" "$code $(header "$T/f4.mp3.h" Content-Type)" "200 audio/mpeg"
eq "from the WAV asked of the endpoint" "$(jq -r 'select(.path=="/v1/audio/speech") | .body.response_format' "$T/tts-wavpcm.jsonl" | tail -n1)" wav
eq "the endpoint is up, no error counted" "$(curl -sS "$URL/health" | jq -r '.endpoints[0] | "\(.state) \(.errors)"')" "up 0"
stop_daemon

finish
