#!/usr/bin/env bash
# The reconnect storm of docs/performance.md#connection-state-recovery: two seed nodes sharing a
# cluster (Redis, or NATS with --broker nats; a [cluster] prefix of the run's own, whose Redis keys
# or JetStream streams are deleted at exit), N stock `socket.io-client` sockets on node A in R
# rooms, then all of A's clients lose it at once and reconnect to node B while a speaker on B says K messages into every room. Reports the time from
# the cut until every client is back with `recovered === true`, per-client p50/p99, how many did
# not recover, and whether each got its room's missed messages exactly once, in order
# (scripts/perf/recovery-storm.js).
#
# Usage, from anywhere: scripts/perf-recovery-storm.sh [--clients 5000] [--rooms 50]
#   [--messages 3] [--broker redis|nats|memory] [--cut terminate|sigterm] [--timeout 120]
#   --broker memory: one node, the clients reconnect to it (no cluster store needed).
#   --cut sigterm:   node A is stopped gracefully instead of every transport being cut.
#   --request-timeout-ms MS: the nodes' [cluster] request_timeout_ms (default: the framework's,
#                    2,000), which also bounds each read of the recovery store.
# Environment: CARGO_TARGET_DIR (as for cargo), REDIS_URL (redis://127.0.0.1:6379),
# NATS_URL (nats://127.0.0.1:4222).
set -euo pipefail
cd "$(dirname "$0")/.."

clients=5000 rooms=50 messages=3 broker=redis cut=terminate timeout=120 request_timeout=
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2" ;;
    --rooms) rooms="$2" ;;
    --messages) messages="$2" ;;
    --broker) broker="$2" ;;
    --cut) cut="$2" ;;
    --timeout) timeout="$2" ;;
    --request-timeout-ms) request_timeout="$2" ;;
    *) echo "perf-recovery-storm: unknown option $1" >&2; exit 1 ;;
  esac
  shift 2
done
case "$broker" in
  redis) cluster_url="${REDIS_URL:-redis://127.0.0.1:6379}" ;;
  nats) cluster_url="${NATS_URL:-nats://127.0.0.1:4222}" ;;
  memory) cluster_url="memory://" ;;
  *) echo "perf-recovery-storm: --broker redis, nats or memory" >&2; exit 1 ;;
esac
case "$cut" in terminate | sigterm) ;; *) echo "perf-recovery-storm: --cut terminate or sigterm" >&2; exit 1 ;; esac
if [ "$broker" = memory ] && [ "$cut" = sigterm ]; then
  echo "perf-recovery-storm: a memory store dies with its node: --cut sigterm needs redis or nats" >&2
  exit 1
fi
for tool in node npm cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "perf-recovery-storm: \`$tool\` not found" >&2; exit 1; }
done

# Each node holds every client once, and the Node process holds them all plus the speaker.
want_fds=$((clients + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
  ulimit -n "$want_fds" 2>/dev/null || {
    echo "perf-recovery-storm: $clients clients need $want_fds descriptors; ulimit -Hn is $(ulimit -Hn)" >&2
    exit 1
  }
fi

bash .ci/install.d/node-socketio.sh
cargo build --release --quiet -p seed
seed="${CARGO_TARGET_DIR:-target}/release/seed"

work="$(mktemp -d -t perf-recovery-storm.XXXXXX)"
prefix="recstorm-$$-$(date +%s)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # The run's streams and sessions: each run has its own prefix, so nothing else is touched.
  if [ "$broker" = redis ] && command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$cluster_url" --scan --pattern "$prefix:*" 2>/dev/null |
      xargs -r -n 500 redis-cli -u "$cluster_url" del >/dev/null 2>&1 || true
  fi
  if [ "$broker" = nats ]; then
    node scripts/perf/nats-delete-streams.js "$cluster_url" "$prefix" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

wait_port() {
  local port="$1" log="$2" deadline=$((SECONDS + 20))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "perf-recovery-storm: no node listening on $port after 20 s; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

# Starts node <name> (not in a subshell, so that it stays this shell's child for `wait`); sets
# node_port to its WebSocket port.
start_node() {
  local name="$1" dir="$work/$1" ws_port http_port
  ws_port="$(free_port)" http_port="$(free_port)"
  mkdir -p "$dir"
  cat >"$dir/server.toml" <<EOF
[[servers]]
name = "ws"
type = "websocket"
host = "127.0.0.1"
port = $ws_port

[servers.settings.socketio]
enabled = true

[servers.settings.socketio.recovery]
namespaces = ["/"]

[[servers]]
name = "http"
type = "http"
host = "127.0.0.1"
port = $http_port

[cluster]
url = "$cluster_url"
prefix = "$prefix"
${request_timeout:+request_timeout_ms = $request_timeout}
EOF
  WS_CONFIG_DIR="$dir" RUST_LOG=warn "$seed" >"$dir/log" 2>&1 &
  pids+=("$!")
  node_port="$ws_port"
  wait_port "$ws_port" "$dir/log"
}

start_node a
port_a="$node_port"
port_b="$port_a"
if [ "$broker" != memory ]; then
  start_node b
  port_b="$node_port"
fi

echo "perf-recovery-storm: $clients clients, $rooms rooms, broker $broker ($cluster_url, prefix $prefix)," \
  "node A :$port_a, node B :$port_b, cut: $cut, request_timeout_ms: ${request_timeout:-default};" \
  "$(nproc) cores, nothing pinned" >&2
status=0
timeout --kill-after=10 $((timeout + 60)) node scripts/perf/recovery-storm.js \
  --a "ws://127.0.0.1:$port_a" --b "ws://127.0.0.1:$port_b" --a-pid "${pids[0]}" --b-pid "${pids[-1]}" \
  --clients "$clients" --rooms "$rooms" --messages "$messages" --cut "$cut" \
  --timeout "$timeout" --broker "$broker" || status=$?
# A client that did not recover is explained, if at all, in the nodes' warnings.
for name in a b; do
  log="$work/$name/log"
  [ -f "$log" ] || continue
  warnings="$(grep -cE ' (WARN|ERROR) ' "$log" || true)"
  if [ "$warnings" -gt 0 ]; then
    echo "perf-recovery-storm: node ${name^^} logged $warnings warnings/errors, e.g.:" >&2
    grep -E ' (WARN|ERROR) ' "$log" | sed -E 's/ fd=[0-9]+//; s/^[^ ]+ +//' | sort | uniq -c | sort -rn | head -n 3 >&2
  fi
done
if [ "$status" -ne 0 ]; then
  echo "perf-recovery-storm: FAILED (exit $status)" >&2
fi
exit "$status"
