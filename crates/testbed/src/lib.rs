//! Test support for streamprobe (not the product): a seeded random generator, a pcap writer
//! for synthetic captures, and the impairment relay's building blocks.

pub mod pcap_writer;
pub mod rng;
