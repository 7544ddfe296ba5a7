//! H.264 (RFC 6184) and H.265 (RFC 7798) RTP payload headers: which NAL unit types a payload
//! carries, read through aggregation (STAP, AP) and fragmentation (FU) units.
//!
//! The analysis does not know the codec of a dynamic payload type up front, so a payload is
//! read as both codecs and each reading says whether it is plausible (reserved types, a set
//! forbidden bit, inconsistent aggregation lengths are not) and whether it holds a picture.

/// What one RTP payload carries, read as one codec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NalSummary {
    /// Every header read is legal for the codec.
    pub plausible: bool,
    /// At least one NAL unit is neither a parameter set nor SEI/AUD: the access unit is a frame.
    pub picture: bool,
    /// A sequence parameter set (H.265: VPS or SPS) was seen: strong evidence for the codec.
    pub parameter_set: bool,
}

impl NalSummary {
    const IMPLAUSIBLE: NalSummary = NalSummary {
        plausible: false,
        picture: false,
        parameter_set: false,
    };
}

/// H.264 NAL unit types that hold no picture: SEI (6), SPS (7), PPS (8), AUD (9).
pub fn h264_is_non_picture(nal_type: u8) -> bool {
    (6..=9).contains(&nal_type)
}

/// H.265 NAL unit types that hold no picture: VPS, SPS, PPS, AUD (32-35), SEI (39-40).
pub fn h265_is_non_picture(nal_type: u8) -> bool {
    matches!(nal_type, 32..=35 | 39 | 40)
}

/// Checks one H.264 NAL unit header byte (ITU-T H.264 7.4.1: nal_ref_idc rules). Data
/// partitions (2-4) belong to the Extended profile, which RTP video does not use; rejecting them
/// keeps H.265 headers (whose first byte reads as types 0-4 and 10-14) from passing as H.264.
fn h264_nal(byte: u8, s: &mut NalSummary) -> bool {
    let (forbidden, nri, t) = (byte >> 7, (byte >> 5) & 3, byte & 0x1f);
    let ok = forbidden == 0
        && match t {
            1 | 13 | 15 | 19 => true,
            5 | 7 | 8 => nri != 0,
            6 | 9..=12 => nri == 0,
            _ => false,
        };
    if ok {
        s.picture |= !h264_is_non_picture(t);
        s.parameter_set |= t == 7;
    }
    ok
}

/// Reads an H.264 RTP payload (RFC 6184 section 5).
pub fn h264_summary(p: &[u8]) -> NalSummary {
    let Some(&first) = p.first() else {
        return NalSummary::IMPLAUSIBLE;
    };
    let mut s = NalSummary {
        plausible: true,
        ..NalSummary::default()
    };
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
            s.picture = true;
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

/// Checks a two-byte H.265 NAL unit header (H.265 7.3.1.2); only the base layer is expected.
fn h265_nal(b0: u8, b1: u8, s: &mut NalSummary) -> bool {
    let t = (b0 >> 1) & 0x3f;
    let layer = ((b0 & 1) << 5) | (b1 >> 3);
    let ok = b0 >> 7 == 0 && layer == 0 && b1 & 7 != 0 && matches!(t, 0..=9 | 16..=21 | 32..=40);
    if ok {
        s.picture |= !h265_is_non_picture(t);
        s.parameter_set |= matches!(t, 32 | 33);
    }
    ok
}

/// Reads an H.265 RTP payload (RFC 7798 section 4.4), assuming no DONL fields
/// (sprop-max-don-diff = 0, the default).
pub fn h265_summary(p: &[u8]) -> NalSummary {
    if p.len() < 2 {
        return NalSummary::IMPLAUSIBLE;
    }
    let (b0, b1) = (p[0], p[1]);
    let mut s = NalSummary {
        plausible: true,
        ..NalSummary::default()
    };
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
            s.picture = true;
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
        assert!(idr.plausible && idr.picture && !idr.parameter_set);
        let sps = h264_summary(&[0x67, 0x42]);
        assert!(sps.plausible && !sps.picture && sps.parameter_set);
        // STAP-A with SPS (3 bytes) and PPS (2 bytes): parameter sets only.
        let stap = h264_summary(&[0x78, 0, 3, 0x67, 1, 2, 0, 2, 0x68, 9]);
        assert!(stap.plausible && !stap.picture && stap.parameter_set);
        // FU-A start of an IDR slice.
        let fu = h264_summary(&[0x7c, 0x85, 1, 2]);
        assert!(fu.plausible && fu.picture);
        // FU-A with both start and end set is illegal.
        assert!(!h264_summary(&[0x7c, 0xc5]).plausible);
        // SEI must have nal_ref_idc 0.
        assert!(!h264_summary(&[0x26, 0]).plausible);
    }

    #[test]
    fn h265_single_ap_and_fu() {
        // IDR_W_RADL (19): header 0x26 0x01.
        let idr = h265_summary(&[0x26, 0x01, 0xaf]);
        assert!(idr.plausible && idr.picture);
        let vps = h265_summary(&[0x40, 0x01, 0x0c]);
        assert!(vps.plausible && !vps.picture && vps.parameter_set);
        // AP with VPS and SPS.
        let ap = h265_summary(&[0x60, 0x01, 0, 3, 0x40, 0x01, 9, 0, 2, 0x42, 0x01]);
        assert!(ap.plausible && !ap.picture && ap.parameter_set);
        // FU start of a TRAIL_R (1).
        let fu = h265_summary(&[0x62, 0x01, 0x81, 0]);
        assert!(fu.plausible && fu.picture);
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
            assert!(h264_summary(&h264).plausible, "{h264:02x?}");
            assert!(!h265_summary(&h264).plausible, "{h264:02x?}");
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
            assert!(h265_summary(h265).plausible, "{h265:02x?}");
            assert!(!h264_summary(h265).plausible, "{h265:02x?}");
        }
    }
}
