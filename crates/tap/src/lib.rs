//! Packet taps and the mirror (Juniper Monitube's "mirroring"): a chosen flow's datagrams
//! copied on the worker that analyses them, then re-sent as received to a viewer.
//!
//! The data path: the worker offers each batch of frames to its [`WorkerTap`] before the
//! analyzer sees it; a datagram of a tapped flow is copied into the tap's ring for
//! that worker (preallocated, bounded: a full ring drops and counts); the [`Sender`] thread
//! drains the rings and sends each UDP payload (RTP header included for RTP) to the tap's
//! unicast destination, limited by a token bucket ([`limit`]). Taps come from the config's
//! `[[mirror]]` tables and from `POST /api/v1/mirror`; [`TapSet`] holds them. Nothing here
//! touches the analysis. docs/mirror.md says what is guaranteed.
//!
//! The rings are single-producer single-consumer and not visible outside this crate: a
//! worker's ring is pushed only through its [`WorkerTap`] (handed out once per worker index,
//! pushing through `&mut self`), so safe code cannot push to one ring from two threads.
//!
//! ```compile_fail
//! // The ring is the crate's own: code outside cannot make one, nor push to it.
//! let ring = tap::TapRing::new(1 << 18);
//! std::thread::scope(|s| {
//!     s.spawn(|| unsafe_free_push(&ring));
//!     s.spawn(|| unsafe_free_push(&ring));
//! });
//! fn unsafe_free_push(ring: &tap::TapRing) {
//!     ring.push(0, b"two producers");
//! }
//! ```

#![deny(unsafe_code)]

pub mod limit;
mod matcher;
mod ring;
mod sender;
mod set;
mod worker;

pub use limit::{MirrorLimit, RateMeter, TokenBucket};
pub use matcher::{destination, FlowMatch, FlowSpec};
pub use sender::Sender;
pub use set::{MirrorInfo, Origin, Tap, TapSet, MAX_TAPS, RATE_RANGE, RING_BYTES};
pub use worker::WorkerTap;
