#!/usr/bin/env bash
# Several instances, one Redis: a chat served by instance A, and its whole
# reply (/v1/audio/replies/{id}), its /segments and its sentences asked of
# B and C — finished, or still streaming — served from the same segments,
# each synthesised once for the cluster.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server || finish
samples() { sox "$1" -t raw - 2>/dev/null | md5sum | cut -d' ' -f1; }

start_redis
start_upstream --delay-ms 5
start_tts r --latency-ms 200 --chunks 3 --chunk-delay-ms 50
for n in a b c; do
	NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test TTS_ENDPOINTS="$TTS_URL|formats=wav" \
	    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_instance "$n"
done

# 1. A finished reply: its audio from A and from B, the same.
text="The sun rose early today. Birds sang in the old oak. We walked to the river. Then we went home."
id=$(chat_reply_at "${U[a]}" "$text")
check "A gave a reply id" test -n "$id"
check "A's segments are done" wait_for reply_done "$id" "${U[a]}"
curl -sS -m 30 "${K[@]}" -o "$T/ra.wav" "${U[a]}/v1/audio/replies/$id"
curl -sS -m 30 "${K[@]}" -D "$T/rb.h" -o "$T/rb.wav" -w '%{http_code}' "${U[b]}/v1/audio/replies/$id" >"$T/rb.code"
eq "B serves A's reply" "$(cat "$T/rb.code")" 200
# B's first answer streams (its segments come from Redis as it sends):
# the same samples, the WAV lengths unknown; once here, the same bytes.
check "the same samples as A's" test "$(samples "$T/ra.wav")" = "$(samples "$T/rb.wav")"
curl -sS -m 30 "${K[@]}" -o "$T/rb2.wav" "${U[b]}/v1/audio/replies/$id"
check "then byte-identical to A's" cmp -s "$T/ra.wav" "$T/rb2.wav"
check "a valid WAV" sh -c "soxi '$T/rb.wav' >/dev/null 2>&1"
segs=$(curl -sS "${K[@]}" "${U[b]}/v1/audio/replies/$id/segments")
eq "B's /segments: the same texts" "$(jq -r '[.segments[].text] | join("|")' <<<"$segs")" \
    "$(curl -sS "${K[@]}" "${U[a]}/v1/audio/replies/$id/segments" | jq -r '[.segments[].text] | join("|")')"
eq "B's /segments: the same keys" "$(jq -r '[.segments[].key] | join(" ")' <<<"$segs")" \
    "$(curl -sS "${K[@]}" "${U[a]}/v1/audio/replies/$id/segments" | jq -r '[.segments[].key] | join(" ")')"
eq "B's copy is complete" "$(jq -r .state <<<"$segs")" complete
eq "C's /segments too" "$(curl -sS "${K[@]}" "${U[c]}/v1/audio/replies/$id/segments" | jq '.segments | length')" 4
n_before=$(nreq r)
eq "each segment synthesised once for the cluster" "$n_before" 4
# Its sentences asked of C: from the shared tier, the same samples as A's.
i=0
while IFS= read -r seg; do
	i=$((i + 1))
	out=$(speech_at "${U[c]}" "$(say "$seg" wav)" "$T/sc$i.wav")
	check "C: sentence $i served ($out)" test "${out%% *}" = 200
	speech_at "${U[a]}" "$(say "$seg" wav)" "$T/sa$i.wav" >/dev/null
	check "C: sentence $i is A's audio" cmp -s "$T/sa$i.wav" "$T/sc$i.wav"
done < <(jq -r '.segments[].text' <<<"$segs")
eq "nothing synthesised again" "$(nreq r)" "$n_before"
# Client-cut text (runs of sentences, markdown, another case) asked of an
# instance that did not serve the chat: matched against its copy of the
# reply, served from the same segments.
for input in "Birds sang in the old oak. We walked to the river." \
    "**The sun rose early today.** Birds sang in the OLD oak." \
    "We walked to the river. Then we went home."; do
	out=$(speech_at "${U[c]}" "$(say "$input" wav)" "$T/cut.wav")
	eq "C: '$input' from the reply's segments" "$out" "200 assembled"
done
eq "still nothing synthesised again" "$(nreq r)" "$n_before"
check "C keeps a copy of A's reply" test "$(curl -sS "${K[@]}" "${U[c]}/v1/audio/replies/$id/segments" | jq -r .state)" = complete

# 2. A reply still streaming: B follows it as it grows.
text2="First comes the opening line. A second line follows slowly. The third takes its time. And the last one ends it."
chat_at "${U[a]}" "$(echo_chat "$text2")" -m 60 -D "$T/chat2.h" -o /dev/null \
    -H 'X-Fake-Delay-Ms: 60' &
jc=$!
check "A's chat started" wait_for grep -qs '^X-TTS-Reply-Id' "$T/chat2.h"
id2=$(header "$T/chat2.h" X-TTS-Reply-Id)
curl -sS -m 60 "${K[@]}" -o "$T/r2b.wav" -w '%{http_code}' "${U[b]}/v1/audio/replies/$id2" >"$T/r2b.code" &
jb=$!
wait "$jc" "$jb"
eq "B streamed the growing reply" "$(cat "$T/r2b.code")" 200
curl -sS -m 30 "${K[@]}" -o "$T/r2a.wav" "${U[a]}/v1/audio/replies/$id2"
check "the same samples as A's" test "$(samples "$T/r2a.wav")" = "$(samples "$T/r2b.wav")"
check "all four sentences in it" test "$(stat -c %s "$T/r2b.wav")" -gt "$(stat -c %s "$T/rb.wav" | awk '{print int($1 / 2)}')"
eq "B's copy has the four segments" "$(curl -sS "${K[@]}" "${U[b]}/v1/audio/replies/$id2/segments" | jq '.segments | length')" 4
eq "still one synthesis per segment" "$(nreq r)" $((n_before + 4))

# 3. A chat asking for a format made by conversion (prefetched as WAV):
# its copy elsewhere is served in that format too, the same bytes.
id3=$(chat_reply_at "${U[a]}" "Rivers run to the sea. Mountains stand tall." '{"tts_format":"mp3"}')
curl -sS -m 30 "${K[@]}" -D "$T/r3a.h" -o "$T/r3a.mp3" "${U[a]}/v1/audio/replies/$id3"
curl -sS -m 30 "${K[@]}" -D "$T/r3b.h" -o "$T/r3b.mp3" "${U[b]}/v1/audio/replies/$id3"
eq "B serves it as MP3" "$(header "$T/r3b.h" Content-Type)" audio/mpeg
check "the same bytes as A's" cmp -s "$T/r3a.mp3" "$T/r3b.mp3"
check "and some" test "$(stat -c %s "$T/r3b.mp3")" -gt 1000

# 4. A reply no instance has is a 404 everywhere.
eq "unknown reply: 404" "$(curl -sS -o /dev/null -w '%{http_code}' "${K[@]}" "${U[b]}/v1/audio/replies/r0123456789abcdef")" 404
eq "its segments: 404" "$(curl -sS -o /dev/null -w '%{http_code}' "${K[@]}" "${U[c]}/v1/audio/replies/r0123456789abcdef/segments")" 404

for n in a b c; do stop_daemon "${P[$n]}" "$n"; done
stop_redis
finish
