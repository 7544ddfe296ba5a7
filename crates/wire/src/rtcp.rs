//! RTCP recognition (RFC 3550 section 6, RFC 5761 section 4).

/// A view over the first packet of an RTCP compound packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcpPacket<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpPacket<'a> {
    /// Accepts version 2 and a packet type in 192..=223: RFC 5761 section 4 reserves that range
    /// so RTCP can be told from RTP on a shared port (RTP payload types 64-95 with the marker bit
    /// would collide, and are not used for RTP).
    pub fn new_checked(buf: &'a [u8]) -> Option<Self> {
        if buf.len() < 8 || buf[0] >> 6 != 2 || !(192..=223).contains(&buf[1]) {
            return None;
        }
        Some(RtcpPacket { buf })
    }
    /// The packet type (200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, 205-207 feedback and XR).
    pub fn packet_type(&self) -> u8 {
        self.buf[1]
    }
    /// The SSRC of the packet's sender.
    pub fn sender_ssrc(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }
    /// The SSRC of the first report block of an RR (the source being reported on), if any.
    pub fn first_reported_ssrc(&self) -> Option<u32> {
        if self.packet_type() != 201 || self.buf[0] & 0x1f == 0 {
            return None;
        }
        let b = self.buf.get(8..12)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_report_and_receiver_report() {
        let sr = [0x80, 200, 0, 6, 0, 0, 1, 0, 0, 0, 0, 0];
        let p = RtcpPacket::new_checked(&sr).unwrap();
        assert_eq!((p.packet_type(), p.sender_ssrc()), (200, 256));
        let rr = [0x81, 201, 0, 7, 0, 0, 0, 9, 0, 0, 1, 0];
        assert_eq!(
            RtcpPacket::new_checked(&rr).unwrap().first_reported_ssrc(),
            Some(256)
        );
        // RTP PT 96 with the marker bit is 0xe0 = 224: not RTCP.
        assert!(RtcpPacket::new_checked(&[0x80, 0xe0, 0, 1, 0, 0, 0, 0]).is_none());
    }
}
