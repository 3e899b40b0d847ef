#!/usr/bin/env bash
# /v1/audio/speech and whole-reply audio with the built-in local voice
# (espeak-ng): real speech, the cache, validation, reply audio.
. "$(dirname "$0")/lib.sh"

need espeak-ng espeak-ng || finish
start_upstream --delay-ms 10
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 start_daemon

rms() { sox "$1" -n stat 2>&1 | sed -n 's/^RMS *amplitude: *//p'; }

eq "health lists the local voice" "$(curl -sS "$URL/health" | jq -r '.endpoints[0].url + " " + .endpoints[0].state')" "exec:espeak-ng --stdout up"

# A miss, then a hit with the same bytes.
eq "first request synthesises" "$(speech '{"model":"tts-1","input":"Good morning.","response_format":"wav"}' "$T/a.wav")" "200 miss"
check "a WAV file" sh -c "soxi '$T/a.wav' >/dev/null 2>&1"
check "with sound in it (RMS > 0.01)" awk -v r="$(rms "$T/a.wav")" 'BEGIN { exit !(r > 0.01) }'
eq "Content-Type" "$(header "$T/a.wav.h" Content-Type)" audio/wav
eq "second request is a hit" "$(speech '{"model":"tts-1","input":"Good morning.","response_format":"wav"}' "$T/b.wav")" "200 hit"
check "same bytes" cmp -s "$T/a.wav" "$T/b.wav"
eq "clean-up applied before keying" "$(speech '{"model":"tts-1","input":"**Good** morning. 🙂","response_format":"wav"}' "$T/c.wav")" "200 hit"
eq "another voice is another entry" "$(speech '{"model":"tts-1","input":"Good morning.","voice":"nova","response_format":"wav"}' "$T/d.wav")" "200 miss"
eq "another speed is another entry" "$(speech '{"model":"tts-1","input":"Good morning.","speed":1.5,"response_format":"wav"}' "$T/d.wav")" "200 miss"

# Several sentences: assembled from segments, one WAV.
eq "long input is assembled" "$(speech '{"input":"The sun rose early. Birds were singing in the trees! It was going to be a fine day.","response_format":"wav"}' "$T/long.wav")" "200 assembled"
check "assembled WAV is valid" sh -c "soxi '$T/long.wav' >/dev/null 2>&1"
eq "its segments are hits afterwards" "$(speech '{"input":"Birds were singing in the trees!","response_format":"wav"}' "$T/seg.wav")" "200 hit"
eq "and again the whole" "$(speech '{"input":"The sun rose early. Birds were singing in the trees! It was going to be a fine day.","response_format":"wav"}' "$T/long2.wav")" "200 assembled"
check "assembled from the cache: same samples" cmp -s <(sox "$T/long.wav" -t raw - 2>/dev/null) <(sox "$T/long2.wav" -t raw - 2>/dev/null)
eq "a complete assembly has an exact header" "$(soxi -s "$T/long2.wav")" "$(( ($(stat -c %s "$T/long2.wav") - 44) / 2 ))"

