#!/usr/bin/env bash
# ttsaccelctl against the real daemon and fake TTS servers: every command
# in its human and --json forms, the daemon's errors, a socket of another
# user.  (Without a daemon: ctl_usage.sh; fake daemons: ctl_replies.sh.)
. "$(dirname "$0")/lib.sh"
CTL=$TTSACCELCTL

# --- a daemon with one endpoint, configured from a file (for reload)
start_tts a
A=$TTS_URL
start_tts b
B=$TTS_URL
cat >"$T/ttsaccel.conf" <<EOF
newapi_api_key = sk-test
tts_health_interval = 1
endpoint = $A
EOF
start_daemon -c "$T/ttsaccel.conf"
export TTSACCEL_SOCKET=$SOCK

for t in "Hello there." "A second sentence." "And a third one."; do
	eq "speech: $t" "$(speak "$t")" 200
done
speak "Hello there." >/dev/null	# a hit

# stats
run "$CTL" stats
eq "stats: exit 0" "$rc" 0
contains "stats: usable" "$out" "Usable          : yes"
contains "stats: the requests" "$out" "Requests        : 4"
contains "stats: the cache entries" "$out" "Cache entries      : 3 of "
contains "stats: the bytes in KiB" "$out" " KiB of 256.0 MiB"
contains "stats: the hit rate" "$out" "Hit rate           : 25.0%"
contains "stats: speech by how it was served" "$out" "Speech served  : 4, 25.0% without a new synthesis"
contains "stats: exact ones" "$out" "Exact          : 1"
contains "stats: missed ones" "$out" "Missed         : 3"
check "stats: the endpoint table" grep -qE "^URL +STATE +IN FLIGHT +WEIGHT +LATENCY +DONE +ERRORS\$" <<<"$out"
check "stats: the endpoint" grep -qE "^$A +up +0/[0-9]+ +1 +[0-9.]+ ms +3 +0\$" <<<"$out"
run "$CTL" --json stats
eq "stats --json: exit 0" "$rc" 0
eq "stats --json: one line" "$(wc -l <<<"$out")" 1
eq "stats --json: fields" "$(jq -c '[.usable, .requests, .cache.entries,
    .cache.hits, .cache.misses, .endpoints[0].url, .endpoints[0].state,
    (.version | type), (.uptime_s | type), (.cache.bytes > 0),
    .served.exact, .served.miss]' <<<"$out")" \
    "[true,4,3,1,3,\"$A\",\"up\",\"string\",\"number\",true,1,3]"
run "$CTL" stats --json
eq "--json after the command" "$(jq -r .cache.entries <<<"$out")" 3

# health
run "$CTL" health
eq "health: exit 0" "$rc" 0
eq "health: says so, and that no upstream is configured" "$out" \
    "ttsaccel can serve: 1 of 1 endpoint up
upstream: not configured"
run "$CTL" --json health
eq "health --json" "$out" \
    '{"usable":true,"endpoints_up":1,"endpoints":1,"upstream":{"state":"not configured"}}'

# cache list
run "$CTL" cache list
eq "cache list: exit 0" "$rc" 0
check "cache list: a header" grep -qE '^AGE +HITS +SIZE +STATE +KEY +TEXT$' <<<"$out"
eq "cache list: the texts" "$(sed 1d <<<"$out" |
    sed -E 's/.*done +[0-9a-f]+ +//' | sort)" \
    "$(printf '"A second sentence."\n"And a third one."\n"Hello there."')"
check "cache list: hits and size" grep -qE '^ *[0-9]+s +1 +[0-9.]+ KiB +done +[0-9a-f]+ +"Hello there\."$' <<<"$out"
run "$CTL" cache list -n 2
eq "cache list -n 2: two entries" "$(sed 1d <<<"$out" | wc -l)" 2
run "$CTL" --json cache list -n 1
eq "cache list --json" "$(jq -c '[length, (.[0].text |
    test("^(Hello there|A second sentence|And a third one)\\.$")),
    .[0].state, (.[0].bytes > 0), (.[0].key | length > 0), (.[0].age_s | type),
    (.[0].hits | type)]' <<<"$out")" \
    '[1,true,"done",true,true,"number","number"]'

