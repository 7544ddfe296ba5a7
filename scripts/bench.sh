#!/usr/bin/env bash
# Times `streamprobe analyze` against `tshark -q -z rtp,streams` (jitter on: decode-as for the
# port and H.264 for PT 96, so tshark knows the 90 kHz clock) on the same synthetic capture of
# CAMERAS H.264/RTP cameras, and prints packets/s for each and the ratio.
#   scripts/bench.sh [CAMERAS] [PACKETS] [TSHARK_PACKETS]
# Defaults: 55,000 cameras, 5,000,000 packets (what 55,000 cameras send in one second).
# tshark manages about a thousand packets/s on 55,000 streams, so it reads only the file's first
# TSHARK_PACKETS (default 1,000,000, `tshark -c`): the same streams, a quarter of an hour.
# SKIP_TSHARK=1 leaves tshark out.
#
# streamprobe's first line counts the whole run (reading, analysis and the JSON report of every
# flow); its `--timing` line gives reading + analysis alone. It then reads a second file of the
# same cameras whose record lengths differ from one record to the next (`synth-cameras ...
# mixed`), where the reader cannot predict where the next records start (see capture/file.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cameras=${1:-55000}; packets=${2:-5000000}; tshark_packets=${3:-1000000}
mkdir -p bench-data
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
now() { date +%s.%N; }
run() {  # run LABEL FILE: prints streamprobe's rates on FILE, sets $sp
  local label=$1 file=$2 t0 t1 flows
  cat "$file" >/dev/null   # both tools read from the page cache
  t0=$(now)
  target/release/streamprobe analyze --timing --json --progress never "$file" >bench-data/streamprobe.json 2>bench-data/streamprobe.timing
  t1=$(now)
  flows=$(python3 -c "import json;print(len(json.load(open('bench-data/streamprobe.json'))['flows']))")
  sp=$(python3 -c "print($packets/($t1-$t0))")
  printf 'streamprobe (%s): %d packets, %d flows, %s bytes in %.3f s = %.0f packets/s end to end (one core, report included)\n' \
    "$label" "$packets" "$flows" "$(stat -c %s "$file")" "$(python3 -c "print($t1-$t0)")" "$sp"
  sed "s/^timing: /streamprobe ($label): /" bench-data/streamprobe.timing
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
  printf 'ratio (end to end, record lengths equal): %.1fx\n' "$(python3 -c "print($sp/$ts)")"
fi
