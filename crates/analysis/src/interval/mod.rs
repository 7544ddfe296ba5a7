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
use crate::report::{ProgramReport, SlaFigures, SlaReport, SlaViolation};
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
    /// The TS analyzer's `psi_changes` when its programs were last put in a record.
    psi_reported: u32,
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
    /// The outer VLAN id (802.1Q / 802.1ad VID) of the frame that made the flow's 4-tuple
    /// known; None when it had no tag.
    pub vlan: Option<u16>,
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
    /// Priority 1 absences (PAT, PMT, referred PIDs) past their limit and still open at the
    /// interval's end (TS flows): counted once in `tr101290`, in the interval they passed
    /// the limit, they go on being missing in every interval of this count.
    pub tr101290_p1_open: Option<u64>,
    /// The group's SLA judged on this interval alone (the `sla` object of `analyze`), when
    /// the flow's group sets limits.
    pub sla: Option<SlaReport>,
    /// The TS flow's programs (PAT, PMT, SDT; `analyze`'s `programs`), only in the interval
    /// they changed: their first complete PAT + PMTs, then a new PAT version, PMT content
    /// or SDT service name. None in every other record, so tens of thousands of flows do
    /// not repeat them every second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programs: Option<Box<[ProgramReport]>>,
}

/// Occurrences per TR 101 290 indicator, serialised as `{"sync_loss": n, ...}` with the
/// keys of `analyze`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndicatorCounts(pub [u64; Indicator::ALL.len()]);

impl IndicatorCounts {
    /// The occurrences between two readings of a flow's counters.
    fn between(before: &Counters, now: &Counters) -> Self {
        let mut counts = IndicatorCounts::default();
        for (i, count) in counts.0.iter_mut().enumerate() {
            *count = now.tr101290[i] - before.tr101290[i];
        }
        counts
    }
}

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
            let tr101290 = view.ts.map(|_| IndicatorCounts::between(&before, &now));
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
            let programs = view
                .ts
                .filter(|ts| ts.psi_changes != self.psi_reported && ts.psi_complete());
            let programs = programs.map(|ts| {
                self.psi_reported = ts.psi_changes;
                ProgramReport::all(ts).into_boxed_slice()
            });
            out(Record::Flow(Box::new(FlowRecord {
                schema: SCHEMA,
                kind_of_record: "flow",
                time: time(),
                interval_s,
                name: view.name(),
                payload: view.format,
                group: group.map(|g| g.name.clone()),
                vlan: None,
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
                tr101290_p1_open: view.ts.map(TsAnalyzer::p1_gaps_open),
                sla,
                programs,
            })));
        } else if let Some(last) = self.last_active_ns {
            if changed {
                out(ssrc_change());
            }
            // No packet, but TS absences passed their limit in the interval (a full outage):
            // they are told in it, in a record of no packets (its SLA is not judged).
            if view.ts.is_some() && now.tr101290 != before.tr101290 {
                let counts = IndicatorCounts::between(&before, &now);
                out(Record::Flow(Box::new(FlowRecord {
                    schema: SCHEMA,
                    kind_of_record: "flow",
                    time: time(),
                    interval_s: tick.interval_ns as f64 / 1e9,
                    name: view.name(),
                    payload: view.format,
                    group: view
                        .delivery
                        .group
                        .and_then(|g| groups.get(g))
                        .map(|g| g.name.clone()),
                    vlan: None,
                    packets: 0,
                    bytes: 0,
                    bitrate_bps: 0.0,
                    lost: 0,
                    recovered: view.ssrc.map(|_| 0),
                    duplicates: 0,
                    reordered: view.ssrc.map(|_| 0),
                    jitter_ms: None,
                    clock_rate_source: view.clock_source.map(ClockSource::as_str),
                    fps: None,
                    df_ms: df_ms.map(round6),
                    mlr: mlr.map(round6),
                    tr101290: Some(counts),
                    tr101290_p1_open: view.ts.map(TsAnalyzer::p1_gaps_open),
                    sla: None,
                    programs: None,
                })));
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
mod tests;
