#!/usr/bin/env bash
# Several instances, one Redis (spec §9): speech synthesised once for the
# cluster and served byte-identical everywhere; 60 concurrent requests
# over three instances, one synthesis; a holder killed mid-synthesis;
# values we did not write; Redis stopped and restarted, and killed under
# load (no request fails); the figures, and
# `cache clear --shared`.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server || finish
K=(-H 'Authorization: Bearer sk-test')
jobs_=()

speech() {  # speech URL JSON OUT -> "STATUS CACHE"
	curl -sS -m 30 "${K[@]}" -D "$T/h.$$" -o "$3" -w '%{http_code}' -d "$2" "$1/v1/audio/speech" >"$T/code.$$"
	printf '%s %s' "$(cat "$T/code.$$")" "$(tr -d '\r' <"$T/h.$$" | sed -n 's/^X-TTS-Cache: //p')"
}
say() { jq -cn --arg t "$1" '{input:$t}'; }
# Backend requests for a text so far.
nsynth() { jq -r 'select(.path=="/v1/audio/speech") | .body.input' "$T/tts-slow.jsonl" 2>/dev/null | grep -cxF "$1"; }
# The Redis name of a text's audio, with the default parameters.
akey() { printf 'ttsaccel:a:%s' "$(printf 'v1\037liang\037alloy\037wav\0371.00\037\037%s' "$1" | sha256sum | cut -c1-64)"; }
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
shared_of() { curl -sS -m 5 "$1/health" | jq -r ".shared.$2"; }
wait_for() {  # wait_for SECONDS CMD...
	local n=$(( $1 * 10 )) i
	shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
valid_wav() { "$BUILD/tests/fake_tts" --wav-info "$1" >/dev/null 2>&1; }

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
	check "instance $n is connected to Redis" wait_for 10 sh -c "[ \"\$(curl -sS '${U[$n]}/health' | jq -r .shared.state)\" = up ]"
done

# 1. Synthesised on A, served by B: from Redis, the same bytes.
s1="The first sentence we share."
eq "A synthesises it" "$(speech "${U[a]}" "$(say "$s1")" "$T/1a.wav")" "200 shared"
check "a valid WAV" valid_wav "$T/1a.wav"
check "stored in Redis under the SHA-256 of its key" test "$(rcli exists "$(akey "$s1")")" = 1
eq "B finds it in the shared tier" "$(speech "${U[b]}" "$(say "$s1")" "$T/1b.wav")" "200 shared"
check "byte-identical to A's" cmp -s "$T/1a.wav" "$T/1b.wav"
eq "and keeps it: a local hit next" "$(speech "${U[b]}" "$(say "$s1")" "$T/1b2.wav")" "200 hit"
check "same bytes again" cmp -s "$T/1a.wav" "$T/1b2.wav"
eq "one backend synthesis for the cluster" "$(nsynth "$s1")" 1
eq "B counted a shared hit" "$(shared_of "${U[b]}" hits)" 1
eq "A counted a lock won" "$(shared_of "${U[a]}" locks_won)" 1

# 2. Sixty identical requests at once over three instances: one synthesis.
s2="Sixty ask for this at once."
for i in $(seq 60); do
	n=$(printf 'a\nb\nc' | sed -n "$(( i % 3 + 1 ))p")
	curl -sS -m 30 "${K[@]}" -o "$T/c$i.wav" -w '%{http_code}\n' -d "$(say "$s2")" "${U[$n]}/v1/audio/speech" >>"$T/codes2" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
eq "all 60 answered 200" "$(sort -u "$T/codes2" | tr '\n' ' ')" "200 "
eq "exactly one backend synthesis" "$(nsynth "$s2")" 1
eq "every answer identical" "$(md5sum "$T"/c*.wav | awk '{print $1}' | sort -u | wc -l)" 1
check "and a valid WAV" valid_wav "$T/c1.wav"
waited=0
for n in a b c; do waited=$((waited + $(shared_of "${U[$n]}" locks_waited))); done
check "the other instances waited on the lock ($waited)" test "$waited" -ge 2

# 3. Values we did not write are misses, never served.
s3="A value planted by someone else."
rcli set "$(akey "$s3")" "this is not audio" >/dev/null
f0=$(shared_of "${U[c]}" foreign)
eq "a foreign value is a miss" "$(speech "${U[c]}" "$(say "$s3")" "$T/3c.wav")" "200 shared"
check "the answer is real audio" valid_wav "$T/3c.wav"
eq "synthesised on a backend" "$(nsynth "$s3")" 1
check "counted as foreign" test "$(shared_of "${U[c]}" foreign)" -gt "$f0"
eq "and replaced by ours" "$(rcli getrange "$(akey "$s3")" 0 7)" ttsaccel
s4="This audio will be cut short in Redis."
speech "${U[a]}" "$(say "$s4")" "$T/4a.wav" >/dev/null
rcli getrange "$(akey "$s4")" 0 999 | head -c 1000 | redis-cli -p "$REDIS_PORT" -x set "$(akey "$s4")" >/dev/null
eq "a truncated value is a miss" "$(speech "${U[b]}" "$(say "$s4")" "$T/4b.wav")" "200 shared"
check "B's answer is whole" cmp -s "$T/4a.wav" "$T/4b.wav"
eq "synthesised again" "$(nsynth "$s4")" 2
s5="A lock that never expires."
rcli set "ttsaccel:l:$(akey "$s5" | sed 's/^ttsaccel:a://')" "not-ours" >/dev/null
eq "a lock not ours does not hold us up" "$(speech "${U[b]}" "$(say "$s5")" "$T/5b.wav")" "200 shared"
check "real audio" valid_wav "$T/5b.wav"
rcli set "ttsaccel:s:$(akey "$s5" | sed 's/^ttsaccel:a://')" "x" >/dev/null
rcli del "$(akey "$s5")" >/dev/null
eq "nor a stream key of the wrong type" "$(speech "${U[c]}" "$(say "$s5")" "$T/5c.wav")" "200 shared"
check "the same audio" cmp -s "$T/5b.wav" "$T/5c.wav"

# 4. The synthesising instance dies: its lock expires, another takes over,
# the waiting clients get their audio.
s6="The holder of this one is killed."
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=2500" >/dev/null
curl -sS -m 30 "${K[@]}" -o /dev/null -d "$(say "$s6")" "${U[a]}/v1/audio/speech" &
ja=$!
sleep 0.5
curl -sS -m 40 "${K[@]}" -o "$T/6b.wav" -w '%{http_code}' -d "$(say "$s6")" "${U[b]}/v1/audio/speech" >"$T/6b.code" &
jb=$!
curl -sS -m 40 "${K[@]}" -o "$T/6c.wav" -w '%{http_code}' -d "$(say "$s6")" "${U[c]}/v1/audio/speech" >"$T/6c.code" &
jc=$!
sleep 0.5
kill -KILL "${P[a]}"
wait "${P[a]}" 2>/dev/null
wait "$ja" 2>/dev/null
t0=$SECONDS
wait "$jb" "$jc"
eq "B's client got its audio" "$(cat "$T/6b.code")" 200
eq "C's client got its audio" "$(cat "$T/6c.code")" 200
check "valid" valid_wav "$T/6b.wav"
check "the same" cmp -s "$T/6b.wav" "$T/6c.wav"
check "within the lock's life and a synthesis ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 15
eq "synthesised twice: the dead one's and the taker's" "$(nsynth "$s6")" 2
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
check "instance d is connected to Redis" wait_for 10 sh -c "[ \"\$(curl -sS '${U[d]}/health' | jq -r .shared.state)\" = up ]"
curl -sS -m 30 "${K[@]}" -o /dev/null -d "$(say "$s6b")" "${U[d]}/v1/audio/speech" &
jd=$!
sleep 0.3
curl -sS -m 40 "${K[@]}" -o "$T/6bb.wav" -w '%{http_code}' -d "$(say "$s6b")" "${U[b]}/v1/audio/speech" >"$T/6bb.code" &
jb=$!
curl -sS -m 40 "${K[@]}" -o "$T/6bc.wav" -w '%{http_code}' -d "$(say "$s6b")" "${U[c]}/v1/audio/speech" >"$T/6bc.code" &
jc=$!
sleep 1.5
kill -KILL "${P[d]}"
wait "${P[d]}" 2>/dev/null
wait "$jd" 2>/dev/null
wait "$jb" "$jc"
eq "B's client got all of it" "$(cat "$T/6bb.code")" 200
eq "C's client got all of it" "$(cat "$T/6bc.code")" 200
check "whole and valid" valid_wav "$T/6bb.wav"
check "the same" cmp -s "$T/6bb.wav" "$T/6bc.wav"
eq "once more on a backend" "$(nsynth "$s6b")" 2
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
	check "instance $n is connected to Redis" wait_for 10 sh -c "[ \"\$(curl -sS '${U[$n]}/health' | jq -r .shared.state)\" = up ]"
done
s6c="Stuck on a backend that never answers."
curl -sS -m 40 "${K[@]}" -o /dev/null -d "$(say "$s6c")" "${U[e]}/v1/audio/speech" &
je=$!
sleep 0.5
t0=$SECONDS
eq "F, following E, gives up on it and synthesises" "$(speech "${U[f]}" "$(say "$s6c")" "$T/6cf.wav")" "200 shared"
check "within its request timeout and the lock's life ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 10
check "real audio" valid_wav "$T/6cf.wav"
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
check "instance g is connected to Redis" wait_for 10 sh -c "[ \"\$(curl -sS '${U[g]}/health' | jq -r .shared.state)\" = up ]"
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=1500&chunks=1" >/dev/null
for i in 1 2 3 4 5 6; do
	curl -sS -m 30 "${K[@]}" -o "$T/pk-b$i.wav" -d "$(say "Parked text number $i.")" "${U[b]}/v1/audio/speech" &
	jobs_+=($!)
done
sleep 0.5
for i in 1 2 3 4 5 6; do
	curl -sS -m 30 "${K[@]}" -o "$T/pk-g$i.wav" -w '%{http_code}\n' -d "$(say "Parked text number $i.")" "${U[g]}/v1/audio/speech" >>"$T/codes-pk" &
	jobs_+=($!)
done
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=400&chunks=4" >/dev/null
eq "all six served by G" "$(sort -u "$T/codes-pk" | tr '\n' ' ')" "200 "
ok=1
for i in 1 2 3 4 5 6; do
	cmp -s "$T/pk-b$i.wav" "$T/pk-g$i.wav" || ok=0
	[ "$(nsynth "Parked text number $i.")" = 1 ] || ok=0
done
check "each the holder's audio, synthesised once" test "$ok" = 1
stop_daemon "${P[g]}" g

# 5. Redis stops mid-run: nothing fails; it comes back: shared again.
s7="Asked while Redis goes away."
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=1000" >/dev/null
for i in 1 2 3 4; do
	n=$([ $((i % 2)) = 0 ] && echo b || echo c)
	curl -sS -m 30 "${K[@]}" -o "$T/7$i.wav" -w '%{http_code}\n' -d "$(say "$s7 $i")" "${U[$n]}/v1/audio/speech" >>"$T/codes7" &
	jobs_+=($!)
	curl -sS -m 30 "${K[@]}" -o "$T/7$i-2.wav" -w '%{http_code}\n' -d "$(say "$s7 $i")" "${U[$n]}/v1/audio/speech" >>"$T/codes7" &
	jobs_+=($!)
done
sleep 0.3
stop_redis
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$TTS_URL/_fake/set?latency-ms=0" >/dev/null
eq "requests in flight when Redis stopped: all 200" "$(sort -u "$T/codes7" | tr '\n' ' ')" "200 "
for i in 1 2 3 4; do
	check "and whole ($i)" valid_wav "$T/7$i.wav"
done
check "B sees the tier down" wait_for 5 sh -c "[ \"\$(curl -sS '${U[b]}/health' | jq -r .shared.state)\" != up ]"
eq "health stays 200" "$(curl -sS -o /dev/null -w '%{http_code}' "${U[b]}/health")" 200
eq "new requests are served" "$(speech "${U[c]}" "$(say "Served with Redis down.")" "$T/8c.wav")" "200 miss"
check "valid" valid_wav "$T/8c.wav"
eq "local hits too" "$(speech "${U[b]}" "$(say "$s1")" "$T/8b.wav")" "200 hit"
check "/metrics says it" sh -c "curl -sS '${U[b]}/metrics' | grep -qx 'ttsaccel_shared_up 0'"
check "ttsaccelctl stats says it" sh -c "'$TTSACCELCTL' -s '$T/b.sock' stats | grep -Eq 'Shared tier +: (down|connecting)'"
sleep 2
eq "the outage is logged once" "$(grep -c 'shared tier: Redis at .* is down' "$T/b.log")" 1
start_redis "$REDIS_PORT" --enable-debug-command local
for n in b c; do
	check "instance $n reconnects" wait_for 10 sh -c "[ \"\$(curl -sS '${U[$n]}/health' | jq -r .shared.state)\" = up ]"
done
check "reconnection counted" test "$(shared_of "${U[b]}" reconnects)" -ge 1
eq "and logged" "$(grep -c 'shared tier: connected to Redis' "$T/b.log")" 2
s9="Shared again after the restart."
eq "C synthesises" "$(speech "${U[c]}" "$(say "$s9")" "$T/9c.wav")" "200 shared"
eq "B gets it from Redis" "$(speech "${U[b]}" "$(say "$s9")" "$T/9b.wav")" "200 shared"
check "the same bytes" cmp -s "$T/9c.wav" "$T/9b.wav"
eq "once" "$(nsynth "$s9")" 1

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
	curl -sS -m 30 -N "${K[@]}" -o "$T/5b-chat$i.out" -w '%{http_code}\n' \
	    -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"ECHO:Chat '"$i"' goes on while Redis dies. It has a second sentence, and a third one here."}]}' \
	    "${U[k]}/v1/chat/completions" >>"$T/codes5b" &
	jobs_+=($!)
	n=$([ $((i % 2)) = 0 ] && echo k || echo b)
	curl -sS -m 30 "${K[@]}" -o "$T/5b-sp$i.wav" -w '%{http_code}\n' \
	    -d "$(say "Spoken while Redis is killed, number $i.")" "${U[$n]}/v1/audio/speech" >>"$T/codes5b" &
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
	valid_wav "$T/5b-sp$i.wav" || ok=0
