#!/usr/bin/env bash
# The admin socket (spec §6): mode and peers, every command, watch events,
# reload by command and by SIGHUP, and bad input.
. "$(dirname "$0")/lib.sh"
need socat socat || finish
need jq jq || finish

# q JSON FILTER: one command's answer through jq.
q() { adm "$1" | jq -r "$2"; }
# stat_is FILTER VALUE: the stats command's answer has VALUE at FILTER.
stat_is() { [ "$(q '{"cmd":"stats"}' "$1")" = "$2" ]; }
has_ep() { q '{"cmd":"endpoints.list"}' ".data | map(.url) | index(\"$1\") != null"; }
no_ep() { [ "$(has_ep "$1")" = false ]; }
# speak_many TAG N: N distinct speech requests at once; all must be 200.
speak_many() {
	local i pids=() bad=0
	for i in $(seq "$2"); do
		speak "Sentence $i of batch $1." >"$T/sm.$1.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq "$2"); do
		[ "$(cat "$T/sm.$1.$i")" = 200 ] || bad=$((bad + 1))
	done
	return "$bad"
}

start_upstream --delay-ms 0
start_tts a --latency-ms 300
A=$TTS_URL
start_tts b --latency-ms 300
B=$TTS_URL
start_tts c --latency-ms 300
C=$TTS_URL
start_tts d
D=$TTS_URL
CONF=$T/ttsaccel.conf
printf 'endpoint = %s\nendpoint = %s\ncache_ttl = 3600\n' "$A" "$B" >"$CONF"
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=1 \
    start_daemon --config "$CONF"

# --- the socket ---------------------------------------------------------------
eq "the socket is mode 0600" "$(stat -c %a "$SOCK")" 600
out=$(TTSACCEL_SOCKET=$SOCK timeout 10 "$TTSACCEL" --host 127.0.0.1 --port "$(free_port)" 2>&1)
rc=$?
check "a second daemon on the same socket fails to start" test "$rc" -ne 0 -a "$rc" -ne 124
contains "and names the socket" "$out" "$SOCK"

# --- stats and endpoints -----------------------------------------------------
s=$(adm '{"cmd":"stats"}')
eq "stats is ok" "$(jq -r .ok <<<"$s")" true
check "stats has the version" jq -e '.data.version | test("^[0-9]+\\.")' <<<"$s"
check "stats has uptime, counters, cache and watchers" jq -e '.data | (.uptime_s >= 0) and (.requests >= 0) and (.chats >= 0) and (.upstream_errors >= 0) and (.streams >= 0) and (.replies >= 0) and (.cache.entries >= 0) and (.watchers == 0) and (.usable == true)' <<<"$s"
eq "stats lists both endpoints" "$(jq -c '[.data.endpoints[].url]' <<<"$s")" "[\"$A\",\"$B\"]"
eq "\"v\":1 is accepted" "$(q '{"cmd":"endpoints.list","v":1}' '[.ok, (.data | length)] | @tsv')" "$(printf 'true\t2')"
check "endpoints.list gives state, in-flight, max, latency, errors" jq -e '.data[0] | has("state") and has("in_flight") and has("max") and has("latency_ms") and has("errors")' <<<"$(adm '{"cmd":"endpoints.list"}')"

# add a third live: with A and B full, work goes to it
r=$(adm "$(jq -cn --arg u "$C" '{cmd:"endpoints.add",url:$u,max:2,weight:1.5}')")
eq "endpoints.add" "$(jq -c . <<<"$r")" "{\"ok\":true,\"data\":{\"url\":\"$C\"}}"
eq "it is listed with its max and weight" "$(q '{"cmd":"endpoints.list"}' ".data[] | select(.url==\"$C\") | [.max, .weight] | @tsv")" "$(printf '2\t1.5')"
check "12 requests at once are served" speak_many add 12
check "and the new endpoint took some of them" test "$(nreq c)" -ge 1
contains "adding it twice is an error" "$(adm "{\"cmd\":\"endpoints.add\",\"url\":\"$C\"}")" '"ok":false'
contains "a bad url is an error" "$(adm '{"cmd":"endpoints.add","url":"ftp://x"}')" '"ok":false,"error":"'"'url' must be"
contains "max 0 is an error" "$(adm "{\"cmd\":\"endpoints.add\",\"url\":\"http://127.0.0.1:9\",\"max\":0}")" "'max' must be"
contains "weight 0 is an error" "$(adm "{\"cmd\":\"endpoints.add\",\"url\":\"http://127.0.0.1:9\",\"weight\":0}")" "'weight' must be"
contains "url is required" "$(adm '{"cmd":"endpoints.add"}')" "'url' is required"

