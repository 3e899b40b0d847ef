#!/usr/bin/env python3
"""audio_seconds.py KIND FILE: seconds of an MP3 (from its frame headers)
or an Ogg Opus (last granule minus pre-skip; 0 when a page's CRC fails)."""
import sys
k, d = sys.argv[1], open(sys.argv[2], 'rb').read()
def crc(b):
    c = 0
    for x in b:
        c ^= x << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04c11db7) & 0xffffffff if c & 0x80000000 else (c << 1) & 0xffffffff
    return c
if k == 'opus':  # every page's CRC must hold, else no duration
    o = 0
    while o < len(d):
        n = d[o + 26]
        p = bytearray(d[o:o + 27 + n + sum(d[o + 27:o + 27 + n])])
        s = int.from_bytes(p[22:26], 'little')
        p[22:26] = bytes(4)
        if crc(p) != s:
            print(0)
            sys.exit()
        o += len(p)
    i = d.rfind(b'OggS')
    g = int.from_bytes(d[i + 6:i + 14], 'little')
    h = d.find(b'OpusHead')
    print((g - int.from_bytes(d[h + 10:h + 12], 'little')) / 48000)
    sys.exit()
i = 0
if d[:3] == b'ID3':
    i = 10 + ((d[6] << 21) | (d[7] << 14) | (d[8] << 7) | d[9])
rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
kbps1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
kbps2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
t = 0.0
while i + 4 <= len(d) and d[i] == 0xff and d[i + 1] & 0xe0 == 0xe0:
    ver = (d[i + 1] >> 3) & 3
    br = (kbps1 if ver == 3 else kbps2)[d[i + 2] >> 4] * 1000
    sr = rates[ver][(d[i + 2] >> 2) & 3]
    spf = 1152 if ver == 3 else 576
    if br == 0:
        break
    flen = spf // 8 * br // sr + ((d[i + 2] >> 1) & 1)
    frame = d[i:i + flen]
    x = max(frame.find(b'Xing'), frame.find(b'Info'))
    i += flen
    if x < 0:
        t += spf / sr
        continue
    # LAME's header frame: no audio, but the encoder delay and padding
    # that a gapless decoder drops.
    flags = int.from_bytes(frame[x + 4:x + 8], 'big')
    o = x + 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + \
        100 * bool(flags & 4) + 4 * bool(flags & 8)
    if frame[o:o + 4] == b'LAME' and len(frame) >= o + 24:
        b = frame[o + 21:o + 24]
        skip = ((b[0] << 4) | (b[1] >> 4)) + (((b[1] & 15) << 8) | b[2])
        t -= skip / sr
print(t)
