#!/usr/bin/env bash
# The fake OpenAI Speech server itself, checked with curl directly (no
# daemon): the other end-to-end tests trust what it sends.
. "$(dirname "$0")/lib.sh"

need jq jq || finish
need sox sox || finish
FAKE_TTS=$BUILD/tests/fake_tts
K=()	# no key unless a check sends one

# ge A B / le A B: numeric comparisons for check.
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
req() { jq -nc --arg i "$1" --arg v "${2:-alloy}" '{model: "tts-1", input: $i, voice: $v}'; }

# --- audio -------------------------------------------------------------------
start_tts a
A=$TTS_URL
LOG=$T/tts-a.jsonl
TEXT="Hello there, this is a test."	# 28 code points: 840 ms

eq "wav: 200" "$(speech_at "$A" "$(req "$TEXT")" "$T/a1.wav")" 200
eq "wav: Content-Type audio/wav" "$(header "$T/a1.wav.h" Content-Type)" audio/wav
eq "X-Fake-TTS names the instance" "$(header "$T/a1.wav.h" X-Fake-TTS)" a
eq "sox reads 16-bit mono 24 kHz" \
    "$(sox --i -b "$T/a1.wav") $(sox --i -c "$T/a1.wav") $(sox --i -r "$T/a1.wav")" "16 1 24000"
eq "30 ms per code point" "$(sox --i -s "$T/a1.wav")" $((28 * 30 * 24))
size=$(stat -c %s "$T/a1.wav")
eq "wav_parse: canonical header, data length matches the file" \
    "$("$FAKE_TTS" --wav-info "$T/a1.wav")" \
    "format=1 channels=1 rate=24000 bits=16 data_offset=44 data_len=$((size - 44)) file_len=$size"
peak=$(sox "$T/a1.wav" -n stat 2>&1 | awk '/Maximum amplitude/ { print $3 }')
check "not silent (peak $peak)" ge "$peak" 0.1

speech_at "$A" "$(req "$TEXT")" "$T/a2.wav" >/dev/null
check "identical text: identical bytes" cmp -s "$T/a1.wav" "$T/a2.wav"
speech_at "$A" "$(req "Hello there, this is a tesT.")" "$T/a3.wav" >/dev/null
check "different text of the same length: different bytes" \
    bash -c "! cmp -s '$T/a1.wav' '$T/a3.wav'"
eq "  ... and the same length" "$(stat -c %s "$T/a3.wav")" "$size"
speech_at "$A" "$(req "$TEXT" nova)" "$T/a4.wav" >/dev/null
check "different voice: different bytes" bash -c \
    "test -s '$T/a4.wav' && ! cmp -s '$T/a1.wav' '$T/a4.wav'"
speech_at "$A" "$(req "Hi")" "$T/short.wav" >/dev/null
eq "at least 100 ms" "$(sox --i -s "$T/short.wav")" 2400
speech_at "$A" '{"input":"你好，世界"}' "$T/zh.wav" >/dev/null
eq "length counts code points, not bytes" "$(sox --i -s "$T/zh.wav")" $((5 * 30 * 24))
speech_at "$A" "$(jq -c '. + {speed: 2}' <<<"$(req "$TEXT")")" "$T/fast.wav" >/dev/null
eq "speed 2 halves the length" "$(sox --i -s "$T/fast.wav")" $((28 * 30 * 24 / 2))

eq "pcm: 200" "$(speech_at "$A" "$(jq -c '. + {response_format: "pcm"}' <<<"$(req "$TEXT")")" "$T/a.pcm")" 200
eq "pcm: Content-Type audio/pcm" "$(header "$T/a.pcm.h" Content-Type)" audio/pcm
check "pcm: the wav's samples without the header" \
    cmp -s "$T/a.pcm" <(tail -c +45 "$T/a1.wav")
