//! H.264 (RFC 6184) and H.265 (RFC 7798) RTP payload headers: which NAL unit types a payload
//! carries, read through aggregation (STAP, AP) and fragmentation (FU) units.
//!
//! The analysis does not know the codec of a dynamic payload type up front, so a payload is
//! read as both codecs and each reading says whether it is plausible (reserved types, a set
//! forbidden bit, inconsistent aggregation lengths are not) and whether it holds a picture.

/// What one RTP payload carries, read as one codec: three flags packed in a byte, so that
/// the analysis accumulates them over an access unit or a vote with one `or`, not three
/// `bool`s merged one by one (docs/performance.md, "Choices in the code").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NalSummary(u8);

impl NalSummary {
    /// Every header read is legal for the codec.
    pub const PLAUSIBLE: u8 = 1;
    /// At least one NAL unit is neither a parameter set nor SEI/AUD: the access unit is a
    /// frame.
    pub const PICTURE: u8 = 2;
    /// A sequence parameter set (H.265: VPS or SPS) was seen: strong evidence for the codec.
    pub const PARAMETER_SET: u8 = 4;

    const IMPLAUSIBLE: NalSummary = NalSummary(0);

    /// The flags, as the `PLAUSIBLE`, `PICTURE` and `PARAMETER_SET` bits.
    #[inline(always)]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Every header read is legal for the codec.
    pub const fn plausible(self) -> bool {
        self.0 & Self::PLAUSIBLE != 0
    }

    /// The payload holds (part of) a picture.
    pub const fn picture(self) -> bool {
        self.0 & Self::PICTURE != 0
    }

    /// The payload holds a sequence parameter set.
    pub const fn parameter_set(self) -> bool {
        self.0 & Self::PARAMETER_SET != 0
    }
}

/// H.264 NAL unit types that hold no picture: SEI (6), SPS (7), PPS (8), AUD (9).
pub const fn h264_is_non_picture(nal_type: u8) -> bool {
    matches!(nal_type, 6..=9)
}

/// H.265 NAL unit types that hold no picture: VPS, SPS, PPS, AUD (32-35), SEI (39-40).
pub const fn h265_is_non_picture(nal_type: u8) -> bool {
    matches!(nal_type, 32..=35 | 39 | 40)
}

/// The lookup tables' entries are [`NalSummary`] bits.
const PLAUSIBLE: u8 = NalSummary::PLAUSIBLE;
const PICTURE: u8 = NalSummary::PICTURE;
const PARAMETER_SET: u8 = NalSummary::PARAMETER_SET;

/// A plausible NAL unit's flags, packed.
const fn packed(picture: bool, parameter_set: bool) -> u8 {
    PLAUSIBLE | if picture { PICTURE } else { 0 } | if parameter_set { PARAMETER_SET } else { 0 }
}

/// The rule for one H.264 NAL unit header byte (ITU-T H.264 7.4.1: nal_ref_idc rules), packed;
/// 0 when it is not plausible. Data partitions (2-4) belong to the Extended profile, which RTP
/// video does not use; rejecting them keeps H.265 headers (whose first byte reads as types
/// 0-4 and 10-14) from passing as H.264. Evaluated once per byte, into [`H264_NAL`].
const fn h264_nal_rule(byte: u8) -> u8 {
    let (forbidden, nri, t) = (byte >> 7, (byte >> 5) & 3, byte & 0x1f);
    let ok = forbidden == 0
        && match t {
            1 | 13 | 15 | 19 => true,
            5 | 7 | 8 => nri != 0,
            6 | 9..=12 => nri == 0,
            _ => false,
        };
    if ok {
        packed(!h264_is_non_picture(t), t == 7)
    } else {
        0
    }
}

/// The rule for the first byte of an H.265 NAL unit header (H.265 7.3.1.2: forbidden bit, the
/// layer id's high bit, a known type), packed; the second byte is checked apart. Evaluated
/// once per byte, into [`H265_NAL`].
const fn h265_nal_rule(b0: u8) -> u8 {
    let t = (b0 >> 1) & 0x3f;
    if b0 >> 7 == 0 && b0 & 1 == 0 && matches!(t, 0..=9 | 16..=21 | 32..=40) {
        packed(!h265_is_non_picture(t), matches!(t, 32 | 33))
    } else {
        0
    }
}

/// Adds a NAL unit's packed flags to `s`; true when it is plausible.
fn add_nal(flags: u8, s: &mut NalSummary) -> bool {
    s.0 |= flags & (PICTURE | PARAMETER_SET);
    flags != 0
}

/// Checks one H.264 NAL unit header byte and adds what it says to `s`.
fn h264_nal(byte: u8, s: &mut NalSummary) -> bool {
    add_nal(H264_NAL[usize::from(byte)], s)
}