# drain A: no new work for it, the others serve, it leaves when idle
r=$(adm "{\"cmd\":\"endpoints.drain\",\"url\":\"$A\"}")
eq "endpoints.drain" "$(jq -c . <<<"$r")" "{\"ok\":true,\"data\":{\"url\":\"$A\",\"state\":\"draining\"}}"
na=$(nreq a); nb=$(nreq b); nc=$(nreq c)
check "8 requests after the drain are served" speak_many drain 8
eq "the drained endpoint got none of them" "$(nreq a)" "$na"
eq "the others served all 8" "$(( $(nreq b) + $(nreq c) - nb - nc ))" 8
check "the drained endpoint leaves endpoints.list when idle" wait_for no_ep "$A"
contains "draining an unknown endpoint is an error" "$(adm '{"cmd":"endpoints.drain","url":"http://127.0.0.1:9"}')" '"ok":false,"error":"no endpoint'

# remove C (idle: at once)
r=$(adm "{\"cmd\":\"endpoints.remove\",\"url\":\"$C\"}")
eq "endpoints.remove of an idle one" "$(jq -c . <<<"$r")" "{\"ok\":true,\"data\":{\"url\":\"$C\",\"state\":\"removed\"}}"
check "it is gone" no_ep "$C"
contains "removing it again is an error" "$(adm "{\"cmd\":\"endpoints.remove\",\"url\":\"$C\"}")" '"ok":false'

# --- cache ----------------------------------------------------------------------
eq "a speech request" "$(speak 'The newest entry of all.')" 200
l=$(adm '{"cmd":"cache.list","limit":3}')
eq "cache.list limit 3" "$(jq '.data | length' <<<"$l")" 3
eq "newest first" "$(jq -r '.data[0].text' <<<"$l")" "The newest entry of all."
check "entries have key, bytes, age, hits, state" jq -e '.data[0] | (.key | test("^[0-9a-f]{16}$")) and .bytes > 0 and .age_s >= 0 and .hits >= 0 and .state == "done"' <<<"$l"
eq "cache.list default limit is 20" "$(q '{"cmd":"cache.list"}' '.data | length')" 20
contains "a bad limit is an error" "$(adm '{"cmd":"cache.list","limit":"x"}')" "'limit' must be"
n=$(q '{"cmd":"stats"}' .data.cache.entries)
eq "cache.clear removes them all" "$(q '{"cmd":"cache.clear"}' .data.removed)" "$n"
eq "and the cache is empty" "$(q '{"cmd":"cache.list"}' '.data | length')" 0

# --- log level ----------------------------------------------------------------
eq "log.level DEBUG" "$(adm '{"cmd":"log.level","level":"debug"}')" '{"ok":true,"data":{"level":"DEBUG"}}'
contains "an unknown level is an error" "$(adm '{"cmd":"log.level","level":"LOUD"}')" '"ok":false,"error":"unknown log level'
adm '{"cmd":"log.level","level":"INFO"}' >/dev/null

