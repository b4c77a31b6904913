#!/usr/bin/env bash
# Instructions per echoed message of an echo server, counted by callgrind (repeatable on a busy
# machine, unlike time). The server runs under valgrind twice, loaded by `ws-cli bench` (64 B
# text, 50 connections x 16 in flight) for a short and a long run; the difference between the
# two runs' totals over the difference in messages leaves out start-up and shutdown.
#
# usage: scripts/callgrind-echo.sh [ECHO_SERVER] [WS_CLI]
#   defaults: $CARGO_TARGET_DIR/release/{echo-server,ws-cli} (cargo build --release -p echo-server -p ws-cli)
set -euo pipefail
release="${CARGO_TARGET_DIR:-target}/release"
server="${1:-$release/echo-server}"
cli="${2:-$release/ws-cli}"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() { # seconds -> "instructions messages"
  local secs=$1 port pid messages
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  WS_SERVER_WS_PORT=$port WS_SERVER_WS_HOST=127.0.0.1 RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$out/run-$secs" "$server" >"$out/log-$secs" 2>&1 &
  pid=$!
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  messages=$("$cli" bench "ws://127.0.0.1:$port/" --conns 50 --inflight 16 --size 64 --secs "$secs" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["messages"])')
  kill -INT "$pid"
  wait "$pid" || true
  echo "$(callgrind_annotate "$out/run-$secs" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}') $messages"
}

read -r short_ir short_msgs < <(run 3)
read -r long_ir long_msgs < <(run 8)
python3 - "$short_ir" "$short_msgs" "$long_ir" "$long_msgs" <<'PY'
import sys
si, sm, li, lm = map(int, sys.argv[1:])
print(f"{(li - si) / (lm - sm):.0f} instructions per message ({lm - sm} messages between the runs)")
PY
