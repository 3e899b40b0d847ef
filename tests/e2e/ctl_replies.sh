#!/usr/bin/env bash
# ttsaccelctl against fake daemons (socat on a socket): a reply that is not
# JSON, none at all, one too late, an error without a reason, and the
# requests it sends.
. "$(dirname "$0")/lib.sh"
CTL=$TTSACCELCTL

# --- fake daemons (socat): a reply that is not JSON, none at all, one too
# late (10 s), and an error without a reason
fake_daemon() {  # fake_daemon NAME SCRIPT: a socket at $T/NAME.sock runs SCRIPT
	printf '%s\n' "$2" >"$T/$1.fake"
	spawn "fake-$1" socat "UNIX-LISTEN:$T/$1.sock,fork" "EXEC:sh $T/$1.fake"
	wait_for test -S "$T/$1.sock"
}
if need socat socat; then
	fake_daemon garbage 'read l; echo not json'
	fake_daemon mute 'read l; exit 0'
	fake_daemon slow 'read l; read l'	# until the client gives up
	fake_daemon refuse 'read l; echo "{\"ok\":false}"'
	fake_daemon echo 'read l; printf "{\"ok\":true,\"data\":%s}\n" "$l"'
	run "$CTL" -s "$T/garbage.sock" stats
	eq "a reply that is not JSON: exit 1" "$rc" 1
	eq "a reply that is not JSON: says so" "$err" \
	    "ttsaccelctl: the daemon at $T/garbage.sock sent a line that is not JSON"
	run "$CTL" -s "$T/mute.sock" stats
	eq "no reply: exit 1" "$rc" 1
	eq "no reply: says so" "$err" \
	    "ttsaccelctl: the daemon at $T/mute.sock closed the connection without replying"
	start=$SECONDS
	run "$CTL" -s "$T/slow.sock" stats
	eq "a reply too late: exit 1" "$rc" 1
	eq "a reply too late: says so" "$err" \
	    "ttsaccelctl: no reply from the daemon at $T/slow.sock within 10 s"
	check "a reply too late: given up after 10 s" \
	    test $((SECONDS - start)) -ge 9 -a $((SECONDS - start)) -le 20
	run "$CTL" -s "$T/refuse.sock" reload
	eq "an error without a reason: exit 1" "$rc" 1
	eq "an error without a reason: says so" "$err" \
	    "ttsaccelctl: the daemon refused the request without saying why"
	# The requests as sent: the echo fake returns each one as its data.
	run "$CTL" -s "$T/echo.sock" --json endpoint add http://x:1 --max 3 \
	    --weight 0.5
	eq "the request of endpoint add" "$out" \
	    '{"url":"http://x:1","max":3,"weight":0.5,"cmd":"endpoints.add","v":1}'
	run "$CTL" -s "$T/echo.sock" --json cache list
	eq "the request of cache list (default limit 20)" "$out" \
	    '{"limit":20,"cmd":"cache.list","v":1}'
	run "$CTL" -s "$T/echo.sock" --json log-level debug
	eq "the request of log-level" "$out" \
	    '{"level":"debug","cmd":"log.level","v":1}'
	run "$CTL" -s "$T/echo.sock" --json replies cancel r0123
	eq "the request of replies cancel" "$out" \
	    '{"id":"r0123","cmd":"replies.cancel","v":1}'
fi
finish
