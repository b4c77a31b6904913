"""Drives the seed app's Socket.IO namespace with python-socketio's stock client, default
transports (polling, then the upgrade to WebSocket).

Usage: polling_client.py URL_A URL_B

Connects client A to URL_A and client B to URL_B with the client's default transports, checks
that both upgraded, the ack of `event`, the binary `echo`, `join-room` and `say` between them,
then prints `ok`. Any mismatch raises, and the exit code is not 0.
"""

import json
import queue
import sys

import socketio

TIMEOUT = 10


def client(url, inbox):
    sio = socketio.Client(reconnection=False)

    # The seed's `/` recovers sessions: its events carry their offset as one more argument.
    @sio.on("event")
    def on_event(data, *_offset):
        inbox.put(data)

    sio.connect(url, wait_timeout=TIMEOUT)
    return sio


def expect(inbox, wanted):
    got = inbox.get(timeout=TIMEOUT)
    assert got == wanted, f"expected {wanted!r}, got {got!r}"


def main():
    url_a, url_b = sys.argv[1], sys.argv[2]
    a_inbox, b_inbox = queue.Queue(), queue.Queue()
    a = client(url_a, a_inbox)
    b = client(url_b, b_inbox)
    # python-engineio upgrades during `connect` when the open packet offers it.
    assert a.transport() == "websocket", a.transport()
    assert b.transport() == "websocket", b.transport()
    room = "python-polling-room"

    answer = a.call("event", "hello", timeout=TIMEOUT)
    assert answer == "Event Received: hello", answer

    blob = bytes(range(256))
    answer = a.call("echo", ("text", blob, {"n": 1}), timeout=TIMEOUT)
    assert answer == ("text", blob, {"n": 1}) or list(answer) == ["text", blob, {"n": 1}], answer

    b.call("join-room", room, timeout=TIMEOUT)
    expect(b_inbox, f"There are 1 players in {room}")
    a.call("join-room", room, timeout=TIMEOUT)
    expect(b_inbox, f"{a.get_sid()} has joined {room}")
    expect(a_inbox, f"There are 2 players in {room}")

    a.call("say", json.dumps({"room": room, "message": "hi all"}), timeout=TIMEOUT)
    expect(b_inbox, f"{a.get_sid()} say: hi all")
    assert a_inbox.empty(), "the sender heard its own say"

    a.disconnect()
    b.disconnect()
    print("ok")


if __name__ == "__main__":
    main()
