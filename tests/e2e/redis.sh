#!/usr/bin/env bash
# Several instances, one Redis (spec §9): speech synthesised once for the
# cluster and served byte-identical everywhere; 60 concurrent requests
# over three instances, one synthesis; a holder killed mid-synthesis;
# values we did not write; Redis stopped and restarted, and killed under
# load (no request fails); the figures, and
# `cache clear --shared`.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server || finish
jobs_=()

# The Redis name of a text's audio, with the default parameters.
akey() { printf 'ttsaccel:a:%s' "$(printf 'v1\037liang\037alloy\037wav\0371.00\037\037%s' "$1" | sha256sum | cut -c1-64)"; }
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

start_redis "" --enable-debug-command local
start_tts slow --latency-ms 400 --chunks 4 --chunk-delay-ms 100
declare -A U P
for n in a b c; do
	DAEMON_NAME=$n REDIS_URL="$REDIS_URL" TTS_ENDPOINTS="$TTS_URL" NEWAPI_API_KEY=sk-test \
	    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
	U[$n]=$URL
	P[$n]=$DAEMON_PID
done
for n in a b c; do
	check "instance $n is connected to Redis" wait_for shared_up "${U[$n]}"
done

# 1. Synthesised on A, served by B: from Redis, the same bytes.
s1="The first sentence we share."
eq "A synthesises it" "$(speech_at "${U[a]}" "$(say "$s1")" "$T/1a.wav")" "200 shared"
check "a valid WAV" exact_wav "$T/1a.wav"
check "stored in Redis under the SHA-256 of its key" test "$(rcli exists "$(akey "$s1")")" = 1
eq "B finds it in the shared tier" "$(speech_at "${U[b]}" "$(say "$s1")" "$T/1b.wav")" "200 shared"
check "byte-identical to A's" cmp -s "$T/1a.wav" "$T/1b.wav"
eq "and keeps it: a local hit next" "$(speech_at "${U[b]}" "$(say "$s1")" "$T/1b2.wav")" "200 hit"
check "same bytes again" cmp -s "$T/1a.wav" "$T/1b2.wav"
eq "one backend synthesis for the cluster" "$(nsynth slow "$s1")" 1
eq "B counted a shared hit" "$(shared_of "${U[b]}" hits)" 1
eq "A counted a lock won" "$(shared_of "${U[a]}" locks_won)" 1

# 2. Sixty identical requests at once over three instances: one synthesis.
s2="Sixty ask for this at once."
for i in $(seq 60); do
	n=$(printf 'a\nb\nc' | sed -n "$(( i % 3 + 1 ))p")
	printf '%s\n' "$(speech_at "${U[$n]}" "$(say "$s2")" "$T/c$i.wav" -m 30)" >>"$T/codes2" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
eq "all 60 answered 200" "$(cut -d' ' -f1 "$T/codes2" | sort -u | tr '\n' ' ')" "200 "
eq "exactly one backend synthesis" "$(nsynth slow "$s2")" 1
eq "every answer identical" "$(md5sum "$T"/c*.wav | awk '{print $1}' | sort -u | wc -l)" 1
check "and a valid WAV" exact_wav "$T/c1.wav"
waited=0
for n in a b c; do waited=$((waited + $(shared_of "${U[$n]}" locks_waited))); done
check "the other instances waited on the lock ($waited)" test "$waited" -ge 2

# 3. Values we did not write are misses, never served.
s3="A value planted by someone else."
rcli set "$(akey "$s3")" "this is not audio" >/dev/null
f0=$(shared_of "${U[c]}" foreign)
eq "a foreign value is a miss" "$(speech_at "${U[c]}" "$(say "$s3")" "$T/3c.wav")" "200 shared"
check "the answer is real audio" exact_wav "$T/3c.wav"
eq "synthesised on a backend" "$(nsynth slow "$s3")" 1
check "counted as foreign" test "$(shared_of "${U[c]}" foreign)" -gt "$f0"
eq "and replaced by ours" "$(rcli getrange "$(akey "$s3")" 0 7)" ttsaccel
s4="This audio will be cut short in Redis."
speech_at "${U[a]}" "$(say "$s4")" "$T/4a.wav" >/dev/null
rcli getrange "$(akey "$s4")" 0 999 | head -c 1000 | redis-cli -p "$REDIS_PORT" -x set "$(akey "$s4")" >/dev/null
eq "a truncated value is a miss" "$(speech_at "${U[b]}" "$(say "$s4")" "$T/4b.wav")" "200 shared"
check "B's answer is whole" cmp -s "$T/4a.wav" "$T/4b.wav"
eq "synthesised again" "$(nsynth slow "$s4")" 2
s5="A lock that never expires."
rcli set "ttsaccel:l:$(akey "$s5" | sed 's/^ttsaccel:a://')" "not-ours" >/dev/null
eq "a lock not ours does not hold us up" "$(speech_at "${U[b]}" "$(say "$s5")" "$T/5b.wav")" "200 shared"
check "real audio" exact_wav "$T/5b.wav"
rcli set "ttsaccel:s:$(akey "$s5" | sed 's/^ttsaccel:a://')" "x" >/dev/null
rcli del "$(akey "$s5")" >/dev/null
eq "nor a stream key of the wrong type" "$(speech_at "${U[c]}" "$(say "$s5")" "$T/5c.wav")" "200 shared"
check "the same audio" cmp -s "$T/5b.wav" "$T/5c.wav"