# --- reload -------------------------------------------------------------------
printf 'endpoint = %s\nendpoint = %s\nendpoint = %s\ncache_ttl = 1234\n' "$A" "$B" "$D" >"$CONF"
r=$(adm '{"cmd":"reload"}')
eq "reload" "$(jq -r '.data.reloaded' <<<"$r")" true
check "the new endpoint is there" jq -e ".data.endpoints | map(.url) | index(\"$D\") != null" <<<"$r"
eq "the new cache TTL applies" "$(q '{"cmd":"stats"}' .data.cache.ttl)" 1234
printf 'endpoint = %s\ncache_ttl = banana\n' "$A" >"$CONF"
r=$(adm '{"cmd":"reload"}')
contains "a broken file: reload fails" "$r" '"ok":false,"error":"reload failed, old configuration kept: '
contains "and says why" "$r" "CACHE_TTL: 'banana'"
eq "the old configuration is kept" "$(q '{"cmd":"stats"}' .data.cache.ttl)" 1234
eq "the endpoints are kept" "$(q '{"cmd":"endpoints.list"}' '.data | length')" 3
eq "the daemon still serves" "$(speak 'Still here after a failed reload.')" 200
printf 'endpoint = %s\nendpoint = %s\ncache_ttl = 777\n' "$B" "$D" >"$CONF"
kill -HUP "$DAEMON_PID"
check "SIGHUP reloads" wait_for stat_is .data.cache.ttl 777
check "and A leaves (no longer listed)" wait_for no_ep "$A"
# A kept endpoint takes its new options; a draining one listed again stays.
ep_field() { q '{"cmd":"endpoints.list"}' ".data[] | select(.url == \"$1\") | .$2"; }
printf 'endpoint = %s|max=3|weight=2\nendpoint = %s\ncache_ttl = 777\n' "$B" "$D" >"$CONF"
eq "reload with new options for B" "$(q '{"cmd":"reload"}' .data.reloaded)" true
eq "B's max is now 3" "$(ep_field "$B" max)" 3
eq "B's weight is now 2" "$(ep_field "$B" weight)" 2
# B and D hold their requests (hold=1) until B has one: the weights pick
# the endpoint, so requests go one by one, each waited for on B or D.
in_flight() { echo $(( $(ep_field "$B" in_flight) + $(ep_field "$D" in_flight) )); }
b_busy() { [ "$(ep_field "$B" in_flight)" -ge 1 ] 2>/dev/null; }
placed() { [ "$(in_flight)" -ge "$1" ] 2>/dev/null; }
placed_none() { [ "$(in_flight)" -eq 0 ] 2>/dev/null; }
curl -sS -X POST "$B/_fake/set?hold=1" >/dev/null
curl -sS -X POST "$D/_fake/set?hold=1" >/dev/null
busy=()
for i in 1 2 3 4 5 6; do
	speak "Keeps B busy while it is drained ($i)." >/dev/null &
	busy+=($!)
	wait_for placed "$i"
	b_busy && break
done
check "B has work in flight" b_busy
adm "{\"cmd\":\"endpoints.drain\",\"url\":\"$B\"}" >/dev/null
eq "B drains while busy" "$(ep_field "$B" state)" draining
eq "reload still listing B" "$(q '{"cmd":"reload"}' .data.reloaded)" true
check "B is back in service" test "$(ep_field "$B" state)" != draining
curl -sS -X POST "$B/_fake/set?hold=0" >/dev/null
curl -sS -X POST "$D/_fake/set?hold=0" >/dev/null
wait "${busy[@]}"
wait_for placed_none
eq "and stays once its work is done" "$(has_ep "$B")" true

# --- watch --------------------------------------------------------------------
# The watcher's input stays open (a FIFO held by fd 7) until it is killed.
mkfifo "$T/watch.in"
exec 7<>"$T/watch.in"
timeout 40 socat - UNIX-CONNECT:"$SOCK" <"$T/watch.in" >"$T/watch.out" &
WATCH_PID=$!
PIDS+=("$WATCH_PID")
printf '{"cmd":"watch"}\n' >&7
check "watch answers" wait_for grep -q '{"ok":true,"data":{"watching":true}}' "$T/watch.out"
eq "stats counts the watcher" "$(q '{"cmd":"stats"}' .data.watchers)" 1
chat "$(echo_chat "Watch this reply. It has two sentences.")" -o /dev/null
for ev in segment.queued segment.started segment.done; do
	check "watch: $ev" wait_for grep -q "\"event\":\"$ev\"" "$T/watch.out"
