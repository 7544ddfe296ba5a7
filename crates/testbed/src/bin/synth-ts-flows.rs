//! synth-ts-flows: writes a pcap of FLOWS MPEG-TS over UDP multicast flows (239.1.0.0/16,
//! port 5000, from 10.0.0.1), each sending a real TS file in 7-packet datagrams at the
//! file's own rate, all flows interleaved in time order. For benchmarks:
//! `synth-ts-flows IN.ts OUT.pcap FLOWS DATAGRAMS [RATE_BPS]`.
//!
//! Flow n starts n/FLOWS of the way into the file, so the flows do not carry the same packet
//! at the same time; a flow that reaches the end of the file starts it over (one continuity
//! error per PID and a PCR jump back per pass, as a looping playout server gives).
//! RATE_BPS (default 2,000,000) is the rate each flow is paced at.

use std::io::BufWriter;
use testbed::pcap_writer::{udp_frame, PcapWriter};

const DATAGRAM: usize = 7 * 188;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: synth-ts-flows IN.ts OUT.pcap FLOWS DATAGRAMS [RATE_BPS]";
    let (Some(input), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let flows: usize = args.get(3).map_or(8, |s| s.parse().expect(usage));
    let datagrams: u64 = args.get(4).map_or(1_000_000, |s| s.parse().expect(usage));
    let rate_bps: f64 = args.get(5).map_or(2e6, |s| s.parse().expect(usage));
    assert!((1..=65_536).contains(&flows), "FLOWS must be 1 to 65536");
    let ts = std::fs::read(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let chunks: Vec<&[u8]> = ts.chunks_exact(DATAGRAM).collect();
    assert!(
        !chunks.is_empty() && ts[0] == 0x47,
        "{input}: not a 188-byte TS of at least one datagram"
    );
    let mut w = PcapWriter::new(BufWriter::with_capacity(
        1 << 22,
        std::fs::File::create(out).unwrap_or_else(|e| panic!("{out}: {e}")),
    ))
    .unwrap();
    let period_ns = DATAGRAM as f64 * 8.0 / rate_bps * 1e9;
    let start_ns: i64 = 1_767_225_600_000_000_000;
    let mut written = 0u64;
    'outer: for round in 0u64.. {
        for f in 0..flows {
            if written == datagrams {
                break 'outer;
            }
            let offset = f * chunks.len() / flows;
            let chunk = chunks[(offset + round as usize) % chunks.len()];
            let frame = udp_frame([10, 0, 0, 1], 5000, flow_group(f), 5000, chunk);
            let at = start_ns + (round as f64 * period_ns) as i64 + f as i64;
            w.write_frame(at, &frame, frame.len()).unwrap();
            written += 1;
        }
    }
    w.into_inner().unwrap();
    eprintln!("synth-ts-flows: {written} datagrams of {flows} flows");
}

/// 239.1.x.y for flow n.
fn flow_group(n: usize) -> [u8; 4] {
    [239, 1, (n >> 8) as u8, n as u8]
}
