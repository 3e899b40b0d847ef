#!/usr/bin/env python3
"""Slow readers of one speech answer, for the e2e tests (lib.sh: readers).

readers.py PORT BODY N DIR [EXPECT]

Opens N connections to 127.0.0.1:PORT, each with a small receive buffer,
and sends each POST /v1/audio/speech with the JSON in file BODY.  Reads
each answer's headers and a few bytes of its body, then writes DIR/ready
and holds them all, reading slowly, until DIR/go or DIR/drop
appears (120 s at most), reading 512 bytes of each every half second.  On go: reads every answer to its end and writes
to DIR/result how many were 200, whole (Content-Length bytes) and equal
to file EXPECT (when given).  On drop: closes every connection at once
(a reset) mid-answer.
"""
import os
import socket
import struct
import sys
import time

HOLD = 1024  # body bytes read before holding
SLOW = 512   # then read every half second


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    length = None
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    return status, length, rest


def main():
    port, body_file, n, d = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    expect = open(sys.argv[5], "rb").read() if len(sys.argv) > 5 else None
    body = open(body_file, "rb").read()
    req = (b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           b"Authorization: Bearer sk-test\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % (port, len(body))) + body
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(60)
        s.connect(("127.0.0.1", port))
        s.sendall(req)
        conns.append(s)
    held = []
    for s in conns:
        status, length, rest = read_head(s)
        while len(rest) < HOLD:
            more = s.recv(HOLD - len(rest))
            if not more:
                break
            rest += more
        held.append((s, status, length, rest))
    open(os.path.join(d, "ready"), "w").write("%d\n" % len(held))
    deadline = time.time() + 120
    tick = 0
    while time.time() < deadline:
        if os.path.exists(os.path.join(d, "drop")):
            for s, *_ in held:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                s.close()
            return 0
        if os.path.exists(os.path.join(d, "go")):
            break
        time.sleep(0.05)
        tick += 1
        if tick % 10 == 0:
            # Slow, not stuck: a little every half second, so that the
            # daemon's timeout for a client that takes nothing stays away.
            for i, (s, status, length, rest) in enumerate(held):
                try:
                    rest += s.recv(SLOW, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    pass
                held[i] = (s, status, length, rest)
    good = 0
    for s, status, length, rest in held:
        data = rest
        while length is not None and len(data) < length:
            more = s.recv(65536)
            if not more:
                break
            data += more
        s.close()
        if status == 200 and length == len(data) and \
                (expect is None or data == expect):
            good += 1
    open(os.path.join(d, "result"), "w").write("%d\n" % good)
    return 0


sys.exit(main())
