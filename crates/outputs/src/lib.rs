//! streamprobe's outputs: the record bus that carries every closed interval (flow and event
//! records, the probe record) to any number of sinks, each behind a bounded queue, and the
//! sinks that need no server (the live view the API and `/metrics` read).
//!
//! The analysis crate stays pure: it makes records; this crate moves them. Nothing here runs
//! per packet: intervals only.

#![forbid(unsafe_code)]

pub mod alarm_desk;
pub mod bus;
pub mod live_view;
pub mod probe;
pub mod store_sink;
pub mod wall;

pub use alarm_desk::AlarmDesk;
pub use bus::{Bus, EssentialSinkFailed, IntervalBatch, Sink, SinkError, SinkState, SinkStatus};
pub use live_view::{LiveSink, LiveView};
pub use probe::{ProbeRecord, WorkerFigures, WorkerReport};
