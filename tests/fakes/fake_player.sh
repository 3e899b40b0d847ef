#!/bin/sh
# fake_player.sh OUT: a stand-in audio player for the tests.  Copies its
# stdin to OUT; writes its PID to OUT.pid at start, the time (seconds since
# the epoch, with nanoseconds) its first byte arrived to OUT.first and the
# time its input ended to OUT.done.
out=$1
echo $$ >"$out.pid"
: >"$out"
# One byte first (dd reads no more than it is asked for), then the rest.
dd bs=1 count=1 of="$out" 2>/dev/null
date +%s.%N >"$out.first"
cat >>"$out"
date +%s.%N >"$out.done"
