#!/usr/bin/env bash
# Interruption: DELETE /v1/audio/replies/{id} cancels a reply (its queued
# syntheses dropped, its in-flight one stopped unless shared, its readers
# ended), idempotently; a reader that leaves early cancels the rest after
# REPLY_CANCEL_GRACE; the admin command and ttsaccelctl do the same.
. "$(dirname "$0")/lib.sh"

# del ID [CURL ARGS...]: DELETE the reply ID with K; the body in $T/del.json,
# the status printed.
del() {
	local id=$1
	shift
	curl -sS -m 10 "${K[@]}" -X DELETE -o "$T/del.json" -w '%{http_code}' \
	    "$@" "$URL/v1/audio/replies/$id"
}
# segs ID: the states of reply ID's segments, one word each.
segs() {
	curl -sS -m 10 "${K[@]}" "$URL/v1/audio/replies/$1/segments" |
	    jq -r '[.segments[].state] | join(" ")'
}
# segs_are ID STATES: for wait_for.
segs_are() { [ "$(segs "$1")" = "$2" ]; }
# nsegs_is ID N: reply ID has N segments (for wait_for).
nsegs_is() {
	[ "$(curl -sS -m 10 "${K[@]}" "$URL/v1/audio/replies/$1/segments" |
	    jq '.segments | length')" = "$2" ]
}
hold() { curl -sS -X POST "$TTS_URL/_fake/set?hold=$1" >/dev/null; }
# streams_is N: the daemon sends N audio streams (for wait_for).
streams_is() { [ "$(adm '{"cmd":"stats"}' | jq .data.streams)" = "$1" ]; }
# listen ID OUT: read reply ID's audio into OUT in the background; its PID
# in $LISTENER once the daemon streams it.
listen() {
	local n
	n=$(adm '{"cmd":"stats"}' | jq .data.streams)
	curl -sS -m 60 "${K[@]}" -o "$2" "$URL/v1/audio/replies/$1" &
	LISTENER=$!
	wait_for streams_is $((n + 1))
}

start_upstream --delay-ms 0
start_tts c
# One slot: whatever runs holds every other synthesis in the queue.
TTS_ENDPOINTS="$TTS_URL|max=1" NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 REPLY_CANCEL_GRACE=0 start_daemon
spawn watch "$TTSACCELCTL" -s "$SOCK" --json watch
wait_for grep -q . "$T/watch.log" 2>/dev/null || true

# Alpha's first segment is in the cache already: the reply below has it
# done, the second in flight (held by the fake), the last two queued.
first=$(chat_reply "Alpha starts here now.")
check "the first segment is made" wait_for reply_done "$first"
hold 1
A=$(chat_reply "Alpha starts here now. Alpha goes on with more. Alpha says the third thing. Alpha ends at last.")
B=$(chat_reply "Bravo starts here now. Bravo goes on with more. Bravo says the third thing. Bravo ends at last.")
check "Alpha's second segment is in flight" wait_for synthesising c "Alpha goes on with more." 1
# A reader of Alpha's audio, and a speech request that shares its third
# segment's synthesis.
curl -sS -m 30 "${K[@]}" -o "$T/reader.wav" -D "$T/reader.h" \
    "$URL/v1/audio/replies/$A" &
reader=$!
speech "$(say "Alpha says the third thing." wav)" "$T/third.wav" >"$T/third.st" &
third=$!
check "the reader has Alpha's first segment" wait_for bigger "$T/reader.wav" 1000
closed=$(fake_stats "$TTS_URL" .client_closed)

eq "DELETE without a key: 401" "$(curl -sS -m 10 -X DELETE -o "$T/noauth.json" -w '%{http_code}' "$URL/v1/audio/replies/$A")" 401
eq "DELETE: 200" "$(del "$A")" 200
eq "DELETE: the reply, cancelled now" "$(jq -c . "$T/del.json")" \
    "{\"id\":\"$A\",\"object\":\"audio.reply\",\"cancelled\":true,\"cancelled_now\":true,\"state\":\"cancelled\"}"
wait "$reader"
eq "the reader's stream ends cleanly" "$?" 0
check "with the audio made before the cancel" bigger "$T/reader.wav" 1000
check "the in-flight synthesis is stopped (its transfer cancelled)" \
    wait_for fake_is "$TTS_URL" .client_closed $((closed + 1))
