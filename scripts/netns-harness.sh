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
# Needs root, iproute2, ethtool, tcpdump, ffmpeg, gst-launch-1.0.
set -euo pipefail
out=$(realpath -m "$1"); secs=$2; shift 2; relay_args=("$@")
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
relay="${IMPAIR_RELAY:-$root/target/release/impair-relay}"
id=$(( $$ % 100000 ))
tx=sptx$id; mid=spmid$id; rx=sprx$id
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
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
ip -n "$tx" route add 239.0.0.0/8 dev t$id
ip -n "$rx" route add 239.0.0.0/8 dev r$id
# Static neighbours: no ARP exchange to race with the first packets.
mac_rx=$(ip -n "$rx" -br link show r$id | awk '{print $3}')
ip -n "$tx" neigh add 10.231.9.2 lladdr "$mac_rx" dev t$id

ip netns exec "$mid" "$relay" --a ma$id --b mb$id --truth "$out/truth.log" "${relay_args[@]}" 2>"$out/relay.err" &
pids+=($!); relay_pid=$!
ip netns exec "$rx" tcpdump -Z root -i r$id -s 0 -B 32768 --immediate-mode --time-stamp-precision=nano -w "$out/capture.pcap" udp 2>"$out/tcpdump.err" &
pids+=($!); tcpdump_pid=$!
for _ in $(seq 50); do grep -q ready "$out/relay.err" 2>/dev/null && grep -q listening "$out/tcpdump.err" 2>/dev/null && break; sleep 0.1; done

frames=$(( secs * 25 ))
senders=()
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
for p in "${senders[@]}"; do wait "$p"; done
sleep 1
kill -TERM "$relay_pid"; wait "$relay_pid" || true
sleep 0.3
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" || true
# tcpdump runs in immediate mode: otherwise packets in a capture block the kernel has not
# retired yet (up to its 1 s timeout) are counted "received by filter" but never written when
# it is stopped, and the last frames the relay released would be missing from the capture.
{
  grep -h "kernel_drops" "$out/relay.err" || echo "relay: no summary"
  grep -h "dropped by kernel" "$out/tcpdump.err" || echo "tcpdump: no summary"
  captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$out/tcpdump.err")
  received=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$out/tcpdump.err")
  echo "tcpdump: captured $captured of $received received by filter"
} >"$out/drops.txt"
cat "$out/drops.txt"
