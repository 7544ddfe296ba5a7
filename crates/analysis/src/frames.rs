//! Frame counting (marker bit + NAL unit types) and payload format detection.

use wire::nal::NalSummary;

/// A payload format, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PayloadFormat {
    /// ITU-T H.264 (RFC 6184).
    H264,
    /// ITU-T H.265 (RFC 7798).
    H265,
    /// MPEG-2 transport stream (RFC 2250).
    Mp2t,
    /// JPEG (RFC 2435).
    Jpeg,
    /// Anything else.
    Unknown,
}

impl PayloadFormat {
    /// The name in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::H264 => "h264",
            PayloadFormat::H265 => "h265",
            PayloadFormat::Mp2t => "mp2t",
            PayloadFormat::Jpeg => "jpeg",
            PayloadFormat::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: table columns set a width.
        f.pad(self.as_str())
    }
}

impl serde::Serialize for PayloadFormat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    frames: u64,
    first_ns: i64,
    last_ns: i64,
}

impl Tally {
    fn count(&mut self, at_ns: i64) {
        if self.frames == 0 {
            self.first_ns = at_ns;
        }
        self.frames += 1;
        self.last_ns = at_ns;
    }
    fn fps(&self) -> f64 {
        if self.frames < 2 || self.last_ns <= self.first_ns {
            return 0.0;
        }
        (self.frames - 1) as f64 / (self.last_ns.saturating_sub(self.first_ns) as f64 / 1e9)
    }
}

/// The access unit in progress, read as H.264 and as H.265: what every packet updates (4
/// bytes). The codec of a dynamic payload type is only known once enough packets are seen, so
/// an access unit is judged both ways; [`FrameCounter`] keeps the tallies, which change only
/// when a marker bit ends an access unit.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessUnit {
    h264: AuState,
    h265: AuState,
}

/// How an access unit ended by the marker bit counts, read as each codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessUnitEnd {
    /// A frame, read as H.264.
    pub h264_frame: bool,
    /// A frame, read as H.265.
    pub h265_frame: bool,
}

impl AccessUnit {
    /// Feeds one packet (not a duplicate) in arrival order; with the marker bit, the access
    /// unit ends and how it counts is returned.
    #[inline(always)]
    pub fn add(
        &mut self,
        marker: bool,
        h264: NalSummary,
        h265: NalSummary,
    ) -> Option<AccessUnitEnd> {
        self.h264.add(h264);
        self.h265.add(h265);
        if !marker {
            return None;
        }
        let end = AccessUnitEnd {
            h264_frame: self.h264.is_frame(),
            h265_frame: self.h265.is_frame(),
        };
        *self = AccessUnit::default();
        Some(end)
    }
}

/// Counts access units ended by the marker bit, three ways (every marker; as H.264; as
/// H.265), read for the detected format at the end.
#[derive(Clone, Debug, Default)]
pub struct FrameCounter {
    any: Tally,
    h264: Tally,
    h265: Tally,
}

/// The [`NalSummary`] bits of an access unit's packets, or-ed: `PICTURE` when one held a
/// picture, `PLAUSIBLE` when one was readable.
#[derive(Clone, Copy, Debug, Default)]
struct AuState(u8);

impl AuState {
    #[inline(always)]
    fn add(&mut self, s: NalSummary) {
        self.0 |= s.bits();
    }
    /// An access unit counts unless every NAL unit read in it was a parameter set, SEI or AUD.
    /// One with no readable NAL unit (its packets lost or corrupt) counts.
    fn is_frame(self) -> bool {
        self.0 & NalSummary::PICTURE != 0 || self.0 & NalSummary::PLAUSIBLE == 0
    }
}

impl FrameCounter {
    /// Counts an access unit that ended at `arrival_ns` (see [`AccessUnit::add`]).
    pub fn count(&mut self, arrival_ns: i64, end: AccessUnitEnd) {
        self.any.count(arrival_ns);
        if end.h264_frame {
            self.h264.count(arrival_ns);
        }
        if end.h265_frame {
            self.h265.count(arrival_ns);
        }
    }

    fn tally(&self, format: PayloadFormat) -> &Tally {
        match format {
            PayloadFormat::H264 => &self.h264,
            PayloadFormat::H265 => &self.h265,
            _ => &self.any,
        }
    }

