//! Any bytes as a capture file, analysed end to end: the reader and the analyzer must never
//! panic, whatever the file holds.
#![no_main]
use capture::{PcapFileSource, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(mut source) = PcapFileSource::from_bytes(data.to_vec()) else {
        return;
    };
    let mut analyzer = analysis::Analyzer::new(analysis::AnalysisConfig::default());
    let mut batches = 0;
    while source.read_batch(64, |r| match r {
        Record::Frame(f) => analyzer.on_frame(f.arrival_ns, f.link, f.data, f.wire_len),
        Record::Skipped(reason) => analyzer.skip(reason),
    }) {
        batches += 1;
        if batches > 10_000 {
            break;
        }
    }
    let _ = analyzer.finish();
});
