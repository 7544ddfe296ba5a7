#!/usr/bin/env bash
# Dashboard benchmark (not in the test suite): the page in headless Chromium against a probe
# holding FLOWS synthetic flows, each at PPS packets a second.
#   scripts/bench-dashboard.sh [FLOWS] [PPS] [SECONDS]      (defaults 55000, 3, 30)
# `streamprobe run --replay` of synth-cameras' capture (looped, --store none: the page reads
# the live view), then scripts/bench-dashboard.py: load time to the flow table's first full
# render, the page's updates, its main thread's busy share over SECONDS of updates (DevTools
# Performance.getMetrics TaskDuration), and a jump to the middle of the table. Targets
# (issue 20): load < 2 s, busy < 30 %.
set -euo pipefail
cd "$(dirname "$0")/.."
flows=${1:-55000}; pps=${2:-3}; seconds=${3:-30}
mkdir -p bench-data
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
# Ten seconds of packets, looped.
capture=bench-data/dashboard-$flows-$pps.pcap
[ -f "$capture" ] || target/release/synth-cameras "$capture" "$flows" $((flows * pps * 10)) 200 "$pps"
port=18610
api=http://127.0.0.1:$port
rm -f bench-data/dashboard.token
target/release/streamprobe run --replay "$capture" --loop --duration $((seconds + 180)) --store none \
  --api-listen 127.0.0.1:$port --api-token-file bench-data/dashboard.token \
  --max-flows $((flows * 2)) > /dev/null 2> bench-data/dashboard.log &
probe=$!
trap 'kill $probe 2>/dev/null || true' EXIT
until curl -sf "$api/api/v1/health" > /dev/null; do sleep 0.5; done
# Wait until every flow is in the live view.
until [ "$(curl -sf "$api/api/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"])')" -ge "$flows" ]; do sleep 1; done
echo "probe: $flows flows at $pps packets/s each; $(nproc) cores"
python3 scripts/bench-dashboard.py "$api" "$seconds"
kill $probe 2>/dev/null || true
wait $probe 2>/dev/null || true
