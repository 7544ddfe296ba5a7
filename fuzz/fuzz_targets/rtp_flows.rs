//! Sequences of datagrams on a few 4-tuples, with arbitrary RTP-like headers and times:
//! discovery, sequence accounting, jitter and frame counting must never panic, and the report's
//! invariants must hold (received unique = expected - lost <= packets).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use wire::UdpDatagram;

fuzz_target!(|data: &[u8]| {
    let mut config = analysis::AnalysisConfig::default();
    config.probation = 1 + data.first().copied().unwrap_or(0) % 4;
    let mut analyzer = analysis::Analyzer::new(config);
    let addrs: [SocketAddr; 3] = [
        "10.0.0.1:5004".parse().unwrap(),
        "10.0.0.2:5006".parse().unwrap(),
        "[2001:db8::1]:9".parse().unwrap(),
    ];
    let mut time: i64 = 0;
    // Each record: 1 byte flow, 2 bytes time step, 1 byte length, then that many payload bytes.
    let mut rest = data.get(1..).unwrap_or(&[]);
    while rest.len() >= 4 {
        let flow = usize::from(rest[0]) % 3;
        time += i64::from(u16::from_be_bytes([rest[1], rest[2]])) * 10_000;
        let len = usize::from(rest[3]).min(rest.len() - 4);
        let payload = &rest[4..4 + len];
        rest = &rest[4 + len..];
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
});
