//! RTP fixed header (RFC 3550 section 5.1) as a zero-copy view.

mod field {
    use std::ops::Range;
    pub const FLAGS: usize = 0;
    pub const MARKER_PT: usize = 1;
    pub const SEQ: Range<usize> = 2..4;
    pub const TIMESTAMP: Range<usize> = 4..8;
    pub const SSRC: Range<usize> = 8..12;
    pub const CSRC_START: usize = 12;
}

/// Length of the fixed RTP header, without CSRCs or extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// Why bytes are not an RTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtpError {
    /// Fewer than 12 bytes.
    TooShort,
    /// The version field is not 2.
    BadVersion,
    /// The CSRC list or header extension runs past the captured bytes.
    HeaderOverrun,
}

/// A view over an RTP packet. After [`RtpPacket::new_checked`] succeeds no accessor panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> RtpPacket<'a> {
    /// Checks the version and that the whole header (CSRCs, extension) is present.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        if buf[field::FLAGS] >> 6 != 2 {
            return Err(RtpError::BadVersion);
        }
        let mut header_len = field::CSRC_START + 4 * usize::from(buf[field::FLAGS] & 0x0f);
        if buf[field::FLAGS] & 0x10 != 0 {
            // RFC 3550 5.3.1: 16-bit profile id, 16-bit length in 32-bit words, then the data.
            let ext = buf
                .get(header_len..header_len + 4)
                .ok_or(RtpError::HeaderOverrun)?;
            header_len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        }
        if header_len > buf.len() {
            return Err(RtpError::HeaderOverrun);
        }
        Ok(RtpPacket { buf, header_len })
    }

    /// True when the padding bit is set.
    pub fn padding(&self) -> bool {
        self.buf[field::FLAGS] & 0x20 != 0
    }
    /// The number of CSRC identifiers.
    pub fn csrc_count(&self) -> u8 {
        self.buf[field::FLAGS] & 0x0f
    }
    /// The marker bit: for video, the last packet of an access unit (RFC 6184 5.1).
    pub fn marker(&self) -> bool {
        self.buf[field::MARKER_PT] & 0x80 != 0
    }
    /// The payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.buf[field::MARKER_PT] & 0x7f
    }
    /// The 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.buf[field::SEQ.start], self.buf[field::SEQ.start + 1]])
    }
    /// The 32-bit media timestamp, in payload clock units.
    pub fn timestamp(&self) -> u32 {
        let t = &self.buf[field::TIMESTAMP];
        u32::from_be_bytes([t[0], t[1], t[2], t[3]])
    }
    /// The synchronisation source identifier.
    pub fn ssrc(&self) -> u32 {
        let s = &self.buf[field::SSRC];
        u32::from_be_bytes([s[0], s[1], s[2], s[3]])
    }
    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The payload as captured. Padding is removed when the padding count is consistent with
    /// the captured length (a snap-length cut hides the padding count: the payload is then
    /// returned as captured). Inlined: the analysis asks for it twice a packet, and as a
    /// call it cost instructions each time (docs/performance.md).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let body = &self.buf[self.header_len..];
        if self.padding() {
            if let Some(&pad) = body.last() {
                if usize::from(pad) <= body.len() {
                    return &body[..body.len() - usize::from(pad)];
                }
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: [u8; 16] = [
        0x80, 0xe0, 0x12, 0x34, // v2, marker, PT 96, seq 0x1234
        0x00, 0x01, 0x5f, 0x90, // timestamp 90000
        0x00, 0x00, 0x01, 0x00, // SSRC 256
        0x65, 0x88, 0x84, 0x00, // IDR NAL start
    ];

    #[test]
    fn deconstruct() {
        let p = RtpPacket::new_checked(&PACKET).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), 96);
        assert_eq!(p.sequence_number(), 0x1234);
        assert_eq!(p.timestamp(), 90000);
        assert_eq!(p.ssrc(), 256);
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.payload(), &PACKET[12..]);
        assert!(!p.padding());
        assert_eq!(p.csrc_count(), 0);
    }

    #[test]
    fn csrc_extension_and_padding() {
        let mut b = vec![0xb1, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        b.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        b.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension of one word
        b.extend_from_slice(&[0xaa, 0xbb, 0, 2]); // payload + 2 bytes padding
        let p = RtpPacket::new_checked(&b).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        assert_eq!(
            RtpPacket::new_checked(&b[..20]),
            Err(RtpError::HeaderOverrun)
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            RtpPacket::new_checked(&PACKET[..11]),
            Err(RtpError::TooShort)
        );
        let mut v1 = PACKET;
        v1[0] = 0x40;
        assert_eq!(RtpPacket::new_checked(&v1), Err(RtpError::BadVersion));
    }
}
