#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/fuzz_targets, bodies in fuzz/bodies) for MINUTES each, one
# after the other, inputs up to 65,600 bytes (a UDP datagram and its headers), under nice:
# the working corpus is fuzz/corpus/TARGET (not committed); after each run it is minimised
# into fuzz/seeds/TARGET, which is committed and which crates/streamprobe/tests/fuzz_replay.rs
# replays on stable Rust. Appends one line per run to the table in docs/fuzzing.md. A crash
# stops that target: its input is copied to tests/fixtures/fuzz/TARGET-crash-<hash> (commit it
# with the fix) and the script exits 1 after the other targets.
#   scripts/fuzz.sh [MINUTES] [TARGET...]     (default: 5 minutes, every target)
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture_file frame live_ticks rtp_flows ts_recording ts_stream)
status=0
(cd fuzz && cargo +nightly fuzz build -O >&2) || exit 1
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  log=$(mktemp)
  start=$(date +%s)
  (cd fuzz && nice -n 19 cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
      -max_len=65600 -max_total_time=$((minutes * 60)) -print_final_stats=1 -timeout=20 -rss_limit_mb=4096) >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  [ -n "$runs" ] || runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
  crash=none
  if [ $rc -ne 0 ]; then
    artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | awk '{print $5}' | tail -1)
    if [ -n "$artifact" ] && [ -f "fuzz/$artifact" ]; then
      mkdir -p tests/fixtures/fuzz
      cp "fuzz/$artifact" "tests/fixtures/fuzz/$t-$(basename "$artifact")"
      crash="tests/fixtures/fuzz/$t-$(basename "$artifact"): $(grep -m1 -E "panicked at" "$log" | cut -c1-160)"
    else
      crash="exit $rc (see the log)"
    fi
    status=1
  fi
  # The corpus with the seeds, minimised, becomes the committed seeds: the hand-made ones
  # (named, not a hash) always, then the smallest others up to SEEDS_BYTES (default 1 MiB;
  # the whole minimised corpus stays in fuzz/corpus for the next run).
  cp -n "fuzz/seeds/$t"/* "fuzz/corpus/$t"/ 2>/dev/null
  (cd fuzz && nice -n 19 cargo +nightly fuzz cmin -O "$t" "corpus/$t" -- -max_len=65600 >/dev/null 2>&1)
  python3 scripts/fuzz-seeds.py "fuzz/corpus/$t" "fuzz/seeds/$t" "${SEEDS_BYTES:-1048576}"
  files=$(ls "fuzz/corpus/$t" | wc -l); bytes=$(cat "fuzz/corpus/$t"/* | wc -c)
  seeds=$(ls "fuzz/seeds/$t" | wc -l); seed_bytes=$(cat "fuzz/seeds/$t"/* | wc -c)
  echo "| $(date -u +%F) | $t | $secs | ${runs:-?} | $files inputs, $bytes bytes ($seeds, $seed_bytes committed) | $crash |" >>docs/fuzzing.md
  echo "$t: $secs s, ${runs:-?} runs, crash: $crash" >&2
  rm -f "$log"
done
exit $status
