#!/usr/bin/env bash
# The chat proxy checked with the official OpenAI SDK (tests/conformance):
# the same requests against the fake upstream directly and through ttsaccel
# must give the SDK the same answers.
. "$(dirname "$0")/lib.sh"

dir=$top/tests/conformance

# Node and npm run the SDK; without them this test cannot say anything.
for tool in node npm; do
	if ! command -v "$tool" >/dev/null; then
		echo "conformance: '$tool' is not installed; this test runs the" \
		    "OpenAI SDK on Node.js (Debian: apt-get install nodejs npm)" >&2
		exit 1
	fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
	echo "conformance: Node.js $(node --version) is too old; 18 or later is needed" >&2
	exit 1
fi

# The SDK at the version the lock file pins, installed when missing or stale.
locked=$(cd "$dir" && node -p 'require("./package-lock.json").packages["node_modules/openai"].version')
installed=$(cd "$dir" && node -p 'require("./node_modules/openai/package.json").version' 2>/dev/null)
if [ "$installed" != "$locked" ]; then
	echo "# npm ci in tests/conformance (openai $locked)"
	if ! (cd "$dir" && npm ci --no-audit --no-fund >"$T/npm.log" 2>&1); then
		echo "conformance: npm ci failed in $dir:" >&2
		tail -n 20 "$T/npm.log" >&2
		exit 1
	fi
fi

start_upstream --require-key sk-test
start_tts sdk
# The TTS server declares WAV only: mp3 and opus are ttsaccel's conversions.
TTS_ENDPOINTS="$TTS_URL|formats=wav" TTS_HEALTH_INTERVAL=0 NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-test start_daemon || finish

check "OpenAI SDK $locked: direct and through ttsaccel agree" \
    node "$dir/conformance.mjs" --direct "$UP_URL" --proxy "$URL" --key sk-test --tts "$TTS_URL" --out "$T"
# What the SDK got in mp3 and opus plays for as long as the WAV.
wsecs=$(soxi -D "$T/speech.wav" 2>/dev/null || echo 0)
frame() {  # frame SECONDS WANT SLACK: |SECONDS - WANT| <= SLACK
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= s) }'
}
check "mp3 from the SDK: duration within one frame of the WAV ($(dur mp3 "$T/speech.mp3") s vs $wsecs s)" \
    frame "$(dur mp3 "$T/speech.mp3")" "$wsecs" 0.048
check "opus from the SDK: valid pages, duration within one frame of the WAV ($(dur opus "$T/speech.opus") s)" \
    frame "$(dur opus "$T/speech.opus")" "$wsecs" 0.020
check "the fake upstream answered (its log has requests)" \
    test -s "$T/upstream-requests.jsonl"
stop_daemon
finish
