//! The outputs stage of `streamprobe run`: one thread receives the workers' records and
//! interval reports over a bounded channel and writes newline-delimited JSON or the table.
//! Workers never wait for it: a record that does not fit in the channel is dropped and
//! counted, an interval report waits in its worker until there is room.

use analysis::format::rfc3339_ns;
use analysis::interval::{EventRecord, FlowRecord, Record, Tick, SCHEMA};
use analysis::Analyzer;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use wire::SkipReason;

/// Records waiting for the output before new ones are dropped.
pub const OUTPUT_QUEUE: usize = 65_536;

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

/// Closes intervals for one worker, whatever its source: the analyzer's records go to the
/// output (dropped, and counted, when it is full) and the interval's figures into a report.
pub struct IntervalCloser {
    /// Worker number.
    pub worker: usize,
    /// The channel to the output thread.
    pub out: SyncSender<Line>,
    /// Silence threshold, ns.
    pub silent_after_ns: i64,
    /// Idle time after which a flow is forgotten, ns.
    pub expire_after_ns: i64,
    /// Records dropped because the output was full, since the start.
    pub dropped: u64,
    /// Packets and bytes analysed by the end of the last interval.
    before: (u64, u64),
    /// Records left out by the end of the last interval, per reason.
    skipped_before: [u64; SkipReason::ALL.len()],
    /// The output thread has gone (standard output failed): nothing more can be shown.
    pub output_closed: bool,
}

impl IntervalCloser {
    /// A closer for worker `worker`.
    pub fn new(
        worker: usize,
        out: SyncSender<Line>,
        silent_after_ns: i64,
        expire_after_ns: i64,
    ) -> Self {
        IntervalCloser {
            worker,
            out,
            silent_after_ns,
            expire_after_ns,
            dropped: 0,
            before: (0, 0),
            skipped_before: [0; SkipReason::ALL.len()],
            output_closed: false,
        }
    }

    /// Closes `analyzer`'s interval ending at `end`, `length` ns long (`source_ended` when
    /// the source ran to its end), and returns its report; the caller adds what depends on
    /// the source (kernel drops, load, replay pass).
    pub fn close(
        &mut self,
        analyzer: &mut Analyzer,
        end: i64,
        length: i64,
        source_ended: bool,
    ) -> WorkerReport {
        let length = length.max(1);
        let tick = Tick {
            end_ns: end,
            interval_ns: length,
            silent_after_ns: self.silent_after_ns,
            expire_after_ns: self.expire_after_ns,
            source_ended,
        };
        let mut active = 0;
        let (out, dropped, closed) = (&self.out, &mut self.dropped, &mut self.output_closed);
        let outcome = analyzer.tick(&tick, &mut |r| {
            active += u64::from(matches!(&r, Record::Flow(f) if f.packets > 0));
            match out.try_send(Line::Record(end, r)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => *dropped += 1,
                Err(TrySendError::Disconnected(_)) => *closed = true,
            }
        });
        let now_skipped = *analyzer.skipped();
        let mut skipped = now_skipped;
        for (s, before) in skipped.iter_mut().zip(self.skipped_before) {
            *s -= before;
        }
        self.skipped_before = now_skipped;
        let (packets, bytes, flows) = analyzer.totals();
        let (packets_before, bytes_before) = std::mem::replace(&mut self.before, (packets, bytes));
        WorkerReport {
            worker: self.worker,
            end_ns: end,
            length_ns: length,
            packets: packets - packets_before,
            bytes: bytes - bytes_before,
            flows,
            active_flows: active,
            probation: analyzer.probation_size(),
            output_dropped: self.dropped,
            expired: outcome.expired,
            evicted: outcome.evicted,
            refused: outcome.refused,
            refused_state: outcome.refused_state,
            state_bytes: outcome.state_bytes,
            state_budget_bytes: outcome.state_budget_bytes,
            skipped,
            rtcp_packets: outcome.rtcp_packets,
            other_udp_packets: outcome.other_udp_packets,
            fragments: outcome.fragments,
            fragments_held: outcome.fragments_held,
            probation_packets: outcome.probation_packets,
            ..WorkerReport::default()
        }
    }
}

/// What the output thread receives.
pub enum Line {
    /// A flow or event record of the interval ending at the given time.
    Record(i64, Record),
    /// A worker closed an interval: every record it made for that interval came before.
    Report(Box<WorkerReport>),
}

/// One worker's share of a probe record.
#[derive(Debug, Serialize)]
struct WorkerFigures {
    worker: usize,
    packets: u64,
    flows: usize,
    /// Busy time over the interval's length, 0 to 1.
    load: f64,
    kernel_drops: u64,
}

/// The probe's own figures for one interval.
#[derive(Debug, Serialize)]
struct ProbeRecord {
    schema: &'static str,
    #[serde(rename = "type")]
    kind_of_record: &'static str,
    time: String,
    interval_s: f64,
    packets: u64,
    bytes: u64,
    flows: usize,
    active_flows: u64,
    probation: usize,
    kernel_drops: u64,
    late: u64,
    output_dropped: u64,
    expired: u64,
    evicted: u64,
    refused: u64,
    /// Datagrams of new flows refused by the state budget, in the interval.
    refused_state: u64,
    /// The analysis state held, bytes, and its budget (all workers).
    state_bytes: u64,
    state_budget_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<u64>,
    /// Records left out in the interval, by reason (the vocabulary of `analyze`'s
    /// `capture.skipped`, every key present).
    skipped: BTreeMap<&'static str, u64>,
    /// RTCP datagrams, datagrams of UDP without media, and IP fragments that made datagrams
    /// (less those datagrams), in the interval.
    rtcp_packets: u64,
    other_udp_packets: u64,
    fragments: u64,
    /// Fragments and datagrams on probation held at the interval's end.
    fragments_held: u64,
    probation_packets: u64,
    workers: Vec<WorkerFigures>,
}

