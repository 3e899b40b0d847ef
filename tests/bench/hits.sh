#!/usr/bin/env bash
# Bench section: cache hits per second on POST /v1/audio/speech (spec §8).
#
# One ~200 KB WAV in the cache (a 35-character input at speed 0.25 from
# the fake TTS: 120 ms of 24 kHz 16-bit mono per character, one segment,
# so the answer is X-TTS-Cache: hit), asked for over and over by wrk; then
# nginx serving the same bytes from a file in /dev/shm (tmpfs), same wrk
# settings, same run.  The goal: ttsaccel >= 0.9x nginx's requests per
# second.  Measurements alternate (ttsaccel, nginx, ttsaccel, ...) and the
# summary compares the medians.
#
# ttsaccel is one process with one event loop, so nginx runs one worker
# too (BENCH_HITS_NGINX_WORKERS=auto for one per core).  Without nginx
# (Debian package nginx or nginx-light) the comparison is skipped.
#
# Knobs (environment): BENCH_HITS_SECONDS (per measurement, default 10),
# BENCH_HITS_THREADS (wrk -t, default 2), BENCH_HITS_CONNECTIONS (wrk -c,
# default 50), BENCH_HITS_REPEAT (measurements of each, default 2),
# BENCH_HITS_NGINX_WORKERS (default 1).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

SECS=${BENCH_HITS_SECONDS:-10}
THREADS=${BENCH_HITS_THREADS:-2}
CONNS=${BENCH_HITS_CONNECTIONS:-50}
REPEAT=${BENCH_HITS_REPEAT:-2}
WORKERS=${BENCH_HITS_NGINX_WORKERS:-1}
KEY=sk-test
GOAL=0.9
INPUT="The quick brown fox jumps over dogs"
BODY="{\"model\":\"tts-1\",\"input\":\"$INPUT\",\"voice\":\"alloy\",\"speed\":0.25,\"response_format\":\"wav\"}"

for f in "$TTSACCEL" "$BUILD/tests/fake_tts"; do
	[ -x "$f" ] || { echo "hits: $f is missing (make testbins)" >&2; exit 1; }
done
WRK=$(command -v wrk) ||
	{ echo "hits: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null) || NGINX=
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null

# The file nginx serves lives on tmpfs; removed at exit with the rest.
SHM=
if [ -n "$NGINX" ]; then
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		SHM=$(mktemp -d /dev/shm/ttsaccel-hits.XXXXXX)
	else
		SHM=$T/www	# /dev/shm missing: the page cache will do
		mkdir -p "$SHM"
	fi
	trap 'rm -rf "$SHM"; cleanup' EXIT
fi

start_tts a || { echo "hits: fake_tts did not start" >&2; exit 1; }
NEWAPI_API_KEY=$KEY API_KEYS=$KEY TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 start_daemon ||
	{ echo "hits: the daemon did not start" >&2; exit 1; }

# speech FILE: one request, body to FILE, headers to FILE.h
speech() {
	curl -s -m 30 -D "$1.h" -o "$1" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' -d "$BODY" \
	    "$URL/v1/audio/speech"
}
speech "$T/first.wav" || { echo "hits: the first speech request failed" >&2; exit 1; }
speech "$T/audio.wav"
cache=$(sed -n 's/^X-TTS-Cache: *\([a-z]*\).*/\1/ip' "$T/audio.wav.h")
size=$(stat -c %s "$T/audio.wav")
if [ "$cache" != hit ] || ! cmp -s "$T/first.wav" "$T/audio.wav" ||
    [ "$size" -lt 100000 ]; then
	echo "hits: the second request is not a hit of the first's bytes" \
	    "(X-TTS-Cache: $cache, $size bytes)" >&2
	exit 1
fi

cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA

if [ -n "$NGINX" ]; then
	cp "$T/audio.wav" "$SHM/audio.wav"
	chmod 755 "$SHM"
	chmod 644 "$SHM/audio.wav"
	mkdir -p "$T/nginx"
	NPORT=$(free_port)
	user=
	[ "$(id -u)" -eq 0 ] && user="user root;"
	cat >"$T/nginx.conf" <<CONF
$user
worker_processes $WORKERS;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	types { audio/wav wav; }
	server {
		listen 127.0.0.1:$NPORT;
		root $SHM;
	}
}
CONF
	spawn nginx "$NGINX" -p "$T/nginx" -e "$T/nginx-error.log" \
	    -c "$T/nginx.conf"
	NGINX_PID=$LAST_PID
	if ! wait_port "$NPORT" || ! kill -0 "$NGINX_PID" 2>/dev/null; then
		echo "hits: nginx did not start; its log:" >&2
		cat "$T/nginx.log" "$T/nginx-error.log" >&2 2>/dev/null
		exit 1
	fi
	NURL=http://127.0.0.1:$NPORT/audio.wav
	curl -s -m 10 -o "$T/nginx.wav" "$NURL"
	if ! cmp -s "$T/audio.wav" "$T/nginx.wav"; then
		echo "hits: nginx does not serve the same bytes" >&2
		exit 1
	fi
