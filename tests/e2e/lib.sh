# Shared helpers for the end-to-end scripts, one definition each (a script
# adds a helper here rather than defining its own).  Source it first:
#   . "$(dirname "$0")/lib.sh"
# Each script gets its own temp dir ($T), ports and admin socket; every
# process started with `spawn` is killed by PID when the script exits.
# Wait for a condition with wait_for (or the fakes' hold=1), never with a
# fixed sleep: a loaded machine is slower than any pause.
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${TTSACCEL_BUILD:-build/std}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
TTSACCEL=$top/ttsaccel
TTSACCELCTL=$top/ttsaccelctl
FAKE_UPSTREAM=$BUILD/tests/fake_upstream
T=$(mktemp -d "${TMPDIR:-/tmp}/ttsaccel-test.XXXXXX")
PIDS=()
fails=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		# Bounded wait, then force.
		local i
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$fails" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $(basename "$f") (last 40 lines)"
			tail -n 40 "$f"
		done
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# Wait until something accepts on 127.0.0.1:PORT (up to 10 s).
wait_port() {
	local i
	for i in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on port $1 after 10 s" >&2
	return 1
}

# spawn NAME CMD...: run CMD in the background, logging to $T/NAME.log;
# its PID is in $LAST_PID and is killed at exit.
spawn() {
	local name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# start_upstream [ARGS...]: a fake upstream on a free port -> $UP_PORT, $UP_URL
start_upstream() {
	UP_PORT=$(free_port)
	spawn upstream "$FAKE_UPSTREAM" --port "$UP_PORT" --log "$T/upstream-requests.jsonl" "$@"
	UP_PID=$LAST_PID
	wait_port "$UP_PORT"
	UP_URL=http://127.0.0.1:$UP_PORT
}

# start_daemon [ARGS...]: the real daemon on a free port -> $PORT, $URL.
# Environment given before the call (VAR=x start_daemon) reaches it.
# With TTSACCEL_VALGRIND=1 it runs under valgrind and fails on leaks.
# Several at once: DAEMON_NAME=b start_daemon logs to $T/b.log, listens
# on its own admin socket $T/b.sock and valgrind log (the default name,
# daemon, keeps $T/daemon.log, $T/admin.sock and $T/valgrind.log).
start_daemon() {
	local name=${DAEMON_NAME:-daemon}
	local vlog=$T/valgrind.log
	SOCK=$T/admin.sock
	if [ "$name" != daemon ]; then
		SOCK=$T/$name.sock
		vlog=$T/valgrind-$name.log
	fi
	local wrap=() attempt i
	if [ -n "${TTSACCEL_VALGRIND:-}" ]; then
		wrap=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
		    --errors-for-leak-kinds=definite,indirect --error-exitcode=99
		    --log-file="$vlog")
	fi
	# A port picked free may be taken before the daemon binds it: retry.
	for attempt in 1 2 3; do
		PORT=$(free_port)
		spawn "$name" env TTSACCEL_SOCKET="$SOCK" "${wrap[@]}" "$TTSACCEL" \
		    --host 127.0.0.1 --port "$PORT" "$@"
		DAEMON_PID=$LAST_PID
		URL=http://127.0.0.1:$PORT
		for i in $(seq 400); do
			(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$DAEMON_PID" 2>/dev/null && break
		grep -q 'cannot listen' "$T/$name.log" || break
	done
	echo "the daemon did not start listening (attempt $attempt); its log:" >&2
	cat "$T/$name.log" >&2
	fails=$((fails + 1))
	return 1
}

# stop_daemon [PID [NAME]]: SIGTERM, wait, and check the exit status (and
# valgrind's); by default the last daemon started.
stop_daemon() {
	local pid=${1:-$DAEMON_PID} name=${2:-daemon}
	local vlog=$T/valgrind.log
	[ "$name" != daemon ] && vlog=$T/valgrind-$name.log
	kill -TERM "$pid" 2>/dev/null
	local rc=0
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "daemon $name exited with status $rc" >&2
		[ -f "$vlog" ] && cat "$vlog" >&2
		fails=$((fails + 1))
		return 1
	fi
	return 0
}

# start_redis [PORT [OPTIONS...]]: a real redis-server on 127.0.0.1 (a
# free port when PORT is empty, or PORT again after stop_redis) ->
# $REDIS_PORT, $REDIS_PID, $REDIS_URL; no persistence; stopped by PID.
start_redis() {
	local i
	REDIS_PORT=${1:-$(free_port)}
	[ $# -gt 0 ] && shift
	spawn "redis-$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
	    --save '' --appendonly no --daemonize no "$@"
	REDIS_PID=$LAST_PID
	REDIS_URL=redis://127.0.0.1:$REDIS_PORT
	for i in $(seq 200); do
		redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "redis-server did not start on $REDIS_PORT" >&2
	fails=$((fails + 1))
	return 1
}

# rcli ARGS...: redis-cli on the Redis of start_redis.
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# start_instance NAME [ARGS...]: one of several daemons sharing the Redis
# of start_redis (start_daemon with DAEMON_NAME=NAME and REDIS_URL): its
# URL in U[NAME], its PID in P[NAME]; a check that it connects to Redis.
# Environment given before the call (VAR=x start_instance a) reaches it.
declare -A U P
start_instance() {
	local name=$1
	shift
	DAEMON_NAME=$name REDIS_URL=$REDIS_URL start_daemon "$@" || return 1
	U[$name]=$URL
	P[$name]=$DAEMON_PID
	check "instance $name is connected to Redis" wait_for shared_up "$URL"
}

# start_cluster [FAKE_TTS ARGS...]: a Redis (start_redis, its DEBUG command
# allowed), a fake TTS "slow" started with ARGS (its URL in $SLOW), and
# three instances a, b and c using both (start_instance).
start_cluster() {
	local n
	start_redis "" --enable-debug-command local || return 1
	start_tts slow "$@" || return 1
	SLOW=$TTS_URL
	for n in a b c; do
		TTS_ENDPOINTS=$SLOW NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 \
		    TTS_RETRY_COUNT=0 start_instance "$n"
	done
}

# stop_redis: stop it (SIGTERM, by PID) and wait for it.
stop_redis() {
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	return 0
}

# need COMMAND PACKAGE: true when COMMAND is installed; else a failed
# check naming the Debian package that has it (a test never skips for
# want of a tool: .ci/run and the README install them all).
need() {
	command -v "$1" >/dev/null && return 0
	echo "not ok - $1 is not installed (Debian: apt-get install $2)"
	fails=$((fails + 1))
	return 1
}

# skip_check WHAT WHY: a check that cannot run here, said as a TAP skip, which
# tests/run.sh repeats in its summary.  Only for what no package can
# give (root, say).
skip_check() { echo "ok - # SKIP $1: $2"; }

# wait_secs SECONDS CMD...: until CMD succeeds, up to SECONDS (whole);
# false if it never does.
wait_secs() {
	local n=$(($1 * 10)) i
	shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

# wait_for CMD...: until CMD succeeds, up to 10 s.
wait_for() { wait_secs 10 "$@"; }

# not CMD...: true when CMD fails (for check and wait_for).
not() { ! "$@"; }

# bigger FILE N: FILE holds more than N bytes (for wait_for).
bigger() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ]; }

# check DESCRIPTION COMMAND...: run a check, count its failure.
check() {
	local desc=$1; shift
	if "$@"; then
		echo "ok - $desc"
	else
		echo "not ok - $desc"
		fails=$((fails + 1))
	fi
}

# eq DESCRIPTION GOT WANT
eq() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		echo "     got: $2"
		echo "    want: $3"
		fails=$((fails + 1))
	fi
}

