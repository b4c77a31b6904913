#!/usr/bin/env python3
"""Pipelined large messages, read slowly: N clients each send M binary messages of SIZE bytes at
once, without waiting for a single echo, and read the echoes back slower than the server writes
them. Every echo must come back, whole and in order.

Written with the stock Python `websockets` client, outside the framework: what a user's own
client does, not what the framework's test client does.

    python3 scripts/abuse/slow_reader.py ws://127.0.0.1:9502/ --clients 16 --messages 100

Prints one JSON line with the result; exits 1 when an echo is missing, altered or out of order.
"""

import argparse
import asyncio
import json
import sys
import time

import websockets


def numbered(index: int, size: int) -> bytes:
    """Payload of message `index`: the index, then filler that depends on it."""
    return index.to_bytes(4, "big") + bytes([index % 251]) * (size - 4)


async def one_client(url: str, client: int, messages: int, size: int, delay: float) -> int:
    # No compression: the point is bytes on the wire. `max_queue` small: the client library
    # stops reading its socket once that many echoes wait, so the server sees a slow reader.
    async with websockets.connect(
        url, compression=None, max_size=None, max_queue=4, open_timeout=10
    ) as ws:

        async def send_all() -> None:
            for index in range(messages):
                await ws.send(numbered(index, size))

        sender = asyncio.create_task(send_all())
        for index in range(messages):
            echo = await asyncio.wait_for(ws.recv(), timeout=30)
            if not isinstance(echo, bytes) or len(echo) != size:
                raise AssertionError(f"client {client}: echo {index} is not {size} binary bytes")
            got = int.from_bytes(echo[:4], "big")
            if got != index:
                raise AssertionError(f"client {client}: expected echo {index}, got {got}")
            if echo != numbered(index, size):
                raise AssertionError(f"client {client}: echo {index} altered")
            await asyncio.sleep(delay)
        await sender
        return messages


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--read-delay", type=float, default=0.01, help="seconds between reads")
    args = parser.parse_args()
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            one_client(args.url, c, args.messages, args.size, args.read_delay)
            for c in range(args.clients)
        ),
        return_exceptions=True,
    )
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    echoes = sum(r for r in results if isinstance(r, int))
    print(
        json.dumps(
            {
                "script": "slow_reader",
                "clients": args.clients,
                "expected": args.clients * args.messages,
                "echoes_in_order": echoes,
                "seconds": round(time.monotonic() - started, 2),
                "failures": failures,
            }
        ),
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
