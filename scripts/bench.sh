#!/usr/bin/env bash
# Times `streamprobe analyze` against `tshark -q -z rtp,streams` (jitter on: decode-as for the
# port and H.264 for PT 96, so tshark knows the 90 kHz clock) on the same synthetic capture of
# CAMERAS H.264/RTP cameras, and prints packets/s for each and the ratio.
#   scripts/bench.sh [CAMERAS] [PACKETS] [TSHARK_PACKETS]
# Defaults: 55,000 cameras, 5,000,000 packets (what 55,000 cameras send in one second).
# tshark manages about a thousand packets/s on 55,000 streams, so it reads only the file's first
# TSHARK_PACKETS (default 1,000,000, `tshark -c`): the same streams, a quarter of an hour.
# SKIP_TSHARK=1 leaves tshark out; BENCH_RUNS (default 5) sets how many times streamprobe reads
# each file (medians and ranges are printed).
#
# streamprobe's first rate counts the whole run (reading, analysis and the JSON report of every
# flow); the next two give reading + analysis alone (`--timing`), per second of wall time and
# per second of CPU time. It then reads a second file of the
# same cameras whose record lengths differ from one record to the next (`synth-cameras ...
# mixed`), where the reader cannot predict where the next records start (see capture/file.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cameras=${1:-55000}; packets=${2:-5000000}; tshark_packets=${3:-1000000}
mkdir -p bench-data
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
runs=${BENCH_RUNS:-5}
now() { date +%s.%N; }
run() {  # run LABEL FILE: prints streamprobe's rates on FILE over $runs runs, sets $sp
  local label=$1 file=$2 t0 t1 flows i
  cat "$file" >/dev/null   # both tools read from the page cache
  : >bench-data/streamprobe.timing
  : >bench-data/streamprobe.wall
  for i in $(seq "$runs"); do
    t0=$(now)
    target/release/streamprobe analyze --timing --json --progress never "$file" >bench-data/streamprobe.json 2>>bench-data/streamprobe.timing
    t1=$(now)
    python3 -c "print($t1-$t0)" >>bench-data/streamprobe.wall
  done
  flows=$(python3 -c "import json;print(len(json.load(open('bench-data/streamprobe.json'))['flows']))")
  # Medians: this VM's speed changes from run to run. Wall time also counts the time the
  # hypervisor gave the core to other guests (steal); CPU time does not (`--timing`).
  python3 - "$label" "$packets" "$flows" "$(stat -c %s "$file")" <<'PY'
import re, statistics, sys
label, packets, flows, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
walls = [float(l) for l in open("bench-data/streamprobe.wall")]
timing = [l for l in open("bench-data/streamprobe.timing") if l.startswith("timing:")]
wall_rate = [float(re.search(r"= (\d+) packets/s", l).group(1)) for l in timing]
cpu_rate = [float(re.search(r"= (\d+) packets per CPU second", l).group(1)) for l in timing]
end = [packets / w for w in walls]
m = lambda v: statistics.median(v) / 1e6
print(f"streamprobe ({label}): {packets} packets, {flows} flows, {size} bytes, {len(walls)} runs")
print(f"  end to end (one core, report included): median {m(end):.2f} M packets/s (range {min(end)/1e6:.2f}-{max(end)/1e6:.2f})")
print(f"  reading + analysis, wall clock: median {m(wall_rate):.2f} M packets/s (range {min(wall_rate)/1e6:.2f}-{max(wall_rate)/1e6:.2f})")
print(f"  reading + analysis, per CPU second: median {m(cpu_rate):.2f} M packets/s (range {min(cpu_rate)/1e6:.2f}-{max(cpu_rate)/1e6:.2f})")
with open("bench-data/streamprobe.rate", "w") as f:
    f.write(f"{statistics.median(end)}\n")
PY
  sp=$(cat bench-data/streamprobe.rate)
}
mixed=bench-data/cameras-$cameras-$packets-mixed.pcap
[ -f "$mixed" ] || target/release/synth-cameras "$mixed" "$cameras" "$packets" mixed
run "record lengths all different" "$mixed"
file=bench-data/cameras-$cameras-$packets.pcap
[ -f "$file" ] || target/release/synth-cameras "$file" "$cameras" "$packets"
run "record lengths equal" "$file"
if command -v tshark >/dev/null && [ "${SKIP_TSHARK:-0}" != 1 ]; then
  n=$(( tshark_packets < packets ? tshark_packets : packets ))
  t0=$(now)
  tshark -q -r "$file" -c "$n" -d udp.port==5004,rtp -d rtp.pt==96,h264 -z rtp,streams >bench-data/tshark.txt 2>/dev/null
  t1=$(now)
  ts=$(python3 -c "print($n/($t1-$t0))")
  printf 'tshark (record lengths equal): first %d packets in %.3f s = %.0f packets/s\n' "$n" "$(python3 -c "print($t1-$t0)")" "$ts"
  printf 'ratio (end to end, medians, record lengths equal): %.1fx\n' "$(python3 -c "print($sp/$ts)")"
fi
