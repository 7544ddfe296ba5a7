//! The record bus: every closed interval (its flow and event records and the probe record)
//! reaches each sink through a bounded queue of its own, on a thread of its own.
//!
//! Invariants:
//! - Publishing never waits: a sink whose queue is full loses that interval, and the loss is
//!   counted in its `dropped_records` (and `dropped_intervals`). Capture and analysis never
//!   wait for a sink.
//! - A sink that fails with [`SinkError::Retry`] is given the same interval again after a
//!   back-off (1 s, doubling to 60 s); meanwhile its queue fills and then drops, counted. It
//!   never takes another sink's time.
//! - A sink that fails with [`SinkError::Fatal`] stops. When that sink is *essential*
//!   (standard output: nothing measured could be seen any more) the bus says so to its
//!   publisher, which ends the probe.
//! - An interval is shared by every sink (one `Arc`), so a queue's memory is the records'
//!   once, whatever the number of sinks.

use crate::probe::ProbeRecord;
use analysis::alarm::AlarmRecord;
use analysis::interval::{EventRecord, FlowRecord, Record};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

mod own_queue;
pub use own_queue::{OwnCounts, OwnQueue};

/// One closed interval, as every sink receives it.
#[derive(Debug)]
pub struct IntervalBatch {
    /// The interval's end, ns since the Unix epoch (the records' `time`).
    pub end_ns: i64,
    /// Its flow and event records, in the order the workers made them.
    pub records: Vec<Record>,
    /// Alarm transitions judged at this interval's end (raised, acknowledged, cleared, flood
    /// summaries), after its flow and event records.
    pub alarms: Vec<AlarmRecord>,
    /// The probe's own record of the interval, sinks' status included.
    pub probe: ProbeRecord,
    /// When it was published (set by [`Bus::publish`]): a sink's lag is measured from it.
    pub published: Option<std::time::Instant>,
}

impl IntervalBatch {
    /// The flow records.
    pub fn flows(&self) -> impl Iterator<Item = &FlowRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Flow(f) => Some(&**f),
            Record::Event(_) => None,
        })
    }

    /// The event records.
    pub fn events(&self) -> impl Iterator<Item = &EventRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Event(e) => Some(&**e),
            Record::Flow(_) => None,
        })
    }
}

/// Why a sink could not take an interval.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// It may work later (a full disk, a server away): the same interval is offered again
    /// after a back-off.
    #[error("{0}")]
    Retry(String),
    /// It never will (standard output closed): the sink stops.
    #[error("{0}")]
    Fatal(String),
}

/// A consumer of intervals. `write` runs on the sink's own thread.
pub trait Sink: Send + 'static {
    /// Takes one interval.
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError>;
    /// Called once when the bus closes, after the last interval.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// A sink with a queue of its own (an alarm receiver): its counters, which its status
    /// shows as its `*_records` figures (asked once, when it is attached).
    fn own_queue(&self) -> Option<Arc<OwnQueue>> {
        None
    }
}

/// How a sink is doing, as the probe record and the API show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Taking intervals.
    Ok,
    /// Its last write failed; retrying after a back-off.
    Retrying,
    /// Stopped for good.
    Failed,
}

/// The standard counters of a sink (vector's received / sent / dropped / errors), since the
/// probe started.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SinkStatus {
    /// `stdout`, `store`, `api`...
    pub name: &'static str,
    /// Its state now.
    pub state: SinkState,
    /// Intervals waiting in its queue.
    pub queued_intervals: u64,
    /// Records in those intervals.
    pub queued_records: u64,
    /// Its queue's bound, intervals.
    pub queue_intervals: u64,
    /// Intervals published to it.
    pub received_intervals: u64,
    /// Intervals it took.
    pub written_intervals: u64,
    /// Records (flow and event) published to it; for a sink with a queue of its own (an
    /// alarm receiver), the items (alarms) offered to it, and likewise below.
    pub received_records: u64,
    /// Records it took.
    pub written_records: u64,
    /// Records lost because its queue was full, or left when it stopped.
    pub dropped_records: u64,
    /// Intervals lost likewise.
    pub dropped_intervals: u64,
    /// Writes that failed (each retry counts).
    pub errors: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// The counters a sink's thread and the publisher share.
