//! Per-flow analysis: discovery of RTP and MPEG-TS flows, RTP sequence accounting
//! (RFC 3550 A.1), interarrival jitter (A.8), frame counting and payload detection, and
//! MPEG-TS health (ETSI TR 101 290).
//!
//! Pure and deterministic: every function takes the packet and its arrival time and updates
//! state; nothing reads a clock or does I/O, so the same capture always gives the same figures.
//! Figures are defined in `docs/figures.md`.
//!
//! `unsafe` is denied but for one cache prefetch hint in the flow table, which says why.
#![deny(unsafe_code)]

pub mod alarm;
pub mod analyzer;
pub mod budget;
pub mod clock;
pub mod config;
pub mod defrag;
pub mod event;
pub mod format;
pub mod frames;
pub mod group;
pub mod interval;
pub mod jitter;
pub mod kind;
pub mod mdi;
pub mod packet;
pub mod report;
pub mod seq;
pub mod stream;
pub mod ts;
pub mod ts_file;

pub use analyzer::Analyzer;

/// What the allocator adds to each heap block (glibc's chunk header, rounded): counted by the
/// state budget with every block a flow holds.
pub(crate) const ALLOCATION: usize = 16;
pub use config::AnalysisConfig;
pub use report::AnalysisReport;