# 4. The synthesising instance dies: its lock expires, another takes over,
# the waiting clients get their audio.
s6="The holder of this one is killed."
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=2500" >/dev/null
speech_at "${U[a]}" "$(say "$s6")" /dev/null -m 30 >/dev/null &
ja=$!
sleep 0.5
speech_at "${U[b]}" "$(say "$s6")" "$T/6b.wav" -m 40 >"$T/6b.code" &
jb=$!
speech_at "${U[c]}" "$(say "$s6")" "$T/6c.wav" -m 40 >"$T/6c.code" &
jc=$!
sleep 0.5
kill -KILL "${P[a]}"
wait "${P[a]}" 2>/dev/null
wait "$ja" 2>/dev/null
t0=$SECONDS
wait "$jb" "$jc"
eq "B's client got its audio" "$(cut -d' ' -f1 "$T/6b.code")" 200
eq "C's client got its audio" "$(cut -d' ' -f1 "$T/6c.code")" 200
check "valid" exact_wav "$T/6b.wav"
check "the same" cmp -s "$T/6b.wav" "$T/6c.wav"
check "within the lock's life and a synthesis ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 15
eq "synthesised twice: the dead one's and the taker's" "$(nsynth slow "$s6")" 2
eq "one takeover" "$(( $(shared_of "${U[b]}" takeovers) + $(shared_of "${U[c]}" takeovers) ))" 1
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=400" >/dev/null

# 4b. Killed after its first chunks reached the others: the taker-over
# says the same text alike (the fake is deterministic), so the followers
# check the bytes they already sent and go on from there.
s6b="Killed half-way through this one."
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=100&chunks=6&chunk-delay-ms=700" >/dev/null
DAEMON_NAME=d REDIS_URL="$REDIS_URL" TTS_ENDPOINTS="$TTS_URL" NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
U[d]=$URL
P[d]=$DAEMON_PID
check "instance d is connected to Redis" wait_for shared_up "${U[d]}"
speech_at "${U[d]}" "$(say "$s6b")" /dev/null -m 30 >/dev/null &
jd=$!
sleep 0.3
speech_at "${U[b]}" "$(say "$s6b")" "$T/6bb.wav" -m 40 >"$T/6bb.code" &
jb=$!
speech_at "${U[c]}" "$(say "$s6b")" "$T/6bc.wav" -m 40 >"$T/6bc.code" &
jc=$!
sleep 1.5
kill -KILL "${P[d]}"
wait "${P[d]}" 2>/dev/null
wait "$jd" 2>/dev/null
wait "$jb" "$jc"
eq "B's client got all of it" "$(cut -d' ' -f1 "$T/6bb.code")" 200
eq "C's client got all of it" "$(cut -d' ' -f1 "$T/6bc.code")" 200
check "whole and valid" exact_wav "$T/6bb.wav"
check "the same" cmp -s "$T/6bb.wav" "$T/6bc.wav"
eq "once more on a backend" "$(nsynth slow "$s6b")" 2
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=400&chunks=4&chunk-delay-ms=100" >/dev/null

# 4c. A holder alive but stuck (its endpoint never answers) holds the
# others no longer than their own TTS_REQUEST_TIMEOUT: they go on alone.
start_tts stuck --latency-ms 30000
DAEMON_NAME=e REDIS_URL="$REDIS_URL" TTS_ENDPOINTS="$TTS_URL" NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
U[e]=$URL
P[e]=$DAEMON_PID
DAEMON_NAME=f REDIS_URL="$REDIS_URL" TTS_ENDPOINTS="$(sed -n 's/.*listening on \(.*\)/http:\/\/\1/p' "$T/tts-slow.log")" \
    NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 TTS_REQUEST_TIMEOUT=1 start_daemon
U[f]=$URL
P[f]=$DAEMON_PID
for n in e f; do
	check "instance $n is connected to Redis" wait_for shared_up "${U[$n]}"