eq "segments: done, then cancelled" "$(segs "$A")" "done cancelled cancelled cancelled"
eq "/segments: the reply's state" "$(curl -sS "${K[@]}" "$URL/v1/audio/replies/$A/segments" | jq -r .state)" cancelled
hold 0
check "Bravo is synthesised whole" wait_for reply_done "$B"
wait "$third"
eq "a speech request sharing a cancelled segment's synthesis is served" "$(cat "$T/third.st")" "200 inflight"
eq "no backend request for Alpha's last segment" "$(nsynth c "Alpha ends at last.")" 0
eq "one for the shared one" "$(nsynth c "Alpha says the third thing.")" 1
for s in "Bravo starts here now." "Bravo goes on with more." "Bravo says the third thing." "Bravo ends at last."; do
	eq "Bravo keeps its synthesis: $s" "$(nsynth c "$s")" 1
done
eq "stats count the two syntheses stopped (in flight, queued)" "$(curl -sS "$URL/cache/stats" | jq .cancelled)" 2

# Idempotent: again 200, no longer cancelled now; unknown: 404.
eq "a second DELETE: 200" "$(del "$A")" 200
eq "a second DELETE: cancelled before" "$(jq -c '[.cancelled, .cancelled_now, .state]' "$T/del.json")" '[true,false,"cancelled"]'
eq "a complete reply: nothing to cancel" "$(del "$B")" 200
eq "a complete reply: not cancelled" "$(jq -c '[.cancelled, .cancelled_now, .state]' "$T/del.json")" '[false,false,"complete"]'
eq "an unknown reply: 404" "$(del chatcmpl-nope)" 404
eq "an unknown reply: reply_not_found" "$(jq -r .error.code "$T/del.json")" reply_not_found
eq "a path below a reply: 404" "$(del "$A/segments")" 404

# The cancelled segment was not cached: asked again, it is made anew.
eq "a cancelled segment is not a hit later" "$(speech "$(say "Alpha goes on with more." wav)" "$T/again.wav")" "200 miss"
eq "it is synthesised again" "$(nsynth c "Alpha goes on with more.")" 2
eq "the reply's audio now: the part before the cancel" "$(curl -sS -m 10 "${K[@]}" -o "$T/after.wav" -w '%{http_code}' "$URL/v1/audio/replies/$A")" 200
check "the same bytes as the reader got" cmp "$T/reader.wav" "$T/after.wav"

check "watch: segment.cancelled" wait_for grep -q "\"event\":\"segment.cancelled\".*\"reply\":\"$A\"" "$T/watch.log"
eq "watch: three segments cancelled" "$(grep '"event":"segment.cancelled"' "$T/watch.log" | jq -r .data.index | tr '\n' ' ')" "1 2 3 "

# A reader that leaves early, with REPLY_CANCEL_GRACE=0: the reply goes on.
hold 1
C=$(chat_reply "Charlie starts here now. Charlie goes on with more. Charlie ends at last.")
check "Charlie's first segment is in flight" wait_for synthesising c "Charlie starts here now." 1
listen "$C" /dev/null
kill "$LISTENER"; wait "$LISTENER" 2>/dev/null
check "its leaving is seen" wait_for grep -q "reply $C: its last listener left before the end; it goes on" "$T/daemon.log"
hold 0
check "REPLY_CANCEL_GRACE=0: the reply is made whole" wait_for reply_done "$C"
stop_daemon >/dev/null

# With a grace: a reader back within it keeps the reply whole; one that
# does not come back has the rest cancelled.
TTS_ENDPOINTS="$TTS_URL|max=1" NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 REPLY_CANCEL_GRACE=4 start_daemon
hold 1
D=$(chat_reply "Delta starts here now. Delta goes on with more. Delta ends at last.")
check "Delta's first segment is in flight" wait_for synthesising c "Delta starts here now." 1
listen "$D" /dev/null
kill "$LISTENER"; wait "$LISTENER" 2>/dev/null
check "the listener's leaving is seen" wait_for grep -q "reply $D: its last listener left before the end; the rest is cancelled in 4 s" "$T/daemon.log"
listen "$D" "$T/back.wav"
check "a listener back within the grace: nothing cancelled" wait_for grep -q "reply $D: a listener is back: nothing cancelled" "$T/daemon.log"
hold 0
wait "$LISTENER"
eq "the listener back gets the whole reply" "$?" 0
check "the reply is made whole" wait_for reply_done "$D"
check "its audio is all three segments" test "$(stat -c %s "$T/back.wav")" -gt 80000

