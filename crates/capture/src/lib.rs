//! Packet sources: capture files, pcap (micro- and nanosecond) and pcapng (several
//! interfaces, each with its own link type and timestamp resolution), and raw MPEG-TS
//! recordings; memory-mapped and read front to back, so files of any size run in constant
//! memory. Live sources: network interfaces (AF_PACKET, TPACKET_V3 ring, kernel BPF filter,
//! fanout) and multicast joins (ASM and SSM, IPv4 and IPv6).
//!
//! `unsafe` is denied except where a source must talk to the kernel (file mapping, packet
//! ring, socket options); each such place says why it is sound.
#![deny(unsafe_code)]

pub mod bpf;
pub mod file;
pub mod multicast;
pub mod packet_ring;
pub mod privileges;
mod sockopt;
pub mod ts_file;

pub use file::{CaptureError, InputFile, PcapFileSource, PcapReader, Record};
pub use ts_file::{TsFileSource, TsUnit};
pub use wire::Frame;
