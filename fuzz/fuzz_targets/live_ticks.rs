//! Fuzz target: see `fuzz/bodies/live_ticks.rs`.
#![no_main]

#[path = "../bodies/live_ticks.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