# Formats the local voice does not make are converted from its WAV.
close() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > 0 && b > 0 && (a - b) / b < 0.05 && (b - a) / b < 0.05) }'; }
conv_text='{"input":"Conversion keeps the words intact.","response_format":"FMT"}'
eq "the WAV of the sentence" "$(speech "${conv_text//FMT/wav}" "$T/cv.wav")" "200 miss"
rate=$(soxi -r "$T/cv.wav")
wsecs() { awk -v n="$(sox "$1" -t raw - 2>/dev/null | wc -c)" -v r="$rate" 'BEGIN { print n / 2 / r }'; }  # mono 16-bit
wdur=$(wsecs "$T/cv.wav")
syn=$(curl -sS "$URL/cache/stats" | jq .syntheses)
for f in mp3:audio/mpeg flac:audio/flac opus:audio/ogg pcm:audio/pcm; do
	fmt=${f%%:*}
	eq "$fmt from the cached WAV is a hit" "$(speech "${conv_text//FMT/$fmt}" "$T/cv.$fmt")" "200 hit"
	eq "$fmt Content-Type" "$(header "$T/cv.$fmt.h" Content-Type)" "${f#*:}"
	eq "$fmt again: a hit" "$(speech "${conv_text//FMT/$fmt}" "$T/cv2.$fmt")" "200 hit"
	check "$fmt again: same bytes" cmp -s "$T/cv.$fmt" "$T/cv2.$fmt"
done
eq "no new synthesis for the conversions" "$(curl -sS "$URL/cache/stats" | jq .syntheses)" "$syn"
check "flac decodes, duration within 5% of the WAV" close "$(soxi -D "$T/cv.flac")" "$wdur"
check "flac has the WAV's samples" cmp -s <(sox "$T/cv.flac" -t raw - 2>/dev/null) <(sox "$T/cv.wav" -t raw - 2>/dev/null)
check "pcm is the WAV's samples" cmp -s "$T/cv.pcm" <(sox "$T/cv.wav" -t raw - 2>/dev/null)
check "pcm duration within 5%" close "$(awk -v n="$(stat -c %s "$T/cv.pcm")" -v r="$rate" 'BEGIN { print n / 2 / r }')" "$wdur"
if sox -h | grep -qiw mp3; then
	check "mp3 decodes, duration within 5%" close "$(sox "$T/cv.mp3" -n stat 2>&1 | sed -n 's/^Length (seconds): *//p')" "$wdur"
else
	check "mp3 frames, duration within 5%" close "$(dur mp3 "$T/cv.mp3")" "$wdur"
fi
eq "opus is Ogg" "$(head -c 4 "$T/cv.opus")" OggS
check "opus pages (CRC) and granules, duration within 5%" close "$(dur opus "$T/cv.opus")" "$wdur"
# No response_format: mp3, as OpenAI answers (TTS_DEFAULT_FORMAT unset),
# converted from the local voice's WAV.
eq "no format: answered" "$(speech '{"input":"Nobody named a format."}' "$T/nf.mp3")" "200 miss"
eq "no format: audio/mpeg" "$(header "$T/nf.mp3.h" Content-Type)" audio/mpeg
check "no format: mp3 frames" awk -v d="$(dur mp3 "$T/nf.mp3")" 'BEGIN { exit !(d > 0.3) }'
eq "a new sentence in mp3 is synthesised as WAV" "$(speech '{"input":"A fresh sentence in another format.","response_format":"mp3"}' "$T/n.mp3")" "200 miss"
eq "its WAV is in the cache" "$(speech '{"input":"A fresh sentence in another format.","response_format":"wav"}' "$T/n.wav")" "200 hit"
check "the mp3 is as long as that WAV" close "$(dur mp3 "$T/n.mp3")" "$(wsecs "$T/n.wav")"
long='{"input":"Rivers run to the sea. Mountains stand tall and still! Clouds drift over them all day.","response_format":"flac"}'
eq "several sentences in flac: assembled" "$(speech "$long" "$T/l.flac")" "200 assembled"
eq "flac Content-Type" "$(header "$T/l.flac.h" Content-Type)" audio/flac
eq "again: every segment was cached, a hit" "$(speech "$long" "$T/l2.flac")" "200 hit"
check "same bytes" cmp -s "$T/l.flac" "$T/l2.flac"
eq "the same text as WAV" "$(speech "${long/\"flac\"/\"wav\"}" "$T/l.wav")" "200 assembled"
check "assembled flac = assembled WAV's samples" cmp -s <(sox "$T/l.flac" -t raw - 2>/dev/null) <(sox "$T/l.wav" -t raw - 2>/dev/null)

# Validation: 400/401/413 with a clear message.
bad() {  # bad WANT DESCRIPTION BODY
	local code
	code=$(speech_status "$3" "$T/err")
	eq "$2" "$code" "$1"
	check "$2: says why" jq -e '.error.message | length > 10' "$T/err"
}
bad 400 "missing input" '{"model":"tts-1"}'
bad 400 "empty input" '{"input":""}'
# Nothing to say is not an error: a client reading a message piece by
# piece sends "." too.  A short silence, in the format asked for.
s0=$(curl -sS "$URL/cache/stats" | jq .syntheses)
eq "nothing speakable: silence" "$(speech '{"input":"🙂 🎉 **\n```\nx = 1\n```","response_format":"wav"}' "$T/empty.wav")" "200 empty"
check "a WAV of silence" awk -v r="$(rms "$T/empty.wav")" -v d="$(soxi -D "$T/empty.wav")" 'BEGIN { exit !(r == 0 && d > 0.05 && d < 0.2) }'
eq "a lone '.' in mp3: silence too" "$(speech '{"input":".","response_format":"mp3"}' "$T/empty.mp3")" "200 empty"
eq "mp3 Content-Type" "$(header "$T/empty.mp3.h" Content-Type)" audio/mpeg
check "an MP3 of about 0.1 s" awk -v d="$(dur mp3 "$T/empty.mp3")" 'BEGIN { exit !(d > 0.05 && d < 0.2) }'
eq "no synthesis for them" "$(curl -sS "$URL/cache/stats" | jq .syntheses)" "$s0"
eq "counted as empty" "$(curl -sS "$URL/cache/stats" | jq .served.empty)" 2
bad 400 "unknown format" '{"input":"Hi there.","response_format":"ogg"}'
bad 400 "a format we cannot convert to" '{"input":"Hi there.","response_format":"aac"}'
eq "it names the formats we can make" "$(jq -r .error.message "$T/err")" "aac is not supported; ask for wav, pcm, flac, mp3 or opus."
bad 400 "speed too low" '{"input":"Hi there.","speed":0.1}'
bad 400 "speed too high" '{"input":"Hi there.","speed":4.5}'
bad 400 "speed not a number" '{"input":"Hi there.","speed":"fast"}'
bad 400 "malformed JSON" '{"input":'
bad 400 "invalid UTF-8" "$(printf '{"input":"caf\xe9"}')"
code=$(curl -sS -o /dev/null -w '%{http_code}' -d '{"input":"Hi."}' "$URL/v1/audio/speech")
eq "no key: 401" "$code" 401
head -c 5000000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(speech_status @"$T/big" /dev/null)
eq "too large: 413" "$code" 413

# Cache figures, metrics, clearing (which needs a key).
stats=$(curl -sS "$URL/cache/stats")
check "stats count entries" test "$(echo "$stats" | jq .entries)" -ge 5
check "stats count hits" test "$(echo "$stats" | jq .hits)" -ge 3
check "metrics" sh -c "curl -sS '$URL/metrics' | grep -q '^ttsaccel_cache_hits_total [1-9]'"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$URL/cache/clear")
eq "clear without a key: 401" "$code" 401
eq "clear with a key" "$(curl -sS "${K[@]}" -X POST "$URL/cache/clear" | jq -r .status)" cleared
eq "empty after clear" "$(curl -sS "$URL/cache/stats" | jq .entries)" 0
eq "a miss again" "$(speech '{"model":"tts-1","input":"Good morning.","response_format":"wav"}' "$T/a2.wav")" "200 miss"

# A chat's reply: its segments are prefetched, its audio is one WAV whose
# samples are the segments' samples in order.
text='First, a short greeting. Then a second sentence follows! Finally the third one ends it.'
id=$(chat_reply "$text")
check "reply id" test -n "$id"
curl -sS "${K[@]}" -o "$T/reply.wav" "$URL/v1/audio/replies/$id"
check "reply audio is a WAV" sh -c "soxi '$T/reply.wav' >/dev/null 2>&1"
segs=$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$id/segments")
eq "every segment done" "$(echo "$segs" | jq -r '[.segments[].state] | unique | join(",")')" done
n=$(echo "$segs" | jq '.segments | length')
check "several segments" test "$n" -ge 3
: >"$T/concat.raw"
for i in $(seq 0 $((n - 1))); do
	seg=$(echo "$segs" | jq -r ".segments[$i].text")
	eq "segment $i is a hit" "$(speech "$(say "$seg" wav)" "$T/s$i.wav")" "200 hit"
	sox "$T/s$i.wav" -t raw - >>"$T/concat.raw" 2>/dev/null
done
check "reply WAV header parses, exact length" exact_wav "$T/reply.wav"
check "reply PCM = the segments' PCM in order" cmp -s <(sox "$T/reply.wav" -t raw - 2>/dev/null) "$T/concat.raw"
code=$(curl -sS "${K[@]}" -o /dev/null -w '%{http_code}' "$URL/v1/audio/replies/rnope")
eq "unknown reply: 404" "$code" 404
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/v1/audio/replies/$id")
eq "reply audio needs a key" "$code" 401

# tts_events: an SSE comment per segment as it is queued.
out=$(chat "$(echo_chat "$text" '{"tts_events":true}')")
evs=$(printf '%s\n' "$out" | sed -n 's/^: tts //p')
eq "one event per segment" "$(printf '%s\n' "$evs" | grep -c .)" "$n"
eq "events in order" "$(printf '%s\n' "$evs" | jq -r .index | tr '\n' ' ')" "$(seq 0 $((n - 1)) | tr '\n' ' ')"
eq "event texts are the segments" "$(printf '%s\n' "$evs" | jq -r .text)" "$(echo "$segs" | jq -r '.segments[].text')"
check "events name the reply" sh -c "printf '%s\n' '$(printf '%s' "$evs" | jq -r .reply | sort -u)' | grep -q '^r[0-9a-f]\{16\}$'"
metrics=$(curl -sS "$URL/metrics")
for m in upstream_first_byte first_segment_queued first_audio_byte backend_synthesis; do
	check "metrics: $m histogram counted" sh -c "printf '%s\n' \"\$1\" | grep -Eq '^ttsaccel_${m}_seconds_count [1-9]'" _ "$metrics"
done
check "metrics: histogram buckets" sh -c "printf '%s\n' \"\$1\" | grep -q '^ttsaccel_first_audio_byte_seconds_bucket{le=\"+Inf\"}'" _ "$metrics"
served=$(curl -sS "$URL/cache/stats" | jq -c .served)
check "stats: exact hits counted" test "$(echo "$served" | jq .exact)" -ge 3
check "stats: assembled requests counted" test "$(echo "$served" | jq .assembled)" -ge 1
check "stats: converted requests counted" test "$(echo "$served" | jq .converted)" -ge 1
check "stats: misses counted" test "$(echo "$served" | jq .miss)" -ge 1
check "metrics: speech requests by kind" sh -c "printf '%s\n' \"\$1\" | grep -Eq '^ttsaccel_speech_requests_total\{served=\"exact\"\} [1-9]'" _ "$metrics"
stop_daemon

# No usable endpoint: /health is 503 and says which is down.
TTS_ENDPOINTS=http://127.0.0.1:$(free_port) TTS_HEALTH_INTERVAL=1 NEWAPI_API_KEY=sk-test start_daemon
health_is() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/health")" = "$1" ]; }
wait_for health_is 503
eq "health is 503 with no usable endpoint" "$(curl -sS -o "$T/health.json" -w '%{http_code}' "$URL/health")" 503
eq "the endpoint shows as down" "$(jq -r '.endpoints[0].state' "$T/health.json")" down
eq "speech is 503 meanwhile" "$(speak "Hello there.")" 503
stop_daemon
finish