# contains DESCRIPTION HAYSTACK NEEDLE
contains() {
	case $2 in
	*"$3"*) echo "ok - $1" ;;
	*) echo "not ok - $1"; echo "    '$3' not in: $2" | head -c 2000; echo
	   fails=$((fails + 1)) ;;
	esac
}

# finish: the script's exit status.
finish() {
	[ "$fails" -eq 0 ] && echo "all checks passed" && exit 0
	echo "$fails check(s) failed"
	exit 1
}

# start_tts NAME [ARGS...]: a fake OpenAI Speech server (tests/fakes/fake_tts)
# on a free port -> $TTS_PORT, $TTS_URL, $TTS_PID; it answers with
# X-Fake-TTS: NAME, logs to $T/tts-NAME.log and its requests to
# $T/tts-NAME.jsonl.  A port taken before it binds is retried.
start_tts() {
	local name=$1 attempt i
	shift
	for attempt in 1 2 3; do
		TTS_PORT=$(free_port)
		spawn "tts-$name" "$BUILD/tests/fake_tts" --port "$TTS_PORT" \
		    --name "$name" --log "$T/tts-$name.jsonl" "$@"
		TTS_PID=$LAST_PID
		TTS_URL=http://127.0.0.1:$TTS_PORT
		# It says so once it listens (another process may hold the
		# port: a connection alone proves nothing).
		for i in $(seq 200); do
			grep -q 'listening on' "$T/tts-$name.log" && return 0
			kill -0 "$TTS_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$TTS_PID" 2>/dev/null && break
		grep -q 'Address already in use' "$T/tts-$name.log" || break
	done
	echo "fake_tts $name did not start; its log:" >&2
	cat "$T/tts-$name.log" >&2
	fails=$((fails + 1))
	return 1
}

