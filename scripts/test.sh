#!/usr/bin/env bash
# The whole test suite: installs the test tools when missing, checks formatting and lints,
# builds the impairment relay, then runs every test, including the live namespace tests
# (which need root: run as root, or they fail when STREAMPROBE_REQUIRE_NETNS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --release --locked -p streamprobe-testbed --bin impair-relay
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
STREAMPROBE_REQUIRE_NETNS=${STREAMPROBE_REQUIRE_NETNS:-1} cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo's own last line is a crate's doc-tests).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
