#!/usr/bin/env bash
# Regenerates the committed fixtures under tests/fixtures/ from real impaired streams.
# Needs root and the harness tools (see scripts/install-test-deps.sh). Each scenario directory
# gets capture.pcap (receiver side, nanosecond), truth.log (what the relay did) and
# reference.json (truth, literal A.8 jitter from tshark fields, tshark's rtp,streams).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -p streamprobe-testbed --bin impair-relay
ports=5004,5006,5002
make() {
  local name=$1 secs=$2; shift 2
  local dir=tests/fixtures/$name tmp
  tmp=$(mktemp -d)
  scripts/netns-harness.sh "$tmp" "$secs" "$@"
  mkdir -p "$dir"
  cp "$tmp/capture.pcap" "$tmp/truth.log" "$dir/"
  python3 scripts/rtp_reference.py "$dir/capture.pcap" "$dir/truth.log" --ports "$ports" >"$dir/reference.json"
  echo "$*" >"$dir/relay-options.txt"
  rm -rf "$tmp"
}
make impaired 8 --seed 11 --loss 0.02 --dup 0.01 --reorder 0.02 --reorder-depth 3 --delay-ms 6
make burst 8 --seed 12 --burst-enter 0.01 --burst-exit 0.3 --outage 4:0.5 --delay-ms 2
# Link-layer and format variants of one capture: every one must give the same figures.
v=tests/fixtures/variants
mkdir -p "$v"
for kind in sll sll2 raw vlan qinq usec; do
  python3 scripts/relink.py tests/fixtures/impaired/capture.pcap "$v/$kind.pcap" "$kind"
done
# pcapng with two interfaces of different timestamp resolutions: the impaired capture
# VLAN-tagged with ns timestamps, and the burst capture with us timestamps.
python3 scripts/relink.py tests/fixtures/burst/capture.pcap "$v/b.pcap" usec
editcap -F pcapng "$v/vlan.pcap" "$v/a.pcapng"
editcap -F pcapng "$v/b.pcap" "$v/b.pcapng"
mergecap -F pcapng -w "$v/two-interfaces.pcapng" "$v/a.pcapng" "$v/b.pcapng"
rm -f "$v/a.pcapng" "$v/b.pcapng" "$v/b.pcap"
# A capture cut in the middle of a record.
head -c 300000 tests/fixtures/impaired/capture.pcap >"$v/truncated.pcap"
ls -la tests/fixtures/*
