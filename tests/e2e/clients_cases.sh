#!/usr/bin/env bash
# The behaviours of issue 16, each a case of tests/clients/cases/ built
# from a client's public rules (simulate.py case): every speakable word
# of a request heard once, in order; prefetch and matching agree on what
# is spoken (numbered headings); an unclosed fence is not spoken.  Each
# case gets a fresh daemon with no TTS_MODEL_MAP or TTS_VOICE_MAP: the
# clients' stock names (tts-1, alloy) meet the prefetch out of the box.
. "$(dirname "$0")/lib.sh"
SIM=$top/tests/clients/simulate.py
need python3 python3 || finish

start_upstream --delay-ms 0
start_tts cases
n=0
for c in "$top"/tests/clients/cases/*.json; do
	TTS_ENDPOINTS="$TTS_URL|formats=wav" NEWAPI_BASE_URL=$UP_URL \
	    NEWAPI_API_KEY=sk-test TTS_HEALTH_INTERVAL=0 \
	    TTS_DEFAULT_MODEL=liang TTS_DEFAULT_VOICE=zf_001 \
	    start_daemon || break
	python3 "$SIM" case --url "$URL" --key sk-test \
	    --tts-log "$T/tts-cases.jsonl" --tts-url "$TTS_URL" "$c" >"$T/case.out" 2>&1
	rc=$?
	cat "$T/case.out"
	check "$(basename "$c" .json): every check holds" test "$rc" -eq 0
	stop_daemon
	n=$((n + 1))
done
check "the cases ran ($n)" test "$n" -ge 13
finish
