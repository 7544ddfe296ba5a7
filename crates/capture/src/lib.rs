//! Packet sources. This source is a capture file: pcap (micro- and nanosecond) and
//! pcapng (several interfaces, each with its own link type and timestamp resolution),
//! memory-mapped and read front to back, so files of any size run in constant memory.
//!
//! `unsafe` is denied except where a source must talk to the kernel (the file mapping); each
//! such place says why it is sound.
#![deny(unsafe_code)]

pub mod file;

pub use file::{CaptureError, PcapFileSource, PcapReader, Record};
pub use wire::Frame;
