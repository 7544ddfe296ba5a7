//! A sink that keeps a queue of its own, of items smaller than an interval (an alarm
//! receiver holds alarms, not intervals): it takes each interval at once (so the bus's queue
//! in front of it never fills), and reports its own queue through these counters, which the
//! bus shows as the sink's `*_records` figures, its state and its errors.
//!
//! Invariant: `received == written + dropped + queued` in every snapshot. The four are
//! kept together under one lock ([`OwnQueue::update`] changes them at once, [`OwnQueue::counts`]
//! reads them at once), so no reader sees an item counted in two of them or in none.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// The four figures of a sink's own queue, read or changed together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnCounts {
    /// Items waiting (the one being sent or retried included).
    pub queued: u64,
    /// Items offered to the sink since the start.
    pub received: u64,
    /// Items it delivered.
    pub written: u64,
    /// Items lost: the queue was full, or the bus closed while the receiver was away.
    pub dropped: u64,
}

/// The counters of a sink's own queue, shared between the sink and the bus.
#[derive(Debug, Default)]
pub struct OwnQueue {
    counts: Mutex<OwnCounts>,
    /// Sends that failed (each retry counts).
    pub errors: AtomicU64,
    /// Its last send failed and it is waiting to retry.
    pub retrying: AtomicBool,
    /// The last failure's message.
    pub last_error: Mutex<Option<String>>,
}

impl OwnQueue {
    /// Changes the four figures at once; `change` must keep the invariant.
    pub fn update(&self, change: impl FnOnce(&mut OwnCounts)) {
        // A poisoned lock only means a panic elsewhere mid-update of plain numbers: go on.
        change(&mut self.counts.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The four figures, read at once.
    pub fn counts(&self) -> OwnCounts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

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
        let counts = self.counts();
        status.queued_records = counts.queued;
        status.received_records = counts.received;
        status.written_records = counts.written;
        status.dropped_records = counts.dropped;
        status.errors += self.errors.load(Ordering::Relaxed);
        if status.state == super::SinkState::Ok && self.retrying.load(Ordering::Relaxed) {
            status.state = super::SinkState::Retrying;
        }
        if let Some(e) = self.last_error.lock().ok().and_then(|l| l.clone()) {
            status.last_error = Some(e);
        }
    }
}
