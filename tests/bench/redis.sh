#!/usr/bin/env bash
# Bench section: several instances sharing one Redis (spec §9).
#
# 1. Cache hits per second on POST /v1/audio/speech when the hit comes
#    from memory (one text, asked over and over of instance A) and when it
#    comes from Redis (instance B, whose memory holds one entry, asked in
#    turn for BENCH_REDIS_TEXTS texts that A synthesised: each request is
#    a local miss answered by Redis).  Same wrk settings, same run.
# 2. Backend syntheses for the whole cluster when N instances each serve
#    M identical chats at once (S segments): the goal is S, whatever N;
#    the same without Redis for comparison (N x S).
#
# Knobs: BENCH_REDIS_SECONDS (per wrk run, default 5), BENCH_REDIS_CONNS
# (wrk -c, default 20), BENCH_REDIS_TEXTS (default 200),
# BENCH_REDIS_INSTANCES (N, default 3), BENCH_REDIS_CHATS (M, default 10).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

SECS=${BENCH_REDIS_SECONDS:-5}
CONNS=${BENCH_REDIS_CONNS:-20}
NTEXTS=${BENCH_REDIS_TEXTS:-200}
NINST=${BENCH_REDIS_INSTANCES:-3}
MCHATS=${BENCH_REDIS_CHATS:-10}
KEY=sk-test

for f in "$TTSACCEL" "$BUILD/tests/fake_tts" "$FAKE_UPSTREAM"; do
	[ -x "$f" ] || { echo "redis: $f is missing (make testbins)" >&2; exit 1; }
done
command -v redis-server >/dev/null ||
	{ echo "redis: redis-server is not installed" >&2; exit 1; }
