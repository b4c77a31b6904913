#!/usr/bin/env bash
# Stock Python clients the tests drive: `websockets` (abuse scripts, compression) and
# `python-socketio`'s client (Socket.IO). From PyPI, never a client written here.
set -euo pipefail
missing=()
python3 -c 'import websockets' 2>/dev/null || missing+=(websockets)
python3 -c 'import socketio, websocket' 2>/dev/null || missing+=("python-socketio[client]")
if [ "${#missing[@]}" -gt 0 ]; then
  python3 -m pip install --quiet "${missing[@]}"
fi
