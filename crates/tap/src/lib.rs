//! Packet taps and the mirror (Juniper Monitube's "mirroring"): a chosen flow's datagrams
//! copied on the worker that analyses them, then re-sent as received to a viewer.
//!
//! The data path: the worker offers each batch of frames to its [`WorkerTap`] before the
//! analyzer sees it; a datagram of a tapped flow is copied into the tap's [`TapRing`] for
//! that worker (preallocated, bounded: a full ring drops and counts); the [`Sender`] thread
//! drains the rings and sends each UDP payload (RTP header included for RTP) to the tap's
//! unicast destination, limited by a token bucket ([`limit`]). Taps come from the config's
//! `[[mirror]]` tables and from `POST /api/v1/mirror`; [`TapSet`] holds them. Nothing here
//! touches the analysis. docs/mirror.md says what is guaranteed.

#![deny(unsafe_code)]

pub mod limit;
mod matcher;
mod ring;
mod sender;
mod set;
mod worker;

pub use limit::{RateMeter, TokenBucket};
pub use matcher::{destination, FlowMatch, FlowSpec};
pub use ring::{record_bytes, TapRing};
pub use sender::Sender;
pub use set::{MirrorInfo, Origin, Tap, TapSet, MAX_TAPS, RATE_RANGE, RING_BYTES};
pub use worker::WorkerTap;
