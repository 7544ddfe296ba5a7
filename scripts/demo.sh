#!/usr/bin/env bash
# The main job on the embedded default: builds streamprobe and runs it as a live probe on
# examples/demo.toml, which replays a bundled capture of four real streams (H.264/RTP from
# GStreamer and ffmpeg, MPEG-TS over UDP and over RTP) impaired by loss, duplication,
# reordering and delay variation, in a loop at its recorded pace, until Ctrl-C. Extra
# arguments go to `run` (e.g. --json, --duration 10).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked -p streamprobe
exec target/release/streamprobe run --config examples/demo.toml "$@"