# This listener leaves after the first segment came (the stream begun).
check "Echo's first segment is made" wait_for reply_done "$(chat_reply "Echo starts here now.")"
hold 1
E=$(chat_reply "Echo starts here now. Echo goes on with more. Echo ends at last.")
check "Echo's second segment is in flight" wait_for synthesising c "Echo goes on with more." 1
closed=$(fake_stats "$TTS_URL" .client_closed)
listen "$E" "$T/echo.wav"
check "the listener has the first segment" wait_for bigger "$T/echo.wav" 1000
kill "$LISTENER"; wait "$LISTENER" 2>/dev/null
check "the listener's leaving mid-stream is seen" wait_for grep -q "reply $E: its last listener left before the end; the rest is cancelled in 4 s" "$T/daemon.log"
check "no listener back: after the grace, the rest is cancelled" wait_secs 30 segs_are "$E" "done cancelled cancelled"
check "its synthesis in flight is stopped" wait_for fake_is "$TTS_URL" .client_closed $((closed + 1))
hold 0
F=$(chat_reply "Foxtrot is the only one.")
check "a later reply is made" wait_for reply_done "$F"
eq "nothing more was asked for Echo" "$(nsynth c "Echo goes on with more.")$(nsynth c "Echo ends at last.")" 10

# The admin command and ttsaccelctl.
hold 1
G=$(chat_reply "Golf starts here now. Golf goes on with more. Golf ends at last.")
H=$(chat_reply "Hotel starts here now. Hotel goes on with more. Hotel ends at last.")
check "Golf's first segment is in flight" wait_for synthesising c "Golf starts here now." 1
out=$(adm "{\"cmd\":\"replies.cancel\",\"id\":\"$G\"}")
eq "admin replies.cancel" "$out" "{\"ok\":true,\"data\":{\"id\":\"$G\",\"object\":\"audio.reply\",\"cancelled\":true,\"cancelled_now\":true,\"state\":\"cancelled\"}}"
eq "admin replies.cancel again" "$(adm "{\"cmd\":\"replies.cancel\",\"id\":\"$G\"}" | jq -c '.data | [.cancelled, .cancelled_now]')" '[true,false]'
contains "admin replies.cancel of an unknown id" "$(adm '{"cmd":"replies.cancel","id":"nope"}')" '"ok":false,"error":"no reply '"'"'nope'"'"' here'
contains "admin replies.cancel without an id" "$(adm '{"cmd":"replies.cancel"}')" '"ok":false,"error":"'"'"'id'"'"' is required'
eq "Golf's segments are cancelled" "$(segs "$G")" "cancelled cancelled cancelled"
run "$TTSACCELCTL" -s "$SOCK" replies cancel "$H"
eq "ttsaccelctl replies cancel: exit 0" "$rc" 0
eq "ttsaccelctl replies cancel: says so" "$out" "cancelled $H"
run "$TTSACCELCTL" -s "$SOCK" replies cancel "$H"
eq "ttsaccelctl replies cancel again" "$out" "$H was cancelled already"
run "$TTSACCELCTL" -s "$SOCK" replies cancel "$F"
eq "ttsaccelctl replies cancel of a complete reply" "$out" "$F is complete: nothing to cancel"
run "$TTSACCELCTL" -s "$SOCK" --json replies cancel "$H"
eq "ttsaccelctl --json replies cancel" "$(jq -c '[.id, .cancelled]' <<<"$out")" "[\"$H\",true]"
run "$TTSACCELCTL" -s "$SOCK" replies cancel nope
eq "ttsaccelctl replies cancel of an unknown id: exit 1" "$rc" 1
contains "ttsaccelctl replies cancel of an unknown id: says why" "$err" "no reply 'nope' here"
run "$TTSACCELCTL" -s "$SOCK" replies cancel
eq "ttsaccelctl replies cancel without an id: usage (exit 2)" "$rc" 2
eq "Hotel's segments are cancelled" "$(segs "$H")" "cancelled cancelled cancelled"
hold 0
I=$(chat_reply "India is the last one.")
check "a later reply is made" wait_for reply_done "$I"
eq "nothing more was asked for Golf and Hotel" "$(nsynth c "Golf goes on with more.")$(nsynth c "Hotel goes on with more.")" 00
stop_daemon >/dev/null
finish
