#!/usr/bin/env bash
# Runs the Autobahn|Testsuite case files against examples/echo-server with `kosoku` (offline,
# from PyPI) and fails unless every case is OK: all 517, sections 12 and 13 (permessage-deflate)
# included. Cases the suite itself marks
# INFORMATIONAL (7.1.6, 7.13.x: they only record what the server did) count as passing;
# NON-STRICT, WRONG CODE, UNCLEAN, FAILED BY CLIENT and FAILED do not.
#
# Usage: scripts/autobahn.sh [extra kosoku arguments, e.g. -i '6.4.*']
# Environment: AUTOBAHN_PARALLELISM (default 4), AUTOBAHN_REPORTS (default target/autobahn),
# CARGO_TARGET_DIR (as for cargo).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v kosoku >/dev/null 2>&1; then
  echo "autobahn: kosoku not found; installing it with pip" >&2
  python3 -m pip install --quiet kosoku || pip install --quiet kosoku
  hash -r
fi
if ! command -v kosoku >/dev/null 2>&1; then
  echo "autobahn: FAILED: kosoku is still not on PATH after 'pip install kosoku'" >&2
  exit 1
fi

cargo build --release --quiet -p echo-server
target_dir="${CARGO_TARGET_DIR:-target}"
bin="$target_dir/release/echo-server"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
reports="${AUTOBAHN_REPORTS:-$target_dir/autobahn}"
rm -rf "$reports"
mkdir -p "$reports"
log="$reports/echo-server.log"

WS_SERVER_WS_HOST=127.0.0.1 WS_SERVER_WS_PORT="$port" WS_LOG_LEVEL=warn NO_COLOR=1 "$bin" >"$log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "autobahn: FAILED: echo-server exited before listening:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

echo "autobahn: kosoku against echo-server on 127.0.0.1:$port (reports in $reports)"
status=0
timeout 1800 kosoku "127.0.0.1:$port" -p "${AUTOBAHN_PARALLELISM:-4}" -o "$reports/clients" "$@" || status=$?

python3 - "$reports/clients" <<'PY'
import collections, glob, json, os, sys

results = []
for path in glob.glob(os.path.join(sys.argv[1], "*.json")):
    with open(path) as f:
        data = json.load(f)
    if "id" in data and "behavior" in data:
        results.append(data)
if not results:
    print("autobahn: FAILED: no case reports were written", file=sys.stderr)
    sys.exit(1)

def key(case):
    return [int(p) for p in case["id"].split(".")]

counts = collections.Counter()
bad = []
for case in sorted(results, key=key):
    verdict = (case["behavior"], case["behaviorClose"])
    counts[verdict] += 1
    if case["behavior"] == "INFORMATIONAL" and case["behaviorClose"] in ("INFORMATIONAL", "OK"):
        continue
    if verdict != ("OK", "OK"):
        bad.append(f"  {case['id']}: behavior {case['behavior']}, close {case['behaviorClose']}: "
                   f"{case.get('result')} / {case.get('resultClose')}")

ok = counts[("OK", "OK")]
informational = sum(n for (b, _), n in counts.items() if b == "INFORMATIONAL")
print(f"autobahn: {ok} OK + {informational} INFORMATIONAL of {len(results)} cases; {len(bad)} not OK")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
if [ "$status" -ne 0 ]; then
  echo "autobahn: FAILED: kosoku exited with status $status" >&2
  exit "$status"
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "autobahn: FAILED: echo-server died during the run:" >&2
  cat "$log" >&2
  exit 1
fi
