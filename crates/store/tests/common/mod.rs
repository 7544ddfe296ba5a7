//! Records for the store's tests: steady synthetic flows, as a probe would give them.
#![allow(dead_code)]

use analysis::event::FlowEvent;
use analysis::frames::PayloadFormat;
use analysis::interval::{EventRecord, FlowName, FlowRecord, IndicatorCounts, SCHEMA};
use analysis::kind::FlowKind;
use analysis::report::{SlaReport, SlaViolation};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub const SECOND: i64 = 1_000_000_000;
/// 2026-12-07T00:00:00Z: a start on an hour and a day.
pub const T0: i64 = 1_796_601_600 * SECOND;

/// A small deterministic generator (xorshift), so that tests need no seed handling.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi].
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Flow `i`'s name: RTP video for even i, MPEG-TS over UDP for odd i when `mixed`.
pub fn name(i: u32, mixed: bool) -> FlowName {
    let ts = mixed && i % 2 == 1;
    FlowName {
        src: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 5000),
        dst: SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(239, 1, (i >> 8) as u8, i as u8)),
            5000,
        ),
        ssrc: (!ts).then_some(0x1000 + i),
        kind: if ts { FlowKind::UdpTs } else { FlowKind::Rtp },
    }
}

/// A steady healthy flow's record: packets 90±3, bytes ~120 kB ±5 %, jitter and DF a few
/// ms varying, 25 fps, zeros elsewhere.
pub fn steady(i: u32, time: i64, rng: &mut Rng) -> FlowRecord {
    let n = name(i, false);
    let bytes = rng.range(114_000, 126_000);
    FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time,
        interval_s: 1.0,
        name: n,
        payload: PayloadFormat::H264,
        group: Some("cameras".to_string()),
        vlan: None,
        packets: rng.range(87, 93),
        bytes,
        bitrate_bps: round6(bytes as f64 * 8.0 / 1.0),
        lost: 0,
        recovered: Some(0),
        duplicates: 0,
        reordered: Some(0),
        jitter_ms: Some(round6(rng.range(1_000_000, 4_000_000) as f64 / 1e6)),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: Some(round6(rng.range(2_000_000, 6_000_000) as f64 / 1e6)),
        mlr: Some(0.0),
        tr101290: None,
        tr101290_p1_open: None,
        sla: None,
        programs: None,
    }
}

/// A record with every figure drawn at random, Nones included (TS flows get indicators).
pub fn varied(i: u32, time: i64, rng: &mut Rng) -> FlowRecord {
    let n = name(i, true);
    let ts = n.kind == FlowKind::UdpTs;
    let opt = |rng: &mut Rng, v: f64| (rng.next() % 4 != 0).then_some(v);
    let interval_s = [1.0, 0.5, 2.0, 1.000001][rng.range(0, 3) as usize];
    let bytes = rng.range(0, 10_000_000);
    let jitter = round6(rng.range(0, 200_000_000) as f64 / 1e6);
    let fps = round6(rng.range(0, 60_000_000) as f64 / 1e6);
    let df = round6(rng.range(0, 90_000_000) as f64 / 1e6);
    let mlr = round6(rng.range(0, 900_000) as f64 / 1e6);
    let mut counts = [0u64; 19];
    for c in &mut counts {
        *c = if rng.next() % 3 == 0 {
            rng.range(0, 1000)
        } else {
            0
        };
    }
    let sla = match rng.range(0, 2) {
        0 => None,
        1 => Some(SlaReport {
            violations: vec![],
            not_judged: vec![],
        }),
        _ => Some(SlaReport {
            violations: vec![SlaViolation {
                limit: "max_jitter_ms",
                threshold: 5.0,
                value: jitter,
            }],
            not_judged: vec![],
        }),
    };
    FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time,
        interval_s,
        name: n,
        payload: if ts {
            PayloadFormat::Mp2t
        } else {
            PayloadFormat::H265
        },
        group: None,
        vlan: None,
        packets: rng.range(0, 100_000),
        bytes,
        // Now and then a bitrate that is not bytes x 8 / interval (stored as given).
        bitrate_bps: if rng.next() % 5 == 0 {
            round6(rng.range(0, 1 << 40) as f64 / 1e6)
        } else {
            round6(bytes as f64 * 8.0 / interval_s)
        },
        lost: rng.range(0, 50),
        recovered: (!ts).then(|| rng.range(0, 5)),
        duplicates: rng.range(0, 5),
        reordered: (!ts).then(|| rng.range(0, 5)),
        jitter_ms: if ts { None } else { opt(rng, jitter) },
        clock_rate_source: (!ts).then_some(
            ["config", "rfc3551", "sdp", "estimated", "assumed"][rng.range(0, 4) as usize],
        ),
        fps: if ts { None } else { opt(rng, fps) },
        df_ms: opt(rng, df),
        mlr: opt(rng, mlr),
        tr101290: ts.then_some(IndicatorCounts(counts)),
        tr101290_p1_open: ts.then_some(0),
        sla,
        programs: None,
    }
}

pub fn event(i: u32, time: i64, event: FlowEvent) -> EventRecord {
    EventRecord {
        schema: SCHEMA,
        kind_of_record: "event",
        time,
        event,
        name: name(i, false),
        silent_s: (event == FlowEvent::Silent).then_some(2.5),
        new_ssrc: (event == FlowEvent::SsrcChange).then_some(0xdead_beef),
        violations: (event == FlowEvent::SlaBroken).then(|| {
            vec![SlaViolation {
                limit: "min_fps",
                threshold: 24.0,
                value: 12.5,
            }]
        }),
    }
}

/// Every figure of the record that the per-second tier keeps, as a sample.
pub fn expected(r: &FlowRecord) -> store::Sample {
    store::Sample {
        time_ns: r.time,
        interval_s: r.interval_s,
        packets: r.packets,
        bytes: r.bytes,
        bitrate_bps: r.bitrate_bps,
        lost: r.lost,
        recovered: r.recovered,
        duplicates: r.duplicates,
        reordered: r.reordered,
        jitter_ms: r.jitter_ms,
        clock_rate_source: r.clock_rate_source,
        fps: r.fps,
        df_ms: r.df_ms,
        mlr: r.mlr,
        tr101290: r.tr101290.map(|c| c.0),
        sla_broken: r.sla.as_ref().map(|s| !s.violations.is_empty()),
    }
}
