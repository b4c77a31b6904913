#!/usr/bin/env bash
# The stock Socket.IO Node client (`socket.io-client` 4.8, pinned by package-lock.json) that the
# Socket.IO suites drive. From npm, never a client written here.
set -euo pipefail
cd "$(dirname "$0")/../../tests/socketio/js"
if [ ! -d node_modules/socket.io-client ]; then
  npm ci --no-audit --no-fund --silent
fi