#[derive(Default)]
struct Counters {
    state: AtomicU8,
    queued: AtomicU64,
    queued_records: AtomicU64,
    received_intervals: AtomicU64,
    written_intervals: AtomicU64,
    received: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    dropped_intervals: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn set_state(&self, state: SinkState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    fn state(&self) -> SinkState {
        match self.state.load(Ordering::Relaxed) {
            0 => SinkState::Ok,
            1 => SinkState::Retrying,
            _ => SinkState::Failed,
        }
    }

    fn failed(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }
}

/// One sink as the bus holds it.
struct Attached {
    name: &'static str,
    queue: u64,
    essential: bool,
    tx: Option<SyncSender<Arc<IntervalBatch>>>,
    counters: Arc<Counters>,
    own: Option<Arc<OwnQueue>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// Records a sink's queue holds at most, whatever its bound in intervals: at 55,000 flows
/// an interval is 55,000 records, so a bound in intervals alone would
/// let a stalled sink hold gigabytes. An interval is held once however many queues hold it:
/// the queues together hold at most this times the number of sinks.
pub const MAX_QUEUED_RECORDS: u64 = 600_000;

/// The first back-off after a failed write, and the longest.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The bus: a set of sinks, each behind its queue.
pub struct Bus {
    sinks: Vec<Attached>,
    /// Set when the bus closes: a sink waiting to retry gives up its interval.
    closing: Arc<AtomicBool>,
    /// The first back-off and the longest.
    backoff: (Duration, Duration),
    /// Records each queue holds at most.
    max_queued_records: u64,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            sinks: Vec::new(),
            closing: Arc::default(),
            backoff: (FIRST_BACKOFF, MAX_BACKOFF),
            max_queued_records: MAX_QUEUED_RECORDS,
        }
    }
}

/// An essential sink stopped: the probe cannot go on.
#[derive(Debug, thiserror::Error)]
#[error("{sink}: {message}")]
pub struct EssentialSinkFailed {
    /// Its name.
    pub sink: &'static str,
    /// Why.
    pub message: String,
}

impl Bus {
    /// A bus with no sink.
    pub fn new() -> Self {
        Bus::default()
    }

    /// A bus whose sinks back off from `first` to `max` (tests shorten them).
    pub fn with_backoff(first: Duration, max: Duration) -> Self {
        Bus {
            backoff: (first, max),
            ..Bus::default()
        }
    }

    /// Each queue holds at most `records` records (default [`MAX_QUEUED_RECORDS`]); an
    /// interval larger than that alone is still queued when the queue is empty.
    pub fn with_max_queued_records(mut self, records: u64) -> Self {
        self.max_queued_records = records;
        self
    }

    /// Adds a sink with a queue of `queue` intervals (at least 1), on a thread named after
    /// it. `essential`: its fatal failure ends the probe.
    pub fn attach(
        &mut self,
        name: &'static str,
        queue: usize,
        essential: bool,
        sink: impl Sink,
    ) -> std::io::Result<()> {
        let (tx, rx) = sync_channel(queue.max(1));
        let counters = Arc::new(Counters::default());
        let own = sink.own_queue();
        let thread = std::thread::Builder::new()
            .name(format!("sink-{name}"))
            .spawn({
                let counters = Arc::clone(&counters);
                let closing = Arc::clone(&self.closing);
                let backoff = self.backoff;
                move || run_sink(sink, rx, &counters, &closing, backoff)
            })?;
        self.sinks.push(Attached {
            name,
            queue: queue.max(1) as u64,
            essential,
            tx: Some(tx),
            counters,
            own,
            thread: Some(thread),
        });
        Ok(())
    }

    /// Every sink's counters now.
    pub fn statuses(&self) -> Vec<SinkStatus> {
        self.sinks
            .iter()
            .map(|s| {
                let c = &s.counters;
                let mut status = SinkStatus {
                    name: s.name,
                    state: c.state(),
                    queued_intervals: c.queued.load(Ordering::Relaxed),
                    queued_records: c.queued_records.load(Ordering::Relaxed),
                    queue_intervals: s.queue,
                    received_intervals: c.received_intervals.load(Ordering::Relaxed),
                    written_intervals: c.written_intervals.load(Ordering::Relaxed),
                    received_records: c.received.load(Ordering::Relaxed),
                    written_records: c.written.load(Ordering::Relaxed),
                    dropped_records: c.dropped.load(Ordering::Relaxed),
                    dropped_intervals: c.dropped_intervals.load(Ordering::Relaxed),
                    errors: c.errors.load(Ordering::Relaxed),
                    last_error: c.last_error.lock().ok().and_then(|l| l.clone()),
                };
                if let Some(own) = &s.own {
                    own.apply(&mut status);
                }
                status
            })
            .collect()
    }

    /// Offers `batch` to every sink, never waiting; its probe record gets the sinks' status
    /// first. An error when an essential sink has stopped.
    pub fn publish(&self, mut batch: IntervalBatch) -> Result<(), EssentialSinkFailed> {
        batch.probe.sinks = self.statuses();
        batch.published = Some(std::time::Instant::now());
        let records = batch.records.len() as u64;
        let batch = Arc::new(batch);
        for s in &self.sinks {
            let c = &s.counters;
            c.received.fetch_add(records, Ordering::Relaxed);
            c.received_intervals.fetch_add(1, Ordering::Relaxed);
            let Some(tx) = &s.tx else { continue };
            let drop_it = || {
                c.dropped.fetch_add(records, Ordering::Relaxed);
                c.dropped_intervals.fetch_add(1, Ordering::Relaxed);
            };
            // Counted before the send: the sink's thread may take it at once.
            let held = c.queued_records.fetch_add(records, Ordering::Relaxed);
            if held > 0 && held + records > self.max_queued_records {
                c.queued_records.fetch_sub(records, Ordering::Relaxed);
                drop_it();
                continue;
            }
            c.queued.fetch_add(1, Ordering::Relaxed);
            match tx.try_send(Arc::clone(&batch)) {
                Ok(()) => {}
                Err(e) => {
                    c.queued.fetch_sub(1, Ordering::Relaxed);
                    c.queued_records.fetch_sub(records, Ordering::Relaxed);
                    drop_it();
                    if let TrySendError::Disconnected(_) = e {
                        // Its thread is gone without saying why (it panicked): it failed.
                        if c.state() != SinkState::Failed {
                            c.failed("the sink's thread ended (it panicked)".into());
                            c.set_state(SinkState::Failed);
                        }
                    }
                }
            }
        }
        self.essential_failure().map_or(Ok(()), Err)
    }

