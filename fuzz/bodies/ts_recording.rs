//! Raw TS recordings: arbitrary bytes through recognition (188/192/204 framing), the resyncing
//! reader, the PCR timeline and the file analysis, as `streamprobe analyze FILE.ts` runs them.
//! Nothing may panic; every byte is either in a packet or counted as skipped.
//!
//! The body of fuzz target `ts_recording` (fuzz/fuzz_targets), shared with the stable replay of
//! its corpus and past crashes (crates/streamprobe/tests/fuzz_replay.rs).

use analysis::ts_file::{PcrTimeline, TsFileAnalyzer};
use analysis::AnalysisConfig;
use capture::{TsFileSource, TsUnit};

/// Runs one input.
pub fn run(data: &[u8]) {
    let size = data.len();
    let Some(source) = TsFileSource::from_vec(data.to_vec()) else {
        return;
    };
    let mut timeline = PcrTimeline::default();
    let mut covered = source.leading_garbage();
    source.read(|unit| match unit {
        TsUnit::Packet(p) => {
            covered += source.stride();
            timeline.on_packet(p)
        }
        TsUnit::Resync(bytes) => covered += bytes,
    });
    assert_eq!(covered, size, "every byte is a packet or skipped");
    let mut analyzer = TsFileAnalyzer::new(&AnalysisConfig::default(), timeline.finish());
    source.read(|unit| match unit {
        TsUnit::Packet(p) => analyzer.on_packet(p),
        TsUnit::Resync(bytes) => analyzer.on_resync(bytes),
    });
    let report = analyzer.finish("fuzz.ts", size as u64, source.leading_garbage());
    assert_eq!(report.flows.len(), 1);
}
