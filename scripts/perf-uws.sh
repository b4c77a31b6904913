#!/usr/bin/env bash
# The "Against uWebSockets" figures of docs/performance.md: `ws-cli perf --only uws`, the 64 B
# text echo (50 conns x 16 in flight) against uWebSockets.js echoing from its JavaScript
# callback, in interleaved rounds with the servers on core 0 and `ws-cli bench` on core 1.
# uWebSockets.js comes from npm (`uws-pack`, uWebSockets.js 20.0.8 prebuilt for Node), installed
# once under the cargo target dir.
#
# Usage: scripts/perf-uws.sh [ws-cli perf options, e.g. --rounds 5 --secs 3]
# Needs node and npm. Environment: CARGO_TARGET_DIR (as for cargo).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "perf-uws: FAILED: \`$tool\` not found (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

target_dir="${CARGO_TARGET_DIR:-target}"
uws="$target_dir/uws"
if [ ! -d "$uws/node_modules/uws-pack" ]; then
  mkdir -p "$uws"
  npm install --prefix "$uws" --no-save --no-audit --no-fund --loglevel=error uws-pack@20.0.8
fi

cargo build --release --quiet -p ws-cli -p echo-server -p seed
exec "$target_dir/release/ws-cli" perf --only uws --uws-dir "$uws" "$@"
