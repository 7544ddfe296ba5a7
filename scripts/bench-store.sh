#!/usr/bin/env bash
# The history store's benchmark: 55,000 synthetic flows x 1 record/s into a fresh store.
# Usage: scripts/bench-store.sh [--minutes N] [--paced] [--flows N] [--path FILE] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p streamprobe-store --example store_bench -- "$@"