fi

# wrk_run LABEL ARGS...: one measurement; requests/s to $T/LABEL.rps
wrk_run() {
	local label=$1; shift
	"$WRK" -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "$@" \
	    >"$T/$label.out" 2>&1
	local rps errs non2xx p50
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$T/$label.out")
	errs=$(sed -n 's/.*Socket errors: *\(.*\)/\1/p' "$T/$label.out")
	non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T/$label.out")
	p50=$(awk '$1 == "50%" { print $2 }' "$T/$label.out")
	echo "    $label: ${rps:-?} requests/s, latency p50 ${p50:-?}" \
	    "${non2xx:+, $non2xx non-2xx}${errs:+, socket errors: $errs}"
	if [ -z "$rps" ]; then
		sed 's/^/      /' "$T/$label.out" | head -n 20
		return 1
	fi
	if [ -n "$non2xx" ]; then
		# Answers that are not the audio do not count.
		echo "    ($label: not every answer was 2xx: its rps is not comparable)"
	fi
	echo "$rps" >"$T/$label.rps"
}

stat_hits() {
	curl -s -m 5 "$URL/cache/stats" | jq -r .hits
}

echo "hits: a $size-byte WAV, wrk -t$THREADS -c$CONNS -d${SECS}s," \
    "$REPEAT measurement(s) each, alternating; nginx: ${NGINX:-not installed}" \
    "(worker_processes $WORKERS)"
echo "  (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
measured=1
h0=$(stat_hits)
for i in $(seq "$REPEAT"); do
	wrk_run "ttsaccel-$i" -s "$T/post.lua" "$URL/v1/audio/speech" ||
		measured=0
	if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "hits: the daemon died under load" >&2
		fails=1
		exit 1
	fi
	[ -n "$NGINX" ] && { wrk_run "nginx-$i" "$NURL" || measured=0; }
done
h1=$(stat_hits)
# Every request wrk counted should be a cache hit.
speech "$T/after.wav"
cmp -s "$T/audio.wav" "$T/after.wav" ||
	echo "hits: after the load, the answer's bytes differ (daemon bug?)"

echo
echo "hits summary (requests per second, median of $REPEAT)"
med() {
	cat "$@" 2>/dev/null | sort -n | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
	          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
trps=$(med "$T"/ttsaccel-*.rps)
total=0
for f in "$T"/ttsaccel-*.out; do
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$f")
	total=$((total + ${n:-0}))
done
echo "ttsaccel=${trps:-?} rps (cache hits counted by /cache/stats during" \
    "the runs: $((${h1:-0} - ${h0:-0})), requests wrk completed: $total)"
if [ -z "$NGINX" ]; then
	echo "nginx: not installed, comparison skipped (apt-get install nginx-light)"
else
	nrps=$(med "$T"/nginx-*.rps)
	awk -v t="$trps" -v n="$nrps" -v goal="$GOAL" 'BEGIN {
		if (t == "" || n == "" || n == 0) { print "ratio: -"; exit }
		printf "nginx=%s rps ratio ttsaccel/nginx=%.2f\n", n, t / n
		printf "goal (>= %.1fx nginx): %s\n", goal,
		    (t / n >= goal) ? "met" : "NOT met"
	}'
	kill -TERM "$NGINX_PID" 2>/dev/null
fi
stop_daemon || { echo "hits: the daemon did not exit cleanly" >&2; exit 1; }
[ "$measured" -eq 1 ] || exit 1
exit 0
