//! The store sink: each interval into the history store (crates/store), its alarm records
//! included, one transaction per interval, on the sink's own thread. A failed write (a full disk, a locked or damaged file)
//! is retried with the bus's back-off while the queue fills and then drops, counted; the
//! store's size and the last write's time are shared for the API's health document.

use crate::bus::{IntervalBatch, Sink, SinkError};
use analysis::interval::{EventRecord, FlowRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What the API shows of the store.
#[derive(Debug, Default)]
pub struct StoreStatus {
    /// Bytes the store uses (pages in use and the WAL), after the last write.
    pub size_bytes: AtomicU64,
    /// How long the last interval's write took, all tier work included, ns.
    pub last_write_ns: AtomicU64,
    /// The longest write so far, ns.
    pub max_write_ns: AtomicU64,
    /// Insert lag of the last interval: from its publication on the bus to its commit
    /// (its wait in the queue and its write), ns.
    pub last_lag_ns: AtomicU64,
    /// The longest insert lag so far, ns.
    pub max_lag_ns: AtomicU64,
    /// Intervals written.
    pub intervals: AtomicU64,
    /// The end of the last interval written, ns since the epoch.
    pub last_interval_ns: AtomicU64,
    /// Tier work (packing, roll-ups, pruning) that failed after its interval was written.
    pub tier_errors: AtomicU64,
}

/// Writes intervals into a [`store::Store`].
pub struct StoreSink {
    store: store::Store,
    status: Arc<StoreStatus>,
}

impl StoreSink {
    /// A sink of `store`, reporting into `status`.
    pub fn new(store: store::Store, status: Arc<StoreStatus>) -> Self {
        status
            .size_bytes
            .store(store.size_bytes(), Ordering::Relaxed);
        StoreSink { store, status }
    }
}

impl Sink for StoreSink {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        let flows: Vec<&FlowRecord> = batch.flows().collect();
        let events: Vec<&EventRecord> = batch.events().collect();
        let alarms: Vec<&analysis::alarm::AlarmRecord> = batch.alarms.iter().collect();
        let stats = self
            .store
            .write_interval_with_alarms(batch.end_ns, &flows, &events, &alarms)
            .map_err(|e| SinkError::Retry(e.to_string()))?;
        let s = &self.status;
        s.size_bytes
            .store(self.store.size_bytes(), Ordering::Relaxed);
        s.last_write_ns.store(stats.took_ns, Ordering::Relaxed);
        s.max_write_ns.fetch_max(stats.took_ns, Ordering::Relaxed);
        s.intervals.fetch_add(1, Ordering::Relaxed);
        s.last_interval_ns
            .store(batch.end_ns.max(0) as u64, Ordering::Relaxed);
        if let Some(published) = batch.published {
            let lag = published.elapsed().as_nanos() as u64;
            s.last_lag_ns.store(lag, Ordering::Relaxed);
            s.max_lag_ns.fetch_max(lag, Ordering::Relaxed);
        }
        if stats.tier_error.is_some() {
            s.tier_errors.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
