#!/usr/bin/env bash
# The Socket.IO figures of docs/performance.md: `ws-cli perf --only sio-ack,sio-room`, the seed's
# Socket.IO namespace against Node's socket.io 4.8 (npm) and socketioxide (crates.io) answering
# the same events, in interleaved rounds with the servers on core 0 and the load generator
# (`ws-cli bench-socketio`, Rust) on core 1.
#
# socket.io is installed once under the cargo target dir; socketioxide's reference server is the
# standalone project scripts/perf/socketioxide (not a workspace member), built there too.
#
# Usage, from the repository root: scripts/perf-socketio.sh [ws-cli perf options, e.g.
#   --rounds 3 --secs 3, or --only sio-ack]
# Needs node and npm. Environment: CARGO_TARGET_DIR (as for cargo).
set -euo pipefail

if [ ! -f scripts/perf-socketio.sh ] || [ ! -d scripts/perf/socketioxide ]; then
  echo "perf-socketio: run it from the repository root: scripts/perf-socketio.sh [options]" >&2
  exit 1
fi
for tool in node npm cargo; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "perf-socketio: FAILED: \`$tool\` not found (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"

node_dir="$target_dir/socketio-node"
if [ ! -d "$node_dir/node_modules/socket.io" ]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error socket.io@4.8
fi
cp scripts/perf/socketio-node.js "$node_dir/"

socketioxide_target="$target_dir/socketioxide-reference"
(cd scripts/perf/socketioxide && CARGO_TARGET_DIR="$socketioxide_target" cargo build --release --quiet)

cargo build --release --quiet -p ws-cli -p seed -p echo-server
only=(--only sio-ack,sio-room)
for arg in "$@"; do
  if [ "$arg" = "--only" ]; then only=(); fi
done
exec "$target_dir/release/ws-cli" perf "${only[@]}" \
  --sio-node-dir "$node_dir" \
  --socketioxide "$socketioxide_target/release/socketioxide-perf-reference" "$@"
