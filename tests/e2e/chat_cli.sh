#!/usr/bin/env bash
# ttsaccelctl say and chat against the real daemon, a fake upstream, a fake
# TTS and a fake player: text streamed, reply audio piped while the text
# still streams, -o, --no-audio, errors; the interactive session in tmux.
. "$(dirname "$0")/lib.sh"
PLAYER=$top/tests/fakes/fake_player.sh
LONG="The first sentence is short. Then a second sentence follows, with more words in it. A third one keeps the stream going for a while longer. And here comes the FINALE of this reply."

start_upstream --delay-ms 80
start_tts fast --latency-ms 5
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test TTS_ENDPOINTS=$TTS_URL \
    TTS_HEALTH_INTERVAL=0 start_daemon
export TTSACCEL_URL=$URL TTSACCEL_API_KEY=sk-test XDG_STATE_HOME=$T/state
unset TTSACCEL_PLAYER TTSACCEL_MODEL
is_wav() { sox --i "$1" >/dev/null 2>&1; }
# The body of the last chat request the upstream got.
last_body() {
	jq -rs '[.[] | select(.path == "/v1/chat/completions" and .body != null)] | last | .body' \
	    "$T/upstream-requests.jsonl"
}

# stamp OUT: copy stdin to OUT byte by byte; the time FINALE first showed
# goes to OUT.final.
stamp() {
	local c acc=
	: >"$1"
	while IFS= read -r -N 1 c; do
		printf '%s' "$c" >>"$1"
		acc+=$c
		if [ ! -e "$1.final" ] && [[ $acc == *FINALE* ]]; then
			echo "${EPOCHREALTIME/,/.}" >"$1.final"
		fi
	done
}

# 1. One-shot chat: text streamed, audio to the player while it streams.
"$TTSACCELCTL" chat --verbose --player "$PLAYER $T/played.wav" "ECHO:$LONG" \
    2>"$T/chat1.err" | LC_ALL=C stamp "$T/chat1.out"
rc=${PIPESTATUS[0]}
eq "chat exits 0" "$rc" 0
eq "the reply printed" "$(cat "$T/chat1.out")" "$LONG"
id=$(sed -n 's/^ttsaccelctl: reply //p' "$T/chat1.err")
check "--verbose says the reply id" test -n "$id"
check "the player got a WAV (sox --i)" is_wav "$T/played.wav"
check "the player's input ended before chat exited" test -s "$T/played.wav.done"
curl -sS "${K[@]}" -o "$T/reply.wav" "$URL/v1/audio/replies/$id"
check "the reply's audio is an exact WAV" exact_wav "$T/reply.wav"
check "the player got the reply's audio: same samples" \
    cmp -s <(tail -c +45 "$T/played.wav") <(tail -c +45 "$T/reply.wav")
check "and several segments of it (over 1 s)" \
    test "$(stat -c %s "$T/reply.wav")" -gt 48000
first=$(cat "$T/played.wav.first" 2>/dev/null)
final=$(cat "$T/chat1.out.final" 2>/dev/null)
if awk -v a="$first" -v b="$final" 'BEGIN { exit !(a > 0 && b > 0 && a < b) }'; then
	echo "ok - audio reached the player before the last sentence printed ($first < $final)"
else
	echo "not ok - audio reached the player before the last sentence printed ($first vs $final)"
	fails=$((fails + 1))
fi
body=$(last_body)
eq "one user message sent" "$(printf '%s' "$body" | jq -c '[.messages[].role]')" '["user"]'
eq "the model is the daemon's first" "$(printf '%s' "$body" | jq -r .model)" \
    "$(curl -sS "$URL/v1/models" | jq -r '.data[0].id')"

# 2. -o FILE, a voice, the prompt on stdin.
echo "ECHO:Written to a file. Two sentences." |
    "$TTSACCELCTL" chat -v nova -m chosen-model -o "$T/out.wav" >"$T/chat2.out" 2>"$T/chat2.err"
eq "chat -o exits 0" "$?" 0
eq "chat -o prints the text" "$(cat "$T/chat2.out")" "Written to a file. Two sentences."
check "chat -o writes an exact WAV" exact_wav "$T/out.wav"
check "with sound (over 0.5 s)" test "$(stat -c %s "$T/out.wav")" -gt 24000
eq "the voice was asked of the TTS" "$(tail -n 1 "$T/tts-fast.jsonl" | jq -r '.body.voice')" nova
body=$(last_body)
eq "-m picks the model" "$(printf '%s' "$body" | jq -r .model)" chosen-model
eq "TTSACCEL_MODEL picks the model" "$(TTSACCEL_MODEL=env-model "$TTSACCELCTL" chat --no-audio "ECHO:x" >/dev/null
    last_body | jq -r .model)" env-model

