//! The fuzz targets' bodies (fuzz/bodies), on stable Rust, over every committed input: each
//! target's seeds and minimised corpus (fuzz/seeds/TARGET, merged after each fuzzing run by
//! scripts/fuzz.sh) and the inputs that once crashed one (tests/fixtures/fuzz). A panic, or
//! a failed invariant of a target, fails the test, as it would stop the fuzzer.

mod common;

#[path = "../../../fuzz/bodies/capture_file.rs"]
mod capture_file;
#[path = "../../../fuzz/bodies/frame.rs"]
mod frame;
#[path = "../../../fuzz/bodies/live_ticks.rs"]
mod live_ticks;
#[path = "../../../fuzz/bodies/rtp_flows.rs"]
mod rtp_flows;
#[path = "../../../fuzz/bodies/ts_recording.rs"]
mod ts_recording;
#[path = "../../../fuzz/bodies/ts_stream.rs"]
mod ts_stream;

use common::root;

/// A target's body.
type Body = fn(&[u8]);

/// Every file in the folders named (relative to the workspace root), sorted.
fn inputs(folders: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(root().join(folder)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                all.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    all.sort();
    all
}

#[test]
fn every_committed_fuzz_input_runs_clean() {
    let targets: [(&str, Body); 6] = [
        ("capture_file", capture_file::run),
        ("frame", frame::run),
        ("live_ticks", live_ticks::run),
        ("rtp_flows", rtp_flows::run),
        ("ts_recording", ts_recording::run),
        ("ts_stream", ts_stream::run),
    ];
    for (target, run) in targets {
        let seeds = format!("fuzz/seeds/{target}");
        let mut folders = vec![seeds.as_str()];
        if target == "capture_file" {
            folders.push("tests/fixtures/fuzz");
        }
        let files = inputs(&folders);
        // A replay that finds nothing to replay must fail, not pass.
        assert!(!files.is_empty(), "{target}: no inputs in {folders:?}");
        for (name, data) in &files {
            let outcome = std::panic::catch_unwind(|| run(data));
            assert!(outcome.is_ok(), "{target} failed on {name}");
        }
        eprintln!("{target}: {} inputs", files.len());
    }
}
