//! Alarms (`streamprobe.alarm/1`, docs/alarms.md): a problem that lasted, raised once per
//! episode and cleared once when it is over. An alarm is judged from the interval records
//! (the `sla_broken`/`sla_ok` verdicts, TR 101 290 priority 1 counts, silence) and the
//! probe's own record (kernel drops); the engine that judges them is pure like the rest of
//! this crate: time is an argument.

pub mod engine;
pub mod shared;

use crate::format::rfc3339_ns;
use crate::interval::FlowName;
pub use engine::{AckRefused, AckRequest, AlarmEngine};
use serde::Serialize;
pub use shared::Shared;

/// The schema name every alarm record carries.
pub const ALARM_SCHEMA: &str = "streamprobe.alarm/1";

/// What an alarm is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlarmRule {
    /// Group SLA limits, by their config keys (docs/groups.md).
    MaxLossPct,
    MaxMlr,
    MaxDfMs,
    MaxJitterMs,
    MinFps,
    MinBitrate,
    MaxBitrate,
    /// TR 101 290 priority 1 errors (sync, PAT, CC, PMT, PID errors) in the interval.
    Tr101290P1,
    /// No packet for `[alarms] silent_s`.
    Silent,
    /// The probe's kernel dropped packets in the interval (a probe-wide alarm, no flow).
    KernelDrops,
}

impl AlarmRule {
    /// Every rule, in the order of [`AlarmRule::code`].
    pub const ALL: [AlarmRule; 10] = [
        AlarmRule::MaxLossPct,
        AlarmRule::MaxMlr,
        AlarmRule::MaxDfMs,
        AlarmRule::MaxJitterMs,
        AlarmRule::MinFps,
        AlarmRule::MinBitrate,
        AlarmRule::MaxBitrate,
        AlarmRule::Tr101290P1,
        AlarmRule::Silent,
        AlarmRule::KernelDrops,
    ];

    /// Its name in records, the API and every receiver.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlarmRule::MaxLossPct => "max_loss_pct",
            AlarmRule::MaxMlr => "max_mlr",
            AlarmRule::MaxDfMs => "max_df_ms",
            AlarmRule::MaxJitterMs => "max_jitter_ms",
            AlarmRule::MinFps => "min_fps",
            AlarmRule::MinBitrate => "min_bitrate_bps",
            AlarmRule::MaxBitrate => "max_bitrate_bps",
            AlarmRule::Tr101290P1 => "tr101290_p1",
            AlarmRule::Silent => "silent",
            AlarmRule::KernelDrops => "kernel_drops",
        }
    }

    /// A small stable number (SNMP `alarmRule` enumeration, store column): its place in
    /// [`AlarmRule::ALL`], plus one.
    pub fn code(self) -> u8 {
        AlarmRule::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8 + 1
    }

    /// The rule of an SLA limit's config key (`SlaViolation::limit`).
    pub fn of_sla_limit(limit: &str) -> Option<AlarmRule> {
        AlarmRule::ALL[..7]
            .iter()
            .copied()
            .find(|r| r.as_str() == limit)
    }

    /// The rule of a name, as written in records.
    pub fn parse(name: &str) -> Option<AlarmRule> {
        AlarmRule::ALL.iter().copied().find(|r| r.as_str() == name)
    }
}

impl Serialize for AlarmRule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for AlarmRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What happened to an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// The problem lasted `raise_after` intervals: the episode begins.
    Raised,
    /// Good again for `clear_after` intervals: the episode ends.
    Cleared,
    /// An operator acknowledged it (`POST /api/v1/alarms/{id}/ack`); it stays active.
    Acknowledged,
}

impl AlarmState {
    /// Its name in records.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlarmState::Raised => "raised",
            AlarmState::Cleared => "cleared",
            AlarmState::Acknowledged => "acknowledged",
        }
    }
}

/// Many flows raising one rule in one interval: receivers get this one summary instead of a
/// message per flow (`[alarms] flood_threshold`); every per-flow alarm is still a record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodSummary {
    /// Flows that raised the rule in the interval.
    pub count: u64,
    /// What they have in common.
    pub shared: Shared,
}

/// One alarm transition: a record on the record bus, in the store and in the API.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlarmRecord {
    /// [`ALARM_SCHEMA`].
    pub schema: &'static str,
    /// `alarm`.
    #[serde(rename = "type")]
    pub kind_of_record: &'static str,
    /// The episode's id: the same in its `raised`, `acknowledged` and `cleared` records.
    pub id: u64,
    /// The interval's end when this happened, ns since the epoch (written as RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
    pub state: AlarmState,
    pub rule: AlarmRule,
    /// The flow, for flow rules; none for probe-wide rules and flood summaries.
    #[serde(flatten)]
    pub flow: Option<FlowName>,
    /// The flow's monitor group.
    pub group: Option<String>,
    /// When the episode was raised, ns since the epoch (written as RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub raised: i64,
    /// The figure that broke the rule in the interval that raised it (the limit's unit).
    pub value: Option<f64>,
    /// The limit it broke, as configured.
    pub threshold: Option<f64>,
    /// One line for people: what, where, how much.
    pub text: String,
    /// Set on a flood summary: how many flows and what they share.
    pub summary: Option<FloodSummary>,
    /// Set on a per-flow alarm whose notification the summary of this id replaced.
    pub summarised_in: Option<u64>,
    /// Why it cleared (`cleared` records only): [`engine::CLEARED_GOOD`] (`clear_after` good
    /// intervals), [`engine::CLEARED_EXPIRED`] / [`engine::CLEARED_EVICTED`] (the probe
    /// forgot the flow), [`engine::CLEARED_SSRC_CHANGE`] (a stream of another SSRC replaced
    /// the flow's), [`engine::CLEARED_FLOWS`] (a flood summary whose flows all cleared).
    pub reason: Option<&'static str>,
    /// Who acknowledged the episode and when, on its `acknowledged` record and every later
    /// one (its `cleared`).
    pub ack: Option<Acknowledgement>,
}

/// An operator's acknowledgement of an active alarm (`POST /api/v1/alarms/{id}/ack`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Acknowledgement {
    /// Who, as the request said (`api` when it said nothing).
    pub by: String,
    /// When the request came, wall clock, ns since the epoch (written as RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
    /// What they wrote, if anything.
    pub note: Option<String>,
}

impl AlarmRecord {
    /// Whether receivers (SNMP, syslog, webhooks) are sent this record: every record but the
    /// per-flow alarms a flood summary stands for.
    pub fn notify(&self) -> bool {
        self.summarised_in.is_none()
    }
}

fn rfc3339<S: serde::Serializer>(ns: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_ns(*ns))
}

/// How alarms are judged (`[alarms]`, docs/alarms.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlarmSettings {
    /// Bad intervals in a row that raise an alarm.
    pub raise_after: u32,
    /// Good intervals in a row that clear it.
    pub clear_after: u32,
    /// A flow without a packet for this long is silent, ns.
    pub silent_ns: i64,
    /// More flows than this raising one rule in one interval make one flood summary for the
    /// receivers.
    pub flood_threshold: u32,
}

impl Default for AlarmSettings {
    fn default() -> Self {
        AlarmSettings {
            raise_after: 3,
            clear_after: 10,
            silent_ns: 5_000_000_000,
            flood_threshold: 50,
        }
    }
}