# endpoints: list, add, drain, remove
run "$CTL" endpoint list
check "endpoint list: the table" grep -qE "^$A +up +0/[0-9]+ +1 " <<<"$out"
run "$CTL" endpoint add "$B" --max 2 --weight 1.5
eq "endpoint add: exit 0" "$rc" 0
eq "endpoint add: says so" "$out" "added $B"
run "$CTL" endpoint list
check "endpoint list: the new one, its max and weight" grep -qE "^$B +[a-z]+ +0/2 +1.5 " <<<"$out"
run "$CTL" endpoint list --names
eq "endpoint list --names" "$out" "$(printf '%s\n%s' "$A" "$B")"
# The completions ask the daemon for the URLs to drain or remove.
comp_bash() {
	PATH=$top:$PATH bash -c '. "$1"; shift; COMP_WORDS=("$@")
	    COMP_CWORD=$(($# - 1)); _ttsaccelctl; printf "%s\n" "${COMPREPLY[@]}"' \
	    _ "$top/completions/ttsaccelctl.bash" "$@"
}
eq "bash completes the endpoints to drain" \
    "$(comp_bash ttsaccelctl endpoint drain '')" "$(printf '%s\n%s' "$A" "$B")"
eq "bash completes the endpoints to remove, with -s" \
    "$(env -u TTSACCEL_SOCKET bash -c "$(declare -f comp_bash); top=$top
    comp_bash ttsaccelctl -s '$SOCK' endpoint remove ''")" \
    "$(printf '%s\n%s' "$A" "$B")"
if need fish fish; then
	eq "fish completes the endpoints to drain" "$(PATH=$top:$PATH fish -c \
	    "source '$top/completions/ttsaccelctl.fish'
	    complete -C 'ttsaccelctl endpoint drain '" | cut -f1 | sort)" \
	    "$(printf '%s\n%s\n' "$A" "$B" | sort)"
fi
run "$CTL" --json endpoint list
eq "endpoint list --json" "$(jq -c '[.[] | [.url, .max, .weight]]' <<<"$out")" \
    "[[\"$A\",3,1],[\"$B\",2,1.5]]"
run "$CTL" endpoint add "$B"
eq "endpoint add twice: exit 1" "$rc" 1
contains "endpoint add twice: the daemon's reason" "$err" "ttsaccelctl: "
run "$CTL" endpoint drain http://127.0.0.1:1/nothing
eq "drain of an unknown endpoint: exit 1" "$rc" 1
eq "drain of an unknown endpoint: the daemon's message" "$err" \
    "ttsaccelctl: no endpoint 'http://127.0.0.1:1/nothing'"
run "$CTL" endpoint remove http://127.0.0.1:1/nothing
eq "remove of an unknown endpoint: exit 1" "$rc" 1
run "$CTL" --json endpoint drain "$B"
eq "endpoint drain --json" "$out" "{\"url\":\"$B\",\"state\":\"draining\"}"
check "a drained idle endpoint leaves" wait_for sh -c \
    "test \"\$('$CTL' endpoint list --names)\" = '$A'"
run "$CTL" endpoint add "$B"
eq "added again" "$out" "added $B"
run "$CTL" endpoint remove "$B"
eq "endpoint remove: exit 0" "$rc" 0
eq "endpoint remove: removed" "$out" "removed $B"
run "$CTL" endpoint add "$B"
run "$CTL" --json endpoint remove "$B"
eq "endpoint remove --json" "$(jq -r .state <<<"$out")" removed
run "$CTL" endpoint drain "$A"
eq "endpoint drain: says so" "$out" "draining $A (it leaves when idle)"
run "$CTL" endpoint list
eq "no endpoints left" "$out" "no endpoints"
run "$CTL" health
eq "health with no endpoint: exit 1" "$rc" 1
eq "health with no endpoint: why" "$err" \
    "ttsaccelctl: ttsaccel cannot serve: 0 of 0 endpoints up"

# reload: the file's endpoints come back; a broken file is refused
cat >>"$T/ttsaccel.conf" <<EOF
endpoint = $B max=2
EOF
run "$CTL" reload
eq "reload: exit 0" "$rc" 0
contains "reload: says so" "$out" "reloaded the configuration"
check "reload: the endpoints of the file" grep -qE "^$B +[a-z]+ +0/2 " <<<"$out"
run "$CTL" --json reload
eq "reload --json" "$(jq -c '[.reloaded, [.endpoints[].url]]' <<<"$out")" \
    "[true,[\"$A\",\"$B\"]]"
cp "$T/ttsaccel.conf" "$T/good.conf"
echo "cache_ttl = forever" >>"$T/ttsaccel.conf"
run "$CTL" reload
eq "reload of a broken file: exit 1" "$rc" 1
contains "reload of a broken file: the daemon's reason" "$err" \
    "ttsaccelctl: reload failed, old configuration kept:"
contains "... naming the setting" "$err" "line 5: CACHE_TTL"
cp "$T/good.conf" "$T/ttsaccel.conf"

# log-level
run "$CTL" log-level DEBUG
eq "log-level DEBUG" "$out" "log level DEBUG"
run "$CTL" --json log-level warning
eq "log-level --json" "$out" '{"level":"WARNING"}'
run "$CTL" log-level LOUD
eq "log-level of a bad level: exit 1" "$rc" 1
contains "log-level of a bad level: the daemon's reason" "$err" \
    "ttsaccelctl: unknown log level 'LOUD'"
"$CTL" log-level INFO >/dev/null

# watch: one line per event, SIGINT ends it with status 0
"$CTL" watch >"$T/watch.out" 2>"$T/watch.err" &
W=$!
PIDS+=("$W")
check "watch: the daemon counts the watcher" wait_for sh -c \
    "test \$('$CTL' --json stats | jq -r .watchers) -eq 1"
eq "speech while watching" "$(speak "Watch this sentence.")" 200
check "watch: segment.started and segment.done" wait_for grep -q \
    'segment.done' "$T/watch.out"
kill -INT "$W"
rc=0
wait "$W" || rc=$?
eq "watch: SIGINT exits 0" "$rc" 0
eq "watch: nothing on stderr" "$(cat "$T/watch.err")" ""
check "watch: the started line" grep -qE \
    '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} segment\.started +[0-9a-f]+ on http://127\.0\.0\.1:[0-9]+ "Watch this sentence\."$' \
    "$T/watch.out"
check "watch: the done line" grep -qE \
    '^[0-9:.]+ segment\.done +[0-9a-f]+ on http://127\.0\.0\.1:[0-9]+ in [0-9.]+ ms, [0-9.]+ KiB "Watch this sentence\."$' \
    "$T/watch.out"

"$CTL" --json watch >"$T/watchj.out" 2>"$T/watchj.err" &
W=$!
PIDS+=("$W")
wait_for sh -c "test \$('$CTL' --json stats | jq -r .watchers) -ge 1"
eq "speech while watching (--json)" "$(speak "Watch it as JSON.")" 200
check "watch --json: the done event" wait_for grep -q '"segment.done"' \
    "$T/watchj.out"
kill -INT "$W"
rc=0
wait "$W" || rc=$?
eq "watch --json: SIGINT exits 0" "$rc" 0
eq "watch --json: every line is an event" "$(jq -c 'select(.data.text ==
    "Watch it as JSON.") | [.event, (.t | type), (.data.key | length > 0)]' \
    "$T/watchj.out" | sort -u | tr '\n' ' ')" \
    '["segment.done","number",true] ["segment.started","number",true] '
eq "watch --json: done has ms and bytes" "$(jq -c 'select(.event ==
    "segment.done") | (.data.ms | type) == "number" and .data.bytes > 0 and
    (.data.endpoint | startswith("http://"))' "$T/watchj.out")" true

