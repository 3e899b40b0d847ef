# Shared helpers for the end-to-end scripts.  Source it first:
#   . "$(dirname "$0")/lib.sh"
# Each script gets its own temp dir ($T), ports and admin socket; every
# process started with `spawn` is killed by PID when the script exits.
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

# wait_for CMD...: until CMD succeeds, up to 10 s.
wait_for() {
	local i
	for i in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}

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
