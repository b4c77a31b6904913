#!/usr/bin/env bash
# kosoku runs the Autobahn|Testsuite case files offline (scripts/autobahn.sh, tests/hardening_autobahn.rs).
set -euo pipefail
command -v kosoku >/dev/null || python3 -m pip install --quiet kosoku
