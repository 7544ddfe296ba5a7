//! The offline report: plain data, serialised by the binary as `streamprobe.analyze/1`.

use crate::format::{endpoint, joined_id, rfc3339_ns};
use crate::frames::PayloadFormat;
use crate::group::{MonitorGroups, SlaLimits};
use crate::kind::FlowKind;
use crate::mdi::MdiSummary;
use crate::stream::{Delivery, RtpStream, UdpFlow, UdpKind, Volume};
use crate::ts::{Indicator, PidFigures, TsAnalyzer};
use serde::Serialize;
use std::collections::BTreeMap;
use wire::SkipReason;

/// Discovery counters (`capture.discovery`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Discovery {
    /// 4-tuples whose first packet looked like RTP or TS.
    pub candidates: u64,
    /// Streams confirmed (including new SSRCs on confirmed 4-tuples).
    pub confirmed: u64,
    /// Candidates that broke the pattern or never confirmed.
    pub rejected: u64,
    /// Probes of 4-tuples judged other UDP, looked at again for media (after 64 of their
    /// datagrams or 10 s, at most 8 times each).
    pub reprobed: u64,
}

/// UDP that is not media, summed (`capture.other_udp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OtherUdp {
    /// Distinct 4-tuples.
    pub flows: u64,
    /// Datagrams.
    pub packets: u64,
    /// UDP payload bytes.
    pub bytes: u64,
}

/// The capture as a whole.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureReport {
    /// The file analysed (set by the caller).
    pub file: String,
    /// The first packet's time, RFC 3339 in UTC with nanoseconds; null for an empty capture.
    pub start: Option<String>,
    /// Records read.
    pub packets: u64,
    /// Their bytes on the wire (original length).
    pub bytes: u64,
    /// Last packet time - first packet time, in seconds.
    pub duration_s: f64,
    /// Records and packets not analysed, by reason (every reason listed).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Discovery counters.
    pub discovery: Discovery,
    /// Non-media UDP.
    pub other_udp: OtherUdp,
    /// RTCP datagrams (RFC 5761 section 4 packet types), on RTCP ports or multiplexed.
    pub rtcp_packets: u64,
    /// RTCP packets that matched no RTP stream.
    pub rtcp_unmatched: u64,
    /// IP fragments put back together: the frames, and the datagrams they made (each then
    /// counted where it went, like any datagram).
    pub fragments: Fragments,
    /// Datagrams of new 4-tuples not tracked because the flow cap was reached.
    pub refused: u64,
    /// Of `other_udp`: datagrams of SSRCs seen once on a candidate another SSRC confirmed.
    #[serde(skip)]
    pub stray: OtherUdp,
    /// Datagrams of new flows (4-tuples, SSRCs) not tracked because the state budget was
    /// reached.
    pub refused_state: u64,
    /// The most state the analysis held, bytes.
    pub state_bytes_peak: u64,
    /// The state budget, bytes (null: none).
    pub state_budget_bytes: Option<u64>,
}

/// IP fragments reassembled (`capture.fragments`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Fragments {
    /// Captured frames that were fragments of a datagram that completed.
    pub frames: u64,
    /// The datagrams they made.
    pub datagrams: u64,
}

/// What the analyzer counted beside flows, for the capture report.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    pub strays: OtherUdp,
    pub rtcp_packets: u64,
    pub rtcp_unmatched: u64,
    pub fragments: Fragments,
    pub refused: u64,
    pub refused_state: u64,
    pub state_bytes_peak: u64,
    pub state_budget_bytes: Option<u64>,
}

