//! A recorded transport stream (`file-ts`): no arrival times, so packet time comes from the
//! stream's own clock. A first pass reads the PCRs of the first PID that carries them
//! ([`PcrTimeline`]); the second analyses every packet at the time interpolated between the
//! PCRs around it, the way TR 101 290 analysers time recordings. Without two PCRs there is no
//! time, and the timing indicators (repetition intervals, PCR, PTS, PID_error) cannot fire.

use crate::frames::PayloadFormat;
use crate::kind::FlowKind;
use crate::report::{AnalysisReport, CaptureReport, Discovery, FlowReport, TsReport};
use crate::stream::Volume;
use crate::ts::TsAnalyzer;
use crate::AnalysisConfig;
use wire::ts::{Pcr, TsPacket, PACKET_LEN};
use wire::SkipReason;

/// A PCR step larger than this (or backwards) is a discontinuity: time goes on at the rate
/// before it (ISO/IEC 13818-1 2.4.3.5: a new time base may start at a discontinuity).
const MAX_PCR_STEP_TICKS: u64 = 27_000_000;

/// Pass one: (packet index, time in ns) at each PCR of the first PCR PID.
#[derive(Clone, Debug, Default)]
pub struct PcrTimeline {
    index: u64,
    pid: Option<u16>,
    last_pcr: Option<Pcr>,
    marks: Vec<(u64, i64)>,
}

impl PcrTimeline {
    /// Reads one packet of pass one.
    pub fn on_packet(&mut self, bytes: &[u8]) {
        let index = self.index;
        self.index += 1;
        let Ok(packet) = TsPacket::new_checked(bytes) else {
            return;
        };
        if packet.transport_error() {
            return;
        }
        let Some((pcr, discontinuity)) = packet
            .adaptation()
            .and_then(|a| Some((a.pcr()?, a.discontinuity())))
        else {
            return;
        };
        if *self.pid.get_or_insert(packet.pid()) != packet.pid() {
            return;
        }
        let time = match (self.last_pcr, self.marks.last()) {
            (Some(last), Some(&(last_index, last_ns))) => {
                let step = pcr.ticks_since(last);
                if discontinuity || step > MAX_PCR_STEP_TICKS {
                    let per_packet = self.ns_per_packet().unwrap_or(0.0);
                    last_ns + (per_packet * (index - last_index) as f64) as i64
                } else {
                    last_ns + (step as i64) * 1_000 / 27
                }
            }
            _ => 0,
        };
        self.last_pcr = Some(pcr);
        self.marks.push((index, time));
    }

    /// ns per packet over the last two marks.
    fn ns_per_packet(&self) -> Option<f64> {
        let [.., (i0, t0), (i1, t1)] = self.marks[..] else {
            return None;
        };
        (i1 > i0).then(|| (t1 - t0) as f64 / (i1 - i0) as f64)
    }

    /// Ends pass one.
    pub fn finish(self) -> PacketClock {
        let mut marks = self.marks;
        if marks.len() < 2 {
            marks.clear();
        }
        // Time 0 is the first packet: extrapolate back from the first two marks.
        if let [(i0, t0), (i1, t1), ..] = marks[..] {
            let before = ((t1 - t0) as f64 / (i1 - i0) as f64 * i0 as f64) as i64;
            let shift = before - t0;
            for m in &mut marks {
                m.1 += shift;
            }
        }
        PacketClock { marks, cursor: 0 }
    }
}

/// Packet index to time, interpolated between PCR marks (extrapolated past the first and
/// last at the nearest pair's rate).
#[derive(Clone, Debug)]
pub struct PacketClock {
    marks: Vec<(u64, i64)>,
    cursor: usize,
}

impl PacketClock {
    /// True when the stream gave a clock (two PCRs or more).
    pub fn has_time(&self) -> bool {
        !self.marks.is_empty()
    }

