#!/usr/bin/env bash
# ttsaccelctl's commands are named as the protocol's (admin_proto.h), a
# space for each dot: each command in --help that speaks to the daemon
# sends the command of its name.  The earlier names (endpoint for
# endpoints, log-level for log level) still work and send the same.
. "$(dirname "$0")/lib.sh"
CTL=$TTSACCELCTL
start_tts a
A=$TTS_URL
start_tts b
B=$TTS_URL
TTS_ENDPOINTS=$A start_daemon --log-level INFO
export TTSACCEL_SOCKET=$SOCK

# oks NAME: how many NAME requests the daemon answered (its log is
# written in blocks: wait for the line, do not read it at once).
oks() { grep -c "admin: client [0-9]*: $1: ok" "$T/daemon.log"; }
oks_over() { [ "$(oks "$1")" -gt "$2" ]; }
# sends DESCRIPTION NAME ARGS...: ttsaccelctl ARGS exits 0, and the
# daemon answered one more NAME request.
sends() {
	local desc=$1 name=$2 before
	shift 2
	before=$(oks "$name")
	"$CTL" "$@" >/dev/null
	eq "$desc: exit 0" "$?" 0
	check "$desc: sends $name" wait_for oks_over "$name" "$before"
}

# The commands --help lists: the words of each name, its arguments left out.
mapfile -t names < <("$CTL" --help | awk '
    /^Commands:/ { on = 1; next }
    on && /^$/ { exit }
    on && /^  [a-z]/ {
	split(substr($0, 3, 26), w, " ")
	n = w[1]
	if (w[2] ~ /^[a-z]+$/) n = n " " w[2]
	print n
    }')
check "--help lists the commands (${#names[@]})" test "${#names[@]}" -ge 12
declare -A args=(
	["endpoints add"]=$B ["endpoints drain"]=$B ["endpoints remove"]=$A
	["log level"]=INFO
)
tested=0
for n in "${names[@]}"; do
	case $n in
	health | say | chat) continue ;;	# health asks stats; HTTP
	watch)
		before=$(oks watch)
		spawn watch "$CTL" watch
		check "watch: sends watch" wait_for oks_over watch "$before"
		kill -INT "$LAST_PID"
		wait "$LAST_PID"
		eq "watch: exit 0 on SIGINT" "$?" 0
		;;
	replies\ cancel)
		# No reply here: the daemon answers that it has none.
		run "$CTL" replies cancel nope
		eq "replies cancel: exit 1 (no such reply)" "$rc" 1
		check "replies cancel: sends replies.cancel" wait_for grep -q \
		    "admin: client [0-9]*: replies.cancel: no reply 'nope' here" \
		    "$T/daemon.log"
		;;
	*)
		# shellcheck disable=SC2086
		sends "$n" "${n// /.}" $n ${args[$n]:-}
		;;
	esac
	tested=$((tested + 1))
done
eq "every admin command checked" "$tested" 11

# The earlier names.
sends "endpoint add (earlier name)" endpoints.add endpoint add "$B"
eq "endpoint list is endpoints list" "$("$CTL" endpoint list --names)" \
    "$("$CTL" endpoints list --names)"
sends "endpoint list (earlier name)" endpoints.list endpoint list
sends "endpoint remove (earlier name)" endpoints.remove endpoint remove "$B"
sends "endpoint add (earlier name), again" endpoints.add endpoint add "$B"
sends "endpoint drain (earlier name)" endpoints.drain endpoint drain "$B"
sends "log-level (earlier name)" log.level log-level DEBUG
eq "log-level says what log level says" "$("$CTL" log-level INFO)" \
    "$("$CTL" log level INFO)"

# Usage errors name the command as typed: "MESSAGE|ARGS" a line.
while IFS='|' read -r msg words; do
	# shellcheck disable=SC2086
	err=$("$CTL" -s "$T/none.sock" $words 2>&1 >/dev/null)
	eq "$words: a usage error (exit 2)" "$?" 2
	contains "$words: says why" "$err" "$msg"
done <<'LINES'
unknown endpoints command 'frob' (one of: list, add, drain, remove)|endpoints frob
unknown endpoint command 'frob'|endpoint frob
endpoints add needs a URL|endpoints add
endpoint add needs a URL|endpoint add
log needs a command: one of level|log
log level needs LEVEL|log level
log-level needs LEVEL|log-level
LINES
err=$("$CTL" -s "$T/none.sock" "cache list" 2>&1 >/dev/null)
contains "a name of two words is two words" "$err" "unknown command 'cache list'"

# The page says both.
man1=$(mandoc -Tascii -O width=1000 "$top/man/ttsaccelctl.1" | sed 's/.\x08//g')
for n in "${names[@]}" "endpoint for endpoints" "log-level for log level"; do
	contains "ttsaccelctl.1 names $n" "$man1" "$n"
done

stop_daemon
finish
