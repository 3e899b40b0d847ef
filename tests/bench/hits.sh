#!/usr/bin/env bash
# Bench section: cache hits per second on POST /v1/audio/speech (spec §8),
# beside nginx with one worker and with two, for two sizes of WAV.
#
# Each WAV is in the cache (one segment from the fake TTS, 30 ms of 24 kHz
# 16-bit mono per character divided by the speed, so the answer is
# X-TTS-Cache: hit): a ~200 KB one (35 characters at speed 0.25) and a
# ~20 KB one (15 characters at speed 1).  wrk asks for each over and
# over; nginx serves the same bytes from a file on tmpfs (/dev/shm) with
# one worker and, on another port, with two; same wrk settings, same run.
# Measurements alternate (ttsaccel, nginx x1, nginx x2, ttsaccel, ...) and
# the summary compares the medians.  The goal: ttsaccel (one event loop)
# >= 0.9x nginx with the same number of workers.  The daemon's CPU (share
# of one core, from /proc/PID/stat over each of its runs) and its RSS
# after them are printed beside.  Without nginx (Debian package nginx or
# nginx-light) the comparison is skipped.
#
# Knobs (environment): BENCH_HITS_SECONDS (per measurement, default 5),
# BENCH_HITS_THREADS (wrk -t, default 2), BENCH_HITS_CONNECTIONS (wrk -c,
# default 50), BENCH_HITS_REPEAT (measurements of each, default 2).
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"

SECS=${BENCH_HITS_SECONDS:-5}
THREADS=${BENCH_HITS_THREADS:-2}
CONNS=${BENCH_HITS_CONNECTIONS:-50}
REPEAT=${BENCH_HITS_REPEAT:-2}
KEY=sk-test
GOAL=0.9
# size name, input, speed
SIZES=("200k:The quick brown fox jumps over dogs:0.25"
    "20k:Quick brown fox:1")

for f in "$TTSACCEL" "$BUILD/tests/fake_tts"; do
	[ -x "$f" ] || { echo "hits: $f is missing (make testbins)" >&2; exit 1; }
done
WRK=$(command -v wrk) ||
	{ echo "hits: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null) || NGINX=
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null

# The files nginx serves live on tmpfs; removed at exit with the rest.
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

body() {
	jq -cn --arg t "$1" --argjson s "$2" '{model: "tts-1", input: $t,
	    voice: "alloy", speed: $s, response_format: "wav"}'
}
# speech FILE BODY: one request, body to FILE, headers to FILE.h
speech_to() {
	curl -s -m 30 -D "$1.h" -o "$1" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' -d "$2" \
	    "$URL/v1/audio/speech"
}

for row in "${SIZES[@]}"; do
	IFS=: read -r name input speed <<<"$row"
	b=$(body "$input" "$speed")
	speech_to "$T/first-$name.wav" "$b" ||
		{ echo "hits: the first speech request failed" >&2; exit 1; }
	speech_to "$T/$name.wav" "$b"
	cache=$(header "$T/$name.wav.h" X-TTS-Cache)
	size=$(stat -c %s "$T/$name.wav")
	if [ "$cache" != hit ] || ! cmp -s "$T/first-$name.wav" "$T/$name.wav"
	then
		echo "hits: the second request is not a hit of the first's" \
		    "bytes (X-TTS-Cache: $cache, $size bytes)" >&2
		exit 1
	fi
	echo "$size" >"$T/$name.size"
	cat >"$T/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '$b'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
done

# nginx_start WORKERS: nginx serving $SHM on a free port -> $NPORT, $NPID
nginx_start() {
	local w=$1 user=
	mkdir -p "$T/nginx$w"
	NPORT=$(free_port)
	[ "$(id -u)" -eq 0 ] && user="user root;"
	cat >"$T/nginx$w.conf" <<CONF
$user
worker_processes $w;
daemon off;
pid $T/nginx$w.pid;
error_log $T/nginx$w-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	client_body_temp_path $T/nginx$w/body;
	proxy_temp_path $T/nginx$w/proxy;
	fastcgi_temp_path $T/nginx$w/fastcgi;
	uwsgi_temp_path $T/nginx$w/uwsgi;
	scgi_temp_path $T/nginx$w/scgi;
	types { audio/wav wav; }
	server {
		listen 127.0.0.1:$NPORT;
		root $SHM;
	}
}
CONF
	spawn "nginx$w" "$NGINX" -p "$T/nginx$w" -e "$T/nginx$w-error.log" \
	    -c "$T/nginx$w.conf"
	NPID=$LAST_PID
	if ! wait_port "$NPORT" || ! kill -0 "$NPID" 2>/dev/null; then
		echo "hits: nginx ($w workers) did not start; its log:" >&2
		cat "$T/nginx$w.log" "$T/nginx$w-error.log" >&2 2>/dev/null
		exit 1
	fi
}

