//! Live interval records (`streamprobe.interval/1`): every interval, each flow that sent
//! packets gets a record of what happened in that interval only, and flows that appear, go
//! silent, come back or change SSRC get events. Records are differences of each flow's
//! cumulative figures between two interval ends, so summing a flow's records gives the
//! cumulative figures `analyze` reports (docs/figures.md, "Live interval records").

use crate::clock::ClockSource;
use crate::event::FlowEvent;
use crate::format::{endpoint, flow_id, rfc3339_ns};
use crate::frames::{FrameCounts, PayloadFormat};
use crate::group::MonitorGroups;
use crate::kind::FlowKind;
use crate::report::{SlaFigures, SlaReport, SlaViolation};
use crate::stream::{Delivery, RtpStream, UdpFlow, UdpKind};
use crate::ts::{Indicator, TsAnalyzer};
use serde::Serialize;
use std::net::SocketAddr;

/// The schema name every record carries.
pub const SCHEMA: &str = "streamprobe.interval/1";

/// A flow's cumulative figures at an interval's end.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counters {
    packets: u64,
    bytes: u64,
    lost: u64,
    recovered: u64,
    /// What `lost` is counted of: RTP expected sequence numbers; TS packets sent (received
    /// and missing) for MPEG-TS over UDP.
    expected: u64,
    duplicates: u64,
    reordered: u64,
    frames: FrameCounts,
    ssrc_changes: u64,
    tr101290: [u64; Indicator::ALL.len()],
}

/// What the probe keeps per flow between intervals (apart from the per-packet state).
#[derive(Clone, Debug, Default)]
pub(crate) struct LiveState {
    at_last_end: Counters,
    /// Packet time of the flow's last packet when it was last seen active.
    last_active_ns: Option<i64>,
    silent: bool,
    /// The last interval's SLA verdict broke a limit.
    sla_broken: bool,
}

/// Which flow a record is about (the same fields in flow and event records). Kept as
/// values: the text (`flow`, the id as in `analyze`; `src` and `dst` as `ip:port`) is
/// written by the output thread when it serialises the record (crate::format), not by the
/// worker that closes the interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowName {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// SSRC (RTP).
    pub ssrc: Option<u32>,
    /// `rtp`, `rtp-ts`, `udp-ts`.
    pub kind: FlowKind,
}

impl FlowName {
    /// The flow's id, as in `analyze`.
    pub fn id(&self) -> String {
        flow_id(self.src, self.dst, self.ssrc)
    }
}

impl Serialize for FlowName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("flow", &self.id())?;
        map.serialize_entry("src", &endpoint(self.src))?;
        map.serialize_entry("dst", &endpoint(self.dst))?;
        map.serialize_entry("ssrc", &self.ssrc)?;
        map.serialize_entry("kind", &self.kind)?;
        map.end()
    }
}

/// Serialises a time (ns since the Unix epoch) as RFC 3339, when the record is written.
fn rfc3339<S: serde::Serializer>(ns: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_ns(*ns))
}

