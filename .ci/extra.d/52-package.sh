#!/usr/bin/env bash
# The three published crates package and build from their packaged sources alone: metadata,
# readme and include lists complete, the guides the API docs render travel with ws-core.
# One workspace dry-run, so ws-core resolves the ws-macros packaged beside it (not yet on
# crates.io). --allow-dirty: CI may run on an uncommitted tree.
set -euo pipefail
cargo publish --dry-run --locked --allow-dirty -p ws-macros -p ws-core -p ws-cli
