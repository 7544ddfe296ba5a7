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
STREAMPROBE_REQUIRE_NETNS=${STREAMPROBE_REQUIRE_NETNS:-1} cargo test --workspace --locked