/// One flow's interval record.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// `flow`.
    #[serde(rename = "type")]
    pub kind_of_record: &'static str,
    /// The interval's end, ns since the Unix epoch (written as RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
    /// The interval's length, s.
    pub interval_s: f64,
    /// The flow.
    #[serde(flatten)]
    pub name: FlowName,
    /// Payload format.
    pub payload: PayloadFormat,
    /// Monitor group.
    pub group: Option<String>,
    /// Packets in the interval.
    pub packets: u64,
    /// UDP payload bytes in the interval.
    pub bytes: u64,
    /// bytes x 8 / interval_s.
    pub bitrate_bps: f64,
    /// Gaps that appeared in the interval and were not filled in it (RTP: sequence numbers;
    /// `udp-ts`: TS packets missing by continuity). Never negative.
    pub lost: u64,
    /// Late packets that filled a gap an earlier interval counted in its `lost` (RTP). Over
    /// a flow, the sum of `lost` - the sum of `recovered` is `analyze`'s `lost`. Null for
    /// MPEG-TS over plain UDP, which has no sequence numbers.
    pub recovered: Option<u64>,
    /// Duplicates in the interval: RTP packets of a sequence number already received; for
    /// MPEG-TS over plain UDP, duplicate datagrams (`duplicate_datagrams` in `analyze`).
    pub duplicates: u64,
    /// Packets that arrived after a later one, in the interval (RTP; null for MPEG-TS over
    /// plain UDP, which has no sequence numbers to tell).
    pub reordered: Option<u64>,
    /// Largest running RFC 3550 jitter estimate within the interval, ms (RTP).
    pub jitter_ms: Option<f64>,
    /// Where the RTP clock rate the jitter is converted with came from (RTP; `analyze`'s
    /// `clock_rate_source`): `assumed` marks a jitter that may be off by the clock's ratio.
    pub clock_rate_source: Option<&'static str>,
    /// Frames in the interval / interval_s (RTP video).
    pub fps: Option<f64>,
    /// Largest MDI Delay Factor of the 1-s MDI intervals that ended in this interval, ms.
    pub df_ms: Option<f64>,
    /// Largest MDI Media Loss Rate of those intervals.
    pub mlr: Option<f64>,
    /// TR 101 290 indicator occurrences in the interval (TS flows).
    pub tr101290: Option<IndicatorCounts>,
    /// The group's SLA judged on this interval alone (the `sla` object of `analyze`), when
    /// the flow's group sets limits.
    pub sla: Option<SlaReport>,
}

/// Occurrences per TR 101 290 indicator, serialised as `{"sync_loss": n, ...}` with the
/// keys of `analyze`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndicatorCounts(pub [u64; Indicator::ALL.len()]);

impl Serialize for IndicatorCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (indicator, count) in Indicator::ALL.iter().zip(&self.0) {
            map.serialize_entry(indicator.as_str(), count)?;
        }
        map.end()
    }
}

/// An event of one flow.
#[derive(Clone, Debug, Serialize)]
pub struct EventRecord {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// `event`.
    #[serde(rename = "type")]
    pub kind_of_record: &'static str,
    /// The interval's end, ns since the Unix epoch (written as RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
    /// What happened.
    pub event: FlowEvent,
    /// The flow.
    #[serde(flatten)]
    pub name: FlowName,
    /// Seconds since the flow's last packet (`silent`, `resumed`).
    pub silent_s: Option<f64>,
    /// The SSRC that replaced the flow's (`ssrc_change`).
    pub new_ssrc: Option<u32>,
    /// The limits broken (`sla_broken`).
    pub violations: Option<Vec<SlaViolation>>,
}

/// A record of one interval.
#[derive(Clone, Debug)]
pub enum Record {
    /// A flow that sent packets in the interval.
    Flow(Box<FlowRecord>),
    /// Something that happened to a flow.
    Event(Box<EventRecord>),
}

/// How an interval is closed.
#[derive(Clone, Copy, Debug)]
pub struct Tick {
    /// The interval's end, ns since the epoch (packet time).
    pub end_ns: i64,
    /// Its length, ns.
    pub interval_ns: i64,
    /// A flow with no packet for this long is reported silent, ns.
    pub silent_after_ns: i64,
    /// A flow (any 4-tuple) with no packet for this long is forgotten, ns (`i64::MAX`:
    /// never).
    pub expire_after_ns: i64,
    /// The source has ended (a replay ran to its end): every flow ends with its last
    /// packet, and its last MDI interval is judged over the time it covered, as `analyze`
    /// judges a capture's last second.
    pub source_ended: bool,
}

/// The parts of a flow a record is made from.
pub(crate) struct FlowView<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    ssrc: Option<u32>,
    /// The SSRC that replaced this one on the 4-tuple, if any.
    new_ssrc: Option<u32>,
    kind: FlowKind,
    format: PayloadFormat,
    last_ns: i64,
    counters: Counters,
    jitter_ms: Option<f64>,
    clock_source: Option<ClockSource>,
    ts: Option<&'a TsAnalyzer>,
    delivery: &'a mut Delivery,
}