# Real encodings (their magic), aac an ADTS header and a marker.
for f in mp3:audio/mpeg:fff opus:audio/ogg:4f676753 aac:audio/aac:fff1 flac:audio/flac:664c6143; do
	IFS=: read -r fmt ctype mark <<<"$f"
	speech_at "$A" "$(jq -c --arg f "$fmt" '. + {response_format: $f}' <<<"$(req "$TEXT")")" "$T/a.$fmt" >/dev/null
	# (mp3: a frame's 11-bit sync, or an ID3 tag first)
	magic=$(head -c 4 "$T/a.$fmt" | od -An -tx1 | tr -d ' \n' | cut -c1-${#mark})
	[ "$fmt" = mp3 ] && [ "$(head -c 3 "$T/a.$fmt")" = ID3 ] && magic=fff
	eq "$fmt: $ctype, its magic" "$(header "$T/a.$fmt.h" Content-Type) $magic" "$ctype $mark"
done
d=$(dur mp3 "$T/a.mp3")
check "mp3: frames for about the tone's 0.84 s ($d)" awk -v d="$d" 'BEGIN { exit !(d > 0.7 && d < 1.1) }'

# --- bad requests ------------------------------------------------------------
bad() {
	local code
	code=$(speech_at "$A" "$2" "$T/bad.json")
	eq "$1" "$code $(jq -r .error.type <"$T/bad.json") $(jq -r .error.param <"$T/bad.json")" "$3"
}
bad "missing input: 400" '{"voice":"alloy"}' "400 invalid_request_error input"
bad "empty input: 400" '{"input":""}' "400 invalid_request_error input"
bad "input not a string: 400" '{"input":5}' "400 invalid_request_error input"
bad "unknown format: 400" '{"input":"x","response_format":"ogg"}' "400 invalid_request_error response_format"
bad "speed out of range: 400" '{"input":"x","speed":9}' "400 invalid_request_error speed"
bad "not JSON: 400" 'input=x' "400 invalid_request_error null"
long=$(head -c 4097 /dev/zero | tr '\0' a)
bad "input over 4096 code points: 400" "{\"input\":\"$long\"}" "400 invalid_request_error input"
eq "unknown path: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$A/v1/nope")" 404

# --- health, and the request log ----------------------------------------------
eq "health: 200 ok" "$(curl -s -w ' %{http_code}' "$A/health" | tr -d '\n')" '{"status":"ok"} 200'
eq "log: one line per request, numbered" \
    "$(jq -s '[.[] | .seq] == [range(1; length + 1)]' "$LOG")" true
eq "log: the body's fields and the authorization header" \
    "$(jq -c 'select(.seq == 1) | [.path, .status, .body.input, .body.voice, .body.model, .headers.authorization]' "$LOG")" \
    "[\"/v1/audio/speech\",200,\"$TEXT\",\"alloy\",\"tts-1\",null]"
eq "log: speed and response_format" \
    "$(jq -c 'select(.body.speed == 2 or .body.response_format == "pcm") | [.body.speed, .body.response_format]' "$LOG")" \
    '[2,null]
[null,"pcm"]'
eq "log: t_ms rises" "$(jq -s '[.[] | .t_ms] | . == sort and .[0] >= 0' "$LOG")" true
eq "log: the 400s too" "$(jq -c 'select(.status == 400)' "$LOG" | wc -l)" 7
eq "stats: requests, speech, health" "$(fake_stats "$A" '[.requests, .speech, .health, .active] | join(" ")')" \
    "$(jq -s 'length' "$LOG") $(jq -s 'map(select(.path == "/v1/audio/speech")) | length' "$LOG") 1 0"

# --- latency and chunked streaming --------------------------------------------
start_tts b --latency-ms 300 --chunks 4 --chunk-delay-ms 200
B=$TTS_URL
t=$(curl -s -o "$T/b.wav" -D "$T/b.h" -w '%{time_starttransfer} %{time_total}' \
    -d "$(req "$TEXT")" "$B/v1/audio/speech")
read -r ttfb total <<<"$t"
# libevent's timers may fire a few ms early (its cached clock).
check "first byte after the latency ($ttfb s)" ge "$ttfb" 0.28
check "  ... and not seconds later" le "$ttfb" 10
check "four pieces 200 ms apart ($total s)" ge "$total" 0.85
eq "chunked transfer" "$(header "$T/b.h" Transfer-Encoding)" chunked
check "same bytes as an unchunked instance" cmp -s "$T/a1.wav" "$T/b.wav"
# Pieces arrive one by one: with 60 s between them, the first is here long
# before the second.
curl -sS -X POST "$B/_fake/set?chunks=2&chunk-delay-ms=60000" >/dev/null
curl -s --max-time 90 -d "$(req "$TEXT")" "$B/v1/audio/speech" >"$T/part.wav" &
part=$!
wait_for bigger "$T/part.wav" 44
n=$(stat -c %s "$T/part.wav")
kill "$part" 2>/dev/null
wait "$part" 2>/dev/null
check "a piece at a time ($n of $size bytes, the rest 60 s later)" \
    bash -c "[ $n -gt 44 ] && [ $n -lt $size ]"

start_tts u --unknown-length
speech_at "$TTS_URL" "$(req "$TEXT")" "$T/u.wav" >/dev/null
eq "--unknown-length: data_len 0xffffffff, same samples" \
    "$("$FAKE_TTS" --wav-info "$T/u.wav" | awk '{ print $6 }') $(tail -c +45 "$T/u.wav" | cmp -s - "$T/a.pcm" && echo same)" \
    "data_len=4294967295 same"

# --- failures ------------------------------------------------------------------
start_tts c --fail-first 2
C=$TTS_URL
codes=""
for i in 1 2 3 4; do codes="$codes $(speech_at "$C" "$(req "x$i")" "$T/c.out")"; done
eq "fail-first 2" "$codes" " 500 500 200 200"
curl -s -X POST "$C/_fake/set?fail-first=1" >/dev/null
codes=""
for i in 1 2; do codes="$codes $(speech_at "$C" "$(req "y$i")" "$T/c.out")"; done
eq "/_fake/set fail-first=1: the next one fails" "$codes" " 500 200"
speech_at "$C" '{}' "$T/c.out" >/dev/null
eq "a 400 does not use up fail-first" "$(fake_stats "$C" .failures)" 3
curl -s -X POST "$C/_fake/set?fail-first=1" >/dev/null
speech_at "$C" "$(req z)" "$T/c.err" >/dev/null
eq "a failure is an OpenAI server_error" "$(jq -r .error.type <"$T/c.err")" server_error
eq "log: statuses" "$(jq -r 'select(.path == "/v1/audio/speech") | .status' "$T/tts-c.jsonl" | tr '\n' ' ')" \
    "500 500 200 200 500 200 400 500 "
eq "/_fake/set refuses a bad value" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$C/_fake/set?fail-rate=2")" 400

pattern() {
	local url=$1 out="" i
	for i in $(seq 40); do out="$out$(speech_at "$url" "$(req "t$i")" /dev/null | sed 's/500/x/;s/200/./')"; done
	echo "$out"
}
start_tts d1 --fail-rate 0.5 --seed 7
p1=$(pattern "$TTS_URL")
start_tts d2 --fail-rate 0.5 --seed 7
p2=$(pattern "$TTS_URL")
start_tts d3 --fail-rate 0.5 --seed 8
p3=$(pattern "$TTS_URL")
nx=$(tr -cd x <<<"$p1" | wc -c)
check "fail-rate 0.5: about half fail ($p1)" bash -c "[ $nx -ge 8 ] && [ $nx -le 32 ]"
eq "same seed, same failures" "$p2" "$p1"
check "another seed, other failures ($p3)" test "$p3" != "$p1"
start_tts d4 --fail-rate 1
eq "fail-rate 1: all fail" "$(pattern "$TTS_URL")" "$(printf 'x%.0s' $(seq 40))"

# --- down and up ------------------------------------------------------------
eq "down: 200" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$A/_fake/down")" 200
eq "down: health 503" "$(curl -s -o /dev/null -w '%{http_code}' "$A/health")" 503
eq "down: speech 503" "$(speech_at "$A" "$(req "$TEXT")" "$T/down.out")" 503
eq "down: X-Fake-TTS still sent" "$(header "$T/down.out.h" X-Fake-TTS)" a
eq "down: stats say so" "$(fake_stats "$A" '[.down, .unavailable] | join(" ")')" "true 2"
eq "up: 200" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$A/_fake/up")" 200
eq "up: health 200" "$(curl -s -o /dev/null -w '%{http_code}' "$A/health")" 200
eq "up: speech 200" "$(speech_at "$A" "$(req "$TEXT")" "$T/up.wav")" 200

# --- keys ----------------------------------------------------------------------
start_tts e --require-key sekrit
E=$TTS_URL
eq "require-key: none, 401" "$(speech_at "$E" "$(req "$TEXT")" "$T/e.out")" 401
eq "require-key: wrong, 401" "$(speech_at "$E" "$(req "$TEXT")" "$T/e.out" -H 'Authorization: Bearer nope')" 401
eq "require-key: right, 200" "$(speech_at "$E" "$(req "$TEXT")" "$T/e.out" -H 'Authorization: Bearer sekrit')" 200
eq "require-key: health is open" "$(curl -s -o /dev/null -w '%{http_code}' "$E/health")" 200
eq "log: the authorization header" \
    "$(jq -r 'select(.path == "/v1/audio/speech") | .headers.authorization' "$T/tts-e.jsonl" | tr '\n' ' ')" \
    "null Bearer nope Bearer sekrit "

# --- max-active ------------------------------------------------------------------
# Two held (hold=1) until the third has had its answer.
start_tts f --max-active 2 --latency-ms 600
F=$TTS_URL
curl -sS -X POST "$F/_fake/set?hold=1" >/dev/null
pids=()
for i in 1 2; do
	{ speech_at "$F" "$(req "m$i")" "$T/f$i.out"; echo; } >"$T/f$i.code" &
	pids+=($!)
done
wait_for fake_is "$F" .active 2
{ speech_at "$F" "$(req m3)" "$T/f3.out"; echo; } >"$T/f3.code"
curl -sS -X POST "$F/_fake/set?hold=0" >/dev/null
wait "${pids[@]}"
eq "max-active 2: the third at once is refused" "$(cat "$T/f1.code" "$T/f2.code" "$T/f3.code" | tr '\n' ' ')" "200 200 429 "
eq "  ... as an OpenAI rate limit error" "$(jq -r .error.code <"$T/f3.out")" rate_limit_exceeded
eq "stats: one violation, at most 2 in flight, none left" \
    "$(fake_stats "$F" '[.violations, .max_active, .active] | join(" ")')" "1 2 0"
# Clients that hang up free their places at once: two held, then gone.
curl -sS -X POST "$F/_fake/set?hold=1" >/dev/null
pids=()
for i in gone gone2; do
	curl -s -d "$(req "$i")" "$F/v1/audio/speech" >/dev/null &
	pids+=($!)
done
wait_for fake_is "$F" .active 2
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
curl -sS -X POST "$F/_fake/set?hold=0" >/dev/null
eq "after two hang-ups, the next is served" "$(speech_at "$F" "$(req "after")" "$T/f4.out")" 200
eq "stats: hang-ups counted, no new violation" \
    "$(fake_stats "$F" '[.client_closed, .violations, .active] | join(" ")')" "2 1 0"
eq "log: client_closed events" "$(jq -c 'select(.event == "client_closed")' "$T/tts-f.jsonl" | wc -l)" 2

# --- 200 at once -------------------------------------------------------------------
# Held (hold=1) until all 200 are in, however slowly the machine starts them.
start_tts g --latency-ms 100 --chunks 3 --chunk-delay-ms 50
G=$TTS_URL
curl -sS -X POST "$G/_fake/set?hold=1" >/dev/null
mkdir "$T/conc"
for i in $(seq 0 6); do req "concurrent $i" >"$T/conc/req$i"; done
pids=()
for i in $(seq 200); do
	{ speech_at "$G" "$(<"$T/conc/req$((i % 7))")" "$T/conc/$i.wav"; echo; } >"$T/conc/$i.code" &
	pids+=($!)
done
check "hold: 200 wait, none answered" wait_for fake_is "$G" '[.active, .completed] | join(" ")' "200 0"
curl -sS -X POST "$G/_fake/set?hold=0" >/dev/null
wait "${pids[@]}"
eq "200 at once: all 200" "$(cat "$T"/conc/*.code | sort | uniq -c | awk '{ print $1, $2 }')" "200 200"
eq "200 at once: all in flight together" "$(fake_stats "$G" '[.max_active, .active, .completed] | join(" ")')" "200 0 200"
check "200 at once: same text, same bytes" cmp -s "$T/conc/7.wav" "$T/conc/14.wav"
check "200 at once: every file a WAV" bash -c \
    "for f in '$T'/conc/*.wav; do '$FAKE_TTS' --wav-info \"\$f\" >/dev/null || exit 1; done"

# --- SIGTERM, and valgrind ----------------------------------------------------------
kill -TERM "$TTS_PID"
rc=0
wait "$TTS_PID" || rc=$?
eq "SIGTERM: exit 0" "$rc" 0

# (Not for a sanitizer build: valgrind cannot run those.)
if ldd "$FAKE_TTS" | grep -q libasan; then
	skip_check "valgrind" "a sanitizer build (make test runs it)"
elif need valgrind valgrind; then
	p=$(free_port)
	spawn tts-valgrind valgrind -q --leak-check=full \
	    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=99 "$FAKE_TTS" --port "$p" --log "$T/vg.jsonl" \
	    --latency-ms 100 --chunks 3 --chunk-delay-ms 50 --fail-first 1 --max-active 3
	VG=$LAST_PID
	wait_port "$p"
	V=http://127.0.0.1:$p
	speech_at "$V" "$(req "$TEXT")" /dev/null >/dev/null
	speech_at "$V" "$(req "$TEXT")" "$T/vg.wav" >/dev/null
	speech_at "$V" '{}' /dev/null >/dev/null
	# One client gone, two waiting (hold=1) when SIGTERM comes.
	curl -s -X POST "$V/_fake/set?hold=1" >/dev/null
	curl -s -d "$(req gone)" "$V/v1/audio/speech" >/dev/null &
	gone=$!
	wait_for fake_is "$V" .active 1
	kill "$gone"
	wait "$gone" 2>/dev/null
	wait_for fake_is "$V" .client_closed 1
	speech_at "$V" "$(req "held")" /dev/null >/dev/null &
	held=$!
	speech_at "$V" "$(req "held2")" /dev/null >/dev/null &
	held2=$!
	wait_for fake_is "$V" .active 2
	kill -TERM "$VG"
	rc=0
	wait "$VG" || rc=$?
	eq "valgrind: SIGTERM with requests in flight, exit 0, no leaks" "$rc" 0
	check "valgrind: the WAV came out the same" cmp -s "$T/vg.wav" "$T/a1.wav"
	wait "$held" "$held2"
fi

finish
