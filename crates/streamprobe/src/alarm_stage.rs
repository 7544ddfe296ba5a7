//! The alarm engine in the records thread: each interval, before it is published, the
//! acknowledgements the API queued on the [`AlarmDesk`] are applied, then the interval is
//! judged (analysis::alarm::engine); the alarm records go on the bus with the interval
//! (`IntervalBatch.alarms`), so every sink (standard output, the live view, the store, the
//! receivers) sees the same ones.

use analysis::alarm::{AlarmEngine, AlarmRecord, AlarmSettings};
use analysis::interval::Record;
use outputs::AlarmDesk;
use std::sync::Arc;

/// The engine and its desk.
pub struct AlarmStage {
    engine: AlarmEngine,
    desk: Arc<AlarmDesk>,
}

impl AlarmStage {
    /// An engine of `settings` whose ids continue after `last_id` (the store's largest, 0
    /// without a store), taking acknowledgements from `desk`.
    pub fn new(settings: AlarmSettings, last_id: u64, desk: Arc<AlarmDesk>) -> Self {
        AlarmStage {
            engine: AlarmEngine::new(settings).continue_after(last_id),
            desk,
        }
    }

    /// The alarm records of the interval ending `end_ns`: acknowledgements first (one the
    /// engine refuses, its alarm cleared meanwhile, is dropped: the API said it was
    /// queued, not recorded), then the interval's transitions.
    pub fn judge(
        &mut self,
        end_ns: i64,
        records: &[Record],
        kernel_drops: u64,
    ) -> Vec<AlarmRecord> {
        let mut out = Vec::new();
        for ack in self.desk.take() {
            if let Ok(records) = self.engine.acknowledge(end_ns, &ack) {
                out.extend(records);
            }
        }
        out.extend(self.engine.judge(end_ns, records, kernel_drops));
        out
    }
}
