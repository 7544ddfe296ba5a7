#!/usr/bin/env bash
# Instruction counts of `streamprobe analyze --json` under callgrind (deterministic, where
# this VM's clock swings 2x): the whole run, and reading + analysis (`analyze_capture` less
# the report that `Analyzer::finish` builds), on a synth-cameras capture.
#   scripts/callgrind.sh [CAMERAS] [PACKETS] [BINARY]
# Defaults: 55,000 cameras, 1,000,000 packets (bench-data/cameras-55000-1000000.pcap), the
# release build. The gate of issue 18: reading + analysis <= 1.03 x 964 M on the default.
set -euo pipefail
cd "$(dirname "$0")/.."
cameras=${1:-55000}; packets=${2:-1000000}; binary=${3:-target/release/streamprobe}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
mkdir -p bench-data
if [ "$binary" = target/release/streamprobe ]; then
  cargo build --release --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-cameras >&2
else
  cargo build --release --locked -p streamprobe-testbed --bin synth-cameras >&2
fi
pcap=bench-data/cameras-$cameras-$packets.pcap
[ -f "$pcap" ] || target/release/synth-cameras "$pcap" "$cameras" "$packets" >&2
out=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$binary" analyze --json "$pcap" >/dev/null 2>"$out/log"
# main's callees: reading (which hands each group of frames to the analysis) and the last
# group, then the report (`Analyzer::finish`) and the JSON writing.
tree=$(callgrind_annotate --inclusive=yes --tree=calling "$out/cg" 2>/dev/null)
total=$(awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' <<<"$tree")
block=$(awk '/\*  [^ ]*crates\/streamprobe\/src\/main.rs:streamprobe::main \[/ {on=1; next} on && /^$/ {exit} on' <<<"$tree")
callee() { awk -v pat="$1" 'index($0, pat) {gsub(",","",$1); s+=$1} END {print s+0}' <<<"$block"; }
reading=$(callee 'PcapReader::read_batch')
last=$(callee '::on_frames (1x)')
report=$(callee 'Analyzer::finish')
analysis=$((reading + last))
if [ "$reading" -eq 0 ]; then
  # The reader was inlined into main (LTO's choice varies by build): only the analysis of
  # every frame (every call of on_frames, decoding included) can be split out.
  frames=$(callee '::on_frames (')
  echo "the reader is inlined into main: Analyzer::on_frames alone $frames ($((frames / packets)) a packet)"
fi
echo "total $total instructions; reading + analysis $analysis ($((analysis / packets)) a packet); report $report"
rm -rf "$out"
