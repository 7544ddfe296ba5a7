//! Fuzz target: see `fuzz/bodies/capture_file.rs`.
#![no_main]

#[path = "../bodies/capture_file.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
