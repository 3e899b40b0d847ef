#!/usr/bin/env bash
# Several instances, one Redis: the instance synthesising a text for the
# cluster is killed before and after its first chunks reached the others,
# or is stuck on a backend that never answers; more texts to follow than
# REDIS_FOLLOW_MAX.  The others' clients get their audio, synthesised
# once more at most.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server || finish
jobs_=()

# waits_more URL N: the instance at URL has waited on more than N locks.
waits_more() { [ "$(shared_of "$1" locks_waited)" -gt "$2" ]; }

start_cluster --latency-ms 400 --chunks 4 --chunk-delay-ms 100

# 1. The synthesising instance dies: its lock expires, another takes over,
# the waiting clients get their audio.
s6="The holder of this one is killed."
curl -sS -X POST "$SLOW/_fake/set?latency-ms=2500" >/dev/null
speech_at "${U[a]}" "$(say "$s6" wav)" /dev/null -m 30 >/dev/null &
ja=$!
# A holds the lock once its backend has the request; B and C then wait.
wait_for synthesising slow "$s6" 1
wb=$(shared_of "${U[b]}" locks_waited); wc=$(shared_of "${U[c]}" locks_waited)
speech_at "${U[b]}" "$(say "$s6" wav)" "$T/6b.wav" -m 60 >"$T/6b.code" &
jb=$!
speech_at "${U[c]}" "$(say "$s6" wav)" "$T/6c.wav" -m 60 >"$T/6c.code" &
jc=$!
wait_for waits_more "${U[b]}" "$wb"
wait_for waits_more "${U[c]}" "$wc"
kill -KILL "${P[a]}"
wait "${P[a]}" 2>/dev/null
wait "$ja" 2>/dev/null
t0=$SECONDS
wait "$jb" "$jc"
eq "B's client got its audio" "$(cut -d' ' -f1 "$T/6b.code")" 200
eq "C's client got its audio" "$(cut -d' ' -f1 "$T/6c.code")" 200
check "valid" exact_wav "$T/6b.wav"
check "the same" cmp -s "$T/6b.wav" "$T/6c.wav"
check "within the lock's life and a synthesis, not the clients' 60 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 30
eq "synthesised twice: the dead one's and the taker's" "$(nsynth slow "$s6")" 2
eq "one takeover" "$(( $(shared_of "${U[b]}" takeovers) + $(shared_of "${U[c]}" takeovers) ))" 1
curl -sS -X POST "$SLOW/_fake/set?latency-ms=400" >/dev/null

# 2. Killed after its first chunks reached the others: the taker-over
# says the same text alike (the fake is deterministic), so the followers
# check the bytes they already sent and go on from there.
s6b="Killed half-way through this one."
curl -sS -X POST "$SLOW/_fake/set?latency-ms=100&chunks=6&chunk-delay-ms=700" >/dev/null
TTS_ENDPOINTS=$SLOW NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_instance d
speech_at "${U[d]}" "$(say "$s6b" wav)" /dev/null -m 30 >/dev/null &
jd=$!
wait_for synthesising slow "$s6b" 1
speech_at "${U[b]}" "$(say "$s6b" wav)" "$T/6bb.wav" -m 40 >"$T/6bb.code" &
jb=$!
speech_at "${U[c]}" "$(say "$s6b" wav)" "$T/6bc.wav" -m 40 >"$T/6bc.code" &
jc=$!
# Until both clients have some of the audio (the first of six pieces,
# 700 ms apart).
wait_for bigger "$T/6bb.wav" 44
wait_for bigger "$T/6bc.wav" 44
kill -KILL "${P[d]}"
wait "${P[d]}" 2>/dev/null
wait "$jd" 2>/dev/null
wait "$jb" "$jc"
eq "B's client got all of it" "$(cut -d' ' -f1 "$T/6bb.code")" 200
eq "C's client got all of it" "$(cut -d' ' -f1 "$T/6bc.code")" 200
check "whole and valid" exact_wav "$T/6bb.wav"
check "the same" cmp -s "$T/6bb.wav" "$T/6bc.wav"
eq "once more on a backend" "$(nsynth slow "$s6b")" 2
curl -sS -X POST "$SLOW/_fake/set?latency-ms=400&chunks=4&chunk-delay-ms=100" >/dev/null

# 3. A holder alive but stuck (its endpoint never answers) holds the
# others no longer than their own TTS_REQUEST_TIMEOUT: they go on alone.
start_tts stuck --latency-ms 30000
TTS_ENDPOINTS=$TTS_URL NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_instance e
TTS_ENDPOINTS=$SLOW NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 \
    TTS_RETRY_COUNT=0 TTS_REQUEST_TIMEOUT=1 start_instance f
s6c="Stuck on a backend that never answers."
speech_at "${U[e]}" "$(say "$s6c" wav)" /dev/null -m 40 >/dev/null &
je=$!
wait_for synthesising stuck "$s6c" 1
t0=$SECONDS
eq "F, following E, gives up on it and synthesises" "$(speech_at "${U[f]}" "$(say "$s6c" wav)" "$T/6cf.wav")" "200 shared"
check "within its request timeout and the lock's life, not E's 30 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 20
check "real audio" exact_wav "$T/6cf.wav"
kill -TERM "$je" 2>/dev/null
wait "$je" 2>/dev/null
stop_daemon "${P[e]}" e
stop_daemon "${P[f]}" f

# 4. More keys to follow than REDIS_FOLLOW_MAX: the rest wait for the
# holder's end (a look a second) instead of synthesising twice.
TTS_ENDPOINTS=$SLOW NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 REDIS_FOLLOW_MAX=2 start_instance g
curl -sS -X POST "$SLOW/_fake/set?latency-ms=1500&chunks=1" >/dev/null
for i in 1 2 3 4 5 6; do
	speech_at "${U[b]}" "$(say "Parked text number $i." wav)" "$T/pk-b$i.wav" -m 30 >/dev/null &
	jobs_+=($!)
done
for i in 1 2 3 4 5 6; do wait_for synthesising slow "Parked text number $i." 1; done
for i in 1 2 3 4 5 6; do
	printf '%s\n' "$(speech_at "${U[g]}" "$(say "Parked text number $i." wav)" "$T/pk-g$i.wav" -m 30)" >>"$T/codes-pk" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$SLOW/_fake/set?latency-ms=400&chunks=4" >/dev/null
eq "all six served by G" "$(cut -d' ' -f1 "$T/codes-pk" | sort -u | tr '\n' ' ')" "200 "
ok=1
for i in 1 2 3 4 5 6; do
	cmp -s "$T/pk-b$i.wav" "$T/pk-g$i.wav" || ok=0
	[ "$(nsynth slow "Parked text number $i.")" = 1 ] || ok=0
done
check "each the holder's audio, synthesised once" test "$ok" = 1
stop_daemon "${P[g]}" g

for n in b c; do stop_daemon "${P[$n]}" "$n"; done
stop_redis
finish
