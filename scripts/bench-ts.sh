#!/usr/bin/env bash
# MPEG-TS benchmark: times `streamprobe analyze` on DATAGRAMS MPEG-TS over UDP datagrams
# (7 x 188 bytes) of FLOWS flows, and on the same TS content as one recorded .ts file, next to
# ffmpeg demuxing that .ts file (`ffmpeg -i F -map 0 -c copy -f null -`: TS packets, PSI and PES
# parsed, nothing decoded). Prints datagrams/s for each (for the .ts file: its size / 1316) and
# the ratio.
#   scripts/bench-ts.sh [DATAGRAMS] [FLOWS]
# Defaults: 1,000,000 datagrams (1.3 GB), 8 flows. The TS is the fixture
# tests/fixtures/ts/two-programs.ts (ffmpeg, two programs, H.264 + AAC and H.264, 2 Mbit/s
# constant rate) looped; each loop is one continuity error per PID and a PCR jump, so the
# analysis meets a few events per 1,000 datagrams, as a stream with rare faults has.
# streamprobe runs with every check on (PSI and CRC, continuity, PCR repetition, discontinuity
# and accuracy, PTS, MDI with the PCR-derived rate).
set -euo pipefail
cd "$(dirname "$0")/.."
datagrams=${1:-1000000}; flows=${2:-8}
mkdir -p bench-data
cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-ts-flows >&2
fixture=tests/fixtures/ts/two-programs.ts
pcap=bench-data/ts-$flows-$datagrams.pcap
ts=bench-data/ts-$datagrams.ts
[ -f "$pcap" ] || target/release/synth-ts-flows "$fixture" "$pcap" "$flows" "$datagrams"
if [ ! -f "$ts" ]; then
  size=$(( datagrams * 1316 ))
  : >"$ts.part"
  while [ "$(stat -c %s "$ts.part")" -lt "$size" ]; do cat "$fixture" >>"$ts.part"; done
  truncate -s "$size" "$ts.part"
  mv "$ts.part" "$ts"
fi
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):.0f}')"; }
secs() { python3 -c "print(f'{$2-$1:.3f}')"; }

cat "$pcap" >/dev/null   # every tool reads from the page cache
t0=$(now)
target/release/streamprobe analyze --timing --json --progress never "$pcap" >bench-data/ts.json 2>bench-data/ts.timing
t1=$(now)
sp=$(rate "$datagrams" "$t0" "$t1")
echo "streamprobe, $flows UDP flows in a pcap: $datagrams datagrams in $(secs "$t0" "$t1") s = $sp datagrams/s end to end (one core, report included)"
sed "s/^timing: /streamprobe, pcap: /" bench-data/ts.timing

cat "$ts" >/dev/null
t0=$(now)
target/release/streamprobe analyze --json --progress never "$ts" >bench-data/ts-file.json
t1=$(now)
echo "streamprobe, the same TS as one .ts file: $(( datagrams * 7 )) packets in $(secs "$t0" "$t1") s = $(rate "$datagrams" "$t0" "$t1") datagrams/s (two passes: PCR timeline, then analysis)"

if command -v ffmpeg >/dev/null && [ "${SKIP_FFMPEG:-0}" != 1 ]; then
  t0=$(now)
  ffmpeg -hide_banner -nostdin -v error -i "$ts" -map 0 -c copy -f null - 2>bench-data/ffmpeg-ts.log
  t1=$(now)
  ff=$(rate "$datagrams" "$t0" "$t1")
  echo "ffmpeg -c copy -f null, the .ts file: $(secs "$t0" "$t1") s = $ff datagrams/s"
  echo "ratio (streamprobe pcap end to end / ffmpeg): $(python3 -c "print(f'{$sp/$ff:.1f}')")x"
fi
