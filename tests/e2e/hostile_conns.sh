#!/usr/bin/env bash
# Connections: running out of descriptors pauses accepting (one log line,
# no spin) and the daemon serves again once descriptors are free; slow
# headers and bodies are cut at their deadlines; past MAX_CONNECTIONS a
# connection gets 503.  At start the daemon raises its descriptor limit
# to the hard limit and logs it, and warns when that is too low for
# MAX_CONNECTIONS.
. "$(dirname "$0")/lib.sh"

# hold N SECONDS: open N connections to the daemon, keep them SECONDS (or
# until killed: started in the background, its PID is python's own).
HOLD_PY='
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    socks.append(s)
time.sleep(secs)
for s in socks:
    s.close()
'
hold() { python3 -c "$HOLD_PY" "$PORT" "$1" "$2"; }

health_code() { curl -sS -m 10 -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null; }
health_is() { [ "$(health_code)" = "$1" ]; }

# --- EMFILE: a daemon with few descriptors, flooded ---
start_daemon
used=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
# Room for a few connections only (descriptors are numbered from 0).
prlimit --pid "$DAEMON_PID" --nofile=$((used + 4)):$((used + 4))
hold 20 2
lines_during=$(wc -l <"$T/daemon.log")
eq "out of descriptors: one line saying so" \
    "$(grep -c 'accept: .*pausing new connections' "$T/daemon.log")" 1
check "out of descriptors: no spin (log lines: $lines_during)" \
    test "$lines_during" -lt 40
wait_for health_is 200
eq "serves again once the connections close" "$(health_code)" 200
check "says it accepts again" wait_for grep -q 'accepting connections again' "$T/daemon.log"
stop_daemon

# slow PAYLOAD-HEAD PAYLOAD-SLOW: send the first part at once, then the
# second a byte a second (both with \r \n escapes); print the seconds until the daemon closed the
# connection (or "open" after 12 s) and the status it answered.
slow() {
	python3 - "$PORT" "$1" "$2" <<'PY'
import socket, sys, time, select
port = int(sys.argv[1])
head, rest = (a.encode("latin-1").decode("unicode_escape")
              for a in sys.argv[2:4])
s = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
s.sendall(head.encode())
got = b""
for ch in rest.encode():
    r, _, _ = select.select([s], [], [], 1.0)
    if r:
        b = s.recv(65536)
        got += b
        if not b:
            break
    try:
        s.send(bytes([ch]))
    except OSError:
        break
    if time.time() - t0 > 12:
        break
else:
    pass
s.settimeout(max(0.1, 12 - (time.time() - t0)))
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except (socket.timeout, OSError):
    pass
dt = time.time() - t0
status = got.split(b" ")[1].decode() if got.startswith(b"HTTP/") else "none"
print("%s %s" % ("open" if dt >= 12 else int(dt), status))
PY
}

# --- Slow clients: header and body deadlines ---
CLIENT_HEADER_TIMEOUT=2 CLIENT_BODY_TIMEOUT=3 start_daemon
pad=$(head -c 40 /dev/zero | tr '\0' a)
read -r secs st < <(slow 'GET /health HTTP/1.1\r\n' \
    "Host: 127.0.0.1\\r\\nX-Slow: $pad\\r\\n\\r\\n")
check "headers at 1 byte/s: closed within the header timeout ($secs s)" \
    bash -c '[ "$1" != open ] && [ "$1" -le 8 ]' _ "$secs"
eq "headers at 1 byte/s: answered 408" "$st" 408
read -r secs st < <(slow \
    'POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\n' "$pad")
check "body at 1 byte/s: closed within the body timeout ($secs s)" \
    bash -c '[ "$1" != open ] && [ "$1" -ge 3 ] && [ "$1" -le 9 ]' _ "$secs"
eq "body at 1 byte/s: answered 408" "$st" 408
# The log is flushed every 50 ms.
check "the body deadline, not the header one" wait_for grep -q 'CLIENT_BODY_TIMEOUT); closed' "$T/daemon.log"
check "the closes are logged" wait_for grep -q 'CLIENT_HEADER_TIMEOUT); closed' "$T/daemon.log"
eq "still serving" "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$URL/health")" 200
stop_daemon

# --- The descriptor limit: raised to the hard one at start ---
hard=$(ulimit -Hn)
soft=$(ulimit -Sn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 1000000 ]; then
	# Too high for MAX_CONNECTIONS=1000000 to need more, below: lowered
	# for good in this shell (the soft limit first, to be below it).
	hard=65536
	[ "$soft" = unlimited ] || [ "$soft" -gt "$hard" ] && soft=$hard
	ulimit -Sn "$soft"
	ulimit -Hn "$hard"
fi
check "the hard limit ($hard) is above 256" test "$hard" -gt 256
ulimit -Sn 256
start_daemon
ulimit -Sn "$soft"
check "logs the limit raised from 256 to the hard one" wait_for grep -q \
    "descriptor limit: $hard (raised from 256 to the hard limit)" "$T/daemon.log"
if [ -z "${TTSACCEL_VALGRIND:-}" ]; then
	# valgrind keeps the limit it is asked for to itself.
	eq "its soft limit is the hard one" \
	    "$(awk '/^Max open files/ { print $4 }' "/proc/$DAEMON_PID/limits")" \
	    "$hard"
fi
eq "no warning: $hard descriptors are enough for 1000 connections" \
    "$(grep -c 'descriptor limit .* is below' "$T/daemon.log")" 0
stop_daemon
MAX_CONNECTIONS=1000000 start_daemon
check "warns that the limit is too low for MAX_CONNECTIONS, and what to do" \
    wait_for grep -q "descriptor limit $hard is below the .* that MAX_CONNECTIONS=1000000 needs.*raise the hard limit (ulimit -Hn, or LimitNOFILE= in the systemd unit) or lower MAX_CONNECTIONS" "$T/daemon.log"
eq "and serves all the same" "$(health_code)" 200
stop_daemon

# --- The connection cap ---
# (Waits are long: on a loaded machine the holder and the daemon are slow to
# start and to notice a close.)
MAX_CONNECTIONS=3 start_daemon
# Three held until killed; the 4th waits for the daemon to take them.
python3 -c "$HOLD_PY" "$PORT" 3 60 &
holder=$!
wait_secs 60 health_is 503
code=$(curl -sS -m 30 -o "$T/resp" -w '%{http_code}' "$URL/health")
eq "a 4th connection: 503" "$code" 503
check "a 4th connection: OpenAI-shaped" jq -e '.error.code=="too_many_connections"' "$T/resp"
kill "$holder"
wait "$holder" 2>/dev/null
wait_secs 60 health_is 200
eq "served again once they close" "$(health_code)" 200
# connections_are N: /health counts N connections (its own included).
connections_are() { [ "$(curl -sS -m 10 "$URL/health" | jq -r .connections)" = "$1" ]; }
wait_secs 60 connections_are 1
eq "health counts the connection itself" \
    "$(curl -sS -m 10 "$URL/health" | jq -r .connections)" 1
stop_daemon
finish