# 3. --no-audio: no synthesis, no reply audio asked for.
before=$(nreq fast)
out=$("$TTSACCELCTL" chat --no-audio "ECHO:Nothing to hear. Not a thing." 2>"$T/chat3.err")
eq "--no-audio exits 0" "$?" 0
eq "--no-audio prints the text" "$out" "Nothing to hear. Not a thing."
sleep 0.3
check "the TTS logged speech requests before --no-audio ($before)" test "${before:-0}" -gt 0
eq "--no-audio: no speech requests at the TTS" "$(nreq fast)" "$before"
check "--no-audio: no reply audio requested" sh -c \
    "test -s '$T/tts-fast.jsonl' && ! grep -q 'Nothing' '$T/tts-fast.jsonl'"
eq "--no-audio: quiet stderr" "$(cat "$T/chat3.err")" ""

# 4. No player: the text, one warning naming the variable, exit 0.
out=$(PATH=/nonexistent "$TTSACCELCTL" chat "ECHO:Silent." 2>"$T/chat4.err")
eq "no player: exit 0" "$?" 0
eq "no player: the text" "$out" "Silent."
contains "no player: the warning names TTSACCEL_PLAYER" "$(cat "$T/chat4.err")" TTSACCEL_PLAYER
eq "no player: one line of warning" "$(wc -l <"$T/chat4.err")" 1
TTSACCEL_PLAYER="$PLAYER $T/envplayer.wav" "$TTSACCELCTL" chat "ECHO:Through the variable." >/dev/null
check "TTSACCEL_PLAYER is used" is_wav "$T/envplayer.wav"

# sox's play when it is the only player on PATH: a stand-in that runs sox
# with play's arguments and the null output instead of a sound card, so
# the arguments are checked by sox itself.
mkdir -p "$T/pbin"
for c in dd date cat tee sox; do ln -s "$(command -v "$c")" "$T/pbin/$c"; done
cat >"$T/pbin/play" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >"$T/play.args"
tee "$T/play.wav" | sox "\$@" -n stat 2>"$T/play.stat"
EOF
chmod +x "$T/pbin/play"
out=$(PATH=$T/pbin "$TTSACCELCTL" chat "ECHO:Played by sox. Its play program." 2>"$T/chat5.err")
eq "only sox's play: exit 0" "$?" 0
eq "only sox's play: the text" "$out" "Played by sox. Its play program."
eq "only sox's play: no warning" "$(cat "$T/chat5.err")" ""
eq "play is run as 'play -q -t wav -'" "$(cat "$T/play.args" 2>/dev/null)" "-q -t wav -"
check "play got a WAV" is_wav "$T/play.wav"
secs=$(awk '/^Length \(seconds\):/ { print $3 }' "$T/play.stat" 2>/dev/null)
check "sox read the stream from stdin with those arguments (${secs:-no} s)" \
    awk -v s="${secs:-0}" 'BEGIN { exit !(s > 0.5) }'

# 5. say.
"$TTSACCELCTL" say -o "$T/say.wav" "Say this sentence."
eq "say -o exits 0" "$?" 0
check "say -o writes an exact WAV" exact_wav "$T/say.wav"
speech "$(say "Say this sentence." wav)" "$T/say-direct.wav" >/dev/null
check "say: the daemon's bytes" cmp -s "$T/say.wav" "$T/say-direct.wav"
"$TTSACCELCTL" say -v echo --player "$PLAYER $T/say-played.wav" "Played aloud."
eq "say to a player exits 0" "$?" 0
check "say: the player got a WAV" is_wav "$T/say-played.wav"
eq "say -v: the voice" "$(tail -n 1 "$T/tts-fast.jsonl" | jq -r '.body.voice')" echo
err=$("$TTSACCELCTL" say --verbose -o "$T/say2.wav" "Say this sentence." 2>&1)
contains "say --verbose shows X-TTS-Cache" "$err" "X-TTS-Cache: hit"

