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

/// Counts access units ended by the marker bit. The codec of a dynamic payload type is only
/// known once enough packets are seen, so the count is kept three ways (every marker; as
/// H.264; as H.265) and read for the detected format at the end.
#[derive(Clone, Debug, Default)]
pub struct FrameCounter {
    au_h264: AuState,
    au_h265: AuState,
    any: Tally,
    h264: Tally,
    h265: Tally,
}

#[derive(Clone, Copy, Debug, Default)]
struct AuState {
    picture: bool,
    readable: bool,
}

impl AuState {
    fn add(&mut self, s: NalSummary) {
        self.picture |= s.picture;
        self.readable |= s.plausible;
    }
    /// An access unit counts unless every NAL unit read in it was a parameter set, SEI or AUD.
    /// One with no readable NAL unit (its packets lost or corrupt) counts.
    fn is_frame(self) -> bool {
        self.picture || !self.readable
    }
}

impl FrameCounter {
    /// Feeds one packet (not a duplicate) in arrival order.
    pub fn update(&mut self, arrival_ns: i64, marker: bool, h264: NalSummary, h265: NalSummary) {
        self.au_h264.add(h264);
        self.au_h265.add(h265);
        if marker {
            self.any.count(arrival_ns);
            if self.au_h264.is_frame() {
                self.h264.count(arrival_ns);
            }
            if self.au_h265.is_frame() {
                self.h265.count(arrival_ns);
            }
            self.au_h264 = AuState::default();
            self.au_h265 = AuState::default();
        }
    }

    /// Frames and frame rate for a payload format: (frames - 1) / (last - first marker arrival).
    pub fn frames(&self, format: PayloadFormat) -> (u64, f64) {
        let t = match format {
            PayloadFormat::H264 => &self.h264,
            PayloadFormat::H265 => &self.h265,
            _ => &self.any,
        };
        (t.frames, t.fps())
    }
}

/// How many packets the detector reads before it stops voting.
const DETECTION_PACKETS: u32 = 256;

/// Detects the payload format from the packets' content.
#[derive(Clone, Debug, Default)]
pub struct PayloadDetector {
    seen: u32,
    h264: u32,
    h265: u32,
    ts: u32,
    h264_parameter_set: bool,
    h265_parameter_set: bool,
}

impl PayloadDetector {
    /// Feeds one packet.
    pub fn update(&mut self, ts_packets: u8, h264: NalSummary, h265: NalSummary) {
        if self.seen >= DETECTION_PACKETS {
            return;
        }
        self.seen += 1;
        self.ts += u32::from(ts_packets > 0);
        self.h264 += u32::from(h264.plausible);
        self.h265 += u32::from(h265.plausible);
        self.h264_parameter_set |= h264.parameter_set;
        self.h265_parameter_set |= h265.parameter_set;
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
        let enough = |votes: u32| self.seen > 0 && votes * 5 >= self.seen * 4;
        let (a, b) = (self.h264, self.h265);
        if enough(a) && (a > b || (a == b && self.h264_parameter_set && !self.h265_parameter_set)) {
            PayloadFormat::H264
        } else if enough(b) && (b > a || (a == b && self.h265_parameter_set)) {
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
        let sps = h264_summary(&[0x67, 0x42]);
        let idr = h264_summary(&[0x65, 0x88]);
        let none = NalSummary::default();
        // AU 1: SPS alone with the marker (as some encoders send it).
        f.update(0, true, sps, none);
        // AU 2 and 3: pictures, 40 ms apart.
        f.update(10_000_000, false, sps, none);
        f.update(20_000_000, true, idr, none);
        f.update(60_000_000, true, idr, none);
        assert_eq!(f.frames(PayloadFormat::H264), (2, 25.0));
        assert_eq!(f.frames(PayloadFormat::Unknown).0, 3);
    }

    #[test]
    fn detector_votes() {
        let mut d = PayloadDetector::default();
        for _ in 0..10 {
            d.update(0, h264_summary(&[0x7c, 0x85]), h265_summary(&[0x7c, 0x85]));
        }
        assert_eq!(d.format(96), PayloadFormat::H264);
        let mut e = PayloadDetector::default();
        for _ in 0..10 {
            let p = [0x62, 0x01, 0x81];
            e.update(0, h264_summary(&p), h265_summary(&p));
        }
        assert_eq!(e.format(96), PayloadFormat::H265);
        assert_eq!(PayloadDetector::default().format(26), PayloadFormat::Jpeg);
        assert_eq!(PayloadDetector::default().format(33), PayloadFormat::Mp2t);
        assert_eq!(
            PayloadDetector::default().format(96),
            PayloadFormat::Unknown
        );
    }
}
