#!/usr/bin/env bash
# Service benchmark: the whole probe service under 55,000 flow records a second.
#   scripts/bench-service.sh [MINUTES] [FLOWS]      (defaults 10 and 55000)
# `streamprobe run --replay` of FLOWS synthetic H.264/RTP cameras at 3 packets a second each
# (a 10-s capture, looped) for MINUTES, with the store (bench-data/service.db, made anew),
# the API and --json records to /dev/null: every interval, FLOWS flow records go through the
# record bus to standard output, the live view and the store. Prints every 30 s and at the
# end: records written by the store per second, its drops, its worst write and queue
# (insert lag), its bytes on disk per flow-second, the probe's CPU; then the API's latencies
# (median of 5): GET /api/v1/flows (every flow), ?limit=100, one flow's last hour of
# history, /metrics, the health wall (docs/wall.md) and a band of it.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}; flows=${2:-55000}
mkdir -p bench-data
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
capture=bench-data/service-$flows.pcap
[ -f "$capture" ] || target/release/synth-cameras "$capture" "$flows" $((flows * 30)) 200 3
db=bench-data/service.db
rm -f "$db" "$db"-wal "$db"-shm "$db"-lock bench-data/streamprobe.token
port=18600
api=http://127.0.0.1:$port
# A minute longer than measured: the API's latencies are measured after the last sample.
target/release/streamprobe run --replay "$capture" --loop --duration $((minutes * 60 + 60)) --json \
  --store "$db" --api-listen 127.0.0.1:$port --api-token-file bench-data/streamprobe.token \
  --max-flows $((flows * 2)) > /dev/null 2> bench-data/service.log &
probe=$!
trap 'kill $probe 2>/dev/null || true' EXIT
until curl -sf "$api/api/v1/health" > /dev/null; do sleep 0.5; done
clk=$(getconf CLK_TCK)
cpu() { awk -v t="$clk" '{print ($14 + $15) / t}' /proc/$probe/stat; }
health() { curl -sf "$api/api/v1/health"; }
start=$(date +%s.%N); cpu0=$(cpu)
report() {
  health | python3 -c "
import json, sys
h = json.load(sys.stdin); p = h['probe'] or {}; s = h['store']
store = next((x for x in p.get('sinks', []) if x['name'] == 'store'), {})
el = $1; cpu = $2
print(f\"{el:6.0f} s: store wrote {store.get('written_records', 0)} records ({store.get('written_records', 0) / el:.0f}/s since the start), dropped {store.get('dropped_records', 0)}, queued {store.get('queued_intervals', 0)} intervals, last write {s.get('last_write_ms', 0):.1f} ms, worst {s.get('max_write_ms', 0):.1f} ms, insert lag {s.get('insert_lag_ms', 0):.1f} ms (worst {s.get('max_insert_lag_ms', 0):.1f}), {s.get('size_bytes', 0) / 1e6:.1f} MB; probe CPU {cpu / el:.2f} cores; {p.get('flows', 0)} flows, kernel drops {p.get('kernel_drops', 0)}\")
"
}
end=$(python3 -c "print($start + $minutes * 60 - 15)")
while python3 -c "import sys, time; sys.exit(0 if time.time() < $end else 1)"; do
  sleep 30
  now=$(date +%s.%N)
  report "$(python3 -c "print($now - $start)")" "$(python3 -c "print($(cpu) - $cpu0)")"
done
# Bytes per flow-second: the store's size over the flow-seconds written.
health | python3 -c "
import json, sys
h = json.load(sys.stdin); s = h['store']; p = h['probe']
store = next(x for x in p['sinks'] if x['name'] == 'store')
print(f\"store: {s['size_bytes']} bytes for {store['written_records']} flow-seconds = {s['size_bytes'] / max(store['written_records'], 1):.1f} bytes a flow-second (all tiers, current minute unpacked)\")
"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)] * 1000 " ms"}'; }
timeit() { for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "$1"; done | median; }
flow=$(curl -sf "$api/api/v1/flows?limit=1" | python3 -c "import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)['flows'][0]['flow'], safe=''))")
echo "GET /api/v1/flows ($flows flows): $(timeit "$api/api/v1/flows")"
echo "GET /api/v1/flows?limit=100: $(timeit "$api/api/v1/flows?limit=100")"
echo "GET /api/v1/flows?limit=100&sort=-df: $(timeit "$api/api/v1/flows?limit=100&sort=-df")"
echo "GET /api/v1/flows/{id}/history?since=1h: $(timeit "$api/api/v1/flows/$flow/history?since=1h")"
echo "GET /metrics: $(timeit "$api/metrics")"
echo "GET /api/v1/wall (15 min, 300 rows): $(timeit "$api/api/v1/wall")"
echo "GET /api/v1/wall?minutes=1&rows=$flows (a row per flow): $(timeit "$api/api/v1/wall?minutes=1&rows=$flows")"
now=$(date +%s)
echo "GET /api/v1/wall/band (the last 60 s): $(timeit "$api/api/v1/wall/band?from=$((now - 62))&to=$((now - 2))&health=amber")"
kill $probe 2>/dev/null || true
wait $probe || true
