#!/usr/bin/env bash
# The permessage-deflate figures of docs/performance.md#compression: `ws-cli perf --only
# deflate-refs,deflate-room,deflate-idle-refs`, the framework compressed and uncompressed against
# Node `ws` 8 (npm) and Python `websockets` (PyPI) with deflate on, in interleaved rounds with
# the servers on core 0 and `ws-cli bench --payload chat` on core 1: chat-like JSON of 300 B and a
# 4 KiB JSON document echoed, a 300 B message broadcast to a room of 1,000, idle connections.
# `ws` and `websockets` are installed once under the cargo target dir (deflate-refs/), next to
# the two reference servers of scripts/perf/.
#
# Usage: scripts/perf-deflate.sh [ws-cli perf options, e.g. --rounds 3 --secs 3 --idle-conns 5000]
# Needs node, npm and python3 (with venv). Environment: CARGO_TARGET_DIR (as for cargo).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "perf-deflate: FAILED: \`$tool\` not found (Debian: apt-get install nodejs npm python3-venv)" >&2
    exit 1
  fi
done

target_dir="${CARGO_TARGET_DIR:-target}"
refs="$target_dir/deflate-refs"
mkdir -p "$refs"
if [ ! -d "$refs/node_modules/ws" ]; then
  npm install --prefix "$refs" --no-save --no-audit --no-fund --loglevel=error ws@8
fi
if [ ! -x "$refs/venv/bin/python" ]; then
  python3 -m venv "$refs/venv"
  "$refs/venv/bin/pip" install --quiet --disable-pip-version-check 'websockets>=14'
fi
cp scripts/perf/ws-deflate-echo.cjs scripts/perf/websockets-deflate-echo.py "$refs/"

cargo build --release --quiet -p ws-cli -p echo-server -p seed
exec "$target_dir/release/ws-cli" perf --only deflate-refs,deflate-room,deflate-idle-refs \
  --deflate-refs-dir "$refs" "$@"