# cache clear
run "$CTL" cache clear
eq "cache clear: exit 0" "$rc" 0
eq "cache clear: the count" "$out" "removed 5 cache entries"
run "$CTL" cache list
eq "cache list after clear" "$out" "the cache is empty"
run "$CTL" --json cache list
eq "cache list --json after clear" "$out" "[]"
run "$CTL" --json cache clear
eq "cache clear --json" "$out" '{"removed":0}'

# health when every fake is down (probes every second), and back
curl -sS -X POST "$A/_fake/down" >/dev/null
curl -sS -X POST "$B/_fake/down" >/dev/null
check "health: exit 1 once every endpoint is down" wait_for sh -c \
    "! '$CTL' health >/dev/null 2>&1"
run "$CTL" health
eq "health down: exit 1" "$rc" 1
eq "health down: why" "$err" \
    "ttsaccelctl: ttsaccel cannot serve: 0 of 2 endpoints up"
run "$CTL" --json health
eq "health down --json" "$(jq -c . <<<"$out")" \
    '{"usable":false,"endpoints_up":0,"endpoints":2,"upstream":{"state":"not configured"}}'
eq "health down --json: exit 1" "$rc" 1
run "$CTL" stats
contains "stats: not usable" "$out" "Usable          : no"
check "stats: the endpoint is down" grep -qE "^$A +down " <<<"$out"
curl -sS -X POST "$A/_fake/up" >/dev/null
check "health: exit 0 again once one is up" wait_for sh -c \
    "'$CTL' health >/dev/null 2>&1"