/// `rule` evaluated for every byte, at compile time.
macro_rules! table {
    ($rule:ident) => {{
        let mut table = [0u8; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = $rule(byte as u8);
            byte += 1;
        }
        table
    }};
}

/// [`h264_nal_rule`] for every byte, so that the common payloads (one NAL unit, or a
/// fragment of one) cost a table read instead of a branchy parse per packet per codec
/// (docs/performance.md, "Choices in the code").
static H264_NAL: [u8; 256] = table!(h264_nal_rule);

/// [`h265_nal_rule`] for every first header byte.
static H265_NAL: [u8; 256] = table!(h265_nal_rule);

/// Reads an H.264 RTP payload (RFC 6184 section 5).
#[inline(always)]
pub fn h264_summary(p: &[u8]) -> NalSummary {
    let Some(&first) = p.first() else {
        return NalSummary::IMPLAUSIBLE;
    };
    match first & 0x1f {
        // A single NAL unit: its header says it all.
        1..=23 => return NalSummary(H264_NAL[usize::from(first)]),
        // FU-A: the FU header's type with the indicator's F and NRI bits (RFC 6184 5.8).
        28 => {
            if let Some(&fu) = p.get(1) {
                let legal = fu & 0x20 == 0 && fu & 0xc0 != 0xc0 && (1..=23).contains(&(fu & 0x1f));
                let flags = H264_NAL[usize::from((first & 0xe0) | (fu & 0x1f))];
                return NalSummary(if legal { flags } else { 0 });
            }
        }
        _ => {}
    }
    h264_summary_general(first, p)
}

/// [`h264_summary`] for every payload, by the rules written out.
fn h264_summary_general(first: u8, p: &[u8]) -> NalSummary {
    let mut s = NalSummary(PLAUSIBLE);
    if first >> 7 != 0 {
        return NalSummary::IMPLAUSIBLE;
    }
    let ok = match first & 0x1f {
        1..=23 => h264_nal(first, &mut s),
        // STAP-A (24) and STAP-B (25, after a 16-bit DON): 16-bit size, then a NAL unit.
        t @ (24 | 25) => {
            let mut i = if t == 24 { 1 } else { 3 };
            let mut any = false;
            let mut ok = true;
            while i + 2 < p.len() {
                let size = usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
                if size == 0 || !h264_nal(p[i + 2], &mut s) {
                    ok = false;
                    break;
                }
                any = true;
                i += 2 + size;
            }
            ok && any
        }
        // MTAP16/24: rare; accepted as a picture-bearing aggregation.
        26 | 27 => {
            s.0 |= PICTURE;
            true
        }
        // FU-A (28) / FU-B (29): the FU header carries the fragmented unit's type.
        28 | 29 => match p.get(1) {
            Some(&fu) => {
                let (start, end, reserved) = (fu >> 7, (fu >> 6) & 1, (fu >> 5) & 1);
                reserved == 0
                    && !(start == 1 && end == 1)
                    && (1..=23).contains(&(fu & 0x1f))
                    && h264_nal((first & 0xe0) | (fu & 0x1f), &mut s)
            }
            None => false,
        },
        _ => false,
    };
    if ok {
        s
    } else {
        NalSummary::IMPLAUSIBLE
    }
}

/// Checks a two-byte H.265 NAL unit header (H.265 7.3.1.2): the second byte's layer id bits
/// are 0 (only the base layer is expected) and its temporal id is not; the first byte follows
/// [`h265_nal_rule`]. Adds what it says to `s`.
fn h265_nal(b0: u8, b1: u8, s: &mut NalSummary) -> bool {
    let base_layer = b1 >> 3 == 0 && b1 & 7 != 0;
    add_nal(
        if base_layer {
            H265_NAL[usize::from(b0)]
        } else {
            0
        },
        s,
    )
}

/// Reads an H.265 RTP payload (RFC 7798 section 4.4), assuming no DONL fields
/// (sprop-max-don-diff = 0, the default).
#[inline(always)]
pub fn h265_summary(p: &[u8]) -> NalSummary {
    let [b0, b1, ..] = *p else {
        return NalSummary::IMPLAUSIBLE;
    };
    // Layer 0 and a temporal id, else nothing is plausible (H.265 7.4.2.2).
    if b1 >> 3 != 0 || b1 & 7 == 0 {
        return NalSummary::IMPLAUSIBLE;
    }
    match (b0 >> 1) & 0x3f {
        48..=50 => {}
        // A single NAL unit: its header says it all.
        _ => return NalSummary(H265_NAL[usize::from(b0)]),
    }
    h265_summary_general(p)
}

