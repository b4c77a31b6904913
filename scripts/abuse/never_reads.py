#!/usr/bin/env python3
"""A client that never reads: it upgrades over a raw socket, then writes masked binary frames as
fast as the server takes them for SECONDS, and never reads a byte of the echoes.

The server must not buffer the echoes without end: once a connection's outbound queue is full
it stops reading from that client, so the client's writes stall (TCP backpressure) while the
server's memory stays flat. Run it while watching the server's RSS.

    python3 scripts/abuse/never_reads.py 127.0.0.1:9502 --clients 4 --seconds 5

Prints one JSON line: bytes written per client and whether the writes stalled (they should).
"""

import argparse
import base64
import json
import os
import socket
import struct
import sys
import threading
import time


def upgrade(host: str, port: int, path: str) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the upgrade")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"upgrade refused: {head[:80]!r}")
    return sock


def frame(payload: bytes) -> bytes:
    """One masked binary frame (a zero mask: the bytes are the payload)."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x82, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, length)
    return head + b"\0\0\0\0" + payload


def flood(sock: socket.socket, data: bytes, seconds: float, out: dict) -> None:
    deadline = time.monotonic() + seconds
    sent, stalled = 0, False
    sock.settimeout(0.2)
    view = memoryview(data)
    offset = 0
    while time.monotonic() < deadline:
        try:
            n = sock.send(view[offset:])
        except socket.timeout:
            stalled = True  # the server stopped taking bytes: backpressure
            continue
        except OSError as error:
            out["error"] = repr(error)
            break
        sent += n
        offset = (offset + n) % len(data)
    out["sent_bytes"] = sent
    out["stalled"] = stalled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("addr", help="HOST:PORT")
    parser.add_argument("--path", default="/")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--frame", type=int, default=16 * 1024)
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    data = frame(b"\x5a" * args.frame) * 16
    socks = [upgrade(host, int(port), args.path) for _ in range(args.clients)]
    results = [{} for _ in socks]
    threads = [
        threading.Thread(target=flood, args=(s, data, args.seconds, r))
        for s, r in zip(socks, results)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in socks:
        s.close()
    print(
        json.dumps(
            {
                "script": "never_reads",
                "clients": args.clients,
                "seconds": args.seconds,
                "sent_bytes": [r.get("sent_bytes", 0) for r in results],
                "stalled": [r.get("stalled", False) for r in results],
                "errors": [r["error"] for r in results if "error" in r],
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
