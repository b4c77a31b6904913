#!/usr/bin/env bash
# A short benchmark run: the figures are printed for the log, never asserted (speed is measured in
# benchmarks, not in timed tests). The full run and its results: docs/performance.md.
set -euo pipefail
cargo build --release --locked -p ws-cli -p echo-server -p seed
bin="$CARGO_TARGET_DIR/release"
"$bin/ws-cli" perf --quick
# `ws-cli bench` against the seed example's /echo route, as a user would run it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WS_SERVER_WS_HOST=127.0.0.1 WS_SERVER_WS_PORT=$port WS_SERVER_HTTP_HOST=127.0.0.1 WS_SERVER_HTTP_PORT=$http \
  RUST_LOG=warn "$bin/seed" --config examples/seed/config &
seed=$!
trap 'kill $seed 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
"$bin/ws-cli" bench "ws://127.0.0.1:$port/echo" --conns 10 --inflight 8 --size 64 --secs 2
# The Socket.IO load generator (`ws-cli perf --only sio-ack,sio-room`, whose references need node
# and a socketioxide build: scripts/perf-socketio.sh) against the same seed's namespace `/`.
"$bin/ws-cli" bench-socketio "ws://127.0.0.1:$port" --conns 10 --secs 1
"$bin/ws-cli" bench-socketio "ws://127.0.0.1:$port" --room-members 50 --secs 1