done
s6c="Stuck on a backend that never answers."
speech_at "${U[e]}" "$(say "$s6c")" /dev/null -m 40 >/dev/null &
je=$!
sleep 0.5
t0=$SECONDS
eq "F, following E, gives up on it and synthesises" "$(speech_at "${U[f]}" "$(say "$s6c")" "$T/6cf.wav")" "200 shared"
check "within its request timeout and the lock's life ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 10
check "real audio" exact_wav "$T/6cf.wav"
kill -TERM "$je" 2>/dev/null
wait "$je" 2>/dev/null
stop_daemon "${P[e]}" e
stop_daemon "${P[f]}" f

# 4d. More keys to follow than REDIS_FOLLOW_MAX: the rest wait for the
# holder's end (a look a second) instead of synthesising twice.
DAEMON_NAME=g REDIS_URL="$REDIS_URL" TTS_ENDPOINTS="$TTS_URL" NEWAPI_API_KEY=sk-test \
    TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 REDIS_FOLLOW_MAX=2 start_daemon
U[g]=$URL
P[g]=$DAEMON_PID
check "instance g is connected to Redis" wait_for shared_up "${U[g]}"
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=1500&chunks=1" >/dev/null
for i in 1 2 3 4 5 6; do
	speech_at "${U[b]}" "$(say "Parked text number $i.")" "$T/pk-b$i.wav" -m 30 >/dev/null &
	jobs_+=($!)
done
sleep 0.5
for i in 1 2 3 4 5 6; do
	printf '%s\n' "$(speech_at "${U[g]}" "$(say "Parked text number $i.")" "$T/pk-g$i.wav" -m 30)" >>"$T/codes-pk" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=400&chunks=4" >/dev/null
eq "all six served by G" "$(cut -d' ' -f1 "$T/codes-pk" | sort -u | tr '\n' ' ')" "200 "
ok=1
for i in 1 2 3 4 5 6; do
	cmp -s "$T/pk-b$i.wav" "$T/pk-g$i.wav" || ok=0
	[ "$(nsynth slow "Parked text number $i.")" = 1 ] || ok=0
done
check "each the holder's audio, synthesised once" test "$ok" = 1
stop_daemon "${P[g]}" g

# 5. Redis stops mid-run: nothing fails; it comes back: shared again.
s7="Asked while Redis goes away."
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=1000" >/dev/null
for i in 1 2 3 4; do
	n=$([ $((i % 2)) = 0 ] && echo b || echo c)
	printf '%s\n' "$(speech_at "${U[$n]}" "$(say "$s7 $i")" "$T/7$i.wav" -m 30)" >>"$T/codes7" &
	jobs_+=($!)
	printf '%s\n' "$(speech_at "${U[$n]}" "$(say "$s7 $i")" "$T/7$i-2.wav" -m 30)" >>"$T/codes7" &
	jobs_+=($!)
done
sleep 0.3
stop_redis
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=0" >/dev/null
eq "requests in flight when Redis stopped: all 200" "$(cut -d' ' -f1 "$T/codes7" | sort -u | tr '\n' ' ')" "200 "
for i in 1 2 3 4; do
	check "and whole ($i)" exact_wav "$T/7$i.wav"
done
check "B sees the tier down" wait_for shared_down "${U[b]}"
eq "health stays 200" "$(curl -sS -o /dev/null -w '%{http_code}' "${U[b]}/health")" 200
eq "new requests are served" "$(speech_at "${U[c]}" "$(say "Served with Redis down.")" "$T/8c.wav")" "200 miss"
check "valid" exact_wav "$T/8c.wav"
eq "local hits too" "$(speech_at "${U[b]}" "$(say "$s1")" "$T/8b.wav")" "200 hit"
check "/metrics says it" sh -c "curl -sS '${U[b]}/metrics' | grep -qx 'ttsaccel_shared_up 0'"
check "ttsaccelctl stats says it" sh -c "'$TTSACCELCTL' -s '$T/b.sock' stats | grep -Eq 'Shared tier +: (down|connecting)'"
sleep 2
eq "the outage is logged once" "$(grep -c 'shared tier: Redis at .* is down' "$T/b.log")" 1
start_redis "$REDIS_PORT" --enable-debug-command local
for n in b c; do
	check "instance $n reconnects" wait_for shared_up "${U[$n]}"
done
check "reconnection counted" test "$(shared_of "${U[b]}" reconnects)" -ge 1
eq "and logged" "$(grep -c 'shared tier: connected to Redis' "$T/b.log")" 2
s9="Shared again after the restart."
eq "C synthesises" "$(speech_at "${U[c]}" "$(say "$s9")" "$T/9c.wav")" "200 shared"
eq "B gets it from Redis" "$(speech_at "${U[b]}" "$(say "$s9")" "$T/9b.wav")" "200 shared"
check "the same bytes" cmp -s "$T/9c.wav" "$T/9b.wav"
eq "once" "$(nsynth slow "$s9")" 1