/// [`h265_summary`] for every payload, by the rules written out.
fn h265_summary_general(p: &[u8]) -> NalSummary {
    if p.len() < 2 {
        return NalSummary::IMPLAUSIBLE;
    }
    let (b0, b1) = (p[0], p[1]);
    let mut s = NalSummary(PLAUSIBLE);
    if b0 >> 7 != 0 || ((b0 & 1) << 5) | (b1 >> 3) != 0 || b1 & 7 == 0 {
        return NalSummary::IMPLAUSIBLE;
    }
    let ok = match (b0 >> 1) & 0x3f {
        // Aggregation packet: 16-bit size, then a NAL unit with its two-byte header.
        48 => {
            let mut i = 2;
            let mut any = false;
            let mut ok = true;
            while i + 3 < p.len() {
                let size = usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
                if size < 2 || !h265_nal(p[i + 2], p[i + 3], &mut s) {
                    ok = false;
                    break;
                }
                any = true;
                i += 2 + size;
            }
            ok && any
        }
        // Fragmentation unit: the FU header's low 6 bits carry the fragmented unit's type.
        49 => match p.get(2) {
            Some(&fu) => {
                let (start, end) = (fu >> 7, (fu >> 6) & 1);
                !(start == 1 && end == 1) && h265_nal((fu & 0x3f) << 1, b1, &mut s)
            }
            None => false,
        },
        // PACI: rare; accepted as picture-bearing.
        50 => {
            s.0 |= PICTURE;
            true
        }
        _ => h265_nal(b0, b1, &mut s),
    };
    if ok {
        s
    } else {
        NalSummary::IMPLAUSIBLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_single_stap_and_fu() {
        let idr = h264_summary(&[0x65, 0x88]);
        assert!(idr.plausible() && idr.picture() && !idr.parameter_set());
        let sps = h264_summary(&[0x67, 0x42]);
        assert!(sps.plausible() && !sps.picture() && sps.parameter_set());
        // STAP-A with SPS (3 bytes) and PPS (2 bytes): parameter sets only.
        let stap = h264_summary(&[0x78, 0, 3, 0x67, 1, 2, 0, 2, 0x68, 9]);
        assert!(stap.plausible() && !stap.picture() && stap.parameter_set());
        // FU-A start of an IDR slice.
        let fu = h264_summary(&[0x7c, 0x85, 1, 2]);
        assert!(fu.plausible() && fu.picture());
        // FU-A with both start and end set is illegal.
        assert!(!h264_summary(&[0x7c, 0xc5]).plausible());
        // SEI must have nal_ref_idc 0.
        assert!(!h264_summary(&[0x26, 0]).plausible());
    }

    /// The tables answer exactly as the written-out rules, for every one- and two-byte
    /// payload start (the bytes the table paths read), with and without a third byte.
    #[test]
    fn tables_agree_with_the_rules() {
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                for p in [&[b0, b1][..], &[b0, b1, 0x81, 0][..], &[b0][..]] {
                    assert_eq!(
                        h264_summary(p),
                        h264_summary_general(p[0], p),
                        "H.264 {p:02x?}"
                    );
                    assert_eq!(h265_summary(p), h265_summary_general(p), "H.265 {p:02x?}");
                }
            }
        }
    }

    #[test]
    fn h265_single_ap_and_fu() {
        // IDR_W_RADL (19): header 0x26 0x01.
        let idr = h265_summary(&[0x26, 0x01, 0xaf]);
        assert!(idr.plausible() && idr.picture());
        let vps = h265_summary(&[0x40, 0x01, 0x0c]);
        assert!(vps.plausible() && !vps.picture() && vps.parameter_set());
        // AP with VPS and SPS.
        let ap = h265_summary(&[0x60, 0x01, 0, 3, 0x40, 0x01, 9, 0, 2, 0x42, 0x01]);
        assert!(ap.plausible() && !ap.picture() && ap.parameter_set());
        // FU start of a TRAIL_R (1).
        let fu = h265_summary(&[0x62, 0x01, 0x81, 0]);
        assert!(fu.plausible() && fu.picture());
    }

    #[test]
    fn the_codecs_tell_each_other_apart() {
        // Typical H.264 headers are not plausible H.265 and vice versa.
        for h264 in [
            [0x65u8, 0x88],
            [0x41, 0x9a],
            [0x67, 0x42],
            [0x68, 0xce],
            [0x7c, 0x85],
            [0x5c, 0x41],
        ] {
            assert!(h264_summary(&h264).plausible(), "{h264:02x?}");
            assert!(!h265_summary(&h264).plausible(), "{h264:02x?}");
        }
        let h265s: [&[u8]; 7] = [
            &[0x40, 0x01],
            &[0x42, 0x01],
            &[0x44, 0x01],
            &[0x26, 0x01],
            &[0x4e, 0x01],
            &[0x62, 0x01, 0x81],
            &[0x02, 0x01],
        ];
        for h265 in h265s {
            assert!(h265_summary(h265).plausible(), "{h265:02x?}");
            assert!(!h264_summary(h265).plausible(), "{h265:02x?}");
        }
    }
}
