#!/usr/bin/env bash
# Live probe benchmark (run as root):
#  1. Capture over a veth pair between two namespaces: tcpreplay sends synthetic camera
#     traffic (1,000 H.264/RTP cameras, 242-byte frames) at each rate of RATES packets/s for
#     SECS seconds; `streamprobe run --interface` (WORKERS fanout workers, 64 MiB ring each)
#     and, separately under the same load, `tcpdump -w /dev/null` (the same total buffer)
#     capture it. Prints packets received and kernel drops for each, and the highest rate
#     each took with no drop. tcpreplay shares the machine's cores with the capture.
#  2. Analysis rate per core with 100,000 flows (`analyze --timing`, the analyzers `run` uses).
#  3. Memory per flow: resident memory of `run --replay` holding 100,000 flows less that of
#     1,000 flows, over the 99,000 flows between.
#   scripts/bench-live.sh [RATES] [SECS] [WORKERS]
# Defaults: "100000 200000 400000 800000", 3 s, 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${1:-"100000 200000 400000 800000"}; secs=${2:-3}; workers=${3:-2}
mkdir -p bench-data
scripts/install-deps.sh --test >&2
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
sp=$(pwd)/target/release/streamprobe
synth=target/release/synth-cameras
[ -f bench-data/live-1k.pcap ] || $synth bench-data/live-1k.pcap 1000 400000 200
[ -f bench-data/live-100k.pcap ] || $synth bench-data/live-100k.pcap 100000 3000000 200
[ -f bench-data/live-1k-flows.pcap ] || $synth bench-data/live-1k-flows.pcap 1000 1000000 200

id=$(( $$ % 100000 )); tx=spbtx$id; rx=spbrx$id
cleanup() { ip netns del $tx 2>/dev/null || true; ip netns del $rx 2>/dev/null || true; }
trap cleanup EXIT
ip netns add $tx; ip netns add $rx
ip link add bva$id type veth peer name bvb$id
ip link set bva$id netns $tx; ip link set bvb$id netns $rx
ip -n $tx link set bva$id up; ip -n $rx link set bvb$id up

send() {  # send RATE: tcpreplay at RATE packets/s for SECS seconds; sets $actual (packets/s it reached)
  local n=$(( $1 * secs ))
  actual=$(ip netns exec $tx tcpreplay -K --pps="$1" --loop=0 --limit=$n --intf1=bva$id bench-data/live-1k.pcap 2>&1 \
    | sed -n 's/.*Rated: .* Mbps, \([0-9.]*\) pps.*/\1/p' | head -1)
  actual=${actual%.*}
}

echo "## capture over veth: $workers workers vs tcpdump, $secs s per rate"
best_sp=0; best_td=0
for rate in $rates; do
  ip netns exec $rx "$sp" run --interface bvb$id --filter udp --workers "$workers" --json >bench-data/live-probe.ndjson 2>bench-data/live-probe.err &
  probe=$!
  for _ in $(seq 50); do grep -q '"probe"' bench-data/live-probe.ndjson 2>/dev/null && break; sleep 0.1; done
  send "$rate"; sleep 0.5; sp_rate=$actual
  kill -INT $probe; wait $probe || true
  read -r got drops < <(python3 -c "
import json
p=[json.loads(l) for l in open('bench-data/live-probe.ndjson') if '\"probe\"' in l]
print(sum(r['packets'] for r in p), sum(r['kernel_drops'] for r in p))")
  ip netns exec $rx tcpdump -i bvb$id -B $(( workers * 65536 )) -w /dev/null udp 2>bench-data/live-tcpdump.err &
  td=$!
  for _ in $(seq 50); do grep -q listening bench-data/live-tcpdump.err && break; sleep 0.1; done
  send "$rate"; sleep 0.5; td_rate=$actual
  kill -INT $td; wait $td || true
  td_got=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' bench-data/live-tcpdump.err)
  td_drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' bench-data/live-tcpdump.err)
  sent=$(( rate * secs ))
  printf '%8d packets/s asked, %d sent: streamprobe (sent at %d/s) %d received, %d kernel drops; tcpdump (sent at %d/s) %d captured, %d kernel drops\n' \
    "$rate" "$sent" "$sp_rate" "$got" "$drops" "$td_rate" "$td_got" "$td_drops"
  [ "$drops" = 0 ] && [ "$got" -ge "$sent" ] && [ "$sp_rate" -gt "$best_sp" ] && best_sp=$sp_rate
  [ "$td_drops" = 0 ] && [ "$td_got" -ge "$sent" ] && [ "$td_rate" -gt "$best_td" ] && best_td=$td_rate
done
echo "highest rate reached with no drop: streamprobe $best_sp packets/s, tcpdump -w /dev/null $best_td packets/s"

echo "## analysis per core, 100,000 flows"
cat bench-data/live-100k.pcap >/dev/null
"$sp" analyze --timing --json --progress never bench-data/live-100k.pcap 2>&1 >/dev/null | grep -i "packets/s" || true

echo "## memory per flow"
rss() {  # rss FILE: resident kB of run --replay holding FILE's flows (sampled after 3 s)
  "$sp" run --replay "$1" --speed 1000000 --loop --interval 3600 --expire-after 100000 --json >/dev/null &
  local pid=$!; sleep 3
  local kb; kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill -INT $pid; wait $pid || true
  echo "$kb"
}
small=$(rss bench-data/live-1k-flows.pcap); big=$(rss bench-data/live-100k.pcap)
python3 -c "print(f'resident: 1,000 flows {$small} kB, 100,000 flows {$big} kB: {($big-$small)*1024/99000:.0f} bytes per flow')"