/// RTP figures of a flow (RFC 3550; definitions in `docs/figures.md`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RtpReport {
    /// Payload type of the first packet.
    pub payload_type: u8,
    /// Clock rate used for jitter, Hz.
    pub clock_rate: u32,
    /// Where it came from: `config`, `rfc3551`, `sdp`, `estimated` or `assumed`
    /// (definitions.md); jitter with an `assumed` clock may be off by the clock's ratio.
    pub clock_rate_source: &'static str,
    /// Highest - lowest sequence number + 1, summed over sequence spaces.
    pub expected: u64,
    /// Numbers in range never received.
    pub lost: u64,
    /// Second and later copies.
    pub duplicates: u64,
    /// New numbers that arrived after a higher one.
    pub reordered: u64,
    /// Confirmed sequence restarts plus SSRC changes.
    pub seq_jumps: u64,
    /// Times a new SSRC replaced this one on the 4-tuple.
    pub ssrc_changes: u64,
    /// The last SSRC that replaced this one.
    pub new_ssrc: Option<u32>,
    /// Largest running A.8 jitter estimate, ms.
    pub jitter_ms_max: f64,
    /// Mean of the running estimate over every packet after the first, ms.
    pub jitter_ms_mean: f64,
    /// Largest gap between consecutive arrivals, ms.
    pub max_delta_ms: f64,
    /// Access units (marker bit), parameter-set-only ones excluded.
    pub frames: u64,
    /// (frames - 1) / time between the first and last frame's marker packet; null for TS in
    /// RTP, whose marker bits are no frames.
    pub fps: Option<f64>,
    /// RTCP packets attributed to the stream.
    pub rtcp_packets: u64,
}

/// One flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowReport {
    /// Stable identifier: `src>dst/0xSSRC` (RTP) or `src>dst`.
    pub id: String,
    /// Source `ip:port` (`[ip]:port` for IPv6); null for a recording (`file-ts`).
    pub src: Option<String>,
    /// Destination; null for a recording.
    pub dst: Option<String>,
    /// SSRC for RTP flows.
    pub ssrc: Option<u32>,
    /// `rtp`, `rtp-ts`, `udp-ts`, `udp`, or `file-ts` for a raw TS recording.
    pub kind: FlowKind,
    /// `h264`, `h265`, `mp2t`, `jpeg` or `unknown`.
    pub payload: PayloadFormat,
    /// Packets.
    pub packets: u64,
    /// UDP payload bytes as sent.
    pub bytes: u64,
    /// First packet, seconds since the capture's first packet.
    pub first_s: f64,
    /// Last packet, seconds since the capture's first packet.
    pub last_s: f64,
    /// bytes x 8 / (last - first).
    pub bitrate_bps: u64,
    /// (packets - 1) / (last - first).
    pub packet_rate_pps: f64,
    /// RTP figures (null for flows that are not RTP).
    pub rtp: Option<RtpReport>,
    /// MPEG-TS figures (only on TS flows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<TsReport>,
    /// The monitor group (longest prefix match on the destination), null when none.
    pub group: Option<String>,
    /// Media Delivery Index (RFC 4445), null for flows that are not media.
    pub mdi: Option<MdiReport>,
    /// SLA verdict, when the flow's group sets limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaReport>,
}

/// MDI figures of a flow over its one-second intervals (definitions in `docs/figures.md`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MdiReport {
    /// The media rate: the group's, else the mean of the intervals' measured rates, bit/s.
    pub rate_bps: u64,
    /// `group`, `pcr` (TS: derived from PCRs) or `measured` (the intervals' mean rate).
    pub rate_source: &'static str,
    /// Intervals (whole seconds of packet time the flow had packets in).
    pub intervals: u64,
    /// Delay Factor of the last interval, ms.
    pub df_ms_last: Option<f64>,
    /// Smallest DF, ms.
    pub df_ms_min: Option<f64>,
    /// Largest DF, ms.
    pub df_ms_max: Option<f64>,
    /// Mean DF over intervals, ms.
    pub df_ms_avg: Option<f64>,
    /// Media Loss Rate of the last interval, packets/s.
    pub mlr_last: f64,
    /// Smallest MLR.
    pub mlr_min: f64,
    /// Largest MLR.
    pub mlr_max: f64,
    /// Mean MLR over intervals.
    pub mlr_avg: f64,
    /// Media packets lost or out of order over the flow (TS packets for TS flows).
    pub lost_total: u64,
}

