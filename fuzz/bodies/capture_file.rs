//! Any bytes as a capture file, analysed end to end: the reader and the analyzer must never
//! panic, whatever the file holds.
//!
//! The body of fuzz target `capture_file` (fuzz/fuzz_targets), shared with the stable replay of
//! its corpus and past crashes (crates/streamprobe/tests/fuzz_replay.rs).

use capture::{PcapFileSource, Record};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some(source) = PcapFileSource::from_bytes(data.to_vec()) else {
        return;
    };
    let mut analyzer = analysis::Analyzer::new(analysis::AnalysisConfig::default());
    let mut reader = source.reader();
    let mut group = Vec::new();
    let mut batches = 0;
    // Frames go to the analyzer in groups of 5, as `streamprobe analyze` hands them over.
    while reader.read_batch(64, |r| match r {
        Record::Frame(f) => {
            group.push(f);
            if group.len() == 5 {
                analyzer.on_frames(&group);
                group.clear();
            }
        }
        Record::Skipped(reason) => analyzer.skip(reason),
    }) {
        batches += 1;
        if batches > 10_000 {
            break;
        }
    }
    analyzer.on_frames(&group);
    let _ = analyzer.finish();
}
