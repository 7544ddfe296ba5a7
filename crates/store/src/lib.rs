//! The probe's embedded history store (`streamprobe.store/2`): every flow's interval records
//! in one SQLite file, in three tiers (Netdata's dbengine tiers): per second (kept 7 days by
//! default), per minute (90 days) and per hour (2 years), within a size cap that wins over
//! the ages.
//!
//! Contracts:
//! - One writer per file ([`Store`], an exclusive lock on `PATH-lock`), any number of readers
//!   ([`StoreReader`], WAL: readers never block the writer and see complete intervals only).
//! - [`Store::write_interval`] is one transaction: kill -9 loses at most the interval being
//!   written. The tier work it also does (packing a finished minute, roll-ups, pruning) is in
//!   separate transactions of bounded slices, each leaving the file consistent.
//! - The per-second tier gives back each record's figures exactly ([`Sample`]); roll-ups are
//!   honest: counts summed, maxima of maxima, means weighted by seconds.
//! - No panic on any file content or query argument: a bad file or blob is a [`StoreError`]
//!   naming the file.
//!
//! Layout: schema.rs (tables, open checks), pack.rs (column encoding), sample.rs (a
//! flow-second and its blobs), summary.rs (roll-up buckets), write.rs (the writer),
//! tiers.rs (packing, roll-ups, pruning), query.rs (the reader), alarms.rs (alarm records),
//! lock.rs.
#![forbid(unsafe_code)]

mod alarms;
mod error;
mod lock;
mod pack;
mod query;
mod sample;
mod schema;
mod summary;
mod tiers;
mod write;

pub use alarms::{AlarmQuery, StoredAlarm};
pub use error::StoreError;
pub use query::StoreReader;
pub use sample::{Sample, INDICATORS};
pub use schema::{SCHEMA, VERSION};
pub use write::Store;

use serde::Serialize;

/// Retention of the tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// The most bytes the store may use (default 10 GB); wins over the ages: when reached,
    /// the oldest per-second detail goes first, then minutes, then hours.
    pub max_size_bytes: u64,
    /// Age of per-second detail kept, s (default 7 days).
    pub keep_seconds_s: i64,
    /// Age of per-minute summaries kept, s (default 90 days).
    pub keep_minutes_s: i64,
    /// Age of per-hour summaries kept, s (default 2 years).
    pub keep_hours_s: i64,
    /// Time [`Store::write_interval`] may spend on tier work after the interval is written,
    /// ms (default 150); at least one slice of due work is done per call whatever it says.
    pub tier_work_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            max_size_bytes: 10_000_000_000,
            keep_seconds_s: 7 * 86_400,
            keep_minutes_s: 90 * 86_400,
            keep_hours_s: 2 * 365 * 86_400,
            tier_work_ms: 150,
        }
    }
}

/// What one [`Store::write_interval`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WriteStats {
    /// Flow records written.
    pub flows: usize,
    /// Events written.
    pub events: usize,
    /// Time the call took, all of it, ns.
    pub took_ns: u64,
    /// Of which the interval's own transaction, ns.
    pub insert_ns: u64,
    /// Rows deleted by pruning (age or size).
    pub pruned_rows: u64,
    /// Flows whose finished minute was packed.
    pub packed_flows: u64,
    /// Flows rolled up into minute or hour summaries.
    pub rolled_flows: u64,
    /// Pages given back to the file system (incremental vacuum).
    pub vacuumed_pages: u64,
    /// Tier work left for later calls (a slice or more is due).
    pub work_pending: bool,
    /// The tier work failed (the interval itself is committed); retried on the next call.
    pub tier_error: Option<String>,
}

/// One flow's history over a time range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct History {
    /// The flow's id.
    pub flow: String,
    /// The points' step, s (1 for raw records).
    pub step_s: i64,
    /// The tier the points come from: `seconds`, `minutes` or `hours`.
    pub tier: &'static str,
    /// The range asked, ns [from, to).
    pub from: i64,
    /// End of the range (excluded), ns.
    pub to: i64,
    /// The points, by time.
    pub points: Vec<HistoryPoint>,
}