impl MdiReport {
    fn new(m: &MdiSummary) -> Option<Self> {
        if m.mlr.count == 0 {
            return None;
        }
        let df = |x: f64| (m.df_ms.count > 0).then(|| round(x, 6));
        Some(MdiReport {
            rate_bps: m.rate_bps.mean().round() as u64,
            rate_source: m.rate_source.as_str(),
            intervals: m.mlr.count,
            df_ms_last: df(m.df_ms.last),
            df_ms_min: df(m.df_ms.min),
            df_ms_max: df(m.df_ms.max),
            df_ms_avg: df(m.df_ms.mean()),
            mlr_last: round(m.mlr.last, 6),
            mlr_min: round(m.mlr.min, 6),
            mlr_max: round(m.mlr.max, 6),
            mlr_avg: round(m.mlr.mean(), 6),
            lost_total: m.lost_total,
        })
    }
}

/// One broken SLA limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlaViolation {
    /// The limit's config key (`max_loss_pct`, `min_fps`, ...).
    pub limit: &'static str,
    /// Its configured value.
    pub threshold: f64,
    /// The flow's figure that broke it (the worst interval for `max_df_ms` and `max_mlr`).
    pub value: f64,
}

/// A flow judged against its group's SLA limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlaReport {
    /// Limits broken; empty when the flow kept its SLA.
    pub violations: Vec<SlaViolation>,
    /// Limits that could not be judged on this flow (e.g. `min_fps` on TS, `max_jitter_ms`
    /// without RTP).
    pub not_judged: Vec<&'static str>,
}

/// The figures an SLA judges, over a flow (`analyze`) or one interval (live records); None
/// where the figure does not apply or is not known (the limit is then `not_judged`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlaFigures {
    /// Frame rate, frames/s (RTP video).
    pub fps: Option<f64>,
    /// Bitrate, bit/s.
    pub bitrate_bps: Option<f64>,
    /// Loss, % of expected packets (RTP) or of TS packets sent (TS).
    pub loss_pct: Option<f64>,
    /// Largest running RFC 3550 jitter estimate, ms (RTP).
    pub jitter_ms: Option<f64>,
    /// Largest MDI Delay Factor of the intervals, ms.
    pub df_ms: Option<f64>,
    /// Largest MDI Media Loss Rate of the intervals.
    pub mlr: Option<f64>,
}

impl SlaReport {
    /// Judges a flow's report against `limits`.
    fn judge_flow(limits: &SlaLimits, flow: &FlowReport, loss_pct: Option<f64>) -> Self {
        let rtp = flow.rtp.as_ref();
        let mdi = flow.mdi.as_ref();
        SlaReport::judge(
            limits,
            &SlaFigures {
                fps: rtp.filter(|r| r.frames > 1).and_then(|r| r.fps),
                bitrate_bps: (flow.packets > 1).then_some(flow.bitrate_bps as f64),
                loss_pct,
                jitter_ms: rtp.map(|r| r.jitter_ms_max),
                df_ms: mdi.and_then(|m| m.df_ms_max),
                mlr: mdi.map(|m| m.mlr_max),
            },
        )
    }

