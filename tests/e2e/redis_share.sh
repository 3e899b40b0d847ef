#!/usr/bin/env bash
# Several instances, one Redis (spec §9): speech synthesised once for the
# cluster and served byte-identical everywhere; 60 concurrent requests
# over three instances, one synthesis; values we did not write; the
# figures, and `cache clear --shared`.
. "$(dirname "$0")/lib.sh"

need redis-server redis-server || finish
jobs_=()

# The Redis name of a text's audio, with the default parameters.
akey() { printf 'ttsaccel:a:%s' "$(printf 'v1\037liang\037alloy\037wav\0371.00\037\037%s' "$1" | sha256sum | cut -c1-64)"; }

start_cluster --latency-ms 400 --chunks 4 --chunk-delay-ms 100

# 1. Synthesised on A, served by B: from Redis, the same bytes.
s1="The first sentence we share."
eq "A synthesises it" "$(speech_at "${U[a]}" "$(say "$s1" wav)" "$T/1a.wav")" "200 shared"
check "a valid WAV" exact_wav "$T/1a.wav"
check "stored in Redis under the SHA-256 of its key" test "$(rcli exists "$(akey "$s1")")" = 1
eq "B finds it in the shared tier" "$(speech_at "${U[b]}" "$(say "$s1" wav)" "$T/1b.wav")" "200 shared"
check "byte-identical to A's" cmp -s "$T/1a.wav" "$T/1b.wav"
eq "and keeps it: a local hit next" "$(speech_at "${U[b]}" "$(say "$s1" wav)" "$T/1b2.wav")" "200 hit"
check "same bytes again" cmp -s "$T/1a.wav" "$T/1b2.wav"
eq "one backend synthesis for the cluster" "$(nsynth slow "$s1")" 1
eq "B counted a shared hit" "$(shared_of "${U[b]}" hits)" 1
eq "A counted a lock won" "$(shared_of "${U[a]}" locks_won)" 1

# 2. Sixty identical requests at once over three instances: one synthesis.
s2="Sixty ask for this at once."
# The synthesis is held (hold=1) until the other two instances wait on
# its lock, however slowly the machine starts the sixty.
curl -sS -X POST "$SLOW/_fake/set?hold=1" >/dev/null
waits() {
	local n t=0
	for n in a b c; do t=$((t + $(shared_of "${U[$n]}" locks_waited))); done
	echo "$t"
}
waits_ge() { [ "$(waits)" -ge "$1" ]; }
for i in $(seq 60); do
	n=$(printf 'a\nb\nc' | sed -n "$(( i % 3 + 1 ))p")
	printf '%s\n' "$(speech_at "${U[$n]}" "$(say "$s2" wav)" "$T/c$i.wav" -m 30)" >>"$T/codes2" &
	jobs_+=($!)
done
wait_for waits_ge 2
curl -sS -X POST "$SLOW/_fake/set?hold=0" >/dev/null
wait "${jobs_[@]}"; jobs_=()
eq "all 60 answered 200" "$(cut -d' ' -f1 "$T/codes2" | sort -u | tr '\n' ' ')" "200 "
eq "exactly one backend synthesis" "$(nsynth slow "$s2")" 1
eq "every answer identical" "$(md5sum "$T"/c*.wav | awk '{print $1}' | sort -u | wc -l)" 1
check "and a valid WAV" exact_wav "$T/c1.wav"
waited=$(waits)
check "the other instances waited on the lock ($waited)" test "$waited" -ge 2

# 3. Values we did not write are misses, never served.
s3="A value planted by someone else."
rcli set "$(akey "$s3")" "this is not audio" >/dev/null
f0=$(shared_of "${U[c]}" foreign)
eq "a foreign value is a miss" "$(speech_at "${U[c]}" "$(say "$s3" wav)" "$T/3c.wav")" "200 shared"
check "the answer is real audio" exact_wav "$T/3c.wav"
eq "synthesised on a backend" "$(nsynth slow "$s3")" 1
check "counted as foreign" test "$(shared_of "${U[c]}" foreign)" -gt "$f0"
eq "and replaced by ours" "$(rcli getrange "$(akey "$s3")" 0 7)" ttsaccel
s4="This audio will be cut short in Redis."
speech_at "${U[a]}" "$(say "$s4" wav)" "$T/4a.wav" >/dev/null
rcli getrange "$(akey "$s4")" 0 999 | head -c 1000 | redis-cli -p "$REDIS_PORT" -x set "$(akey "$s4")" >/dev/null
eq "a truncated value is a miss" "$(speech_at "${U[b]}" "$(say "$s4" wav)" "$T/4b.wav")" "200 shared"
check "B's answer is whole" cmp -s "$T/4a.wav" "$T/4b.wav"
eq "synthesised again" "$(nsynth slow "$s4")" 2
s5="A lock that never expires."
rcli set "ttsaccel:l:$(akey "$s5" | sed 's/^ttsaccel:a://')" "not-ours" >/dev/null
eq "a lock not ours does not hold us up" "$(speech_at "${U[b]}" "$(say "$s5" wav)" "$T/5b.wav")" "200 shared"
check "real audio" exact_wav "$T/5b.wav"
rcli set "ttsaccel:s:$(akey "$s5" | sed 's/^ttsaccel:a://')" "x" >/dev/null
rcli del "$(akey "$s5")" >/dev/null
eq "nor a stream key of the wrong type" "$(speech_at "${U[c]}" "$(say "$s5" wav)" "$T/5c.wav")" "200 shared"
check "the same audio" cmp -s "$T/5b.wav" "$T/5c.wav"

# 4. The figures, and clearing this cluster's keys (not another's).
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
eq "and C's memory emptied too" "$(speech_at "${U[c]}" "$(say "$s2" wav)" "$T/2c2.wav")" "200 shared"

for n in a b c; do stop_daemon "${P[$n]}" "$n"; done
stop_redis
finish
