#!/usr/bin/env bash
# The command behind docs/performance.md's uWebSockets.js figures, run short so it keeps working:
# printed for the log, never asserted.
set -euo pipefail
bash scripts/perf-uws.sh --quick