    /// The time of packet `index` (indices asked in ascending order), ns from the first.
    pub fn time(&mut self, index: u64) -> i64 {
        if self.marks.is_empty() {
            return 0;
        }
        while self.cursor + 2 < self.marks.len() && self.marks[self.cursor + 1].0 <= index {
            self.cursor += 1;
        }
        let (i0, t0) = self.marks[self.cursor];
        let (i1, t1) = self.marks[self.cursor + 1];
        if i1 == i0 {
            return t0;
        }
        t0 + ((t1 - t0) as f64 * (index as f64 - i0 as f64) / (i1 - i0) as f64).round() as i64
    }
}

/// Pass two: the TS analysis of a recording.
#[derive(Debug)]
pub struct TsFileAnalyzer {
    ts: TsAnalyzer,
    clock: PacketClock,
    index: u64,
    last_ns: i64,
    skipped_bytes: u64,
    resyncs: u64,
}

impl TsFileAnalyzer {
    /// An analyzer timed by `clock` (from [`PcrTimeline::finish`]).
    pub fn new(config: &AnalysisConfig, clock: PacketClock) -> Self {
        TsFileAnalyzer {
            ts: TsAnalyzer::new(config.ts),
            clock,
            index: 0,
            last_ns: 0,
            skipped_bytes: 0,
            resyncs: 0,
        }
    }

    /// Analyses the next packet.
    pub fn on_packet(&mut self, bytes: &[u8]) {
        let at = self.clock.time(self.index);
        self.index += 1;
        self.last_ns = at;
        self.ts.on_packet(at, bytes);
    }

    /// Framing was lost and `bytes` were skipped to find it again.
    pub fn on_resync(&mut self, bytes: usize) {
        self.skipped_bytes += bytes as u64;
        self.resyncs += 1;
        self.ts.on_sync_lost(self.last_ns);
    }

    /// True when the recording gave a clock.
    pub fn has_time(&self) -> bool {
        self.clock.has_time()
    }

    /// The report: one flow of kind `file-ts`, `id` = the file's name.
    pub fn finish(mut self, file: &str, file_bytes: u64, leading_garbage: usize) -> AnalysisReport {
        self.skipped_bytes += leading_garbage as u64;
        self.ts.finish(self.last_ns);
        let mut skipped = [0u64; SkipReason::ALL.len()];
        skipped[SkipReason::TsInvalid.index()] = self.resyncs;
        // Packet time starts at 0 with the first packet; there is no wall-clock start.
        let volume = Volume {
            packets: self.ts.packets,
            bytes: self.ts.packets * PACKET_LEN as u64,
            first_ns: 0,
            last_ns: self.last_ns,
        };
        let mut capture = CaptureReport::new(
            &volume,
            file_bytes,
            &skipped,
            Discovery::default(),
            Default::default(),
        );
        capture.start = None;
        let mut flow = FlowReport::new(
            file.to_string(),
            None,
            FlowKind::FileTs,
            PayloadFormat::Mp2t,
            &volume,
            0,
        );
        let mut ts = TsReport::new(&self.ts, 0);
        ts.skipped_bytes = self.skipped_bytes;
        flow.ts = Some(ts);
        AnalysisReport {
            capture,
            flows: vec![flow],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_interpolates_and_survives_a_discontinuity() {
        // PCR every 10 packets, 1 ms apart; a jump at packet 50 (new time base).
        let mut timeline = PcrTimeline::default();
        let mut packet = [0u8; 188];
        for i in 0..100u64 {
            packet[..4].copy_from_slice(&[0x47, 0x01, 0x00, 0x30]);
            packet[4] = 0;
            if i % 10 == 5 {
                let pcr = if i < 50 {
                    27_000 * i / 10
                } else {
                    5_000_000_000 + 27_000 * i / 10
                };
                packet[4] = 7;
                packet[5] = 0x10 | if i == 55 { 0x80 } else { 0 };
                packet[6..12].copy_from_slice(&Pcr(pcr).to_bytes());
            }
            timeline.on_packet(&packet);
        }
        let mut clock = timeline.finish();
        assert!(clock.has_time());
        // 0.1 ms per packet throughout, starting at 0.
        for i in [0u64, 5, 12, 49, 55, 60, 99] {
            assert_eq!(clock.time(i), i as i64 * 100_000, "packet {i}");
        }
    }
}
