#!/usr/bin/env bash
# Several instances, one Redis that goes away: stopped mid-run and started
# again, killed (SIGKILL) under load, too slow to answer.  Not one request
# fails; the instances share again once it is back.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server || finish
jobs_=()

start_cluster --latency-ms 400 --chunks 4 --chunk-delay-ms 100

# A text B keeps in its own memory.
s1="The first sentence we share."
speech_at "${U[b]}" "$(say "$s1" wav)" "$T/1b.wav" >/dev/null

# 1. Redis stops mid-run: nothing fails; it comes back: shared again.
s7="Asked while Redis goes away."
curl -sS -X POST "$SLOW/_fake/set?latency-ms=1000" >/dev/null
for i in 1 2 3 4; do
	n=$([ $((i % 2)) = 0 ] && echo b || echo c)
	printf '%s\n' "$(speech_at "${U[$n]}" "$(say "$s7 $i" wav)" "$T/7$i.wav" -m 30)" >>"$T/codes7" &
	jobs_+=($!)
	printf '%s\n' "$(speech_at "${U[$n]}" "$(say "$s7 $i" wav)" "$T/7$i-2.wav" -m 30)" >>"$T/codes7" &
	jobs_+=($!)
done
# In flight: the backend has them (each 1 s there).
wait_for grep -qs 'Asked while Redis goes away' "$T/tts-slow.jsonl"
stop_redis
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$SLOW/_fake/set?latency-ms=0" >/dev/null
eq "requests in flight when Redis stopped: all 200" "$(cut -d' ' -f1 "$T/codes7" | sort -u | tr '\n' ' ')" "200 "
for i in 1 2 3 4; do
	check "and whole ($i)" exact_wav "$T/7$i.wav"
done
check "B sees the tier down" wait_for not shared_up "${U[b]}"
eq "health stays 200" "$(curl -sS -o /dev/null -w '%{http_code}' "${U[b]}/health")" 200
eq "new requests are served" "$(speech_at "${U[c]}" "$(say "Served with Redis down." wav)" "$T/8c.wav")" "200 miss"
check "valid" exact_wav "$T/8c.wav"
eq "local hits too" "$(speech_at "${U[b]}" "$(say "$s1" wav)" "$T/8b.wav")" "200 hit"
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
eq "C synthesises" "$(speech_at "${U[c]}" "$(say "$s9" wav)" "$T/9c.wav")" "200 shared"
eq "B gets it from Redis" "$(speech_at "${U[b]}" "$(say "$s9" wav)" "$T/9b.wav")" "200 shared"
check "the same bytes" cmp -s "$T/9c.wav" "$T/9b.wav"
eq "once" "$(nsynth slow "$s9")" 1

# 2. Redis killed (SIGKILL) under load: chats streaming with their
# prefetch, speech requests on two instances; not one request fails.
start_upstream --delay-ms 40
TTS_ENDPOINTS=$SLOW NEWAPI_API_KEY=sk-test \
    NEWAPI_BASE_URL=$UP_URL TTS_HEALTH_INTERVAL=0 TTS_RETRY_COUNT=0 start_instance k
curl -sS -X POST "$SLOW/_fake/set?latency-ms=300" >/dev/null
: >"$T/codes5b"
for i in $(seq 12); do
	chat_at "${U[k]}" "$(echo_chat "Chat $i goes on while Redis dies. It has a second sentence, and a third one here.")" \
	    -o "$T/5b-chat$i.out" -w '%{http_code}\n' >>"$T/codes5b" &
	jobs_+=($!)
	n=$([ $((i % 2)) = 0 ] && echo k || echo b)
	(r=$(speech_at "${U[$n]}" "$(say "Spoken while Redis is killed, number $i." wav)" "$T/5b-sp$i.wav")
	    printf '%s\n' "${r%% *}" >>"$T/codes5b") &
	jobs_+=($!)
done
# Under load: speech requests at the backend (each 300 ms there).
wait_for grep -qs 'Spoken while Redis' "$T/tts-slow.jsonl"
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
wait "${jobs_[@]}"; jobs_=()
curl -sS -X POST "$SLOW/_fake/set?latency-ms=0" >/dev/null
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
eq "and shares again" "$(speech_at "${U[c]}" "$(say "Shared again after the kill." wav)" "$T/9k.wav")" "200 shared"

# 3. Redis slow: no answer in time takes the tier down, requests go on.
rcli debug sleep 10 >/dev/null &
js=$!
# Until Redis is asleep: a ping gets no answer.
wait_for not timeout 0.5 redis-cli -p "$REDIS_PORT" ping
t0=$(date +%s%N)
eq "a request while Redis does not answer" "$(speech_at "${U[b]}" "$(say "Asked while Redis sleeps." wav)" "$T/10b.wav")" "200 shared"
check "served within the command timeout and a synthesis, not Redis's 10 s" test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 7000
check "real audio" exact_wav "$T/10b.wav"
check "B took the tier down (down or connecting again)" test "$(shared_of "${U[b]}" state)" != up
check "the reason logged" grep -q 'shared tier: Redis at .* is down: no answer in time' "$T/b.log"
wait "$js"
check "and came back" wait_for shared_up "${U[b]}"

for n in b c; do stop_daemon "${P[$n]}" "$n"; done
stop_redis
finish
