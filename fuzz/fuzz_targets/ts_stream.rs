//! Fuzz target: see `fuzz/bodies/ts_stream.rs`.
#![no_main]

#[path = "../bodies/ts_stream.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
