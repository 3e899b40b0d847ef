#!/usr/bin/env bash
# The admin socket's path cannot be taken by another user (spec §6): the
# default outside XDG_RUNTIME_DIR is in a private directory (mode 0700, ours,
# not a link) that the daemon refuses otherwise, and ttsaccelctl checks its
# peer's uid before it sends anything.  Other users are simulated with
# setpriv: the script needs root.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "this test needs root and setpriv (it runs processes as nobody)" >&2
	exit 1
fi
CTL=$TTSACCELCTL
NOBODY=65534
as_nobody=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups)
chmod 0711 "$T"
# A shared temp dir, as /tmp is: anyone may create in it.
TMP=$T/tmp
mkdir -m 1777 "$TMP"
PRIV=$TMP/ttsaccel-$NOBODY
DEFSOCK=$PRIV/ttsaccel.sock
# "${nobody_env[@]}" CMD...: as nobody, with the default socket path.
nobody_env=("${as_nobody[@]}" env -u TTSACCEL_SOCKET -u XDG_RUNTIME_DIR
    TMPDIR="$TMP")
# try_daemon: start the daemon as nobody with the default socket; it must
# exit within 10 s; its status in $rc, its output in $out.
try_daemon() {
	rc=0
	out=$("${nobody_env[@]}" timeout 10 "$TTSACCEL" --host 127.0.0.1 \
	    --port "$(free_port)" 2>&1) || rc=$?
}

# --- the daemon refuses a directory that is not private
mkdir -m 0700 "$PRIV"		# root's, not nobody's
try_daemon
check "a private dir of another user's: the daemon does not start" \
    test "$rc" -ne 0 -a "$rc" -ne 124
contains "and says whose it is" "$out" \
    "the admin socket's directory $PRIV belongs to uid 0, not to uid $NOBODY"
check "and leaves no socket there" test ! -e "$DEFSOCK"
rmdir "$PRIV"

mkdir -m 0755 "$PRIV"
chown $NOBODY "$PRIV"
try_daemon
check "a private dir of mode 0755: the daemon does not start" \
    test "$rc" -ne 0 -a "$rc" -ne 124
contains "and says which mode" "$out" "has mode 0755, not 0700"
rmdir "$PRIV"

mkdir -m 0700 "$T/elsewhere"
chown $NOBODY "$T/elsewhere"
ln -s "$T/elsewhere" "$PRIV"
try_daemon
check "a symbolic link as private dir: the daemon does not start" \
    test "$rc" -ne 0 -a "$rc" -ne 124
contains "and says it is a link" "$out" "is a symbolic link"
check "and makes no socket through it" test ! -e "$T/elsewhere/ttsaccel.sock"
rm "$PRIV"

# --- without one, the daemon makes it, and ttsaccelctl finds the socket
P=$(free_port)
spawn nobody-daemon "${nobody_env[@]}" "$TTSACCEL" --host 127.0.0.1 --port "$P"
NPID=$LAST_PID
wait_port "$P"
eq "the daemon made its private dir: nobody's, mode 0700" \
    "$(stat -c '%u %a %F' "$PRIV")" "$NOBODY 700 directory"
check "its socket is there" test -S "$DEFSOCK"
out=$("${nobody_env[@]}" "$CTL" --json stats 2>&1)
contains "ttsaccelctl as the same user finds it by default" "$out" '"version"'
# Root may speak to a daemon of its own user in a directory only that
# user can write to (the systemd unit's /run/ttsaccel).
out=$("$CTL" -s "$DEFSOCK" --json stats 2>&1)
contains "root speaks to it in a directory only its user writes" "$out" '"version"'

# --- a stale socket of its own is replaced
kill -KILL "$NPID"
wait "$NPID" 2>/dev/null
check "a killed daemon leaves its socket" test -S "$DEFSOCK"
P=$(free_port)
spawn nobody-daemon2 "${nobody_env[@]}" "$TTSACCEL" --host 127.0.0.1 --port "$P"
wait_port "$P"
out=$("${nobody_env[@]}" "$CTL" --json stats 2>&1)
contains "the daemon starts again over its stale socket" "$out" '"version"'
stop_daemon "$LAST_PID" nobody-daemon2

# --- ttsaccelctl refuses an impostor, before it sends anything
# (the system python3: nobody may not read a python3 of root's own.)
# Another user listens first where root's ttsaccelctl will look (a
# socket in a directory anyone can write to), and records what it gets.
SQ=$TMP/squat.sock
spawn squatter "${as_nobody[@]}" /usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(4)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    got = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    with open(sys.argv[2], "ab") as f:
        f.write(b"connection:" + got + b"\n")
    c.close()
' "$SQ" "$TMP/squatter-got"
wait_for grep -q listening "$T/squatter.log"
rc=0
out=$(timeout 20 "$CTL" -s "$SQ" endpoint add http://127.0.0.1:9 2>&1) || rc=$?
eq "ttsaccelctl refuses a peer of another uid: exit 1" "$rc" 1
contains "and says who holds the socket" "$out" \
    "refusing to talk to $SQ: it is held by uid $NOBODY"
wait_for test -s "$TMP/squatter-got"
eq "the impostor got a connection and not one byte" \
    "$(cat "$TMP/squatter-got")" "connection:"
rc=0
out=$(timeout 20 env TTSACCEL_SOCKET="$SQ" "$CTL" health 2>&1) || rc=$?
eq "health refuses it too: exit 1" "$rc" 1
contains "and says why" "$out" "refusing to talk to $SQ"
finish