impl<'a> FlowView<'a> {
    /// An RTP stream, taking its jitter maximum for the interval.
    pub fn rtp(s: &'a mut RtpStream) -> Self {
        let format = s.payload_format();
        let jitter_ms = s.take_interval_jitter() * 1000.0 / f64::from(s.clock_rate());
        let (volume, sequence, frames) = (s.volume(), s.sequence(), s.record.frames.counts());
        s.mark_interval();
        let ts = s.ts.as_deref().map(|t| &t.analyzer);
        FlowView {
            src: s.record.src,
            dst: s.record.dst,
            ssrc: Some(s.ssrc),
            new_ssrc: s.record.new_ssrc,
            kind: FlowKind::of_rtp(format),
            format,
            last_ns: volume.last_ns,
            counters: Counters {
                packets: volume.packets,
                bytes: volume.bytes,
                lost: sequence.lost,
                recovered: sequence.recovered,
                expected: sequence.expected,
                duplicates: sequence.duplicates,
                reordered: sequence.reordered,
                frames,
                ssrc_changes: s.record.ssrc_changes,
                tr101290: tr101290_counts(ts),
            },
            jitter_ms: Some(jitter_ms),
            clock_source: Some(s.record.clock_source),
            ts,
            delivery: &mut s.delivery,
        }
    }

    /// A UDP flow; None for flows that carry no media.
    pub fn udp(f: &'a mut UdpFlow) -> Option<Self> {
        if f.kind == UdpKind::Other {
            return None;
        }
        let ts = f.ts.as_deref();
        Some(FlowView {
            src: f.src,
            dst: f.dst,
            ssrc: None,
            new_ssrc: None,
            kind: FlowKind::UdpTs,
            format: PayloadFormat::Mp2t,
            last_ns: f.volume.last_ns,
            counters: Counters {
                packets: f.volume.packets,
                bytes: f.volume.bytes,
                lost: ts.map_or(0, |t| t.missing_packets),
                expected: ts.map_or(0, |t| t.packets + t.missing_packets),
                duplicates: ts.map_or(0, |t| t.duplicate_datagrams),
                tr101290: tr101290_counts(ts),
                ..Counters::default()
            },
            jitter_ms: None,
            clock_source: None,
            ts,
            delivery: &mut f.delivery,
        })
    }
}

/// Rounded as `analyze` rounds its figures.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl FlowView<'_> {
    fn name(&self) -> FlowName {
        FlowName {
            src: self.src,
            dst: self.dst,
            ssrc: self.ssrc,
            kind: self.kind,
        }
    }
}

fn tr101290_counts(ts: Option<&TsAnalyzer>) -> [u64; Indicator::ALL.len()] {
    let mut counts = [0; Indicator::ALL.len()];
    if let Some(ts) = ts {
        for (count, &indicator) in counts.iter_mut().zip(Indicator::ALL.iter()) {
            *count = ts.indicators.get(indicator).count;
        }
    }
    counts
}

impl LiveState {
    /// The flow is being forgotten (`event`: expired or evicted): its event, when it was
    /// ever reported.
    pub(crate) fn farewell(
        self,
        view: FlowView<'_>,
        tick: &Tick,
        event: FlowEvent,
        out: &mut impl FnMut(Record),
    ) {
        if let Some(last) = self.last_active_ns {
            out(Record::Event(Box::new(EventRecord {
                schema: SCHEMA,
                kind_of_record: "event",
                time: tick.end_ns,
                event,
                name: view.name(),
                silent_s: Some((tick.end_ns - last).max(0) as f64 / 1e9),
                new_ssrc: None,
                violations: None,
            })));
        }
    }

