//! Sequences of datagrams on a few 4-tuples, with arbitrary RTP-like headers and times:
//! discovery, sequence accounting, jitter and frame counting must never panic, and the report's
//! invariants must hold (received unique = expected - lost <= packets).
//!
//! The body of fuzz target `rtp_flows` (fuzz/fuzz_targets), shared with the stable replay of
//! its corpus and past crashes (crates/streamprobe/tests/fuzz_replay.rs).

use std::net::SocketAddr;
use wire::UdpDatagram;

/// Runs one input.
pub fn run(data: &[u8]) {
    let config = analysis::AnalysisConfig {
        probation: 1 + data.first().copied().unwrap_or(0) % 4,
        ..Default::default()
    };
    let mut analyzer = analysis::Analyzer::new(config);
    let addrs: [SocketAddr; 3] = [
        "10.0.0.1:5004".parse().unwrap(),
        "10.0.0.2:5006".parse().unwrap(),
        "[2001:db8::1]:9".parse().unwrap(),
    ];
    let mut time: i64 = 0;
    // Each record: 1 byte flow, 2 bytes time step, 2 bytes length (up to a UDP datagram's
    // 65,507), then that many payload bytes.
    let mut rest = data.get(1..).unwrap_or(&[]);
    while rest.len() >= 5 {
        let flow = usize::from(rest[0]) % 3;
        time += i64::from(u16::from_be_bytes([rest[1], rest[2]])) * 10_000;
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]))
            .min(65_507)
            .min(rest.len() - 5);
        let payload = &rest[5..5 + len];
        rest = &rest[5 + len..];
        let d = UdpDatagram {
            src: addrs[flow],
            dst: addrs[(flow + 1) % 3],
            payload,
            payload_len: len as u16,
        };
        analyzer.on_datagram(time, &d);
    }
    let report = analyzer.finish();
    for f in &report.flows {
        if let Some(rtp) = &f.rtp {
            assert!(rtp.lost <= rtp.expected);
            assert!(rtp.expected - rtp.lost <= f.packets);
        }
    }
}
