"""Drives the seed app's Socket.IO namespace with python-socketio's stock client.

Usage: seed_client.py URL_A URL_B

Connects a joiner to URL_A and a listener to URL_B (the same node, or two nodes of a cluster),
checks every string of the seed's events, the binary echo and the refusal of an unknown
namespace, then prints `ok`. Any mismatch raises, and the exit code is not 0.
"""

import json
import queue
import sys

import socketio

TIMEOUT = 10


def client(url, inbox):
    sio = socketio.Client(reconnection=False)

    # In a namespace that recovers sessions (the seed's `/`) a room emit carries its offset as
    # one more argument, as Socket.IO's own server sends it; python-socketio passes it on.
    @sio.on("event")
    def on_event(data, *_offset):
        inbox.put(data)

    sio.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
    return sio


def expect(inbox, wanted):
    got = inbox.get(timeout=TIMEOUT)
    assert got == wanted, f"expected {wanted!r}, got {got!r}"


def main():
    url_a, url_b = sys.argv[1], sys.argv[2]
    a_inbox, b_inbox = queue.Queue(), queue.Queue()
    a = client(url_a, a_inbox)
    b = client(url_b, b_inbox)
    room = "python-room"

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

    answer = a.call("say", {"room": 5}, timeout=TIMEOUT)
    assert "error" in answer, answer

    refused = socketio.Client(reconnection=False)
    errors = queue.Queue()

    @refused.on("connect_error", namespace="/nope")
    def on_refused(data):
        errors.put(data)

    try:
        refused.connect(url_a, namespaces=["/nope"], transports=["websocket"], wait_timeout=3)
        raise AssertionError("namespace /nope was accepted")
    except socketio.exceptions.ConnectionError:
        pass
    finally:
        refused.disconnect()

    a.disconnect()
    b.disconnect()
    print("ok")


if __name__ == "__main__":
    main()
