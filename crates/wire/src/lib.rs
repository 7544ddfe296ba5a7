//! Zero-copy views over captured bytes: link layer down to UDP, RTP, RTCP, H.264/H.265 NAL
//! headers and MPEG-TS sync framing.
//!
//! Contract: every parser takes `&[u8]` and either returns a view or a small `Copy` error that
//! says which layer failed and why. Once a checked constructor (`new_checked`, [`decode_frame`])
//! succeeds, no accessor of the returned view panics. Nothing here allocates, locks or does I/O,
//! so the functions are safe to call once per packet on the hot path.
//!
//! `unsafe` is denied but for the one cache prefetch hint in [`prefetch`], which says why.
#![deny(unsafe_code)]

pub mod link;
pub mod nal;
pub mod prefetch;
pub mod rtcp;
pub mod rtp;
pub mod skip;
pub mod ts;

pub use link::{
    decode_frame, decode_plain, outer_vlan, Decoded, FourTuple, Frame, IpFragment, LinkType,
    PlainDatagram, UdpDatagram,
};
pub use rtcp::RtcpPacket;
pub use rtp::{RtpError, RtpPacket};
pub use skip::SkipReason;