# 5b. Redis killed (SIGKILL) under load: chats streaming with their
# prefetch, speech requests on two instances; not one request fails.
start_upstream --delay-ms 40
DAEMON_NAME=k REDIS_URL="$REDIS_URL" TTS_ENDPOINTS="$TTS_URL" NEWAPI_API_KEY=sk-test \
    NEWAPI_BASE_URL=$UP_URL TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_daemon
U[k]=$URL
P[k]=$DAEMON_PID
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=300" >/dev/null
: >"$T/codes5b"
for i in $(seq 12); do
	chat_at "${U[k]}" "$(echo_chat "Chat $i goes on while Redis dies. It has a second sentence, and a third one here.")" \
	    -o "$T/5b-chat$i.out" -w '%{http_code}\n' >>"$T/codes5b" &
	jobs_+=($!)
	n=$([ $((i % 2)) = 0 ] && echo k || echo b)
	(r=$(speech_at "${U[$n]}" "$(say "Spoken while Redis is killed, number $i.")" "$T/5b-sp$i.wav")
	    printf '%s\n' "${r%% *}" >>"$T/codes5b") &
	jobs_+=($!)
done
sleep 0.4
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=0" >/dev/null
eq "24 requests in flight when Redis was killed: 24 answered" "$(wc -l <"$T/codes5b")" 24
eq "all 200" "$(sort -u "$T/codes5b" | tr '\n' ' ')" "200 "
ok=1
for i in $(seq 12); do
	tail -n 3 "$T/5b-chat$i.out" | grep -q '^data: \[DONE\]' || ok=0
	exact_wav "$T/5b-sp$i.wav" || ok=0
done
check "every chat streamed to its end, every answer is whole audio" test "$ok" = 1
check "K saw the tier go down" grep -q 'shared tier: Redis at .* is down' "$T/k.log"
stop_daemon "${P[k]}" k
start_redis "$REDIS_PORT" --enable-debug-command local
for n in b c; do
	check "instance $n reconnects after the kill" wait_for shared_up "${U[$n]}"
done
eq "and shares again" "$(speech_at "${U[c]}" "$(say "Shared again after the kill.")" "$T/9k.wav")" "200 shared"

# 6. Redis slow: no answer in time takes the tier down, requests go on.
rcli debug sleep 4 >/dev/null &
js=$!
sleep 0.2
t0=$(date +%s%N)
eq "a request while Redis does not answer" "$(speech_at "${U[b]}" "$(say "Asked while Redis sleeps.")" "$T/10b.wav")" "200 shared"
check "served within the command timeout and a synthesis" test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3500
check "real audio" exact_wav "$T/10b.wav"
check "B took the tier down (down or connecting again)" test "$(shared_of "${U[b]}" state)" != up
check "the reason logged" grep -q 'shared tier: Redis at .* is down: no answer in time' "$T/b.log"
wait "$js"
check "and came back" wait_for shared_up "${U[b]}"

# 7. The figures, and clearing this cluster's keys (not another's).
out=$("$TTSACCELCTL" -s "$T/b.sock" stats)
contains "stats: the shared tier" "$out" "Shared tier"
contains "stats: its hits" "$out" "Shared hits"
contains "stats: locks won" "$out" "Locks won"
contains "stats: locks waited" "$out" "Locks waited"
eq "stats --json" "$("$TTSACCELCTL" -s "$T/b.sock" --json stats | jq -r .shared.state)" up
check "/cache/stats has it" sh -c "curl -sS '${U[b]}/cache/stats' | jq -e '.shared.hits >= 1' >/dev/null"
check "/metrics has it" sh -c "curl -sS '${U[b]}/metrics' | grep -qx 'ttsaccel_shared_up 1'"
rcli set other:keep 1 >/dev/null
check "keys under the prefix before" test "$(rcli --scan --pattern 'ttsaccel:*' | wc -l)" -gt 0
out=$("$TTSACCELCTL" -s "$T/c.sock" cache clear --shared)
contains "cache clear --shared says what it removed" "$out" "from Redis"
eq "no key left under the prefix" "$(rcli --scan --pattern 'ttsaccel:*' | wc -l)" 0
eq "another prefix's key kept" "$(rcli get other:keep)" 1
eq "and C's memory emptied too" "$(speech_at "${U[c]}" "$(say "$s9")" "$T/9c2.wav")" "200 shared"

for n in b c; do stop_daemon "${P[$n]}" "$n"; done
stop_redis
finish
