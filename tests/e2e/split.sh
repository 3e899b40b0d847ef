#!/usr/bin/env bash
# `ttsaccel --split`, and the chat proxy cutting a streamed reply into the
# same segments as the whole text.
. "$(dirname "$0")/lib.sh"

text='Hello there! This is Dr. Smith speaking, version 1.2.3 of the **tool**. 你好，世界。今天天气很好！'
want=$'Hello there!\nThis is Dr. Smith speaking,\nversion 1.2.3 of the tool.\n你好，世界。\n今天天气很好！'
eq "--split with the defaults" "$(printf '%s' "$text" | "$TTSACCEL" --split)" "$want"
out=$(printf 'One two three four five six seven eight nine ten.' | SPLITTER_MAX_LEN=20 SPLITTER_FIRST_LEN=0 "$TTSACCEL" --split)
eq "--split follows SPLITTER_MAX_LEN" "$(printf '%s\n' "$out" | wc -l)" 3
out=$(printf 'A.' | "$TTSACCEL" --split --splitter-min-len 50 --splitter-max-len 10 2>&1); rc=$?
eq "--split rejects min > max" "$rc" 1
contains "--split names the keys" "$out" SPLITTER_MIN_LEN

# A streamed chat, one code point per delta, is cut like the whole text.
start_upstream --chunk 1
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test LOG_LEVEL=DEBUG start_daemon
id=$(chat_reply "$text")
check "reply id given" test -n "$id"
wait_for grep -q "$id reply complete" "$T/daemon.log"
got=$(sed -n "s/.* $id segment [0-9]*: //p" "$T/daemon.log")
eq "streamed segments equal --split's" "$got" "$want"
chat '{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}' -o /dev/null \
    -H 'X-Fake-Reasoning: Secret thoughts here.' -H 'X-Fake-Reply: Spoken words.'
id=$(reply_id)
wait_for grep -q "$id reply complete" "$T/daemon.log"
got=$(sed -n "s/.* $id segment [0-9]*: //p" "$T/daemon.log")
eq "only content is segmented" "$got" "Spoken words."
stop_daemon
finish