impl ProbeRecord {
    fn from_reports(reports: &[WorkerReport]) -> Self {
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
        }
    }
}

/// Flow and event records of one interval, for the table. They stay in the boxes they
/// crossed the channel in: unboxing would copy every record.
#[derive(Default)]
#[allow(clippy::vec_box)]
struct Pending {
    flows: Vec<Box<FlowRecord>>,
    events: Vec<Box<EventRecord>>,
    reports: Vec<WorkerReport>,
}

/// Rows of the live view when the terminal's height is unknown.
const DEFAULT_ROWS: usize = 40;

fn terminal_rows() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize; zeroed is a valid one to start from.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl on stdout with a pointer to a live winsize.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_row > 0 {
        usize::from(size.ws_row)
    } else {
        DEFAULT_ROWS
    }
}

/// The output thread: newline-delimited JSON, or a table per interval (redrawn in place,
/// worst flows first, on a terminal). `workers` reports close an interval.
pub fn write_output(rx: Receiver<Line>, json: bool, workers: usize) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let live_view = !json && stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut pending: BTreeMap<i64, Pending> = BTreeMap::new();
    // Totals since the start, for the summary on exit: (packets, kernel drops, expired,
    // evicted, refused).
    let started = std::time::Instant::now();
    let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut emit = |out: &mut std::io::BufWriter<std::io::StdoutLock<'_>>,
                    p: Pending|
     -> std::io::Result<()> {
        let probe = ProbeRecord::from_reports(&p.reports);
        totals.0 += probe.packets;
        totals.1 += probe.kernel_drops;
        totals.2 += probe.expired;
        totals.3 += probe.evicted;
        totals.4 += probe.refused;
        if json {
            serde_json::to_writer(&mut *out, &probe)?;
            out.write_all(b"\n")?;
        } else {
            let mut flows = p.flows;
            let mut rows = usize::MAX;
            if live_view {
                // Home and clear: the view is redrawn each interval, like top, with as many
                // flows as the terminal shows below the events and the probe's lines.
                out.write_all(b"\x1b[H\x1b[2J")?;
                rows = terminal_rows().saturating_sub(6 + p.events.len()).max(5);
            }
            crate::table::write_interval(
                out,
                &probe.time,
                probe.interval_s,
                &mut flows,
                &p.events,
                rows,
            )?;
            writeln!(
                out,
                "probe: {} packets, {} of {} flows active, {} on probation, {} kernel drops, {} late, {} records dropped by the output{}",
                probe.packets,
                probe.active_flows,
                probe.flows,
                probe.probation,
                probe.kernel_drops,
                probe.late,
                probe.output_dropped,
                probe.pass.map(|p| format!(", pass {p}")).unwrap_or_default()
            )?;
            writeln!(
                out,
                "state: {:.1} of {} MiB, {} packets of new flows refused by it, {} by the flow cap",
                probe.state_bytes as f64 / 1048576.0,
                probe
                    .state_budget_bytes
                    .map_or("unlimited".to_string(), |b| format!(
                        "{:.0}",
                        b as f64 / 1048576.0
                    )),
                probe.refused_state,
                probe.refused
            )?;
            let loads: Vec<String> = probe
                .workers
                .iter()
                .map(|w| format!("{}: {:.0} %", w.worker, w.load * 100.0))
                .collect();
            writeln!(out, "worker load: {}\n", loads.join(", "))?;
        }
        out.flush()
    };
    for line in rx {
        match line {
            Line::Record(end, r) => {
                if json {
                    match r {
                        Record::Flow(f) => serde_json::to_writer(&mut out, &f)?,
                        Record::Event(e) => serde_json::to_writer(&mut out, &e)?,
                    }
                    out.write_all(b"\n")?;
                } else {
                    let p = pending.entry(end).or_default();
                    match r {
                        Record::Flow(f) => p.flows.push(f),
                        Record::Event(e) => p.events.push(e),
                    }
                }
            }
            Line::Report(report) => {
                let end = report.end_ns;
                let p = pending.entry(end).or_default();
                p.reports.push(*report);
                p.reports.sort_by_key(|r| r.worker);
                if p.reports.len() >= workers {
                    // Intervals close in order: an earlier one still waiting lost a worker's
                    // report for good (the worker ended); write it as it is.
                    let ready: Vec<i64> = pending.range(..=end).map(|(k, _)| *k).collect();
                    for k in ready {
                        let p = pending.remove(&k).unwrap_or_default();
                        if !p.reports.is_empty() {
                            emit(&mut out, p)?;
                        }
                    }
                }
            }
        }
    }
    for (_, p) in std::mem::take(&mut pending) {
        if !p.reports.is_empty() {
            emit(&mut out, p)?;
        }
    }
    out.flush()?;
    let (packets, drops, expired, evicted, refused) = totals;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "streamprobe: {packets} packets in {seconds:.1} s, {drops} dropped by the kernel, {expired} flows expired, {evicted} evicted, {refused} packets of flows over the cap"
    );
    Ok(())
}
