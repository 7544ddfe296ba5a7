//! The probe's own figures: each worker's report of an interval, and the probe record that
//! sums them (`"type": "probe"` in `streamprobe.interval/1`).

use crate::bus::SinkStatus;
use analysis::format::rfc3339_ns;
use analysis::interval::SCHEMA;
use serde::Serialize;
use std::collections::BTreeMap;
use wire::SkipReason;

/// One worker's figures for one interval.
#[derive(Clone, Debug, Default)]
pub struct WorkerReport {
    /// Worker number, from 0.
    pub worker: usize,
    /// The interval's end, ns since the epoch.
    pub end_ns: i64,
    /// Its length, ns.
    pub length_ns: i64,
    /// Packets and bytes the worker analysed in the interval.
    pub packets: u64,
    /// Bytes (on the wire).
    pub bytes: u64,
    /// Media flows the worker holds.
    pub flows: usize,
    /// Flows that sent packets in the interval.
    pub active_flows: u64,
    /// 4-tuples on probation.
    pub probation: usize,
    /// Packets the kernel dropped before the worker could read them (ring or socket buffer
    /// full), in the interval.
    pub kernel_drops: u64,
    /// CPU time the worker used in the interval, ns (its thread's, so neither waits nor steal).
    pub busy_ns: i64,
    /// Packets stamped before the interval but read in it, after their own interval had
    /// closed (a stalled worker or kernel): counted in this one, at its start.
    pub late: u64,
    /// Records dropped because the output was full, since the start.
    pub output_dropped: u64,
    /// Flows forgotten after their idle time, in the interval.
    pub expired: u64,
    /// Flows forgotten to make room under the flow cap, in the interval.
    pub evicted: u64,
    /// New 4-tuples not tracked because the flow cap was reached, in the interval.
    pub refused: u64,
    /// Replay pass (replay only).
    pub pass: Option<u64>,
    /// Datagrams of new flows refused by the state budget, in the interval.
    pub refused_state: u64,
    /// The analysis state the worker holds, bytes, and its budget.
    pub state_bytes: u64,
    pub state_budget_bytes: Option<u64>,
    /// Records left out in the interval, per reason (`SkipReason::ALL` order).
    pub skipped: [u64; SkipReason::ALL.len()],
    /// Where the other packets read went: RTCP, other UDP and IP fragments in the interval;
    /// fragments and datagrams on probation held at its end (analysis::TickOutcome).
    pub rtcp_packets: u64,
    pub other_udp_packets: u64,
    pub fragments: u64,
    pub fragments_held: u64,
    pub probation_packets: u64,
}

/// One worker's share of a probe record.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerFigures {
    pub worker: usize,
    pub packets: u64,
    pub flows: usize,
    /// Busy time over the interval's length, 0 to 1.
    pub load: f64,
    pub kernel_drops: u64,
}

/// The probe's own figures for one interval.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeRecord {
    pub schema: &'static str,
    #[serde(rename = "type")]
    pub kind_of_record: &'static str,
    pub time: String,
    pub interval_s: f64,
    pub packets: u64,
    pub bytes: u64,
    pub flows: usize,
    pub active_flows: u64,
    pub probation: usize,
    pub kernel_drops: u64,
    pub late: u64,
    pub output_dropped: u64,
    pub expired: u64,
    pub evicted: u64,
    pub refused: u64,
    /// Datagrams of new flows refused by the state budget, in the interval.
    pub refused_state: u64,
    /// The analysis state held, bytes, and its budget (all workers).
    pub state_bytes: u64,
    pub state_budget_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<u64>,
    /// Records left out in the interval, by reason (the vocabulary of `analyze`'s
    /// `capture.skipped`, every key present).
    pub skipped: BTreeMap<&'static str, u64>,
    /// RTCP datagrams, datagrams of UDP without media, and IP fragments that made datagrams
    /// (less those datagrams), in the interval.
    pub rtcp_packets: u64,
    pub other_udp_packets: u64,
    pub fragments: u64,
    /// Fragments and datagrams on probation held at the interval's end.
    pub fragments_held: u64,
    pub probation_packets: u64,
    pub workers: Vec<WorkerFigures>,
    /// Every sink of the record bus: its queue, what it wrote and dropped, its state
    /// (filled in by the bus as the record is published).
    pub sinks: Vec<SinkStatus>,
}

impl ProbeRecord {
    /// The probe record of one interval: its workers' reports summed, in worker order.
    pub fn from_reports(reports: &[WorkerReport]) -> Self {
        let first = &reports[0];
        let sum = |f: fn(&WorkerReport) -> u64| reports.iter().map(f).sum::<u64>();
        ProbeRecord {
            schema: SCHEMA,
            kind_of_record: "probe",
            time: rfc3339_ns(first.end_ns),
            interval_s: first.length_ns as f64 / 1e9,
            packets: sum(|r| r.packets),
            bytes: sum(|r| r.bytes),
            flows: reports.iter().map(|r| r.flows).sum(),
            active_flows: sum(|r| r.active_flows),
            probation: reports.iter().map(|r| r.probation).sum(),
            kernel_drops: sum(|r| r.kernel_drops),
            late: sum(|r| r.late),
            output_dropped: sum(|r| r.output_dropped),
            expired: sum(|r| r.expired),
            evicted: sum(|r| r.evicted),
            refused: sum(|r| r.refused),
            refused_state: sum(|r| r.refused_state),
            state_bytes: sum(|r| r.state_bytes),
            state_budget_bytes: reports
                .iter()
                .map(|r| r.state_budget_bytes)
                .sum::<Option<u64>>(),
            pass: first.pass,
            rtcp_packets: sum(|r| r.rtcp_packets),
            other_udp_packets: sum(|r| r.other_udp_packets),
            fragments: sum(|r| r.fragments),
            fragments_held: sum(|r| r.fragments_held),
            probation_packets: sum(|r| r.probation_packets),
            skipped: SkipReason::ALL
                .iter()
                .map(|r| {
                    (
                        r.as_str(),
                        reports.iter().map(|w| w.skipped[r.index()]).sum(),
                    )
                })
                .collect(),
            workers: reports
                .iter()
                .map(|r| WorkerFigures {
                    worker: r.worker,
                    packets: r.packets,
                    flows: r.flows,
                    load: ((r.busy_ns as f64 / r.length_ns.max(1) as f64).min(1.0) * 1e3).round()
                        / 1e3,
                    kernel_drops: r.kernel_drops,
                })
                .collect(),
            sinks: Vec::new(),
        }
    }
}