# dur mp3|opus FILE: seconds of audio, read from the frames themselves (no
# decoder needed).
dur() { python3 "$top/tests/e2e/audio_seconds.py" "$1" "$2"; }

# wait_probe: wait (10 s at most) until the daemon's start-up probe of the
# fake upstream (GET /v1/models) has reached it, so that a test counting
# the upstream's requests does not count it.
wait_probe() {
	local i
	for i in $(seq 200); do
		grep -q '"method":"GET","path":"/v1/models"' \
		    "$T/upstream-requests.jsonl" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "the daemon's probe did not reach the upstream in 10 s" >&2
	fails=$((fails + 1))
	return 1
}

# --- clients of the daemon and of the fakes ----------------------------------
# K: the client's credentials, sent by speech_at and chat_at.  The daemon is
# started with NEWAPI_API_KEY=sk-test or API_KEYS=sk-test; a script that
# talks to a fake directly sets K=().
K=(-H 'Authorization: Bearer sk-test')

# say TEXT [FORMAT]: the JSON body of a speech request for TEXT (and
# response_format FORMAT), as a client sends it.
say() {
	jq -cn --arg t "$1" --arg f "${2:-}" \
	    '{input: $t} + (if $f == "" then {} else {response_format: $f} end)'
}

# speech_at URL JSON OUT [CURL ARGS...]: POST JSON to URL/v1/audio/speech
# with K; the body goes to OUT and the headers to OUT.h (nowhere when OUT is
# /dev/null).  Prints the status, then a space and the X-TTS-Cache header
# when there is one: "200 hit", "502", "200" (from a fake).
speech_at() {
	local url=$1 body=$2 out=$3 hdr=/dev/null r
	shift 3
	[ "$out" = /dev/null ] || hdr=$out.h
	r=$(curl -sS -m 30 "${K[@]}" -H 'Content-Type: application/json' \
	    -o "$out" -D "$hdr" -w '%{http_code} %header{x-tts-cache}' "$@" \
	    --data-binary "$body" "$url/v1/audio/speech")
	printf '%s' "${r% }"
}

# speech JSON OUT [CURL ARGS...]: speech_at the daemon ($URL).
speech() { speech_at "$URL" "$@"; }

# speech_status JSON OUT [CURL ARGS...]: speech, but only the status.
speech_status() {
	local r
	r=$(speech "$@")
	printf '%s' "${r%% *}"
}

