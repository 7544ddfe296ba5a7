//! synth-wall: writes the capture of the README's health-wall screenshot
//! (scripts/wall-screenshot.sh): `synth-wall OUT.pcap [SECONDS]` (default 240).
//!
//! 120 H.264-over-RTP cameras (10 packets of 100 bytes a second, one 2-packet frame every
//! 0.2 s) in three groups, each camera to its own multicast group:
//! - `cams-north`, outer VLAN 310: 32 cameras on 10.10.1.0/24 and 16 on 10.10.3.0/24, to
//!   239.10.1.1-48;
//! - `cams-south`, outer VLAN 320: 48 cameras on 10.20.1.0/24, to 239.20.1.1-48;
//! - `studio`, outer VLAN 400: 24 cameras on 10.30.0.0/24, to 239.30.0.1-24.
//!
//! Two faults: every camera of 10.10.3.0/24 (a third of cams-north, behind one switch) loses
//! 2 packets in 10 from second 60 to 80 (a vertical band on the wall), and studio camera 7
//! loses 3 in 10 from second 20 to the end (a lasting alarm).

use std::io::BufWriter;
use testbed::pcap_writer::{rtp_packet, udp_frame, PcapWriter};

const PPS: u64 = 10;

struct Camera {
    src: [u8; 4],
    dst: [u8; 4],
    vlan: u16,
    /// Loses packets `n % 10` in `lose` within seconds `[from, to)`.
    fault: Option<(u64, u64, &'static [u64])>,
}

fn cameras(seconds: u64) -> Vec<Camera> {
    let mut out = Vec::new();
    for i in 0..48u8 {
        let (src, fault) = if i < 32 {
            ([10, 10, 1, 1 + i], None)
        } else {
            ([10, 10, 3, 1 + i - 32], Some((60, 80, &[3u64, 7][..])))
        };
        out.push(Camera {
            src,
            dst: [239, 10, 1, 1 + i],
            vlan: 310,
            fault,
        });
    }
    for i in 0..48u8 {
        out.push(Camera {
            src: [10, 20, 1, 1 + i],
            dst: [239, 20, 1, 1 + i],
            vlan: 320,
            fault: None,
        });
    }
    for i in 0..24u8 {
        out.push(Camera {
            src: [10, 30, 0, 1 + i],
            dst: [239, 30, 0, 1 + i],
            vlan: 400,
            fault: (i == 7).then_some((20, seconds, &[2u64, 5, 8][..])),
        });
    }
    out
}

/// `frame` with an IEEE 802.1Q tag of VLAN `vid` after its MAC addresses.
fn tagged(mut frame: Vec<u8>, vid: u16) -> Vec<u8> {
    let tci = vid & 0x0fff;
    frame.splice(12..12, [0x81, 0x00, (tci >> 8) as u8, tci as u8]);
    frame
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).expect("usage: synth-wall OUT.pcap [SECONDS]");
    let seconds: u64 = args.get(2).map_or(240, |s| s.parse().expect("SECONDS"));
    let cams = cameras(seconds);
    let mut w = PcapWriter::new(BufWriter::with_capacity(
        1 << 22,
        std::fs::File::create(out).unwrap(),
    ))
    .unwrap();
    let start_ns: i64 = 1_767_225_600_000_000_000;
    let step_ns = 1_000_000_000 / PPS as i64;
    // FU-A fragments of a non-IDR slice (RFC 6184 section 5.8): start, then end.
    let mut payload = vec![0x5cu8; 100];
    payload[0] = 0x7c;
    let mut written = 0u64;
    for n in 0..seconds * PPS {
        let second = n / PPS;
        for (c, cam) in cams.iter().enumerate() {
            if let Some((from, to, lose)) = cam.fault {
                if (from..to).contains(&second) && lose.contains(&(n % 10)) {
                    continue;
                }
            }
            payload[1] = if n % 2 == 0 { 0x81 } else { 0x41 };
            let rtp = rtp_packet(
                96,
                n % 2 == 1,
                n as u16,
                (n / 2 * 18_000) as u32,
                0x3000_0000 + c as u32,
                &payload,
            );
            let frame = tagged(udp_frame(cam.src, 5004, cam.dst, 5004, &rtp), cam.vlan);
            // Cameras spread over the packet spacing, as free-running encoders are.
            let ns = start_ns + n as i64 * step_ns + c as i64 * step_ns / cams.len() as i64;
            w.write_frame(ns, &frame, frame.len()).unwrap();
            written += 1;
        }
    }
    w.into_inner().unwrap();
    eprintln!(
        "synth-wall: {written} packets, {} cameras, {seconds} s",
        cams.len()
    );
}
