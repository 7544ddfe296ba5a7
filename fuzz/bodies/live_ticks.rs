//! The live probe's path: datagrams on a handful of 4-tuples (RTP-like, TS-like or garbage)
//! interleaved with interval ticks that close records, report silence, expire idle flows and
//! evict under a small flow cap. Must never panic, and the records must add up: at every
//! tick each datagram sent is in exactly one bucket (a flow's record, refused, skipped, RTCP,
//! other UDP, held on probation: docs/live.md's accounting).
//!
//! The body of fuzz target `live_ticks` (fuzz/fuzz_targets), shared with the stable replay of
//! its corpus and past crashes (crates/streamprobe/tests/fuzz_replay.rs).

use analysis::interval::{Record, Tick};
use std::net::SocketAddr;
use wire::UdpDatagram;

/// Runs one input.
pub fn run(data: &[u8]) {
    let config = analysis::AnalysisConfig {
        probation: 1 + data.first().copied().unwrap_or(0) % 3,
        max_flows: 2 + usize::from(data.get(1).copied().unwrap_or(0) % 6),
        ..Default::default()
    };
    let mut analyzer = analysis::Analyzer::new(config);
    let addrs: Vec<SocketAddr> = (1..=8)
        .map(|h| format!("10.0.0.{h}:{}", 5000 + h).parse().unwrap())
        .collect();
    let mut time: i64 = 1_700_000_000_000_000_000;
    let (mut sent, mut counted) = (0u64, 0u64);
    // Each record: 1 byte (flow, or 0xff: a tick), 2 bytes time step, 2 bytes length (up to
    // 65,507; for a tick, its settings), payload.
    let mut rest = data.get(2..).unwrap_or(&[]);
    while rest.len() >= 5 {
        time += i64::from(u16::from_be_bytes([rest[1], rest[2]])) * 100_000;
        if rest[0] == 0xff {
            let tick = Tick {
                end_ns: time,
                interval_ns: 1_000_000_000,
                silent_after_ns: 50_000_000 * i64::from(rest[3] % 8 + 1),
                expire_after_ns: 100_000_000 * i64::from(rest[3] / 8 % 8 + 1),
                source_ended: rest[3] == 0xff,
            };
            let mut recorded = 0;
            let o = analyzer.tick(&tick, &mut |r| {
                if let Record::Flow(f) = r {
                    recorded += f.packets;
                }
            });
            counted += recorded + o.counted_outside_records();
            let skipped: u64 = analyzer.skipped().iter().sum();
            assert_eq!(counted + skipped + o.held(), sent, "{o:?}");
            rest = &rest[5..];
            continue;
        }
        let flow = usize::from(rest[0]) % addrs.len();
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]))
            .min(65_507)
            .min(rest.len() - 5);
        let payload = &rest[5..5 + len];
        rest = &rest[5 + len..];
        let d = UdpDatagram {
            src: addrs[flow],
            dst: addrs[(flow + 1) % addrs.len()],
            payload,
            payload_len: len as u16,
        };
        analyzer.on_received(time, &d, len as u32 + 42);
        sent += 1;
    }
    assert_eq!(analyzer.totals().0, sent);
}
