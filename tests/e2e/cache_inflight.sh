#!/usr/bin/env bash
# CACHE_MAX_SIZE bounds finished audio: syntheses queued or running do
# not take its places, so they never push finished audio out.  (Once
# they counted: with more in flight than the cache holds, a finished
# segment was evicted the moment it was done, and older finished audio
# as soon as a reply's segments were queued.)
. "$(dirname "$0")/lib.sh"

# Two fakes, both holding what they are sent: a takes eleven segments at
# once, b one, so a reply of twelve is all in flight, none queued.
start_tts a
A=$TTS_URL
start_tts b
B=$TTS_URL
start_upstream --delay-ms 0
TTS_ENDPOINTS="$A|max=11,$B|max=1" NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 CACHE_MAX_SIZE=4 start_daemon

# in_cache TEXT: the cache holds TEXT's audio, finished.
in_cache() {
	adm '{"cmd":"cache.list","limit":0}' |
	    jq -e --arg t "$1" 'any(.data[]; .text == $t and .state == "done")' >/dev/null
}
# at_fakes N: the two fakes have been sent N speech requests.
at_fakes() { [ $(($(nreq a) + $(nreq b))) -ge "$1" ]; }
stat_is() { [ "$(cstat "$1")" = "$2" ]; }

# 1. Two finished entries, then twelve syntheses in flight: the two stay.
eq "the first is made" "$(speech "$(say 'An older sentence is finished.' wav)" /dev/null)" "200 miss"
eq "the second is made" "$(speech "$(say 'Another older one is done.' wav)" /dev/null)" "200 miss"
curl -sS -X POST "$A/_fake/set?hold=1" >/dev/null
curl -sS -X POST "$B/_fake/set?hold=1" >/dev/null
text=""
for w in one two three four five six seven eight nine ten eleven twelve; do
	text="$text Segment $w of the reply is here."
done
id=$(chat_reply "${text# }" '{"tts_format":"wav"}')
check "a reply id" test -n "$id"
check "twelve segments in flight" wait_for stat_is in_flight 12
check "all twelve at the fakes (and the two before)" wait_for at_fakes 14
check "the older finished entry is still cached" in_cache 'An older sentence is finished.'
check "and the other" in_cache 'Another older one is done.'
eq "entries count finished audio" "$(cstat entries)" 2
eq "no eviction for what is in flight" "$(cstat evictions)" 0

# 2. One segment ends while eleven are still in flight: it is kept.
seg=$(jq -r 'select(.path == "/v1/audio/speech") | .body.input' "$T/tts-b.jsonl" | tail -1)
check "b has a segment ($seg)" test -n "$seg"
curl -sS -X POST "$B/_fake/set?hold=0" >/dev/null
check "the segment b made is finished and kept" wait_for in_cache "$seg"
eq "three entries" "$(cstat entries)" 3
eq "still no eviction" "$(cstat evictions)" 0
# Asked for, it is a hit (b, free again, is not asked).
eq "a speech request for it is a hit" "$(speech "$(say "$seg" wav)" /dev/null)" "200 hit"
eq "b made it once" "$(nsynth b "$seg")" 1

# 3. The rest end: the limit holds, the least recently used go first.
curl -sS -X POST "$A/_fake/set?hold=0" >/dev/null
check "the reply's audio is all made" wait_for reply_done "$id"
eq "entries at the limit" "$(cstat entries)" 4
eq "nothing in flight" "$(cstat in_flight)" 0
eq "evictions: 2 + 12 - 4" "$(cstat evictions)" 10
check "the older ones went first" not in_cache 'An older sentence is finished.'
stop_daemon
finish
