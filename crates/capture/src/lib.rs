//! Packet sources. This source is a capture file: pcap (micro- and nanosecond) and
//! pcapng (several interfaces, each with its own link type and timestamp resolution), read as a
//! stream through a fixed buffer so files of any size run in constant memory.
#![forbid(unsafe_code)]

pub mod file;

pub use file::{CaptureError, Frame, PcapFileSource, Record};
