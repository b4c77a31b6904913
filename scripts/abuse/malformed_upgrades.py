#!/usr/bin/env python3
"""Malformed upgrade requests over raw sockets, each answered with a 4xx and the connection
closed, after which the server still upgrades a well-formed request.

    python3 scripts/abuse/malformed_upgrades.py 127.0.0.1:9502 --rounds 5

Each case names the status RFC 6455 §4.2.1 (or plain HTTP) calls for. Prints one JSON line per
run; exits 1 when a case got another answer or the server stopped serving.
"""

import argparse
import json
import socket
import sys

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the RFC's sample nonce: base64 of 16 bytes
# base64 of 17 bytes: well-formed base64, but not a 16-byte nonce.
KEY_17 = "AAECAwQFBgcICQoLDA0ODxA="


def request(line="GET / HTTP/1.1", host=True, upgrade="websocket", connection="Upgrade",
            key=KEY, version="13", extra=""):
    lines = [line]
    if host:
        lines.append("Host: {addr}")
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    if connection is not None:
        lines.append(f"Connection: {connection}")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


# (name, request bytes, expected status)
CASES = [
    ("key of 17 bytes", request(key=KEY_17), 400),
    ("key not base64", request(key="not base64 at all!!!!!!="), 400),
    ("no key", request(key=None), 400),
    ("version 8", request(version="8"), 426),
    ("no version", request(version=None), 426),
    ("no Host", request(host=False), 400),
    ("no Connection: Upgrade", request(connection="keep-alive"), 400),
    ("POST", request(line="POST / HTTP/1.1"), 400),
    ("HTTP/1.0", request(line="GET / HTTP/1.0"), 400),
    ("plain GET", request(upgrade=None, connection=None, key=None, version=None), 426),
    ("header line without a colon", request(extra="this is not a header\r\n"), 400),
    ("TLS hello to a plain port", bytes.fromhex("16030100a5010000a10303") + b"\0" * 64 + b"\r\n\r\n", 400),
    ("NUL in the request line", b"GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("head over 16 KiB", request(extra="X-Big: " + "a" * 20000 + "\r\n"), 431),
]


def exchange(host, port, data, timeout=5.0):
    """Sends `data`, reads until the server closes: the status, or None when nothing came."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may answer and close before reading everything
        raw = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
                if b"\r\n\r\n" in raw and not raw.startswith(b"HTTP/1.1 101"):
                    # A refusal carries Content-Length and then the server closes.
                    continue
                if raw.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in raw:
                    break
        except (socket.timeout, ConnectionResetError):
            pass
    parts = raw.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("addr", help="HOST:PORT")
    parser.add_argument("--path", default="/")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    wrong = []
    for _ in range(args.rounds):
        for name, data, expected in CASES:
            data = data.replace(b"{addr}", args.addr.encode()).replace(b"GET / ", f"GET {args.path} ".encode())
            got = exchange(host, port, data)
            if got != expected:
                wrong.append({"case": name, "expected": expected, "got": got})
        # Half a request, then gone: nothing to answer, nothing to leak.
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpg")
    good = request(line=f"GET {args.path} HTTP/1.1").replace(b"{addr}", args.addr.encode())
    survived = exchange(host, port, good) == 101
    print(json.dumps({
        "script": "malformed_upgrades",
        "cases": len(CASES) * args.rounds,
        "wrong": wrong,
        "still_upgrades": survived,
    }), flush=True)
    return 0 if survived and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
