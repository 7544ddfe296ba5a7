//! synth-cameras: writes a pcap of N H.264-over-RTP cameras (FU-A packets, marker on each
//! frame's last packet, 25 fps), all sending to 10.0.0.1:5004 from their own address, in
//! global time order. For benchmarks:
//! `synth-cameras OUT.pcap CAMERAS PACKETS [PAYLOAD_BYTES|mixed] [PACKETS_PER_SECOND]`.
//!
//! PACKETS_PER_SECOND (per camera) overrides the 1 Mbit/s default: the service benchmark
//! (scripts/bench-service.sh) loads the probe with 55,000 cameras at 3 packets a second, so
//! that every interval has 55,000 flow records without a core's worth of packets.
//!
//! By default every packet carries PAYLOAD_BYTES (1,388) of payload, so every record has the
//! same length. `mixed` gives each camera its own payload size between 1,200 and 1,460 bytes
//! (as different encoder makes do) and makes each frame's last packet shorter (between 100
//! bytes and the camera's size), so no two neighbouring records need have the same length.

use std::io::BufWriter;
use testbed::pcap_writer::{udp_frame, PcapWriter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .expect("usage: synth-cameras OUT.pcap CAMERAS PACKETS [PAYLOAD_BYTES|mixed]");
    let cameras: u32 = args.get(2).map_or(55_000, |s| s.parse().unwrap());
    let packets: u64 = args.get(3).map_or(1_000_000, |s| s.parse().unwrap());
    let mixed = args.get(4).is_some_and(|s| s == "mixed");
    let payload_len: usize = match args.get(4) {
        Some(s) if !mixed => s.parse().unwrap(),
        _ => 1_388,
    };
    // 1 Mbit/s per camera at this payload size, 25 frames/s, unless a rate is given.
    let pps = match args.get(5) {
        Some(r) => r.parse::<f64>().unwrap().max(0.01),
        None => (1_000_000.0 / 8.0 / payload_len as f64).max(25.0),
    };
    let round_ns = (1e9 / pps) as i64;
    let per_frame = (pps / 25.0).round().max(1.0) as u64;
    // RTP timestamp step of a frame at 90 kHz: 3,600 (25 fps) by default; with a rate
    // given, the frames' own spacing, so the jitter stays that of the packet times.
    let ts_step = match args.get(5) {
        Some(_) => (90_000.0 * per_frame as f64 / pps).round() as u64,
        None => 3_600,
    };
    let mut w = PcapWriter::new(BufWriter::with_capacity(
        1 << 22,
        std::fs::File::create(out).unwrap(),
    ))
    .unwrap();
    let mut payload = vec![0u8; 12 + 1_460.max(payload_len)];
    let start_ns: i64 = 1_767_225_600_000_000_000;
    let mut written = 0u64;
    let mut round = 0u64;
    'outer: loop {
        for c in 0..cameras {
            let seq = (round as u16).wrapping_add(c as u16);
            let frame_index = round / per_frame;
            let last_of_frame = round % per_frame == per_frame - 1;
            payload[0] = 0x80;
            payload[1] = 96 | if last_of_frame { 0x80 } else { 0 };
            payload[2..4].copy_from_slice(&seq.to_be_bytes());
            payload[4..8].copy_from_slice(
                &((frame_index * ts_step) as u32)
                    .wrapping_add(c * 7)
                    .to_be_bytes(),
            );
            payload[8..12].copy_from_slice(&(0x1000_0000 + c).to_be_bytes());
            // FU-A of a non-IDR slice: start, middle or end fragment.
            payload[12] = 0x7c;
            payload[13] = match round % per_frame {
                0 => 0x81,
                _ if last_of_frame => 0x41,
                _ => 0x01,
            };
            let src = [10, 1 + (c >> 16) as u8, (c >> 8) as u8, c as u8];
            let len = if !mixed {
                payload_len
            } else {
                // A fixed size per camera; a frame's last packet carries what is left.
                let camera_len = 1_200 + (c as usize * 37) % 261;
                if last_of_frame {
                    100 + (frame_index as usize * 7_919 + c as usize * 104_729) % (camera_len - 99)
                } else {
                    camera_len
                }
            };
            let frame = udp_frame(src, 5004, [10, 0, 0, 1], 5004, &payload[..12 + len]);
            let ns =
                start_ns + round as i64 * round_ns + i64::from(c) * round_ns / i64::from(cameras);
            w.write_frame(ns, &frame, frame.len()).unwrap();
            written += 1;
            if written == packets {
                break 'outer;
            }
        }
        round += 1;
    }
    w.into_inner().unwrap();
    eprintln!("synth-cameras: {written} packets, {cameras} cameras, {per_frame} packets per frame");
}
