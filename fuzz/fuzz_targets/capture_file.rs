//! Any bytes as a capture file, analysed end to end: the reader and the analyzer must never
//! panic, whatever the file holds.
#![no_main]
use capture::{PcapFileSource, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
