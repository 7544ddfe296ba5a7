//! MPEG-TS framing in a datagram (ISO/IEC 13818-1 section 2.4.3.2).

/// The sync byte that starts every transport stream packet.
pub const SYNC_BYTE: u8 = 0x47;

/// Returns the TS packet size (188, or 204 with Reed-Solomon bytes) when the buffer is a whole
/// number of TS packets, each starting with the sync byte; `None` otherwise.
pub fn ts_packet_size(buf: &[u8]) -> Option<usize> {
    [188usize, 204].into_iter().find(|&size| {
        !buf.is_empty()
            && buf.len() % size == 0
            && buf.chunks_exact(size).all(|p| p[0] == SYNC_BYTE)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_188_and_204() {
        let mut b = vec![0u8; 7 * 188];
        for p in b.chunks_mut(188) {
            p[0] = SYNC_BYTE;
        }
        assert_eq!(ts_packet_size(&b), Some(188));
        b[188] = 0;
        assert_eq!(ts_packet_size(&b), None);
        let mut c = vec![0u8; 2 * 204];
        c[0] = SYNC_BYTE;
        c[204] = SYNC_BYTE;
        assert_eq!(ts_packet_size(&c), Some(204));
        assert_eq!(ts_packet_size(&[]), None);
    }
}