# speak TEXT: a speech request for TEXT to the daemon ($URL), the answer
# dropped; only its status.
speak() { speech_status "$(say "$1")" /dev/null; }

# header FILE NAME: the value of header NAME (any case) in the headers
# saved in FILE (by curl -D); nothing when it is absent.
header() {
	tr -d '\r' <"$1" | awk -v n="$2" 'tolower($0) ~ "^" tolower(n) ":" {
		sub(/^[^:]*: */, ""); print }'
}

# chat_at URL BODY [CURL ARGS...]: POST BODY (JSON, or @FILE) to
# URL/v1/chat/completions with K; the response on stdout (streamed as it
# comes), its headers in $T/chat.h.  CURL ARGS come last and win.
chat_at() {
	local url=$1 body=$2
	shift 2
	curl -sS -N -m 30 "${K[@]}" -H 'Content-Type: application/json' \
	    -D "$T/chat.h" "$@" --data-binary "$body" "$url/v1/chat/completions"
}

# chat BODY [CURL ARGS...]: chat_at the daemon ($URL).
chat() { chat_at "$URL" "$@"; }

# echo_chat TEXT [JSON]: the body of a streaming chat that the fake upstream
# answers with TEXT (its ECHO: prefix), with the fields of the object JSON
# added (tts_format, say).
echo_chat() {
	local x=${2:-}
	[ -n "$x" ] || x='{}'
	jq -cn --arg t "ECHO:$1" --argjson x "$x" \
	    '{model: "m", stream: true, messages: [{role: "user", content: $t}]} + $x'
}

# responses_at URL BODY [CURL ARGS...]: POST BODY to URL/v1/responses (the
# Responses API) as chat_at does: with K, the response on stdout, its
# headers in $T/chat.h (so reply_id reads its reply id).
responses_at() {
	local url=$1 body=$2
	shift 2
	curl -sS -N -m 30 "${K[@]}" -H 'Content-Type: application/json' \
	    -D "$T/chat.h" "$@" --data-binary "$body" "$url/v1/responses"
}

# reply_id: the X-TTS-Reply-Id of the last chat (from $T/chat.h).
reply_id() { header "$T/chat.h" X-TTS-Reply-Id; }

# chat_reply_at URL TEXT [JSON]: a chat at URL answered with TEXT
# (echo_chat), read to its end; prints its reply id.
chat_reply_at() {
	chat_at "$1" "$(echo_chat "$2" "${3:-}")" -o /dev/null
	reply_id
}

# chat_reply TEXT [JSON]: chat_reply_at the daemon ($URL).
chat_reply() { chat_reply_at "$URL" "$@"; }

# reply_done ID [URL]: true when reply ID (at URL, default $URL) is complete
# and each of its segments, one at least, is synthesised.
reply_done() {
	curl -sS -m 10 "${K[@]}" "${2:-$URL}/v1/audio/replies/$1/segments" |
	    jq -e '.state == "complete" and (.segments | length > 0) and
	        all(.segments[]; .state == "done")' >/dev/null
}

# sse_events: read an SSE stream, print each event's data (several data:
# lines joined by newlines, as the SSE spec says); CRLF or LF line ends,
# "data:" with or without its space, comments and other fields ignored; an
# event not ended by a blank line is dropped.
sse_events() {
	awk '{ sub(/\r$/, "") }
	/^$/ { if (have) print data; data = ""; have = 0; next }
	/^:/ { next }
	{
		i = index($0, ":")
		if (i == 0) { f = $0; v = "" }
		else {
			f = substr($0, 1, i - 1); v = substr($0, i + 1)
			if (substr(v, 1, 1) == " ") v = substr(v, 2)
		}
		if (f == "data") { data = have ? data "\n" v : v; have = 1 }
	}'
}

# sse_json: the JSON chunks of an SSE stream (no [DONE]), one compact object
# a line.
sse_json() { sse_events | grep -v '^\[DONE\]$' | jq -c .; }