    /// Judges figures against `limits`.
    pub fn judge(limits: &SlaLimits, figures: &SlaFigures) -> Self {
        let f = figures;
        // (key, threshold, the flow's value, true when the value must stay at or below it)
        let checks = [
            ("min_fps", limits.min_fps, f.fps, false),
            (
                "min_bitrate_bps",
                limits.min_bitrate_bps.map(|b| b as f64),
                f.bitrate_bps,
                false,
            ),
            (
                "max_bitrate_bps",
                limits.max_bitrate_bps.map(|b| b as f64),
                f.bitrate_bps,
                true,
            ),
            ("max_loss_pct", limits.max_loss_pct, f.loss_pct, true),
            ("max_jitter_ms", limits.max_jitter_ms, f.jitter_ms, true),
            ("max_df_ms", limits.max_df_ms, f.df_ms, true),
            ("max_mlr", limits.max_mlr, f.mlr, true),
        ];
        let mut report = SlaReport {
            violations: Vec::new(),
            not_judged: Vec::new(),
        };
        for (limit, threshold, value, at_most) in checks {
            let Some(threshold) = threshold else { continue };
            match value {
                None => report.not_judged.push(limit),
                Some(value)
                    if (at_most && value > threshold) || (!at_most && value < threshold) =>
                {
                    report.violations.push(SlaViolation {
                        limit,
                        threshold,
                        value,
                    })
                }
                Some(_) => {}
            }
        }
        report
    }
}

/// One TR 101 290 indicator's events.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndicatorReport {
    /// TR 101 290 priority (1, 2 or 3).
    pub priority: u8,
    /// Occurrences.
    pub count: u64,
    /// First occurrence, seconds since the capture's first packet (null when none).
    pub first_s: Option<f64>,
    /// Last occurrence.
    pub last_s: Option<f64>,
    /// Absence indicators (PAT, PMT, PID, PCR repetition, PTS, NIT, SDT, EIT, TDT): the
    /// longest gap counted, s, as long as it was when it closed or the flow ended; null
    /// when none was counted, and for the other indicators.
    pub longest_gap_s: Option<f64>,
}

/// The indicators in TR 101 290 order, as a JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct Tr101290Report(pub Vec<(&'static str, IndicatorReport)>);

impl Serialize for Tr101290Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, events) in &self.0 {
            map.serialize_entry(name, events)?;
        }
        map.end()
    }
}

/// One elementary stream of a program.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EsReport {
    /// elementary_PID.
    pub pid: u16,
    /// stream_type.
    pub stream_type: u8,
    /// Codec name from the stream_type (and descriptors).
    pub codec: &'static str,
}

/// One program of the PAT, with what its PMT and the SDT say.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgramReport {
    /// program_number (the SDT's service_id).
    pub number: u16,
    /// PID of the PMT.
    pub pmt_pid: u16,
    /// PCR_PID (null when the PMT says none, or no PMT was seen).
    pub pcr_pid: Option<u16>,
    /// Service name from the SDT.
    pub service_name: Option<String>,
    /// Provider name from the SDT.
    pub provider: Option<String>,
    /// Elementary streams.
    pub streams: Vec<EsReport>,
}

