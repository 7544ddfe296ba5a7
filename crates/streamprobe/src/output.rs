//! From the workers to the record bus: each worker closes its intervals with an
//! [`IntervalCloser`] and sends the records and its report over one bounded channel to the
//! records thread ([`assemble`]), which puts each interval together once every worker has
//! reported it and publishes it on the bus (crates/outputs), whose sinks write standard
//! output, the store and the live view. Workers never wait for it: a record that does not
//! fit in the channel is dropped and counted (`output_dropped`), an interval report waits in
//! its worker until there is room.

use crate::reload::LiveConfig;
use analysis::interval::{Record, Tick};
use analysis::Analyzer;
use outputs::{Bus, EssentialSinkFailed, IntervalBatch, ProbeRecord, WorkerReport};
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use wire::SkipReason;

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
    /// The config in force, reloadable, and the generation this worker runs with.
    config: Option<Arc<LiveConfig>>,
    generation: u64,
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
            config: None,
            generation: 0,
        }
    }

    /// Takes config reloads from `config` at each interval's close.
    pub fn follow(mut self, config: Arc<LiveConfig>) -> Self {
        self.config = Some(config);
        self
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
        // A reload takes effect between intervals: the interval closing now is judged with
        // the new groups and limits, its packets were measured with the old ones.
        if let Some(new) = self
            .config
            .as_ref()
            .and_then(|c| c.changed_since(&mut self.generation))
        {
            analyzer.reconfigure(&new);
        }
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

/// One interval's records and reports as they arrive from the workers.
#[derive(Default)]
struct Pending {
    records: Vec<Record>,
    reports: Vec<WorkerReport>,
}

/// What the records thread counted over the probe's life, for the summary on exit.
#[derive(Debug, Default)]
pub struct Totals {
    pub packets: u64,
    pub kernel_drops: u64,
    pub expired: u64,
    pub evicted: u64,
    pub refused: u64,
    /// Records of intervals no worker reported (a worker that ended inside one): not
    /// published, counted here.
    pub unpublished: u64,
    /// Every sink's counters once it wrote what it held.
    pub sinks: Vec<outputs::SinkStatus>,
}

/// The records thread: puts each interval together from the workers' records and reports
/// (`workers` reports close one), judges its alarms (`alarms`) and publishes it on `bus`. Ends when every worker has gone,
/// or at once when an essential sink (standard output) failed: the workers see the channel
/// close and stop.
pub fn assemble(
    rx: Receiver<Line>,
    workers: usize,
    bus: Bus,
    mut alarms: crate::alarm_stage::AlarmStage,
) -> Result<Totals, EssentialSinkFailed> {
    let mut pending: BTreeMap<i64, Pending> = BTreeMap::new();
    let mut totals = Totals::default();
    let mut publish = |end: i64, p: Pending, totals: &mut Totals| {
        let probe = ProbeRecord::from_reports(&p.reports);
        // Judged before it is published: its alarms travel with it.
        let alarms = alarms.judge(end, &p.records, probe.kernel_drops);
        totals.packets += probe.packets;
        totals.kernel_drops += probe.kernel_drops;
        totals.expired += probe.expired;
        totals.evicted += probe.evicted;
        totals.refused += probe.refused;
        bus.publish(IntervalBatch {
            alarms,
            end_ns: end,
            records: p.records,
            probe,
            published: None,
        })
    };
    let mut outcome = Ok(());
    'lines: for line in rx {
        match line {
            Line::Record(end, r) => pending.entry(end).or_default().records.push(r),
            Line::Report(report) => {
                let end = report.end_ns;
                let p = pending.entry(end).or_default();
                p.reports.push(*report);
                p.reports.sort_by_key(|r| r.worker);
                if p.reports.len() >= workers {
                    // Intervals close in order: an earlier one still waiting lost a worker's
                    // report for good (the worker ended); publish it as it is.
                    let ready: Vec<i64> = pending.range(..=end).map(|(k, _)| *k).collect();
                    for k in ready {
                        let p = pending.remove(&k).unwrap_or_default();
                        totals.unpublished +=
                            p.records.len() as u64 * u64::from(p.reports.is_empty());
                        if !p.reports.is_empty() {
                            if let Err(e) = publish(k, p, &mut totals) {
                                outcome = Err(e);
                                break 'lines;
                            }
                        }
                    }
                }
            }
        }
    }
    if outcome.is_ok() {
        for (end, p) in std::mem::take(&mut pending) {
            totals.unpublished += p.records.len() as u64 * u64::from(p.reports.is_empty());
            if !p.reports.is_empty() {
                if let Err(e) = publish(end, p, &mut totals) {
                    outcome = Err(e);
                    break;
                }
            }
        }
    }
    let closed = bus.close();
    outcome?;
    totals.sinks = closed?;
    Ok(totals)
}
