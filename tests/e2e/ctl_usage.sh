#!/usr/bin/env bash
# ttsaccelctl with no daemon to talk to: where it looks for the socket and
# what it says when nothing is there, usage errors (exit 2, before any
# connection), --help and --version.
. "$(dirname "$0")/lib.sh"
CTL=$TTSACCELCTL

# --- without a daemon
run "$CTL" -s "$T/none.sock" stats
eq "no daemon: exit 1" "$rc" 1
eq "no daemon: says so, with the socket path" "$err" \
    "ttsaccelctl: cannot connect to the daemon at $T/none.sock: No such file or directory (is ttsaccel running? set -s or TTSACCEL_SOCKET)"
run env TTSACCEL_SOCKET="$T/env.sock" "$CTL" health
eq "health without a daemon: exit 1" "$rc" 1
contains "TTSACCEL_SOCKET is the socket" "$err" "daemon at $T/env.sock:"
run env TTSACCEL_SOCKET="$T/env.sock" "$CTL" --socket "$T/opt.sock" stats
contains "--socket wins over TTSACCEL_SOCKET" "$err" "daemon at $T/opt.sock:"
run env -u TTSACCEL_SOCKET XDG_RUNTIME_DIR="$T/xdg" "$CTL" stats
contains "else \$XDG_RUNTIME_DIR/ttsaccel.sock" "$err" \
    "daemon at $T/xdg/ttsaccel.sock:"
run env -u TTSACCEL_SOCKET -u XDG_RUNTIME_DIR "$CTL" stats
if [ "$(id -u)" -eq 0 ]; then
	contains "else /run/ttsaccel/ttsaccel.sock for root" "$err" \
	    "daemon at /run/ttsaccel/ttsaccel.sock:"
else
	contains "else ttsaccel.sock in the private /tmp/ttsaccel-UID" "$err" \
	    "daemon at ${TMPDIR:-/tmp}/ttsaccel-$(id -u)/ttsaccel.sock:"
fi

# --- usage errors: exit 2, before any connection
usage2() {  # usage2 DESCRIPTION MESSAGE ARGS...
	local desc=$1 msg=$2
	shift 2
	run "$CTL" -s "$T/none.sock" "$@"
	eq "$desc: exit 2" "$rc" 2
	contains "$desc: says why" "$err" "$msg"
}
run "$CTL"
eq "no argument: exit 2" "$rc" 2
contains "no argument: the usage" "$err" "usage: ttsaccelctl"
usage2 "unknown command" "ttsaccelctl: unknown command 'frobnicate'" frobnicate
usage2 "unknown option" "ttsaccelctl: unknown option --bogus" --bogus stats
usage2 "unknown command option" "unknown option -x" cache list -x
usage2 "unknown long command option" "unknown option --names" stats --names
usage2 "cache alone" "cache needs a command: one of clear, list" cache
usage2 "unknown subcommand" "unknown endpoint command 'frob'" endpoint frob
usage2 "endpoint add without URL" "endpoint add needs a URL" endpoint add
usage2 "bad -n" "-n zero: is not a whole number" cache list -n zero
usage2 "-n 0" "-n 0: is too small (1 to 1000000)" cache list -n 0
usage2 "--max without value" "option --max needs a value" endpoint add http://x --max
usage2 "bad --weight" "--weight -1" endpoint add http://x --weight -1
usage2 "extra argument" "unexpected argument 'now'" reload now
usage2 "log-level without a level" "log-level needs LEVEL" log-level
usage2 "-s without a path" "option -s needs a value" -s
contains "a usage error shows the usage" "$err" \
    "usage: ttsaccelctl [-s SOCKET] [--json] COMMAND [ARGS]"
run "$CTL" stats extra
contains "a command's usage line" "$err" "usage: ttsaccelctl [-s SOCKET] [--json] stats"

# --- help and version
run "$CTL" --help
eq "--help: exit 0" "$rc" 0
for c in stats health "cache clear" "cache list" "endpoints list" \
    "endpoints add" "endpoints drain" "endpoints remove" reload "log level" watch \
    --socket --json --names --max --weight; do
	contains "--help lists $c" "$out" "$c"
done
run "$CTL" -V
eq "--version" "$out" "ttsaccelctl $("$TTSACCEL" --version | awk '{print $2}')"
finish
