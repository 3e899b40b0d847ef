#!/usr/bin/env bash
# Connections: running out of descriptors pauses accepting (one log line,
# no spin) and the daemon serves again once descriptors are free.
. "$(dirname "$0")/lib.sh"

# hold N SECONDS: open N connections to the daemon, keep them SECONDS.
hold() {
	python3 - "$PORT" "$1" "$2" <<'PY'
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
PY
}

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
code=000
for i in $(seq 30); do
	code=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null)
	[ "$code" = 200 ] && break
	sleep 0.2
done
eq "serves again once the connections close" "$code" 200
sleep 0.2
check "says it accepts again" grep -q 'accepting connections again' "$T/daemon.log"
stop_daemon
finish