# 6. Failures: exit 1 with one line; usage errors exit 2.
err=$(TTSACCEL_URL=http://127.0.0.1:$(free_port) "$TTSACCELCTL" chat --no-audio "hi" 2>&1 >/dev/null)
eq "no daemon: exit 1" "$?" 1
contains "no daemon: says so" "$err" "ttsaccelctl: cannot reach the daemon"
eq "no daemon: one line" "$(printf '%s\n' "$err" | wc -l)" 1
err=$(TTSACCEL_URL=http://127.0.0.1:$(free_port) "$TTSACCELCTL" say -o "$T/no.wav" "hi" 2>&1)
eq "say, no daemon: exit 1" "$?" 1
check "say, no daemon: no file left" test ! -e "$T/no.wav"
err=$(TTSACCEL_API_KEY=sk-wrong NEWAPI_API_KEY= "$TTSACCELCTL" chat -m m --no-audio "hi" 2>&1 >/dev/null)
eq "bad key: exit 1" "$?" 1
contains "bad key: 401 named" "$err" "401"
err=$("$TTSACCELCTL" chat --bogus 2>&1)
eq "bad option: exit 2" "$?" 2
contains "bad option: named" "$err" "--bogus"
"$TTSACCELCTL" say >/dev/null 2>&1 </dev/null
eq "say without text: exit 2" "$?" 2
"$TTSACCELCTL" chat -m 2>/dev/null
eq "-m without a value: exit 2" "$?" 2

# An error event in the stream (the upstream dies mid-reply).
UP2=$(free_port)
spawn upstream2 "$FAKE_UPSTREAM" --port "$UP2" --fault die-after:3
wait_port "$UP2"
P2=$(free_port)
spawn daemon2 env TTSACCEL_SOCKET="$T/admin2.sock" NEWAPI_BASE_URL=http://127.0.0.1:$UP2 \
    NEWAPI_API_KEY=sk-test TTS_ENDPOINTS=$TTS_URL TTS_HEALTH_INTERVAL=0 \
    "$TTSACCEL" --host 127.0.0.1 --port "$P2"
wait_port "$P2"
err=$(TTSACCEL_URL=http://127.0.0.1:$P2 "$TTSACCELCTL" chat --no-audio "ECHO:This will be cut short after a few chunks." 2>&1 >/dev/null)
eq "error event: exit 1" "$?" 1
contains "error event: its message" "$err" "ttsaccelctl: upstream connection lost"

# 7. Ctrl-C (SIGINT) during a one-shot reply: exit 130, the player killed.
"$TTSACCELCTL" chat --verbose --player "$PLAYER $T/int.wav; sleep 30" "ECHO:$LONG" >"$T/int.out" 2>"$T/int.err" &
cpid=$!
wait_for test -s "$T/int.wav.first"
kill -INT "$cpid"
wait "$cpid"
eq "SIGINT: exit 130" "$?" 130
ppid_=$(cat "$T/int.wav.pid" 2>/dev/null)
# gone PID: PID names a process (the player wrote it) and that process is
# no more, or is a zombie waiting for init; read from /proc, so that no
# missing tool or empty PID reads as "gone".
gone() {
	case $1 in ''|*[!0-9]*) echo "no player PID: '$1'"; return 1 ;; esac
	wait_for dead "$1" && return 0
	echo "still running: $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)"
	return 1
}
# dead PID: no process PID, or a zombie.
dead() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	st=${st##*) }
	[ "${st%% *}" = Z ]
}
check "SIGINT: the player is gone" gone "$ppid_"
check "SIGINT: before the reply's end" sh -c \
    "grep -q 'The first' '$T/int.out' && ! grep -q FINALE '$T/int.out'"
# ndel: the DELETEs of a reply the daemon answered 200.
ndel() { grep -c 'DELETE /v1/audio/replies/r[0-9a-f]* 200' "$T/daemon.log"; }
ndel_gt() { [ "$(ndel)" -gt "$1" ]; }
id=$(sed -n 's/^ttsaccelctl: reply \(r[0-9a-f]*\)$/\1/p' "$T/int.err")
check "SIGINT: --verbose named the reply" test -n "$id"
check "SIGINT: the reply is cancelled on the daemon (DELETE, with the key)" \
    wait_for grep -q "DELETE /v1/audio/replies/$id 200" "$T/daemon.log"

# 8. The interactive session, in tmux.
need tmux tmux || finish
S=$T/tmux.sock
tmux_() { tmux -S "$S" "$@"; }
pane() { tmux_ capture-pane -p -J -S -100 2>/dev/null; }
shows() { pane | grep -qF -- "$1"; }	# shows TEXT: the pane shows TEXT
shows_re() { pane | grep -qE -- "$1"; }	# shows_re REGEX: a line matches
replied() { pane | grep -v '^you> ' | grep -qF -- "$1"; }	# replied TEXT: not typed
wait_pane() { wait_secs "${2:-10}" shows "$1"; }	# wait_pane TEXT [SECONDS]
wait_reply() { wait_secs "${2:-10}" shows_re "$1"; }	# wait_reply REGEX [SECONDS]
# The number of lines that are just the prompt, or start with it.
nprompt() { pane | grep -c '^you> ' || true; }
nprompt_ge() { [ "$(nprompt)" -ge "$1" ]; }
wait_nprompt() { wait_for nprompt_ge "$1"; }	# wait_nprompt N: N prompts show
# last_prompt_is LINE: the last prompt line is LINE.
last_prompt_is() { [ "$(pane | grep '^you> ' | tail -n 1)" = "$1" ]; }
# closed_after N: the upstream has seen more than N clients leave.
closed_after() { [ "$(grep -c client_closed "$T/upstream-requests.jsonl")" -gt "$1" ]; }
tmux_ new-session -d -x 120 -y 30 "env TTSACCEL_URL=$URL TTSACCEL_API_KEY=sk-test XDG_STATE_HOME=$T/state TERM=xterm $TTSACCELCTL chat --no-audio; echo EXIT=\$? >$T/tmux.rc"
check "the session shows the prompt" wait_nprompt 1
tmux_ send-keys "ECHO:Hello from tmux." Enter
check "the reply streams into the pane" wait_reply "^Hello from tmux[.]" 10
check "then the prompt again" wait_nprompt 2
tmux_ send-keys "ECHO:Second answer." Enter
check "a second reply" wait_reply "^Second answer[.]" 10
check "a third prompt" wait_nprompt 3
body=$(last_body)
eq "the conversation is kept as context" "$(printf '%s' "$body" | jq -c '[.messages[].role]')" '["user","assistant","user"]'
eq "with the earlier reply" "$(printf '%s' "$body" | jq -r '.messages[1].content')" "Hello from tmux."
tmux_ send-keys Up Up
wait_for last_prompt_is "you> ECHO:Hello from tmux."
eq "up arrow twice recalls the first prompt" "$(pane | grep '^you> ' | tail -n 1)" "you> ECHO:Hello from tmux."
n=$(nprompt)
tmux_ send-keys C-c
check "Ctrl-C at the prompt clears the line" wait_nprompt $((n + 1))
eq "the new prompt is empty" "$(pane | grep '^you> ' | tail -n 1)" "you> "
tmux_ send-keys "/clear" Enter
check "/clear" wait_pane "(conversation cleared)" 5
tmux_ send-keys "ECHO:$LONG" Enter
check "a long reply starts" wait_reply "^The first sentence" 10
n=$(nprompt)
c0=$(grep -c client_closed "$T/upstream-requests.jsonl")
tmux_ send-keys C-c
check "Ctrl-C returns to the prompt" wait_nprompt $((n + 1))
check "promptly (before the reply's end)" not replied FINALE
# The reply is given up: the upstream sees its client leave.
wait_for closed_after "$c0"
shown=$(pane | grep -v '^you> ')
contains "the pane still shows the long reply's start" "$shown" "The first sentence"
check "and the reply's end never shows" sh -c '! grep -q FINALE' <<<"$shown"
body=$(last_body)
eq "/clear forgot the conversation" "$(printf '%s' "$body" | jq -c '[.messages[].role]')" '["user"]'
tmux_ send-keys C-d
wait_for test -e "$T/tmux.rc"
eq "Ctrl-D quits with 0" "$(cat "$T/tmux.rc" 2>/dev/null)" EXIT=0
hist=$T/state/ttsaccel/history
check "history written" test -s "$hist"
contains "history has the prompts" "$(cat "$hist" 2>/dev/null)" "ECHO:Hello from tmux."

tmux_ kill-server 2>/dev/null

# Ctrl-C in a session with audio: the reply and its player stop.
tmux_ new-session -d -x 120 -y 30 "env TTSACCEL_URL=$URL TTSACCEL_API_KEY=sk-test XDG_STATE_HOME=$T/state TERM=xterm $TTSACCELCTL chat --player '$PLAYER $T/ia.wav; sleep 30'; echo EXIT=\$? >$T/tmux2.rc"
check "a session with audio" wait_nprompt 1
tmux_ send-keys "ECHO:$LONG" Enter
wait_for test -s "$T/ia.wav.first"
check "its player plays" test -s "$T/ia.wav.first"
n=$(nprompt)
d0=$(ndel)
tmux_ send-keys C-c
check "Ctrl-C returns to the prompt" wait_nprompt $((n + 1))
check "and the player is gone" gone "$(cat "$T/ia.wav.pid" 2>/dev/null)"
check "and the reply is cancelled on the daemon" wait_for ndel_gt "$d0"
# /stop: the last reply's audio, still playing at the prompt, stops and
# the reply is cancelled (the DELETE is sent).
rm -f "$T/ia.wav.first"
tmux_ send-keys "ECHO:Short one here." Enter
check "another reply" wait_reply "^Short one here[.]" 10
check "its audio plays" wait_for test -s "$T/ia.wav.first"
n=$(nprompt)
d0=$(ndel)
tmux_ send-keys "/stop" Enter
check "/stop" wait_pane "(stopped)" 5
check "/stop: the player is gone" gone "$(cat "$T/ia.wav.pid" 2>/dev/null)"
check "/stop: the DELETE is sent" wait_for ndel_gt "$d0"
tmux_ send-keys C-d
wait_for test -e "$T/tmux2.rc"
eq "Ctrl-D quits with 0" "$(cat "$T/tmux2.rc" 2>/dev/null)" EXIT=0
tmux_ kill-server 2>/dev/null

finish