impl ProgramReport {
    /// The programs of a TS flow's PAT, as far as its PMTs and SDT tell.
    pub fn all(ts: &TsAnalyzer) -> Vec<ProgramReport> {
        ts.programs
            .iter()
            .map(|p| ProgramReport {
                number: p.number,
                pmt_pid: p.pmt_pid,
                pcr_pid: p.pcr_pid,
                service_name: p.service_name.clone(),
                provider: p.provider.clone(),
                streams: p
                    .streams
                    .iter()
                    .map(|&(pid, stream_type, codec)| EsReport {
                        pid,
                        stream_type,
                        codec,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Figures of one PID.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PidReport {
    /// The PID.
    pub pid: u16,
    /// What it carries: a table (`pat`, `pmt`, ...), a codec, `pcr`, `ca`, `null` or
    /// `unreferenced`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Packets, continuity, PCR, PTS, CRC and PID_error figures.
    #[serde(flatten)]
    pub figures: PidFigures,
}

/// Which PSI/SI tables were seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TablesReport {
    /// PAT.
    pub pat: bool,
    /// CAT.
    pub cat: bool,
    /// NIT actual.
    pub nit: bool,
    /// SDT actual.
    pub sdt: bool,
    /// EIT present/following actual.
    pub eit: bool,
    /// TDT.
    pub tdt: bool,
}

/// MPEG-TS figures of a flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TsReport {
    /// TS packets.
    pub packets: u64,
    /// Packets with a reserved adaptation_field_control or an overlong adaptation field.
    pub invalid_packets: u64,
    /// MPEG-TS over plain UDP: datagrams byte-identical to one of the flow's last 8 (and
    /// holding a non-null packet); their packets are in `packets`, never in missing packets
    /// or MLR. Always 0 for RTP-carried TS, whose repeats are RTP `duplicates`.
    pub duplicate_datagrams: u64,
    /// TS packets estimated missing by continuity, over every PID (the `missing_packets`
    /// of `pids`, summed): the loss of MPEG-TS over plain UDP.
    pub missing_packets: u64,
    /// PSI/SI sections whose length fields or PMT body make no sense (left unread).
    pub invalid_sections: u64,
    /// Packets of PIDs left unanalysed because the state budget was full when they
    /// appeared (counted in `packets`, in no PID).
    pub refused_pid_packets: u64,
    /// RTP-carried TS: datagrams that are not TS-framed (RTP packets, not TS-analysed).
    pub unframed_datagrams: u64,
    /// RTP-carried TS: datagrams that came after the reorder window had given up on them
    /// (RTP packets, left out of the TS analysis: continuity shows their packets missing).
    pub late_datagrams: u64,
    /// transport_stream_id from the PAT.
    pub transport_stream_id: Option<u16>,
    /// Tables seen.
    pub tables: TablesReport,
    /// Programs of the PAT.
    pub programs: Vec<ProgramReport>,
    /// PIDs, by number.
    pub pids: Vec<PidReport>,
    /// TR 101 290 indicators.
    pub tr101290: Tr101290Report,
    /// Bytes skipped to regain framing (recordings only; datagrams are framed by the
    /// network).
    pub skipped_bytes: u64,
}

impl TsReport {
    pub(crate) fn new(ts: &TsAnalyzer, origin_ns: i64) -> Self {
        let since = |ns: i64| round((ns - origin_ns) as f64 / 1e9, 9);
        let mut pids: Vec<PidReport> = ts
            .pids()
            .iter()
            .filter(|p| p.figures.packets > 0 || p.figures.pid_errors > 0)
            .map(|p| PidReport {
                pid: p.pid,
                kind: p.role.as_str(),
                figures: PidFigures {
                    pcr_jitter_ns_max: round(p.figures.pcr_jitter_ns_max, 1),
                    ..p.figures
                },
            })
            .collect();
        pids.sort_by_key(|p| p.pid);
        TsReport {
            packets: ts.packets,
            invalid_packets: ts.invalid_packets,
            duplicate_datagrams: ts.duplicate_datagrams,
            missing_packets: ts.missing_packets,
            invalid_sections: ts.invalid_sections,
            refused_pid_packets: ts.refused_pid_packets,
            unframed_datagrams: ts.unframed_datagrams,
            late_datagrams: 0,
            transport_stream_id: ts.transport_stream_id,
            tables: TablesReport {
                pat: ts.transport_stream_id.is_some(),
                cat: ts.si_present.cat,
                nit: ts.si_present.nit,
                sdt: ts.si_present.sdt,
                eit: ts.si_present.eit,
                tdt: ts.si_present.tdt,
            },
            programs: ProgramReport::all(ts),
            pids,
            tr101290: Tr101290Report(
                Indicator::ALL
                    .iter()
                    .map(|&i| {
                        let e = ts.indicators.get(i);
                        (
                            i.as_str(),
                            IndicatorReport {
                                priority: i.priority(),
                                count: e.count,
                                first_s: (e.count > 0).then(|| since(e.first_ns)),
                                last_s: (e.count > 0).then(|| since(e.last_ns)),
                                longest_gap_s: (e.longest_gap_ns > 0)
                                    .then(|| round(e.longest_gap_ns as f64 / 1e9, 9)),
                            },
                        )
                    })
                    .collect(),
            ),
            skipped_bytes: 0,
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisReport {
    /// The capture.
    pub capture: CaptureReport,
    /// Media flows (and other UDP flows, kind `udp`), by destination, source, SSRC.
    pub flows: Vec<FlowReport>,
}

impl FlowReport {
    /// The figures every flow has; `ssrc` and `rtp` are filled in by RTP flows. A recording
    /// (`file-ts`) has no (src, dst).
    pub(crate) fn new(
        id: String,
        endpoints: Option<(String, String)>,
        kind: FlowKind,
        payload: PayloadFormat,
        v: &Volume,
        origin: i64,
    ) -> Self {
        let (bitrate_bps, packet_rate_pps) = rates(v);
        let (src, dst) = endpoints.unzip();
        FlowReport {
            id,
            src,
            dst,
            ssrc: None,
            kind,
            payload,
            packets: v.packets,
            bytes: v.bytes,
            first_s: seconds(v.first_ns.saturating_sub(origin)),
            last_s: seconds(v.last_ns.saturating_sub(origin)),
            bitrate_bps,
            packet_rate_pps,
            rtp: None,
            ts: None,
            group: None,
            mdi: None,
            sla: None,
        }
    }

    /// Fills in the group, MDI and SLA verdict; `loss_pct` is the flow's loss for the SLA.
    fn deliver(&mut self, delivery: &Delivery, groups: &MonitorGroups, loss_pct: Option<f64>) {
        let group = delivery.group.and_then(|g| groups.get(g));
        self.group = group.map(|g| g.name.clone());
        self.mdi = MdiReport::new(delivery.mdi.summary());
        self.sla = group
            .filter(|g| !g.sla.is_empty())
            .map(|g| SlaReport::judge_flow(&g.sla, self, loss_pct));
    }
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn seconds(ns: i64) -> f64 {
    round(ns as f64 / 1e9, 9)
}

fn rates(v: &Volume) -> (u64, f64) {
    let duration = v.last_ns.saturating_sub(v.first_ns) as f64 / 1e9;
    if duration <= 0.0 {
        return (0, 0.0);
    }
    (
        (v.bytes as f64 * 8.0 / duration).round() as u64,
        round((v.packets - 1) as f64 / duration, 3),
    )
}

impl CaptureReport {
    /// The capture's totals; `other_udp` is filled in by [`AnalysisReport::build`].
    pub(crate) fn new(
        capture: &Volume,
        capture_bytes: u64,
        skipped: &[u64; SkipReason::ALL.len()],
        discovery: Discovery,
        tally: Tally,
    ) -> Self {
        CaptureReport {
            file: String::new(),
            start: (capture.packets > 0).then(|| rfc3339_ns(capture.first_ns)),
            packets: capture.packets,
            bytes: capture_bytes,
            duration_s: seconds(capture.last_ns.saturating_sub(capture.first_ns)),
            skipped: SkipReason::ALL
                .iter()
                .map(|r| (r.as_str(), skipped[r.index()]))
                .collect(),
            discovery,
            other_udp: OtherUdp::default(),
            rtcp_packets: tally.rtcp_packets,
            rtcp_unmatched: tally.rtcp_unmatched,
            fragments: tally.fragments,
            refused: tally.refused,
            stray: tally.strays,
            refused_state: tally.refused_state,
            state_bytes_peak: tally.state_bytes_peak,
            state_budget_bytes: tally.state_budget_bytes,
        }
    }
}

impl AnalysisReport {
    /// The report on flows seen from `origin` (the capture's first packet, ns).
    pub(crate) fn build(
        mut capture: CaptureReport,
        origin: i64,
        streams: Vec<RtpStream>,
        udp_flows: Vec<UdpFlow>,
        groups: &MonitorGroups,
    ) -> AnalysisReport {
        let mut keyed = Vec::with_capacity(streams.len() + udp_flows.len());
        let mut other = OtherUdp::default();
        // Each stream's state is dropped once its report is made: the report and the state
        // of the whole capture are never both held (memory stays within the state budget
        // plus the reports, not twice the flows' bytes).
        for s in streams {
            let format = s.payload_format();
            let (frames, fps) = s.frames();
            let sequence = s.sequence();
            let (jitter_max, jitter_mean) = s.jitter();
            let ms = |units: f64| round(units / f64::from(s.clock_rate()) * 1000.0, 6);
            let (src, dst) = (endpoint(s.record.src), endpoint(s.record.dst));
            let id = joined_id(&src, &dst, Some(s.ssrc));
            let mut report = FlowReport::new(
                id,
                Some((src, dst)),
                FlowKind::of_rtp(format),
                format,
                &s.volume(),
                origin,
            );
            report.ssrc = Some(s.ssrc);
            report.rtp = Some(RtpReport {
                payload_type: s.payload_type,
                clock_rate: s.clock_rate(),
                clock_rate_source: s.record.clock_source.as_str(),
                expected: sequence.expected,
                lost: sequence.lost,
                duplicates: sequence.duplicates,
                reordered: sequence.reordered,
                seq_jumps: sequence.restarts + s.record.ssrc_changes,
                ssrc_changes: s.record.ssrc_changes,
                new_ssrc: s.record.new_ssrc,
                jitter_ms_max: ms(jitter_max),
                jitter_ms_mean: ms(jitter_mean),
                max_delta_ms: round(s.max_delta_ns as f64 / 1e6, 6),
                frames,
                fps: (format != PayloadFormat::Mp2t).then(|| round(fps, 3)),
                rtcp_packets: s.record.rtcp_packets,
            });
            report.ts = s.ts.as_ref().map(|ts| TsReport {
                late_datagrams: ts.late_datagrams(),
                ..TsReport::new(&ts.analyzer, origin)
            });
            let expected = sequence.expected;
            let loss_pct =
                (expected > 0).then(|| round(sequence.lost as f64 * 100.0 / expected as f64, 6));
            report.deliver(&s.delivery, groups, loss_pct);
            keyed.push(((s.record.dst, s.record.src, Some(s.ssrc)), report));
        }
        for f in udp_flows {
            if f.kind == UdpKind::Other {
                other.flows += 1;
                other.packets += f.volume.packets;
                other.bytes += f.volume.bytes;
            }
            let (kind, payload) = match f.kind {
                UdpKind::Ts => (FlowKind::UdpTs, PayloadFormat::Mp2t),
                UdpKind::Other => (FlowKind::Udp, PayloadFormat::Unknown),
            };
            let (src, dst) = (endpoint(f.src), endpoint(f.dst));
            let mut report = FlowReport::new(
                joined_id(&src, &dst, None),
                Some((src, dst)),
                kind,
                payload,
                &f.volume,
                origin,
            );
            report.ts = f.ts.as_ref().map(|ts| TsReport::new(ts, origin));
            // TS over UDP: TS packets estimated missing by continuity, of those sent.
            let loss_pct = f.ts.as_ref().map(|ts| {
                let sent = ts.packets + ts.missing_packets;
                round(ts.missing_packets as f64 * 100.0 / sent.max(1) as f64, 6)
            });
            report.deliver(&f.delivery, groups, loss_pct);
            keyed.push(((f.dst, f.src, None), report));
        }
        keyed.sort_by_key(|k| k.0);
        other.packets += capture.stray.packets;
        other.bytes += capture.stray.bytes;
        capture.other_udp = other;
        AnalysisReport {
            capture,
            flows: keyed.into_iter().map(|(_, f)| f).collect(),
        }
    }
}
