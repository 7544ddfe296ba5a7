//! Packet sources: capture files, pcap (micro- and nanosecond) and pcapng (several
//! interfaces, each with its own link type and timestamp resolution), and raw MPEG-TS
//! recordings; memory-mapped and read front to back, so files of any size run in constant
//! memory.
//!
//! `unsafe` is denied except where a source must talk to the kernel (the file mapping); each
//! such place says why it is sound.
#![deny(unsafe_code)]

pub mod file;
pub mod ts_file;

pub use file::{CaptureError, InputFile, PcapFileSource, PcapReader, Record};
pub use ts_file::{TsFileSource, TsUnit};
pub use wire::Frame;
