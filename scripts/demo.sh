#!/usr/bin/env bash
# The main job on the bundled capture: builds streamprobe and analyses a capture of four real
# streams (H.264/RTP from GStreamer and ffmpeg, MPEG-TS over UDP and over RTP) impaired by
# loss, duplication, reordering and delay variation. Extra arguments go to `analyze`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked -p streamprobe
exec target/release/streamprobe analyze "$@" tests/fixtures/impaired/capture.pcap