done
check "events are well-formed" sh -c "tail -n +2 '$T/watch.out' | jq -e 'has(\"event\") and (.t > 1600000000000) and (.data | type == \"object\")' >/dev/null"
curl -sS -X POST "$B/_fake/down" >/dev/null
check "watch: endpoint.state when an endpoint goes down" wait_for grep -q "\"event\":\"endpoint.state\".*\"url\":\"$B\"" "$T/watch.out"
curl -sS -X POST "$B/_fake/up" >/dev/null
kill "$WATCH_PID" 2>/dev/null
exec 7>&-
check "a watcher that leaves is forgotten" wait_for stat_is .data.watchers 0

# --- bad input ------------------------------------------------------------------
contains "malformed JSON" "$(adm '{"cmd":')" '"ok":false,"error":"malformed request'
contains "not an object" "$(adm '[1,2]')" '"ok":false,"error":"malformed request'
contains "no cmd" "$(adm '{"limit":3}')" '"ok":false,"error":"malformed request'
contains "unknown cmd" "$(adm '{"cmd":"nope"}')" '"ok":false,"error":"unknown command'
eq "\"v\":2" "$(adm '{"cmd":"stats","v":2}')" '{"ok":false,"error":"version mismatch: this daemon speaks version 1"}'
out=$(adm '{"cmd":' '{"cmd":"nope"}' '{"cmd":"stats","v":2}' '{"cmd":"endpoints.list"}')
eq "errors keep the connection: four answers" "$(wc -l <<<"$out")" 4
eq "and the last is ok" "$(tail -n 1 <<<"$out" | jq .ok)" true
out=$({ head -c 100000 /dev/zero | tr '\0' a; echo; echo '{"cmd":"endpoints.list"}'; } | timeout 10 socat -t 5 - UNIX-CONNECT:"$SOCK")
eq "a 100 KB line: line too long" "$(head -n 1 <<<"$out")" '{"ok":false,"error":"line too long"}'
eq "then the same connection still answers" "$(sed -n 2p <<<"$out" | jq .ok)" true
eq "nothing else" "$(wc -l <<<"$out")" 2
# a client that vanishes mid-line, and many at once
printf '{"cmd":"sta' | timeout 2 socat -t 0 - UNIX-CONNECT:"$SOCK" >/dev/null
pids=()
for i in $(seq 20); do
	adm '{"cmd":"stats"}' >"$T/many.$i" &
	pids+=($!)
done
wait "${pids[@]}"
eq "20 clients at once all answered" "$(cat "$T"/many.* | jq -r .ok | grep -c true)" 20

# --- other users ----------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && need setpriv util-linux; then
	as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	out=$(echo '{"cmd":"stats"}' | "${as_nobody[@]}" timeout 10 socat -t 5 - UNIX-CONNECT:"$SOCK" 2>&1)
	contains "another user cannot connect (mode 0600)" "$out" "Permission denied"
	# Open the socket up: SO_PEERCRED must still refuse.
	chmod 0711 "$T"
	chmod 0666 "$SOCK"
	out=$(echo '{"cmd":"stats"}' | "${as_nobody[@]}" timeout 10 socat -t 5 - UNIX-CONNECT:"$SOCK" 2>&1)
	rc=$?
	chmod 0600 "$SOCK"
	chmod 0700 "$T"
	contains "another user is refused by its uid" "$out" '{"ok":false,"error":"permission denied: uid 65534'
	eq "and nothing else is said" "$(wc -l <<<"$out")" 1
	eq "and the daemon closes the connection" "$rc" 0
elif [ "$(id -u)" -ne 0 ]; then
	skip_check "other users" "only root can act as another user"
fi
eq "stats still answers" "$(q '{"cmd":"stats"}' .ok)" true

# --- stop, stale socket -----------------------------------------------------------
stop_daemon
check "the socket is removed at exit" test ! -e "$SOCK"
# A stale socket (nothing answers) is replaced.
socat UNIX-LISTEN:"$SOCK" /dev/null &
sp=$!
PIDS+=("$sp")
wait_for test -S "$SOCK"
kill -KILL "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
check "a stale socket file is left" test -S "$SOCK"
printf 'endpoint = %s\n' "$B" >"$CONF"
NEWAPI_API_KEY=sk-test start_daemon --config "$CONF"
eq "the daemon replaces a stale socket" "$(q '{"cmd":"stats"}' .ok)" true
stop_daemon
finish