NGINX_PIDS=()
if [ -n "$NGINX" ]; then
	chmod 755 "$SHM"
	for row in "${SIZES[@]}"; do
		name=${row%%:*}
		cp "$T/$name.wav" "$SHM/$name.wav"
		chmod 644 "$SHM/$name.wav"
	done
	for w in 1 2; do
		nginx_start "$w"
		NGINX_PIDS+=("$NPID")
		eval "NURL$w=http://127.0.0.1:$NPORT"
		for row in "${SIZES[@]}"; do
			name=${row%%:*}
			curl -s -m 10 -o "$T/nginx.wav" "http://127.0.0.1:$NPORT/$name.wav"
			if ! cmp -s "$T/$name.wav" "$T/nginx.wav"; then
				echo "hits: nginx does not serve the same bytes" >&2
				exit 1
			fi
		done
	done
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

echo "hits: wrk -t$THREADS -c$CONNS -d${SECS}s, $REPEAT measurement(s)" \
    "of each, alternating; nginx: ${NGINX:-not installed} (1 and 2 workers)"
echo "  (load average before: $(cut -d' ' -f1-3 /proc/loadavg); the" \
    "machine's other work shares these cores)"
measured=1
h0=$(stat_hits)
for i in $(seq "$REPEAT"); do
	for row in "${SIZES[@]}"; do
		name=${row%%:*}
		t0=$(cpu_ticks "$DAEMON_PID") s0=$(date +%s%N)
		wrk_run "ttsaccel-$name-$i" -s "$T/$name.lua" \
		    "$URL/v1/audio/speech" || measured=0
		t1=$(cpu_ticks "$DAEMON_PID") s1=$(date +%s%N)
		echo "$(cpu_share "$t0" "$t1" "$s0" "$s1")" >"$T/ttsaccel-$name-$i.cpu"
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			echo "hits: the daemon died under load" >&2
			fails=1
			exit 1
		fi
		[ -n "$NGINX" ] || continue
		wrk_run "nginx1-$name-$i" "$NURL1/$name.wav" || measured=0
		wrk_run "nginx2-$name-$i" "$NURL2/$name.wav" || measured=0
	done
done
h1=$(stat_hits)
# Every request wrk counted should be a cache hit.
for row in "${SIZES[@]}"; do
	IFS=: read -r name input speed <<<"$row"
	speech_to "$T/after.wav" "$(body "$input" "$speed")"
	cmp -s "$T/$name.wav" "$T/after.wav" ||
		echo "hits: after the load, the $name answer's bytes differ (daemon bug?)"
done

med() {
	cat "$@" 2>/dev/null | sort -n | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
	          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
total=0
for f in "$T"/ttsaccel-*.out; do
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$f")
	total=$((total + ${n:-0}))
done
echo
echo "hits summary (requests per second, median of $REPEAT; goal: ttsaccel" \
    ">= ${GOAL}x nginx with as many workers; ttsaccel has one event loop)"
for row in "${SIZES[@]}"; do
	name=${row%%:*}
	trps=$(med "$T"/ttsaccel-"$name"-*.rps)
	cpu=$(med "$T"/ttsaccel-"$name"-*.cpu)
	echo "$name ($(cat "$T/$name.size") bytes): ttsaccel=${trps:-?} rps," \
	    "daemon CPU ${cpu:-?} of a core"
	[ -n "$NGINX" ] || continue
	for w in 1 2; do
		nrps=$(med "$T"/nginx"$w"-"$name"-*.rps)
		awk -v t="$trps" -v n="$nrps" -v goal="$GOAL" -v w="$w" \
		    -v name="$name" 'BEGIN {
			if (t == "" || n == "" || n == 0) {
				printf "  vs nginx x%d: -\n", w; exit }
			v = (t / n >= goal) ? "met" : "NOT met"
			if (w == 2)
				v = v "; ttsaccel runs one loop, not two"
			printf "  vs nginx x%d=%s rps: ratio %.2f, goal >= %.1f (%s)\n",
			    w, n, t / n, goal, v
		}'
	done
done
echo "daemon RSS after the runs: $(rss_kib "$DAEMON_PID") KiB; cache hits counted by /cache/stats during the runs:" \
    "$((${h1:-0} - ${h0:-0})), requests wrk completed: $total"
[ -n "$NGINX" ] ||
	echo "nginx: not installed, comparison skipped (apt-get install nginx-light)"
for pid in "${NGINX_PIDS[@]}"; do
	kill -TERM "$pid" 2>/dev/null
done
stop_daemon || { echo "hits: the daemon did not exit cleanly" >&2; exit 1; }
[ "$measured" -eq 1 ] || exit 1
exit 0
