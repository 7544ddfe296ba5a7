//! A sink that keeps a queue of its own, of items smaller than an interval (an alarm
//! receiver holds alarms, not intervals): it takes each interval at once (so the bus's queue
//! in front of it never fills), and reports its own queue through these counters, which the
//! bus shows as the sink's `*_records` figures, its state and its errors.
//!
//! Invariant the owner keeps: `received == written + dropped + queued` whenever it holds
//! its lock (an item is counted in exactly one of the three at any time).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// The counters of a sink's own queue, shared between the sink and the bus.
#[derive(Debug, Default)]
pub struct OwnQueue {
    /// Items waiting (the one being sent or retried included).
    pub queued: AtomicU64,
    /// Items offered to the sink since the start.
    pub received: AtomicU64,
    /// Items it delivered.
    pub written: AtomicU64,
    /// Items lost: the queue was full, or the bus closed while the receiver was away.
    pub dropped: AtomicU64,
    /// Sends that failed (each retry counts).
    pub errors: AtomicU64,
    /// Its last send failed and it is waiting to retry.
    pub retrying: AtomicBool,
    /// The last failure's message.
    pub last_error: Mutex<Option<String>>,
}

impl OwnQueue {
    /// A send failed: counted, and the message kept.
    pub fn failed(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.retrying.store(true, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    /// What it shows in place of the bus's record figures.
    pub(crate) fn apply(&self, status: &mut super::SinkStatus) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        status.queued_records = get(&self.queued);
        status.received_records = get(&self.received);
        status.written_records = get(&self.written);
        status.dropped_records = get(&self.dropped);
        status.errors += get(&self.errors);
        if status.state == super::SinkState::Ok && self.retrying.load(Ordering::Relaxed) {
            status.state = super::SinkState::Retrying;
        }
        if let Some(e) = self.last_error.lock().ok().and_then(|l| l.clone()) {
            status.last_error = Some(e);
        }
    }
}