done
check "every chat streamed to its end, every answer is whole audio" test "$ok" = 1
check "K saw the tier go down" grep -q 'shared tier: Redis at .* is down' "$T/k.log"
stop_daemon "${P[k]}" k
start_redis "$REDIS_PORT" --enable-debug-command local
for n in b c; do
	check "instance $n reconnects after the kill" wait_for 10 sh -c "[ \"\$(curl -sS '${U[$n]}/health' | jq -r .shared.state)\" = up ]"
done
eq "and shares again" "$(speech "${U[c]}" "$(say "Shared again after the kill.")" "$T/9k.wav")" "200 shared"

# 6. Redis slow: no answer in time takes the tier down, requests go on.
rcli debug sleep 4 >/dev/null &
js=$!
sleep 0.2
t0=$(date +%s%N)
eq "a request while Redis does not answer" "$(speech "${U[b]}" "$(say "Asked while Redis sleeps.")" "$T/10b.wav")" "200 shared"
check "served within the command timeout and a synthesis" test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3500
check "real audio" valid_wav "$T/10b.wav"
check "B took the tier down (down or connecting again)" test "$(shared_of "${U[b]}" state)" != up
check "the reason logged" grep -q 'shared tier: Redis at .* is down: no answer in time' "$T/b.log"
wait "$js"
check "and came back" wait_for 10 sh -c "[ \"\$(curl -sS '${U[b]}/health' | jq -r .shared.state)\" = up ]"

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
eq "and C's memory emptied too" "$(speech "${U[c]}" "$(say "$s9")" "$T/9c2.wav")" "200 shared"

for n in b c; do stop_daemon "${P[$n]}" "$n"; done
stop_redis
finish