WRK=$(command -v wrk) ||
	{ echo "redis: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null

nsynth() { grep -c '"path":"/v1/audio/speech"' "$T/tts-$1.jsonl" 2>/dev/null || echo 0; }
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
body() { printf '{"input":"Sentence number %s of the bench, to share.","response_format":"wav"}' "$1"; }

start_redis || exit 1
start_tts h || exit 1
DAEMON_NAME=a REDIS_URL=$REDIS_URL NEWAPI_API_KEY=$KEY TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 start_daemon || exit 1
UA=$URL
PA=$DAEMON_PID
DAEMON_NAME=b REDIS_URL=$REDIS_URL NEWAPI_API_KEY=$KEY TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 CACHE_MAX_SIZE=1 start_daemon || exit 1
UB=$URL
PB=$DAEMON_PID
for u in "$UA" "$UB"; do
	for i in $(seq 100); do
		[ "$(curl -s "$u/health" | jq -r .shared.state)" = up ] && break
		sleep 0.1
	done
done

# A synthesises every text once (in Redis from then on).
for i in $(seq "$NTEXTS"); do
	curl -s -o /dev/null -H "Authorization: Bearer $KEY" -d "$(body "$i")" \
	    "$UA/v1/audio/speech" || { echo "redis: priming failed" >&2; exit 1; }
done
size=$(curl -s -H "Authorization: Bearer $KEY" -d "$(body 1)" "$UA/v1/audio/speech" | wc -c)
primed=$(nsynth h)

cat >"$T/one.lua" <<LUA
wrk.method = "POST"
wrk.body = '$(body 1)'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
cat >"$T/many.lua" <<LUA
local n, i = $NTEXTS, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
request = function()
	i = i % n + 1
	return wrk.format(nil, nil, nil,
	    '{"input":"Sentence number ' .. i .. ' of the bench, to share.","response_format":"wav"}')
end
LUA

echo "audio: $size bytes per answer; $NTEXTS texts in Redis; wrk -t1 -c$CONNS -d${SECS}s"
"$WRK" -t1 -c"$CONNS" -d"${SECS}s" -s "$T/one.lua" "$UA/v1/audio/speech" >"$T/mem.out" 2>&1
h0=$(curl -s "$UB/health" | jq .shared.hits)
"$WRK" -t1 -c"$CONNS" -d"${SECS}s" -s "$T/many.lua" "$UB/v1/audio/speech" >"$T/redis.out" 2>&1
h1=$(curl -s "$UB/health" | jq .shared.hits)
"$WRK" -t1 -c"$CONNS" -d"${SECS}s" -s "$T/one.lua" "$UA/v1/audio/speech" >"$T/mem2.out" 2>&1
mem=$(rps "$T/mem.out")
mem2=$(rps "$T/mem2.out")
red=$(rps "$T/redis.out")
nreq=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T/redis.out")
for f in mem redis mem2; do
	grep -q 'Non-2xx' "$T/$f.out" && { echo "redis: errors in the $f run:" >&2; cat "$T/$f.out" >&2; exit 1; }
done
printf 'hits from memory (A)        : %8.0f req/s (again after: %.0f)\n' "$mem" "$mem2"
printf 'hits from Redis (B, 1 entry): %8.0f req/s (%.2fx memory); %s requests, %s answered by Redis\n' \
    "$red" "$(echo "$red / (($mem + $mem2) / 2)" | bc -l)" "$nreq" "$((h1 - h0))"
echo "backend syntheses during the hit runs: $(( $(nsynth h) - primed ))"
kill -TERM "$PA" "$PB" 2>/dev/null

# 2. N instances x M identical chats: backend syntheses for the cluster.
start_upstream --delay-ms 2 || exit 1
TEXT="The tide came in slowly. Gulls circled over the harbour. A boat left for the islands. The town woke up. Bread was baked at dawn. Everyone had somewhere to be."
chats() {  # chats NAME WITH_REDIS -> $SYNTH, the backend syntheses
	local name=$1 redis=$2 n i urls=() pids=() jobs_=()
	start_tts "$name" --latency-ms 100 --chunks 2 --chunk-delay-ms 20 || return 1
	for n in $(seq "$NINST"); do
		if [ "$redis" = 1 ]; then
			DAEMON_NAME=$name$n REDIS_URL=$REDIS_URL REDIS_PREFIX="$name:" \
			    NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=$KEY TTS_ENDPOINTS=$TTS_URL \
			    TTS_HEALTH_INTERVAL=0 start_daemon || return 1
		else
			DAEMON_NAME=$name$n NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=$KEY \
			    TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 start_daemon || return 1
		fi
		urls+=("$URL")
		pids+=("$DAEMON_PID")
	done
	if [ "$redis" = 1 ]; then
		for u in "${urls[@]}"; do
			for i in $(seq 100); do
				[ "$(curl -s "$u/health" | jq -r .shared.state)" = up ] && break
				sleep 0.1
			done
		done
	fi
	for u in "${urls[@]}"; do
		for i in $(seq "$MCHATS"); do
			curl -s -o /dev/null -H "Authorization: Bearer $KEY" \
			    -d "$(jq -cn --arg t "ECHO:$TEXT" '{model:"m",stream:true,messages:[{role:"user",content:$t}]}')" \
			    "$u/v1/chat/completions" &
			jobs_+=($!)
		done
	done
	wait "${jobs_[@]}"
	# Until every prefetch has ended.
	for i in $(seq 300); do
		busy=0
		for u in "${urls[@]}"; do
			[ "$(curl -s "$u/cache/stats" | jq .in_flight)" = 0 ] || busy=1
		done
		[ "$busy" = 0 ] && break
		sleep 0.1
	done
	SYNTH=$(nsynth "$name")
	kill -TERM "${pids[@]}" "$TTS_PID" 2>/dev/null
}
segs=$(printf '%s' "$TEXT" | "$TTSACCEL" --split | wc -l)
chats shared 1 || exit 1
with=$SYNTH
chats alone 0 || exit 1
without=$SYNTH
echo "$NINST instances x $MCHATS identical chats of $segs segments at once:"
echo "  backend syntheses with Redis   : $with (goal $segs: one per unique segment)"
echo "  backend syntheses without Redis: $without (${NINST} x $segs = $((NINST * segs)) expected)"

# 3. The five simulated voice front-ends (tests/clients/simulate.py), each
# chat on instance A and its speech requests on instance B: the share
# answered without a new synthesis, as on one instance.
if command -v python3 >/dev/null; then
	start_tts cl --latency-ms 5 || exit 1
	cl=()
	for n in 1 2; do
		DAEMON_NAME=cl$n REDIS_URL=$REDIS_URL REDIS_PREFIX="cl:" \
		    TTS_ENDPOINTS="$TTS_URL|formats=wav" NEWAPI_BASE_URL=$UP_URL \
		    NEWAPI_API_KEY=$KEY TTS_HEALTH_INTERVAL=0 CACHE_MAX_SIZE=20000 \
		    TTS_DEFAULT_MODEL=liang TTS_DEFAULT_VOICE=zf_001 \
		    TTS_MODEL_MAP='tts-1=liang,tts-1-hd=liang' TTS_VOICE_MAP=alloy=zf_001 \
		    start_daemon || exit 1
		cl+=("$URL")
		for i in $(seq 100); do
			[ "$(curl -s "$URL/health" | jq -r .shared.state)" = up ] && break
			sleep 0.1
		done
	done
	echo "simulated clients, chat on one instance, speech on another:"
	python3 "$top/tests/clients/simulate.py" run --url "${cl[0]}" \
	    --speech-url "${cl[1]}" --key "$KEY" --tts-log "$T/tts-cl.jsonl" \
	    --json "$T/clients.json" --deadline 240 | sed 's/^/  /'
fi
exit 0
