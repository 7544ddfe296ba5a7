#!/usr/bin/env bash
# Real streams across network namespaces, impaired by our relay, captured by tcpdump.
#
#   scripts/netns-harness.sh OUTDIR SECONDS [impair-relay options...]
#
# Builds three namespaces joined by veth pairs (sender -> middle -> receiver); the middle one
# runs target/release/impair-relay (no Linux bridge: the relay is the bridge). Senders:
# GStreamer H.264/RTP (unicast, port 5006), ffmpeg H.264/RTP (unicast, port 5004), ffmpeg
# MPEG-TS over UDP multicast (239.1.1.1:5000) and MPEG-TS over RTP multicast (239.1.1.2:5002).
# tcpdump on the receiver writes OUTDIR/capture.pcap (nanosecond timestamps); the relay
# writes OUTDIR/truth.log; OUTDIR/drops.txt records both tools' drop counters.
# SENDERS=paced-ts replaces the four senders by one constant-rate MPEG-TS paced by its PCRs
# (239.1.1.3:5000, 2 Mbit/s), for Delay Factor tests, and also captures the sender's side
# (OUTDIR/sender.pcap).
# PROBE=path/to/streamprobe also runs two live probes on the receiver beside tcpdump:
# `run --interface` (2 workers, fanout) into OUTDIR/probe-interface.ndjson and `run --join` of
# the two multicast groups (one any-source, one source-specific) into
# OUTDIR/probe-multicast.ndjson; both are stopped with SIGINT after tcpdump.
# Needs root, iproute2, ethtool, tcpdump, ffmpeg, gst-launch-1.0.
set -euo pipefail
out=$(realpath -m "$1"); secs=$2; shift 2; relay_args=("$@")
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
relay="${IMPAIR_RELAY:-$root/target/release/impair-relay}"
id=$(( $$ % 100000 ))
tx=sptx$id; mid=spmid$id; rx=sprx$id
pids=(); probe_pids=()
cleanup() {
  for p in "${pids[@]:-}" "${probe_pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  ip netns del "$tx" 2>/dev/null || true; ip netns del "$mid" 2>/dev/null || true; ip netns del "$rx" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$tx"; ip netns add "$mid"; ip netns add "$rx"
ip link add t$id type veth peer name ma$id
ip link add r$id type veth peer name mb$id
ip link set t$id netns "$tx"; ip link set ma$id netns "$mid"
ip link set r$id netns "$rx"; ip link set mb$id netns "$mid"
ip -n "$tx" addr add 10.231.9.1/24 dev t$id
ip -n "$rx" addr add 10.231.9.2/24 dev r$id
for pair in "$tx t$id" "$mid ma$id" "$mid mb$id" "$rx r$id"; do
  set -- $pair
  ip -n "$1" link set "$2" up
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done
for ns in "$tx" "$mid" "$rx"; do ip -n "$ns" link set lo up; done
if [ "${SENDERS:-all}" = paced-ts ]; then
  # Jumbo frames: the one 8-packet datagram GStreamer sends at end of file stays one frame (IP
  # fragments carry no ports, so the relay would pass them ahead of the flow's delayed frames).
  for pair in "$tx t$id" "$mid ma$id" "$mid mb$id" "$rx r$id"; do set -- $pair; ip -n "$1" link set "$2" mtu 9000; done
fi
ip -n "$tx" route add 239.0.0.0/8 dev t$id
ip -n "$rx" route add 239.0.0.0/8 dev r$id
# Static neighbours: no ARP exchange to race with the first packets.
mac_rx=$(ip -n "$rx" -br link show r$id | awk '{print $3}')
ip -n "$tx" neigh add 10.231.9.2 lladdr "$mac_rx" dev t$id

ip netns exec "$mid" "$relay" --a ma$id --b mb$id --truth "$out/truth.log" "${relay_args[@]}" 2>"$out/relay.err" &
pids+=($!); relay_pid=$!
ip netns exec "$rx" tcpdump -Z root -i r$id -s 0 -B 32768 --immediate-mode -U --time-stamp-precision=nano -w "$out/capture.pcap" udp 2>"$out/tcpdump.err" &
pids+=($!); tcpdump_pid=$!
sender_pid=
if [ "${SENDERS:-all}" = paced-ts ]; then
  # The sender's side too: what left the sender, before the relay, with the sender's own
  # scheduling stalls, so a test can tell the relay's delay from the sender's.
  ip netns exec "$tx" tcpdump -Z root -i t$id -s 0 -B 32768 --immediate-mode --time-stamp-precision=nano -w "$out/sender.pcap" udp 2>"$out/tcpdump-sender.err" &
  pids+=($!); sender_pid=$!
fi
for _ in $(seq 50); do
  grep -q ready "$out/relay.err" 2>/dev/null && grep -q listening "$out/tcpdump.err" 2>/dev/null \
    && { [ -z "$sender_pid" ] || grep -q listening "$out/tcpdump-sender.err" 2>/dev/null; } && break
  sleep 0.1
done

if [ -n "${PROBE:-}" ]; then
  ip netns exec "$rx" "$PROBE" run --interface r$id --filter udp --workers 2 --json \
    >"$out/probe-interface.ndjson" 2>"$out/probe-interface.err" & probe_pids+=($!)
  ip netns exec "$rx" "$PROBE" run --join 239.1.1.1:5000 --join 10.231.9.1@239.1.1.2:5002 \
    --join-interface r$id --json >"$out/probe-multicast.ndjson" 2>"$out/probe-multicast.err" & probe_pids+=($!)
  # Ready when each has written its first probe record (sockets open, first interval closed);
  # up to 30 s, since three scenarios with their encoders can share this VM's two cores.
  for _ in $(seq 300); do
    grep -q '"probe"' "$out/probe-interface.ndjson" 2>/dev/null \
      && grep -q '"probe"' "$out/probe-multicast.ndjson" 2>/dev/null && break
    sleep 0.1
  done
fi

frames=$(( secs * 25 ))
senders=()
if [ "${SENDERS:-all}" = paced-ts ]; then
  # A constant-rate TS paced by its own PCRs, as a playout server sends it: ffmpeg muxes CBR at
  # 2 Mbit/s to a file, and GStreamer's tsparse timestamps every 7-packet datagram from the PCRs
  # so udpsink sends each at its time (real-time priority: fewer scheduling stalls). tsparse
  # holds the packets after the last PCR and flushes them at end of file as one odd datagram,
  # so the file is cut SECS seconds in, right after a PCR that ends a datagram (the flush is
  # then the last datagram again plus one null packet). Undisturbed, DF
  # stays near one datagram's time (5.3 ms) plus this machine's scheduling noise.
  ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25 -t $(( secs + 1 )) \
    -c:v libx264 -preset ultrafast -x264-params nal-hrd=cbr -b:v 1500k -maxrate 1500k -bufsize 300k \
    -muxrate 2000000 -f mpegts "$out/cbr-full.ts"
  python3 - "$out/cbr-full.ts" "$out/cbr.ts" "$secs" <<'PY'
import sys
src = open(sys.argv[1], "rb").read()
p = int(sys.argv[3]) * 2000000 // 8 // 188
while not ((p + 1) % 7 == 0 and src[p * 188 + 3] & 0x20 and src[p * 188 + 4] and src[p * 188 + 5] & 0x10):
    p += 1  # adaptation field with a PCR, last packet of a datagram
open(sys.argv[2], "wb").write(src[:(p + 1) * 188])
PY
  ip netns exec "$tx" chrt -f 20 gst-launch-1.0 -q filesrc location="$out/cbr.ts" ! tsparse set-timestamps=true alignment=7 \
    ! udpsink host=239.1.1.3 port=5000 multicast-iface=t$id ttl-mc=4 sync=true \
    >"$out/gst-paced.log" 2>&1 & senders+=($!)
else
  ip netns exec "$tx" gst-launch-1.0 -q videotestsrc num-buffers=$frames is-live=true pattern=ball \
    ! video/x-raw,width=640,height=360,framerate=25/1 \
    ! x264enc tune=zerolatency bitrate=1500 key-int-max=25 speed-preset=ultrafast \
    ! rtph264pay pt=96 config-interval=-1 mtu=1200 ! udpsink host=10.231.9.2 port=5006 sync=true \
    >"$out/gst.log" 2>&1 & senders+=($!)
  ip netns exec "$tx" ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc=size=640x360:rate=25 \
    -t "$secs" -c:v libx264 -preset ultrafast -g 25 -f rtp rtp://10.231.9.2:5004 >"$out/ffmpeg-rtp.log" 2>&1 & senders+=($!)
  ip netns exec "$tx" ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine \
    -t "$secs" -c:v libx264 -preset ultrafast -c:a aac -f mpegts "udp://239.1.1.1:5000?pkt_size=1316&localaddr=10.231.9.1&ttl=4" \
    >"$out/ffmpeg-ts.log" 2>&1 & senders+=($!)
  ip netns exec "$tx" ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
    -t "$secs" -c:v libx264 -preset ultrafast -f rtp_mpegts "rtp://239.1.1.2:5002?localaddr=10.231.9.1&ttl=4" \
    >"$out/ffmpeg-rtpts.log" 2>&1 & senders+=($!)
fi
for p in "${senders[@]}"; do wait "$p"; done
sleep 1
kill -TERM "$relay_pid"; wait "$relay_pid" || true
# tcpdump writes each packet as it comes (-U): stop it once its file has not grown for 0.5 s
# (at most 10 s). A fixed 0.3 s pause was not always enough on this VM: twice in one test run
# tcpdump counted a frame "received by filter" that it never wrote (1,367 of 1,368 and 950
# of 951), so the capture missed a frame the relay's truth counts.
last=-1
for _ in $(seq 20); do
  sleep 0.5
  size=$(stat -c %s "$out/capture.pcap" 2>/dev/null || echo 0)
  [ "$size" = "$last" ] && break
  last=$size
done
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" || true
if [ -n "$sender_pid" ]; then kill -INT "$sender_pid"; wait "$sender_pid" || true; fi
for p in "${probe_pids[@]:-}"; do [ -n "$p" ] && kill -INT "$p"; done
for p in "${probe_pids[@]:-}"; do [ -n "$p" ] && { wait "$p" || echo "probe exit $?" >>"$out/probe-exit.txt"; }; done
# tcpdump runs in immediate mode: otherwise packets in a capture block the kernel has not
# retired yet (up to its 1 s timeout) are counted "received by filter" but never written when
# it is stopped, and the last frames the relay released would be missing from the capture.
{
  grep -h "kernel_drops" "$out/relay.err" || echo "relay: no summary"
  grep -h "dropped by kernel" "$out/tcpdump.err" || echo "tcpdump: no summary"
  captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$out/tcpdump.err")
  received=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$out/tcpdump.err")
  echo "tcpdump: captured $captured of $received received by filter"
  if [ -n "$sender_pid" ]; then
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$out/tcpdump-sender.err")
    captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$out/tcpdump-sender.err")
    received=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$out/tcpdump-sender.err")
    echo "sender side: captured $captured of $received received by filter, $dropped dropped by kernel"
  fi
} >"$out/drops.txt"
cat "$out/drops.txt"