    /// Frames and frame rate for a payload format: (frames - 1) / (last - first marker arrival).
    pub fn frames(&self, format: PayloadFormat) -> (u64, f64) {
        let t = self.tally(format);
        (t.frames, t.fps())
    }

    /// The frame count of every reading, so that counts taken at two times can be compared
    /// for the format known at the later one (the vote may have changed in between).
    pub fn counts(&self) -> FrameCounts {
        FrameCounts([self.any.frames, self.h264.frames, self.h265.frames])
    }
}

/// [`FrameCounter::counts`]: frames counted every way, each never decreasing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCounts([u64; 3]);

impl FrameCounts {
    /// Frames as `format` counts them.
    pub fn of(&self, format: PayloadFormat) -> u64 {
        match format {
            PayloadFormat::H264 => self.0[1],
            PayloadFormat::H265 => self.0[2],
            _ => self.0[0],
        }
    }
}

/// How many packets the detector reads before it stops voting.
const DETECTION_PACKETS: u16 = 256;

/// Detects the payload format from the packets' content.
#[derive(Clone, Debug, Default)]
pub struct PayloadDetector {
    // u16: the votes stop at DETECTION_PACKETS, and the detector is per-packet state.
    seen: u16,
    h264: u16,
    h265: u16,
    ts: u16,
    /// [`NalSummary::PARAMETER_SET`] of the H.264 readings, or-ed, and the same bit of the
    /// H.265 readings one place higher.
    parameter_sets: u8,
    /// What the stream's packets must still be read for (see [`PayloadReading`]).
    reading: PayloadReading,
}

/// Which readings of a payload a stream's frame counting and format detection still need.
///
/// While the detector votes, a payload is read as H.264, as H.265 and as TS. Once it has
/// voted ([`DETECTION_PACKETS`]) the format is settled, and so is the only frame tally a
/// report will show: the settled codec's, or the marker bit's alone. Later packets are read
/// for that codec only, or not at all, which leaves every reported figure unchanged and
/// saves the other readings on every packet of a long-lived stream (docs/performance.md,
/// "Choices in the code").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PayloadReading {
    /// Every reading: the format is still being detected.
    #[default]
    All,
    /// The H.264 reading only.
    H264,
    /// The H.265 reading only.
    H265,
    /// None: frames are counted by the marker bit alone (MP2T, JPEG, unknown payloads).
    MarkerOnly,
}

impl PayloadDetector {
    /// Feeds one packet of a stream whose first packet had `payload_type`.
    ///
    /// This, [`AccessUnit::add`] and the jitter update are always inlined into the stream's
    /// update: left to the compiler they were calls, which cost instructions and time
    /// (docs/performance.md, "Choices in the code").
    #[inline(always)]
    pub fn update(&mut self, payload_type: u8, ts_packets: u8, h264: NalSummary, h265: NalSummary) {
        if self.seen >= DETECTION_PACKETS {
            return;
        }
        self.seen += 1;
        self.ts += u16::from(ts_packets > 0);
        self.h264 += u16::from(h264.bits() & NalSummary::PLAUSIBLE);
        self.h265 += u16::from(h265.bits() & NalSummary::PLAUSIBLE);
        const SET: u8 = NalSummary::PARAMETER_SET;
        self.parameter_sets |= (h264.bits() & SET) | ((h265.bits() & SET) << 1);
        if self.seen == DETECTION_PACKETS {
            self.settle(payload_type);
        }
    }

    /// The vote is over: only the settled format's reading is needed from now on.
    #[cold]
    #[inline(never)]
    fn settle(&mut self, payload_type: u8) {
        self.reading = match self.format(payload_type) {
            PayloadFormat::H264 => PayloadReading::H264,
            PayloadFormat::H265 => PayloadReading::H265,
            _ => PayloadReading::MarkerOnly,
        };
    }

    /// What the next packets must be read for.
    #[inline(always)]
    pub fn reading(&self) -> PayloadReading {
        self.reading
    }

