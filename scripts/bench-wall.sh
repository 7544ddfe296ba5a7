#!/usr/bin/env bash
# The health wall's cost: a live view of FLOWS flows (default 55,000) with 15 minutes of
# health each, served on loopback; GET /api/v1/wall, a row per flow, a band, each the median
# of 5, and how long a live-view writer waits behind a wall request (docs/wall.md).
#   scripts/bench-wall.sh [FLOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p streamprobe-api --example wall_bench -- "${1:-55000}"
