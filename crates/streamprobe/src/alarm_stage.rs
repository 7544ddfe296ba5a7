//! The alarm engine in the records thread: each interval, before it is published, the
//! acknowledgements the API queued on the [`AlarmDesk`] are applied, then the interval is
//! judged (analysis::alarm::engine); the alarm records go on the bus with the interval
//! (`IntervalBatch.alarms`), so every sink (standard output, the live view, the store, the
//! receivers) sees the same ones.

use analysis::alarm::{AckRefused, AlarmEngine, AlarmRecord, AlarmSettings};
use analysis::interval::Record;
use outputs::AlarmDesk;
use std::sync::Arc;

/// Ids a probe without a store may give per second of its run before they could meet the
/// next start's (docs/alarms.md "Ids").
pub const IDS_PER_SECOND: u64 = 1_000_000;

/// The id the engine's ids go on after: the store's largest (`store_max`, 0 for an empty
/// store), so they go on across restarts; without a store, the start's Unix seconds x
/// [`IDS_PER_SECOND`], so the ids of two runs do not meet (receivers' tickets) unless a run
/// raised more than a million alarms per second it ran. Below 2^53 (JavaScript's exact
/// integers) until the year 2255.
pub fn ids_after(store_max: Option<u64>, start_unix_s: u64) -> u64 {
    match store_max {
        Some(max) => max,
        None => start_unix_s.saturating_mul(IDS_PER_SECOND),
    }
}

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
    /// engine refuses, its alarm cleared meanwhile, makes one line on standard error and is
    /// counted, `alarm_acks_refused` in `/api/v1/health`: the API said it was queued, not
    /// recorded), then the interval's transitions.
    pub fn judge(
        &mut self,
        end_ns: i64,
        records: &[Record],
        kernel_drops: u64,
    ) -> Vec<AlarmRecord> {
        let mut out = Vec::new();
        for ack in self.desk.take() {
            match self.engine.acknowledge(end_ns, &ack) {
                Ok(records) => out.extend(records),
                Err(why) => {
                    let why = match why {
                        AckRefused::NotActive => "it cleared before the interval's end",
                        AckRefused::AlreadyAcknowledged => "it was acknowledged already",
                    };
                    eprintln!(
                        "streamprobe: alarm {}: the acknowledgement by {} was not recorded: {why}",
                        ack.id, ack.by
                    );
                    self.desk.count_refused();
                }
            }
        }
        out.extend(self.engine.judge(end_ns, records, kernel_drops));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analysis::alarm::AckRequest;

    /// An acknowledgement queued for an alarm that cleared before the interval's end is
    /// refused by the engine: no record, one count on the desk (`/api/v1/health`).
    #[test]
    fn ids_go_on_from_the_store_or_after_the_start_time() {
        assert_eq!(ids_after(Some(0), 1_800_000_000), 0);
        assert_eq!(ids_after(Some(41), 1_800_000_000), 41);
        assert_eq!(ids_after(None, 1_800_000_000), 1_800_000_000_000_000);
        // The first id of a run without a store, started at 1,800,000,000 s.
        let desk = Arc::new(AlarmDesk::default());
        let settings = AlarmSettings {
            raise_after: 1,
            ..AlarmSettings::default()
        };
        let mut stage = AlarmStage::new(settings, ids_after(None, 1_800_000_000), desk);
        let out = stage.judge(1_000_000_000, &[], 3);
        assert_eq!(
            out.iter().map(|a| a.id).collect::<Vec<_>>(),
            [1_800_000_000_000_001]
        );
        assert!(out[0].id < 1 << 53);
        assert!(ids_after(None, 9_007_199_254) < 1 << 53);
    }

    #[test]
    fn an_ack_of_an_alarm_cleared_meanwhile_is_counted() {
        let desk = Arc::new(AlarmDesk::default());
        let mut stage = AlarmStage::new(AlarmSettings::default(), 0, Arc::clone(&desk));
        desk.request(AckRequest {
            id: 1,
            by: "noc".into(),
            time_ns: 0,
            note: None,
        })
        .unwrap();
        assert!(stage.judge(1_000_000_000, &[], 0).is_empty());
        assert_eq!(desk.refused(), 1);
        assert!(stage.judge(2_000_000_000, &[], 0).is_empty());
        assert_eq!(desk.refused(), 1);
    }
}