/// One point of a history: a record (raw seconds) or a bucket's roll-up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// The bucket's start, or the record's time for raw seconds, ns since the epoch.
    pub time_ns: i64,
    /// Records the point sums.
    pub records: u64,
    /// Seconds of records the point covers (sum of interval_s).
    pub seconds: f64,
    /// Packets.
    pub packets: u64,
    /// UDP payload bytes.
    pub bytes: u64,
    /// bytes x 8 / seconds (a record's own bitrate for raw seconds).
    pub bitrate_bps: f64,
    /// Gaps not filled, summed.
    pub lost: u64,
    /// Late packets that filled earlier gaps (RTP).
    pub recovered: Option<u64>,
    /// Duplicates.
    pub duplicates: u64,
    /// Reordered packets (RTP).
    pub reordered: Option<u64>,
    /// Largest interval jitter maximum, ms.
    pub jitter_ms_max: Option<f64>,
    /// Mean of the interval maxima, weighted by seconds, ms.
    pub jitter_ms_mean: Option<f64>,
    /// Frames / seconds (of records with a frame rate).
    pub fps: Option<f64>,
    /// Largest MDI Delay Factor, ms.
    pub df_ms_max: Option<f64>,
    /// Largest MDI Media Loss Rate.
    pub mlr_max: Option<f64>,
    /// TR 101 290 occurrences, summed (a map of analysis' indicator names).
    #[serde(serialize_with = "ser_indicators")]
    pub tr101290: Option<[u64; INDICATORS]>,
    /// Seconds whose record broke its SLA.
    pub sla_broken_s: f64,
}

/// Serialises indicator counts as analysis does: `{"sync_loss": n, ...}`.
fn ser_indicators<S: serde::Serializer>(
    v: &Option<[u64; INDICATORS]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    v.map(analysis::interval::IndicatorCounts).serialize(s)
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredEvent {
    /// The interval's end, ns since the epoch.
    pub time_ns: i64,
    /// The flow's id.
    pub flow: String,
    /// `appeared`, `silent`, `resumed`, `ssrc_change`, `sla_broken`, `sla_ok`, `expired`,
    /// `evicted`.
    pub event: String,
    /// Seconds since the flow's last packet (`silent`, `resumed`, `expired`, `evicted`).
    pub silent_s: Option<f64>,
    /// The SSRC that replaced the flow's (`ssrc_change`).
    pub new_ssrc: Option<u32>,
    /// The limits broken (`sla_broken`).
    pub violations: Option<Vec<StoredViolation>>,
}

/// One broken SLA limit of a `sla_broken` event.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StoredViolation {
    /// The limit's config key (`max_loss_pct`, ...).
    pub limit: String,
    /// Its configured value.
    pub threshold: f64,
    /// The figure that broke it.
    pub value: f64,
}

/// A flow's identity as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredFlow {
    /// The id, as in records.
    pub flow: String,
    /// Source `ip:port`.
    pub src: String,
    /// Destination `ip:port`.
    pub dst: String,
    /// SSRC (RTP).
    pub ssrc: Option<u32>,
    /// `rtp`, `rtp-ts`, `udp-ts`.
    pub kind: String,
    /// Payload format of its latest record (`unknown` for a flow known only by an event).
    pub payload: String,
    /// Monitor group of its latest record.
    pub group: Option<String>,
    /// Clock rate source of its latest record (RTP).
    pub clock_rate_source: Option<String>,
    /// Its first record's or event's time, ns.
    pub first_seen_ns: i64,
    /// Its latest record's or event's time, ns.
    pub last_seen_ns: i64,
}

/// The tiers, finest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    Seconds,
    Minutes,
    Hours,
}

impl Tier {
    /// The tier's name in [`History::tier`].
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tier::Seconds => "seconds",
            Tier::Minutes => "minutes",
            Tier::Hours => "hours",
        }
    }

    /// A bucket of this tier, ns (a sample's, for seconds).
    pub(crate) fn bucket_ns(self) -> i64 {
        match self {
            Tier::Seconds => 1_000_000_000,
            Tier::Minutes => 60_000_000_000,
            Tier::Hours => 3_600_000_000_000,
        }
    }

    /// The key unit of the tier's table: a minute (seconds), an hour (minutes), a day (hours).
    pub(crate) fn row_ns(self) -> i64 {
        match self {
            Tier::Seconds => 60_000_000_000,
            Tier::Minutes => 3_600_000_000_000,
            Tier::Hours => 86_400_000_000_000,
        }
    }

    /// The table.
    pub(crate) fn table(self) -> &'static str {
        self.name()
    }
}

/// A tier row's key: its bucket (minute, hour or day since the epoch) in the high 32 bits,
/// the flow id in the low ones. Buckets before 1970 or past year ~4000 do not fit and are
/// refused by the writer.
pub(crate) fn row_key(unit: i64, flow: u32) -> Option<i64> {
    unit.checked_mul(1 << 32)?.checked_add(i64::from(flow))
}

/// The unit (minute, hour, day) of a key.
pub(crate) fn key_unit(key: i64) -> i64 {
    key.div_euclid(1 << 32)
}

/// The flow id of a key.
pub(crate) fn key_flow(key: i64) -> u32 {
    key.rem_euclid(1 << 32) as u32
}

#[cfg(test)]
mod tests {
    /// The API hands readers to other threads.
    #[test]
    fn readers_and_the_writer_are_send() {
        fn send<T: Send>() {}
        send::<crate::StoreReader>();
        send::<crate::Store>();
    }
}