    fn essential_failure(&self) -> Option<EssentialSinkFailed> {
        self.sinks
            .iter()
            .find(|s| s.essential && s.counters.state() == SinkState::Failed)
            .map(|s| EssentialSinkFailed {
                sink: s.name,
                message: s
                    .counters
                    .last_error
                    .lock()
                    .ok()
                    .and_then(|l| l.clone())
                    .unwrap_or_default(),
            })
    }

    /// Closes every queue and waits for the sinks to write what they hold (a sink waiting
    /// to retry gives up: what it holds is counted dropped). The first essential sink's
    /// failure, if any.
    pub fn close(mut self) -> Result<Vec<SinkStatus>, EssentialSinkFailed> {
        self.closing.store(true, Ordering::SeqCst);
        for s in &mut self.sinks {
            s.tx = None;
        }
        for s in &mut self.sinks {
            if let Some(t) = s.thread.take() {
                // A sink that failed counted its failure when it did.
                if let Ok(Err(message)) | Err(message) = t.join().map_err(|_| "panicked".into()) {
                    if s.counters.state() != SinkState::Failed {
                        s.counters.set_state(SinkState::Failed);
                        s.counters.failed(message);
                    }
                }
            }
        }
        let statuses = self.statuses();
        self.essential_failure().map_or(Ok(statuses), Err)
    }
}

/// A sink's thread: takes intervals until the bus closes; retries a failed one with
/// back-off; stops at a fatal failure.
fn run_sink(
    mut sink: impl Sink,
    rx: Receiver<Arc<IntervalBatch>>,
    counters: &Counters,
    closing: &AtomicBool,
    (first, max): (Duration, Duration),
) -> Result<(), String> {
    let mut backoff = first;
    for batch in rx.iter() {
        let records = batch.records.len() as u64;
        counters.queued.fetch_sub(1, Ordering::Relaxed);
        counters
            .queued_records
            .fetch_sub(records, Ordering::Relaxed);
        loop {
            // A sink that panics fails like one that returns Fatal: its interval and its queue
            // are counted dropped, and an essential one ends the probe.
            let written =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.write(&batch)))
                    .unwrap_or_else(|panic| {
                        let why = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "no message".into());
                        Err(SinkError::Fatal(format!("the sink panicked: {why}")))
                    });
            match written {
                Ok(()) => {
                    counters.written.fetch_add(records, Ordering::Relaxed);
                    counters.written_intervals.fetch_add(1, Ordering::Relaxed);
                    counters.set_state(SinkState::Ok);
                    backoff = first;
                    break;
                }
                Err(SinkError::Retry(message)) => {
                    counters.failed(message);
                    counters.set_state(SinkState::Retrying);
                    if !nap(backoff, closing) {
                        counters.dropped.fetch_add(records, Ordering::Relaxed);
                        counters.dropped_intervals.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    backoff = (backoff * 2).min(max);
                }
                Err(SinkError::Fatal(message)) => {
                    counters.failed(message.clone());
                    counters.set_state(SinkState::Failed);
                    counters.dropped.fetch_add(records, Ordering::Relaxed);
                    counters.dropped_intervals.fetch_add(1, Ordering::Relaxed);
                    // What is queued, and what comes until the bus closes, is lost with
                    // the sink: counted here, so no interval goes uncounted.
                    for left in rx.iter() {
                        counters.queued.fetch_sub(1, Ordering::Relaxed);
                        counters
                            .queued_records
                            .fetch_sub(left.records.len() as u64, Ordering::Relaxed);
                        counters
                            .dropped
                            .fetch_add(left.records.len() as u64, Ordering::Relaxed);
                        counters.dropped_intervals.fetch_add(1, Ordering::Relaxed);
                    }
                    return Err(message);
                }
            }
        }
    }
    sink.finish().map_err(|e| e.to_string())
}

/// Sleeps `length` in short naps; false when the bus closes meanwhile.
fn nap(length: Duration, closing: &AtomicBool) -> bool {
    let step = Duration::from_millis(50);
    let mut left = length;
    while !left.is_zero() {
        if closing.load(Ordering::Relaxed) {
            return false;
        }
        let now = left.min(step);
        std::thread::sleep(now);
        left -= now;
    }
    !closing.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests;