# another user: the socket is 0600, so connect is refused
if [ "$(id -u)" -eq 0 ] && need setpriv util-linux; then
	chmod 0711 "$T"
	mkdir -p "$T/bin" && cp "$CTL" "$T/bin/ttsaccelctl" &&
	    chmod 0755 "$T/bin" "$T/bin/ttsaccelctl"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$T/bin/ttsaccelctl" -s "$SOCK" stats
	eq "another user: exit 1" "$rc" 1
	contains "another user: cannot connect, permission denied" "$err" \
	    "ttsaccelctl: cannot connect to the daemon at $SOCK: Permission denied"
	# Even through a socket opened to all, the daemon checks the peer.
	chmod 0666 "$SOCK"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$T/bin/ttsaccelctl" -s "$SOCK" stats
	eq "another user, socket 0666: exit 1" "$rc" 1
	eq "another user, socket 0666: no data" "$out" ""
	contains "another user, socket 0666: the daemon refuses" "$err" \
	    "ttsaccelctl: permission denied"
	chmod 0600 "$SOCK"
	chmod 0700 "$T"
elif [ "$(id -u)" -ne 0 ]; then
	skip_check "another user" "only root can act as another user"
fi

# watch ends with status 1 when the daemon goes away
"$CTL" watch >"$T/watch2.out" 2>"$T/watch2.err" &
W=$!
PIDS+=("$W")
wait_for sh -c "test \$('$CTL' --json stats | jq -r .watchers) -ge 1"
stop_daemon
rc=0
wait "$W" || rc=$?
eq "watch: the daemon going away is a failure" "$rc" 1
eq "watch: says the daemon closed" "$(cat "$T/watch2.err")" \
    "ttsaccelctl: the daemon at $SOCK closed the connection"
run "$CTL" stats
eq "stats after the daemon stopped: exit 1" "$rc" 1
contains "stats after the daemon stopped: cannot connect" "$err" \
    "cannot connect to the daemon at $SOCK"

finish
