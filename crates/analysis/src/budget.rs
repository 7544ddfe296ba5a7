//! The state budget's ledger: the bytes the analysis holds, shared between an analyzer and
//! the TS analyses of its flows, so that a flow that already exists cannot grow past the
//! budget either (a new PID costs a `PidState`: 300 flows of 2,100 PIDs each would otherwise
//! hold 300 MB under a 16 MB budget). Atomics only so the analyzer stays `Send` (a live
//! worker's analyzer is made on the main thread): one thread uses a ledger at a time, and
//! only on rare events (a new flow, a new PID).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes held and the budget.
#[derive(Debug)]
pub struct Ledger {
    bytes: AtomicUsize,
    budget: usize,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new(usize::MAX)
    }
}

impl Ledger {
    /// An empty ledger with a budget of `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Ledger {
            bytes: AtomicUsize::new(0),
            budget,
        }
    }

    /// The bytes counted.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// The budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// An exact count replaces the running one.
    pub(crate) fn set(&self, bytes: usize) {
        self.bytes.store(bytes, Relaxed);
    }

    /// Charges `bytes` if they fit the budget; false (nothing charged) if not.
    pub(crate) fn charge(&self, bytes: usize) -> bool {
        let now = self.bytes.load(Relaxed);
        if self.budget != usize::MAX && now.saturating_add(bytes) > self.budget {
            return false;
        }
        self.bytes.store(now.saturating_add(bytes), Relaxed);
        true
    }
}
