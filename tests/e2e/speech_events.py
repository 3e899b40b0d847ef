#!/usr/bin/env python3
"""speech_events.py EVENTS OUT: read a /v1/audio/speech answer given with
stream_format "sse" (EVENTS), write the audio of its speech.audio.delta
events, each decoded on its own, joined, to OUT.  Every event must be one
data: line (no other field) of a JSON object; every delta's audio strict
base64 that decodes alone; nothing after the last event.  Prints
"DELTAS done INPUT OUTPUT TOTAL" when the last event is speech.audio.done,
"DELTAS error CODE" when it is an error event; exits 1 (saying why) on
anything else."""
import base64
import binascii
import json
import sys

raw = open(sys.argv[1], 'rb').read().decode('utf-8')


def bad(why):
    print(f'speech_events: {why}', file=sys.stderr)
    sys.exit(1)


if not raw.endswith('\n\n'):
    bad('the stream does not end with a blank line')
audio, deltas, last = bytearray(), 0, None
for ev in raw[:-2].split('\n\n'):
    if last is not None:
        bad(f'an event after {last["type"]}: {ev[:80]!r}')
    if not ev.startswith('data: ') or '\n' in ev:
        bad(f'not one data: line: {ev[:80]!r}')
    o = json.loads(ev[6:])
    if o.get('type') == 'speech.audio.delta':
        if set(o) != {'type', 'audio'}:
            bad(f'delta fields {sorted(o)}')
        try:
            audio += base64.b64decode(o['audio'], validate=True)
        except binascii.Error as e:
            bad(f'delta {deltas} is not base64 on its own: {e}')
        deltas += 1
    elif o.get('type') in ('speech.audio.done', 'error'):
        last = o
    else:
        bad(f'unknown event {ev[:80]!r}')
open(sys.argv[2], 'wb').write(audio)
if last is None:
    bad('no speech.audio.done nor error event at the end')
if last['type'] == 'error':
    print(deltas, 'error', last['error']['code'])
else:
    u = last['usage']
    print(deltas, 'done', u['input_tokens'], u['output_tokens'], u['total_tokens'])