    /// Closes one flow's interval: its record when it sent packets, and its events.
    pub(crate) fn close(
        &mut self,
        view: FlowView<'_>,
        tick: &Tick,
        groups: &MonitorGroups,
        out: &mut impl FnMut(Record),
    ) {
        if tick.source_ended {
            view.delivery.mdi.finish();
        } else {
            view.delivery.mdi.close_ended(tick.end_ns);
        }
        let (df_ms, mlr) = view.delivery.mdi.take_window();
        let now = view.counters;
        let before = self.at_last_end;
        let time = || tick.end_ns;
        let event = |event, silent_s| {
            Record::Event(Box::new(EventRecord {
                schema: SCHEMA,
                kind_of_record: "event",
                time: time(),
                event,
                name: view.name(),
                silent_s,
                new_ssrc: None,
                violations: None,
            }))
        };
        // A camera that reboots (a pause, then a new SSRC on its 4-tuple) changes SSRC
        // while its old stream sends nothing: the change is told whether or not the old
        // stream was active in the interval.
        let ssrc_change = || {
            let mut change = event(FlowEvent::SsrcChange, None);
            if let Record::Event(e) = &mut change {
                e.new_ssrc = view.new_ssrc;
            }
            change
        };
        let changed = now.ssrc_changes > before.ssrc_changes;
        let active = now.packets > before.packets;
        if active {
            // The flow's first interval holds only part of its traffic (it appeared within
            // it), and so may the last one of a source that ended: their bitrate and frame
            // rate are not judged against SLA limits.
            let partial = self.last_active_ns.is_none() || tick.source_ended;
            match self.last_active_ns {
                None => out(event(FlowEvent::Appeared, None)),
                Some(last) if self.silent => {
                    // Silent since `last`, back with this interval's first packet: the gap
                    // is known only to within the interval, so the time since `last` to the
                    // interval's start is given.
                    let gap = (tick.end_ns - tick.interval_ns - last).max(0);
                    out(event(FlowEvent::Resumed, Some(gap as f64 / 1e9)));
                }
                Some(_) => {}
            }
            if changed {
                out(ssrc_change());
            }
            self.silent = false;
            self.last_active_ns = Some(view.last_ns);
            let interval_s = tick.interval_ns as f64 / 1e9;
            let tr101290 = view.ts.map(|_| {
                let mut counts = IndicatorCounts::default();
                for (i, count) in counts.0.iter_mut().enumerate() {
                    *count = now.tr101290[i] - before.tr101290[i];
                }
                counts
            });
            let packets = now.packets - before.packets;
            let bytes = now.bytes - before.bytes;
            let bitrate_bps = round6(bytes as f64 * 8.0 / interval_s);
            // The change of lost + the change of recovered: the gaps of this interval
            // (seq.rs proves it is never negative).
            let lost = (now.lost + now.recovered).saturating_sub(before.lost + before.recovered);
            let jitter_ms = view.jitter_ms.map(round6);
            // Both counts of the format voted now: the vote may have changed since the
            // last interval, and each reading's count only grows.
            let frames = now.frames.of(view.format) - before.frames.of(view.format);
            let fps = (view.kind == FlowKind::Rtp).then(|| round6(frames as f64 / interval_s));
            let (df_ms, mlr) = (df_ms.map(round6), mlr.map(round6));
            let group = view.delivery.group.and_then(|g| groups.get(g));
            let sla = group.filter(|g| !g.sla.is_empty()).map(|g| {
                let expected = now.expected - before.expected;
                SlaReport::judge(
                    &g.sla,
                    &SlaFigures {
                        fps: fps.filter(|_| !partial && frames > 1),
                        bitrate_bps: (!partial && packets > 1).then_some(bitrate_bps),
                        loss_pct: (expected > 0)
                            .then(|| round6((lost as f64 * 100.0 / expected as f64).min(100.0))),
                        jitter_ms,
                        df_ms,
                        mlr,
                    },
                )
            });
            if let Some(verdict) = &sla {
                let broken = !verdict.violations.is_empty();
                if broken != self.sla_broken {
                    self.sla_broken = broken;
                    let mut change = event(
                        if broken {
                            FlowEvent::SlaBroken
                        } else {
                            FlowEvent::SlaOk
                        },
                        None,
                    );
                    if let Record::Event(e) = &mut change {
                        e.violations = broken.then(|| verdict.violations.clone());
                    }
                    out(change);
                }
            }
            out(Record::Flow(Box::new(FlowRecord {
                schema: SCHEMA,
                kind_of_record: "flow",
                time: time(),
                interval_s,
                name: view.name(),
                payload: view.format,
                group: group.map(|g| g.name.clone()),
                packets,
                bytes,
                bitrate_bps,
                lost,
                recovered: view.ssrc.map(|_| now.recovered - before.recovered),
                duplicates: now.duplicates - before.duplicates,
                reordered: view.ssrc.map(|_| now.reordered - before.reordered),
                jitter_ms,
                clock_rate_source: view.clock_source.map(ClockSource::as_str),
                fps,
                df_ms,
                mlr,
                tr101290,
                sla,
            })));
        } else if let Some(last) = self.last_active_ns {
            if changed {
                out(ssrc_change());
            }
            if !self.silent && tick.end_ns - last >= tick.silent_after_ns {
                self.silent = true;
                out(event(
                    FlowEvent::Silent,
                    Some((tick.end_ns - last) as f64 / 1e9),
                ));
            }
        }
        self.at_last_end = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzer::TickOutcome;
    use crate::{AnalysisConfig, Analyzer};
    use testbed::pcap_writer::{rtp_packet, udp_frame};
    use wire::LinkType;

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        let p = rtp_packet(96, false, seq, u32::from(seq) * 3600, ssrc, &[0x41; 1000]);
        udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, &p)
    }

    /// An event as (tick second, name, SSRC, new SSRC).
    type Seen = (i64, &'static str, Option<u32>, Option<u32>);

    /// The events and the packets of flow records, for RTP packets (time, sequence number,
    /// SSRC) ticked every second.
    fn camera_events(sends: &[(i64, u16, u32)], until: i64) -> (Vec<Seen>, u64) {
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        let base = 1_700_000_000 * S;
        let mut events = Vec::new();
        let mut flow_packets = 0;
        let mut next_tick = base + S;
        let mut tick_until = |analyzer: &mut Analyzer, until: i64, events: &mut Vec<_>| {
            while next_tick <= until {
                let tick = Tick {
                    end_ns: next_tick,
                    interval_ns: S,
                    silent_after_ns: 2 * S,
                    expire_after_ns: i64::MAX,
                    source_ended: false,
                };
                analyzer.tick(&tick, &mut |r| match r {
                    Record::Event(e) => events.push((
                        (next_tick - base) / S,
                        e.event.as_str(),
                        e.name.ssrc,
                        e.new_ssrc,
                    )),
                    Record::Flow(f) => flow_packets += f.packets,
                });
                next_tick += S;
            }
        };
        for &(at, seq, ssrc) in sends {
            tick_until(&mut analyzer, base + at, &mut events);
            let frame = rtp(seq, ssrc);
            analyzer.on_frame(base + at, LinkType::Ethernet, &frame, frame.len() as u32);
        }
        tick_until(&mut analyzer, base + until, &mut events);
        (events, flow_packets)
    }

    /// 25 packets/s of SSRC `ssrc` from `from`, `count` of them, numbered from `seq`.
    fn sends(from: i64, count: u16, seq: u16, ssrc: u32) -> Vec<(i64, u16, u32)> {
        (0..count)
            .map(|k| (from + i64::from(k) * 40 * MS, seq + k, ssrc))
            .collect()
    }

    /// A camera that sends 25 packets/s for 2 s, stops for 3 s, comes back for 2 s, then
    /// reboots with a new SSRC. Ticks every second.
    #[test]
    fn a_camera_appears_goes_silent_resumes_and_changes_ssrc() {
        let mut all = sends(100 * MS, 50, 0, 7);
        all.extend(sends(5_100 * MS, 50, 50, 7));
        all.extend(sends(7_100 * MS, 25, 1_000, 8));
        let (events, flow_packets) = camera_events(&all, 9 * S);
        assert_eq!(
            events,
            vec![
                // The first packets wait in probation: the stream is known from second 1.
                (1, "appeared", Some(7), None),
                // Last packet at 2.06 s: 2 s without one is first seen at the 5 s tick.
                (5, "silent", Some(7), None),
                (6, "resumed", Some(7), None),
                (8, "ssrc_change", Some(7), Some(8)),
                (8, "appeared", Some(8), None),
            ]
        );
        assert_eq!(flow_packets, 125);
    }

    /// A camera that reboots: silent for 3 s, then back with a new SSRC. The old stream
    /// sends nothing in the interval of the change, which is told all the same, with the new
    /// SSRC. Before: `silent`, then `appeared` of the new SSRC, no change.
    #[test]
    fn a_reboot_after_silence_is_an_ssrc_change() {
        let mut all = sends(100 * MS, 50, 0, 7);
        all.extend(sends(5_100 * MS, 25, 9_000, 8));
        let (events, flow_packets) = camera_events(&all, 7 * S);
        assert_eq!(
            events,
            vec![
                (1, "appeared", Some(7), None),
                (5, "silent", Some(7), None),
                (6, "ssrc_change", Some(7), Some(8)),
                (6, "appeared", Some(8), None),
            ]
        );
        assert_eq!(flow_packets, 75);
    }

    /// 0 1 2 3 5 in the first second, 4 (late) and 6 in the second: the first interval
    /// lost 1; the second lost nothing and recovered 1 (before: lost -1).
    #[test]
    fn a_late_packet_is_recovered_not_negative_loss() {
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        let base = 1_700_000_000 * S;
        let mut seen = Vec::new();
        let tick = |analyzer: &mut Analyzer, end: i64, seen: &mut Vec<(u64, u64)>| {
            analyzer.tick(&tick_at(end, i64::MAX), &mut |r| {
                if let Record::Flow(f) = r {
                    seen.push((f.lost, f.recovered.unwrap()));
                }
            });
        };
        for (k, seq) in [0u16, 1, 2, 3, 5].into_iter().enumerate() {
            let f = rtp(seq, 7);
            analyzer.on_frame(
                base + k as i64 * 40 * MS,
                LinkType::Ethernet,
                &f,
                f.len() as u32,
            );
        }
        tick(&mut analyzer, base + S, &mut seen);
        for (k, seq) in [4u16, 6].into_iter().enumerate() {
            let f = rtp(seq, 7);
            let at = base + S + k as i64 * 40 * MS;
            analyzer.on_frame(at, LinkType::Ethernet, &f, f.len() as u32);
        }
        tick(&mut analyzer, base + 2 * S, &mut seen);
        assert_eq!(seen, vec![(1, 0), (0, 1)]);
    }

    /// A group with `max_loss_pct = 5` judges every interval: a stream that loses half of
    /// its packets in its third second breaks it there and keeps it again in the fourth.
    #[test]
    fn live_records_carry_the_sla_verdict_with_broken_and_ok_events() {
        use crate::group::{MonitorGroup, MonitorGroups, SlaLimits};
        let group = MonitorGroup {
            name: "cameras".into(),
            prefixes: vec!["10.0.0.2".parse().unwrap()],
            media_rate_bps: 0,
            sla: SlaLimits {
                max_loss_pct: Some(5.0),
                ..SlaLimits::default()
            },
        };
        let config = AnalysisConfig {
            groups: MonitorGroups::new(vec![group]).unwrap(),
            ..AnalysisConfig::default()
        };
        let mut analyzer = Analyzer::new(config);
        let base = 1_700_000_000 * S;
        let mut seen = Vec::new();
        for second in 0..4i64 {
            for k in 0..25u16 {
                let seq = second as u16 * 25 + k;
                if second == 2 && k % 2 == 1 {
                    continue;
                }
                let f = rtp(seq, 7);
                let at = base + second * S + i64::from(k) * 40 * MS;
                analyzer.on_frame(at, LinkType::Ethernet, &f, f.len() as u32);
            }
            analyzer.tick(
                &tick_at(base + (second + 1) * S, i64::MAX),
                &mut |r| match r {
                    Record::Flow(f) => {
                        let sla = f.sla.unwrap();
                        seen.push(format!("{second} flow {} {}", f.lost, sla.violations.len()))
                    }
                    Record::Event(e) => {
                        let broken: Vec<_> = e
                            .violations
                            .iter()
                            .flatten()
                            .map(|v| (v.limit, v.value))
                            .collect();
                        seen.push(format!("{second} {} {broken:?}", e.event))
                    }
                },
            );
        }
        assert_eq!(
            seen,
            [
                "0 appeared []",
                "0 flow 0 0",
                "1 flow 0 0",
                // 12 of the 25 numbers 50..74 missing: 48 %.
                "2 sla_broken [(\"max_loss_pct\", 48.0)]",
                "2 flow 12 1",
                "3 sla_ok []",
                "3 flow 0 0",
            ]
        );
    }

    fn camera(host: u8, seq: u16) -> Vec<u8> {
        let p = rtp_packet(96, false, seq, u32::from(seq) * 3600, 256, &[0x41; 200]);
        udp_frame([10, 0, 1, host], 4000, [10, 0, 0, 2], 5004, &p)
    }

    fn tick_at(end: i64, expire_after_ns: i64) -> Tick {
        Tick {
            end_ns: end,
            interval_ns: S,
            silent_after_ns: 2 * S,
            expire_after_ns,
            source_ended: false,
        }
    }

    /// Names of the events a tick gives, with the flow's source host.
    fn tick_events(
        analyzer: &mut Analyzer,
        tick: &Tick,
    ) -> (Vec<(&'static str, String)>, TickOutcome) {
        let mut events = Vec::new();
        let outcome = analyzer.tick(tick, &mut |r| {
            if let Record::Event(e) = r {
                events.push((e.event.as_str(), e.name.src.to_string()));
            }
        });
        (events, outcome)
    }

    /// A flow idle past the expiry time is forgotten with an `expired` event, and found
    /// again as a new flow when it comes back; one still sending stays.
    #[test]
    fn idle_flows_expire_and_come_back_as_new() {
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        let base = 1_700_000_000 * S;
        for seq in 0..5u16 {
            for host in [1, 2] {
                let f = camera(host, seq);
                analyzer.on_frame(
                    base + i64::from(seq) * 40 * MS,
                    LinkType::Ethernet,
                    &f,
                    f.len() as u32,
                );
            }
        }
        let (events, _) = tick_events(&mut analyzer, &tick_at(base + S, 10 * S));
        assert_eq!(events.len(), 2);
        // Host 2 keeps sending, host 1 stops: 11 s later host 1 is over the 10 s expiry.
        for k in 0..10i64 {
            let f = camera(2, 5 + k as u16);
            analyzer.on_frame(base + (k + 2) * S, LinkType::Ethernet, &f, f.len() as u32);
        }
        let (events, outcome) = tick_events(&mut analyzer, &tick_at(base + 12 * S, 10 * S));
        assert_eq!(
            events,
            vec![
                ("silent", "10.0.1.1:4000".into()),
                ("expired", "10.0.1.1:4000".into())
            ]
        );
        assert_eq!((outcome.expired, outcome.evicted), (1, 0));
        assert_eq!(analyzer.totals().2, 1);
        // Host 2's figures are intact after the rebuild: its next packet is in sequence.
        let f = camera(2, 15);
        analyzer.on_frame(base + 12_500 * MS, LinkType::Ethernet, &f, f.len() as u32);
        for seq in 100..104u16 {
            let f = camera(1, seq);
            analyzer.on_frame(
                base + 12_600 * MS + i64::from(seq) * MS,
                LinkType::Ethernet,
                &f,
                f.len() as u32,
            );
        }
        let mut lost = Vec::new();
        let outcome = analyzer.tick(&tick_at(base + 13 * S, 10 * S), &mut |r| match r {
            Record::Flow(f) => lost.push((f.name.src.to_string(), f.packets, f.lost)),
            Record::Event(e) => assert_eq!(
                (e.event.as_str(), e.name.src.to_string().as_str()),
                ("appeared", "10.0.1.1:4000")
            ),
        });
        let flows = (
            outcome.expired,
            outcome.evicted,
            outcome.refused,
            outcome.refused_state,
        );
        assert_eq!(flows, (0, 0, 0, 0));
        lost.sort();
        assert_eq!(
            lost,
            vec![
                ("10.0.1.1:4000".into(), 4, 0),
                ("10.0.1.2:4000".into(), 1, 0)
            ]
        );
    }

    /// Past the flow cap new 4-tuples are refused (counted), and the tick evicts the
    /// longest-idle flows down to 90 % of the cap, so later newcomers find room.
    #[test]
    fn the_flow_cap_refuses_then_evicts_the_longest_idle() {
        let config = AnalysisConfig {
            max_flows: 20,
            ..AnalysisConfig::default()
        };
        let mut analyzer = Analyzer::new(config);
        let base = 1_700_000_000 * S;
        // 30 cameras, host h starting h ms in: 20 get in, 10 are refused (4 packets each).
        for seq in 0..4u16 {
            for host in 1..=30u8 {
                let f = camera(host, seq);
                let t = base + i64::from(host) * MS + i64::from(seq) * 40 * MS;
                analyzer.on_frame(t, LinkType::Ethernet, &f, f.len() as u32);
            }
        }
        let (events, outcome) = tick_events(&mut analyzer, &tick_at(base + S, 300 * S));
        assert_eq!(outcome.refused, 40);
        assert_eq!(outcome.evicted, 2);
        assert_eq!(analyzer.totals().2, 18);
        // The two evicted sent their last packet earliest: hosts 1 and 2.
        let evicted: Vec<&str> = events
            .iter()
            .filter(|e| e.0 == "evicted")
            .map(|e| e.1.as_str())
            .collect();
        assert_eq!(evicted, vec!["10.0.1.1:4000", "10.0.1.2:4000"]);
        assert_eq!(events.iter().filter(|e| e.0 == "appeared").count(), 20);
        // Host 30 now finds room.
        for seq in 10..14u16 {
            let f = camera(30, seq);
            analyzer.on_frame(
                base + 1_100 * MS + i64::from(seq) * MS,
                LinkType::Ethernet,
                &f,
                f.len() as u32,
            );
        }
        let (events, outcome) = tick_events(&mut analyzer, &tick_at(base + 2 * S, 300 * S));
        let flows = (
            outcome.expired,
            outcome.evicted,
            outcome.refused,
            outcome.refused_state,
        );
        assert_eq!(flows, (0, 0, 0, 0));
        assert!(events.contains(&("appeared", "10.0.1.30:4000".into())));
        assert_eq!(analyzer.totals().2, 19);
    }

    /// The payload vote may settle on a codec after an interval counted frames by the marker
    /// bit alone: the next interval's frames are the codec's count then and now, not one
    /// reading's count less another's (that underflowed: a panic in debug builds, 1.8e19 fps
    /// in release).
    #[test]
    fn fps_stays_right_when_the_payload_vote_changes_between_intervals() {
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        let base = 1_700_000_000 * S;
        let send = |analyzer: &mut Analyzer, seq: u16, marker: bool, payload: &[u8]| {
            let p = rtp_packet(96, marker, seq, u32::from(seq) * 3600, 9, payload);
            let f = udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, &p);
            let at = base + i64::from(seq) * 20 * MS;
            analyzer.on_frame(at, LinkType::Ethernet, &f, f.len() as u32);
        };
        // First 10 SPS-only access units (no frame as H.264) and 10 unreadable ones
        // (frames every way), each ended by the marker: half the packets read as H.264, so
        // the vote says unknown, and 20 frames count by the marker.
        for seq in 0..20u16 {
            let payload: &[u8] = if seq % 2 == 0 {
                &[0x67, 0x42, 0]
            } else {
                &[0xff; 3]
            };
            send(&mut analyzer, seq, true, payload);
        }
        let mut fps = Vec::new();
        let mut tick = |analyzer: &mut Analyzer, end: i64| {
            analyzer.tick(&tick_at(end, 300 * S), &mut |r| {
                if let Record::Flow(f) = r {
                    fps.push((f.payload, f.fps));
                }
            });
        };
        tick(&mut analyzer, base + 390 * MS);
        // Then 100 IDR slices, 5 ending an access unit: the vote turns to H.264
        // (110 of 120 packets), whose count is 10 + 5.
        for seq in 20..120u16 {
            send(&mut analyzer, seq, seq % 20 == 19, &[0x65, 0x88, 0]);
        }
        tick(&mut analyzer, base + 2_400 * MS);
        assert_eq!(
            fps,
            vec![
                (PayloadFormat::Unknown, Some(20.0)),
                (PayloadFormat::H264, Some(5.0))
            ]
        );
    }
}
