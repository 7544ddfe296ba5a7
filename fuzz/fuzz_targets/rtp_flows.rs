//! Fuzz target: see `fuzz/bodies/rtp_flows.rs`.
#![no_main]

#[path = "../bodies/rtp_flows.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