    /// The format: PT 33 or TS framing in most packets is MP2T; PT 26 is JPEG; H.264 or H.265
    /// when at least 80 % of the packets read plausibly as that codec and more than as the
    /// other (a parameter set breaks a tie); otherwise unknown.
    pub fn format(&self, payload_type: u8) -> PayloadFormat {
        if payload_type == 33 || (self.seen > 0 && self.ts * 2 > self.seen) {
            return PayloadFormat::Mp2t;
        }
        if payload_type == 26 {
            return PayloadFormat::Jpeg;
        }
        let enough = |votes: u16| self.seen > 0 && u32::from(votes) * 5 >= u32::from(self.seen) * 4;
        let (a, b) = (self.h264, self.h265);
        let h264_parameter_set = self.parameter_sets & NalSummary::PARAMETER_SET != 0;
        let h265_parameter_set = self.parameter_sets & (NalSummary::PARAMETER_SET << 1) != 0;
        if enough(a) && (a > b || (a == b && h264_parameter_set && !h265_parameter_set)) {
            PayloadFormat::H264
        } else if enough(b) && (b > a || (a == b && h265_parameter_set)) {
            PayloadFormat::H265
        } else {
            PayloadFormat::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::nal::{h264_summary, h265_summary};

    #[test]
    fn parameter_set_only_access_units_are_not_frames() {
        let mut f = FrameCounter::default();
        let mut au = AccessUnit::default();
        let mut feed = |at: i64, marker: bool, h264: NalSummary| {
            if let Some(end) = au.add(marker, h264, NalSummary::default()) {
                f.count(at, end);
            }
        };
        let sps = h264_summary(&[0x67, 0x42]);
        let idr = h264_summary(&[0x65, 0x88]);
        // AU 1: SPS alone with the marker (as some encoders send it).
        feed(0, true, sps);
        // AU 2 and 3: pictures, 40 ms apart.
        feed(10_000_000, false, sps);
        feed(20_000_000, true, idr);
        feed(60_000_000, true, idr);
        assert_eq!(f.frames(PayloadFormat::H264), (2, 25.0));
        assert_eq!(f.frames(PayloadFormat::Unknown).0, 3);
    }

    #[test]
    fn detector_votes() {
        let mut d = PayloadDetector::default();
        for _ in 0..10 {
            d.update(
                96,
                0,
                h264_summary(&[0x7c, 0x85]),
                h265_summary(&[0x7c, 0x85]),
            );
        }
        assert_eq!(d.format(96), PayloadFormat::H264);
        let mut e = PayloadDetector::default();
        for _ in 0..10 {
            let p = [0x62, 0x01, 0x81];
            e.update(96, 0, h264_summary(&p), h265_summary(&p));
        }
        assert_eq!(e.format(96), PayloadFormat::H265);
        assert_eq!(PayloadDetector::default().format(26), PayloadFormat::Jpeg);
        assert_eq!(PayloadDetector::default().format(33), PayloadFormat::Mp2t);
        assert_eq!(
            PayloadDetector::default().format(96),
            PayloadFormat::Unknown
        );
    }

    #[test]
    fn only_a_parameter_set_breaks_a_tie() {
        // 0x28 0x01 reads as an H.264 PPS and as an H.265 IDR_N_LP picture: plausible both
        // ways, a parameter set neither way, so the tie stays unbroken.
        let tie = [0x28, 0x01];
        let sps264 = [0x67, 0x42];
        let vps265 = [0x40, 0x01];
        let feed = |extra: Option<&[u8]>| {
            let mut d = PayloadDetector::default();
            for _ in 0..20 {
                d.update(96, 0, h264_summary(&tie), h265_summary(&tie));
            }
            if let Some(p) = extra {
                // A parameter set of one codec, counted as plausible for both.
                let mut h264 = h264_summary(p);
                let mut h265 = h265_summary(p);
                if !h264.plausible() {
                    h264 = h264_summary(&tie);
                }
                if !h265.plausible() {
                    h265 = h265_summary(&tie);
                }
                d.update(96, 0, h264, h265);
            }
            d.format(96)
        };
        assert!(h264_summary(&tie).plausible() && h265_summary(&tie).picture());
        assert_eq!(feed(None), PayloadFormat::Unknown);
        assert_eq!(feed(Some(&sps264)), PayloadFormat::H264);
        assert_eq!(feed(Some(&vps265)), PayloadFormat::H265);
    }
}