# sse_text: the reassembled delta.content of an SSE chat stream.
sse_text() { sse_json | jq -rj '.choices[0].delta.content // empty'; }

# nreq NAME: how many speech requests fake_tts NAME (start_tts NAME) has
# logged so far.
nreq() {
	local n
	n=$(grep -c '"path":"/v1/audio/speech"' "$T/tts-$1.jsonl" 2>/dev/null)
	echo "${n:-0}"
}

# nsynth NAME TEXT: how many speech requests for exactly TEXT fake_tts NAME
# has logged so far.
nsynth() {
	jq -r 'select(.path == "/v1/audio/speech") | .body.input' \
	    "$T/tts-$1.jsonl" 2>/dev/null | grep -cxF -- "$2"
}

# synthesising NAME TEXT N: fake_tts NAME has had N requests for TEXT at
# least (for wait_for).
synthesising() { [ "$(nsynth "$1" "$2")" -ge "$3" ]; }

# cstat FIELD: a figure of the daemon's /cache/stats (FIELD may be a path,
# served.hit).
cstat() { curl -sS -m 10 "$URL/cache/stats" | jq -r ".$1"; }

# fake_stats URL FILTER: a fake's /_fake/stats through jq -r FILTER.
fake_stats() { curl -sS -m 10 "$1/_fake/stats" | jq -r "$2"; }

# fake_is URL FILTER VALUE: the fake's stats at FILTER are VALUE (for
# wait_for).
fake_is() { [ "$(fake_stats "$1" "$2")" = "$3" ]; }

# exact_wav FILE: FILE is a WAV whose header parses and whose lengths match
# the file (fake_tts --wav-info).
exact_wav() { "$BUILD/tests/fake_tts" --wav-info "$1" >/dev/null 2>&1; }

# adm LINE...: the lines sent to the admin socket $SOCK on one connection;
# the answers on stdout.
adm() { printf '%s\n' "$@" | timeout 10 socat -t 5 - UNIX-CONNECT:"$SOCK"; }

# run CMD...: run CMD; its stdout in $out, its stderr in $err, its exit
# status in $rc.
run() {
	rc=0
	out=$("$@" 2>"$T/err") || rc=$?
	err=$(cat "$T/err")
}

# shared_of URL FIELD: the daemon at URL's /health .shared.FIELD (Redis).
shared_of() { curl -sS -m 5 "$1/health" | jq -r ".shared.$2"; }

# shared_up URL: the daemon at URL is connected to its Redis.
shared_up() { [ "$(shared_of "$1" state)" = up ]; }

# cpu_ticks PID: clock ticks (getconf CLK_TCK a second) PID has run so
# far, user and system (/proc/PID/stat, its name may hold spaces).
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# rss_kib PID: PID's resident memory now (VmRSS), in KiB.
rss_kib() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null
}

# cpu_share TICKS0 TICKS1 NS0 NS1: the fraction of a core between two
# cpu_ticks readings taken at date +%s%N times NS0 and NS1.
cpu_share() {
	awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { printf "%.2f", (t1 > t0 ? (b - a) / hz / ((t1 - t0) / 1e9) : 0) }'
}

# readers NAME N JSON [EXPECT]: N slow readers (tests/e2e/readers.py) of the
# speech answer to JSON from the daemon ($PORT), in the background, each
# holding its answer part-read; their files in $T/NAME/.  readers_ready
# NAME: they all hold; readers_go NAME: they read to the end (how many got
# the whole answer, equal to file EXPECT, then in $T/NAME/result);
# readers_drop NAME: they close at once, mid-answer.
readers() {
	mkdir -p "$T/$1"
	printf '%s' "$3" >"$T/$1/body.json"
	spawn "readers-$1" python3 "$top/tests/e2e/readers.py" "$PORT" \
	    "$T/$1/body.json" "$2" "$T/$1" ${4:+"$4"}
}
readers_ready() { [ -s "$T/$1/ready" ]; }
readers_go() { touch "$T/$1/go"; }
readers_drop() { touch "$T/$1/drop"; }
