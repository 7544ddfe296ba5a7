#!/usr/bin/env bash
# Times `streamprobe analyze` against `tshark -q -z rtp,streams` (jitter on: decode-as for the
# port and H.264 for PT 96, so tshark knows the 90 kHz clock) on the same synthetic capture of
# CAMERAS H.264/RTP cameras, and prints packets/s for each and the ratio. streamprobe's line
# counts the whole run (reading, analysis and the report of every flow); its `--timing` line
# gives reading + analysis alone.
#   scripts/bench.sh [CAMERAS] [PACKETS]      (default 55000 cameras, 1,000,000 packets)
set -euo pipefail
cd "$(dirname "$0")/.."
cameras=${1:-55000}; packets=${2:-1000000}
mkdir -p bench-data
file=bench-data/cameras-$cameras-$packets.pcap
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
[ -f "$file" ] || target/release/synth-cameras "$file" "$cameras" "$packets"
cat "$file" >/dev/null   # both tools read from the page cache
now() { date +%s.%N; }
t0=$(now); target/release/streamprobe analyze --timing --json --progress never "$file" >bench-data/streamprobe.json 2>bench-data/streamprobe.timing; t1=$(now)
flows=$(python3 -c "import json;print(len(json.load(open('bench-data/streamprobe.json'))['flows']))")
sp=$(python3 -c "print($packets/($t1-$t0))")
printf 'streamprobe: %d packets, %d flows in %.3f s = %.0f packets/s end to end (one core, report included)\n' "$packets" "$flows" "$(python3 -c "print($t1-$t0)")" "$sp"
sed 's/^timing: /streamprobe: /' bench-data/streamprobe.timing
if command -v tshark >/dev/null && [ "${SKIP_TSHARK:-0}" != 1 ]; then
  t0=$(now); tshark -q -r "$file" -d udp.port==5004,rtp -d rtp.pt==96,h264 -z rtp,streams >bench-data/tshark.txt 2>/dev/null; t1=$(now)
  ts=$(python3 -c "print($packets/($t1-$t0))")
  printf 'tshark:      %d packets in %.3f s = %.0f packets/s\n' "$packets" "$(python3 -c "print($t1-$t0)")" "$ts"
  printf 'ratio:       %.1fx\n' "$(python3 -c "print($sp/$ts)")"
fi
