#!/usr/bin/env bash
# Cache hits sent from the cache's own bytes: an assembled WAV's merged
# form is kept (a repeat is one buffer); slow readers hold an entry while
# the cache is cleared, filled past its byte limit or shut down, or leave
# mid-answer; and the memory of a hit does not grow with its readers.
. "$(dirname "$0")/lib.sh"

start_tts h
NEWAPI_API_KEY=sk-test API_KEYS=sk-test TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 CACHE_MAX_BYTES=8M CACHE_MAX_SIZE=100000 \
    start_daemon
done_readers() { [ -s "$T/$1/result" ]; }

# 1. Three segments: streamed as they are made, then kept merged.
three=$(say "The first sentence is here. The second one follows it. And a third ends it." wav)
eq "three segments, assembled" "$(speech "$three" "$T/m1.wav")" "200 assembled"
n1=$(cstat entries)
eq "the repeat is assembled too" "$(speech "$three" "$T/m2.wav")" "200 assembled"
check "the repeat is one buffer: a Content-Length, not chunks" \
    test -n "$(header "$T/m2.wav.h" Content-Length)"
eq "its merged form is kept in the cache beside the segments" \
    "$(cstat entries)" "$((n1 + 1))"
check "the merged form is an exact WAV" exact_wav "$T/m2.wav"
check "with the same samples as the streamed answer" \
    cmp -s <(tail -c +45 "$T/m1.wav") <(tail -c +45 "$T/m2.wav")
eq "a third time" "$(speech "$three" "$T/m3.wav")" "200 assembled"
check "the same bytes" cmp -s "$T/m2.wav" "$T/m3.wav"
eq "and nothing new in the cache" "$(cstat entries)" "$((n1 + 1))"

# The answer the readers take: ~2.8 MB, 13 segments merged, more than
# the kernel's socket buffers take at once, so that the daemon holds its
# bytes (pinned) while a reader does not read.
long=$(python3 -c 'print(" ".join("word%d and more" % i for i in range(32)) + ".")')
big=$(jq -cn --arg t "$long" '{input: $t, speed: 0.25, response_format: "wav"}')
speech "$big" "$T/first.wav" >/dev/null
eq "the long answer, again" "$(speech "$big" "$T/big.wav")" "200 assembled"
check "is one buffer" test -n "$(header "$T/big.wav.h" Content-Length)"
size=$(stat -c %s "$T/big.wav")
check "of more than 2 MB ($size bytes)" test "$size" -gt 2000000
# merged_kept: the merged form (its text "[wav] ...") is in the cache.
merged_kept() {
	adm '{"cmd":"cache.list","limit":0}' |
	    jq -e '[.data[] | select(.text | startswith("[wav] word0"))] | length == 1' >/dev/null
}
check "its merged form is listed" merged_kept

# 2. The cache cleared while 20 slow readers hold it.
readers clear 20 "$big" "$T/big.wav"
check "20 readers hold it" wait_secs 60 readers_ready clear
curl -sS -m 5 -X POST "${K[@]}" "$URL/cache/clear" >/dev/null
eq "cleared: no entry left" "$(cstat entries)" 0
eq "cleared: no byte counted" "$(cstat bytes)" 0
readers_go clear
check "the readers finished" wait_secs 60 done_readers clear
eq "each got the whole answer" "$(cat "$T/clear/result" 2>/dev/null)" 20
eq "the next request synthesises again" "$(speech "$big" "$T/again.wav")" "200 assembled"
check "the same samples" \
    cmp -s <(tail -c +45 "$T/big.wav") <(tail -c +45 "$T/again.wav")
eq "then it is merged" "$(speech "$big" "$T/again.wav")" "200 assembled"
check "the same bytes" cmp -s "$T/big.wav" "$T/again.wav"

# 3. 20 readers leave mid-answer; the daemon goes on.
readers drop 20 "$big"
check "20 readers hold it" wait_secs 60 readers_ready drop
readers_drop drop
eq "then it is whole" "$(speech "$big" "$T/after.wav")" "200 assembled"
check "the same bytes" cmp -s "$T/big.wav" "$T/after.wav"

# 4. The byte limit holds (1 %) while 20 readers hold the merged form and
# four other long answers (~2.8 MB of segments each) fill the cache (8M)
# twice over, /cache/stats read all along.  Pinned entries count in
# "bytes" while in the table and are not evicted; they leave the count
# when the table lets them go (cleared, expired), and their memory with
# their last reader.
readers fill 20 "$big" "$T/big.wav"
check "20 readers hold it" wait_secs 60 readers_ready fill
limit=$(cstat max_bytes)
spawn sampler bash -c "while :; do curl -sS -m 5 '$URL/cache/stats' |
    jq .bytes; sleep 0.05; done"
sampler=$LAST_PID
for i in 1 2 3 4; do
	other=$(python3 -c "print(' '.join('part$i word%d and more' % k for k in range(26)) + '.')")
	speech_status "$(jq -cn --arg t "$other" \
	    '{input: $t, speed: 0.25, response_format: "wav"}')" /dev/null >/dev/null
done
kill "$sampler"
peak=$( (cat "$T/sampler.log"; cstat bytes) | sort -n | tail -1)
check "filled past the limit: evictions ($(cstat evictions))" \
    test "$(cstat evictions)" -gt 10
check "the most bytes counted ($peak) within 1 % of $limit" \
    test "$peak" -le $((limit + limit / 100))
check "the merged form the readers hold was not evicted" merged_kept
readers_go fill
check "the readers finished" wait_secs 60 done_readers fill
eq "each got the whole answer" "$(cat "$T/fill/result" 2>/dev/null)" 20

# 5. An answer's memory does not grow with its readers: 200 against 1,
# far less than 20 copies of it.
speech "$big" /dev/null >/dev/null
eq "merged again" "$(speech "$big" /dev/null)" "200 assembled"
readers one 1 "$big"
check "1 reader holds it" wait_secs 60 readers_ready one
r1=$(rss_kib "$DAEMON_PID")
readers many 200 "$big"
check "200 readers hold it" wait_secs 60 readers_ready many
r200=$(rss_kib "$DAEMON_PID")
grow=$((r200 - r1))
check "RSS grew by $grow KiB with 199 more readers, under 20 x $((size / 1024)) KiB" \
    test "$grow" -lt $((20 * size / 1024))
readers_drop one
readers_drop many

# 6. Shut down while readers hold it: the daemon exits cleanly.
readers stop 20 "$big"
check "20 readers hold it" wait_secs 60 readers_ready stop
check "the daemon exits cleanly with answers held" stop_daemon
readers_drop stop
finish
