//! Raw MPEG-TS recordings (.ts with 188- or 204-byte packets, .m2ts with 192-byte units: a
//! 4-byte arrival time stamp before each 188-byte packet, BDAV / IEC 61883-4), recognised by
//! content and framed by sync bytes, resynchronising after garbage the way a receiver does
//! (ETSI TR 101 290 5.2.1: sync is acquired on five correct sync bytes in a row).

use crate::file::Bytes;
use wire::ts::SYNC_BYTE;

/// Sync bytes in a row, at the packet stride, that establish framing.
pub const SYNC_RUN: usize = 5;
/// How far into a file sync is looked for to recognise it as a transport stream, bytes.
pub const SYNC_SEARCH: usize = 1 << 20;

/// A recorded transport stream.
pub struct TsFileSource {
    bytes: Bytes,
    /// Bytes per unit: 188, 192 (M2TS) or 204.
    stride: usize,
    /// Offset of the TS packet in a unit (4 for M2TS).
    header: usize,
    /// Offset of the first unit.
    start: usize,
}

impl std::fmt::Debug for TsFileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsFileSource")
            .field("size", &self.bytes.as_slice().len())
            .field("stride", &self.stride)
            .field("start", &self.start)
            .finish()
    }
}

/// What the reader hands over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsUnit<'a> {
    /// One TS packet (188 bytes, or 204 with its parity), its sync byte possibly damaged.
    Packet(&'a [u8]),
    /// Framing was lost: this many bytes were skipped before sync was found again (or the
    /// file ended).
    Resync(usize),
}

/// The first offset in `from..until` where `SYNC_RUN` sync bytes follow one another at
/// `stride`, with the packet at `header`.
fn find_sync(
    data: &[u8],
    from: usize,
    until: usize,
    stride: usize,
    header: usize,
) -> Option<usize> {
    let last = data.len().min(until);
    (from..last)
        .find(|&p| (0..SYNC_RUN).all(|k| data.get(p + k * stride + header) == Some(&SYNC_BYTE)))
}

impl TsFileSource {
    /// Recognises a transport stream: sync bytes in a row at one of the packet strides within
    /// the first MiB. `None` when there are none.
    pub(crate) fn from_bytes(bytes: Bytes) -> Option<Self> {
        let data = bytes.as_slice();
        // The earliest framing wins; 188 before 204 before 192 on a tie, as 188 is the norm.
        let (start, stride, header) = [(188, 0), (204, 0), (192, 4)]
            .into_iter()
            .filter_map(|(stride, header)| {
                find_sync(data, 0, SYNC_SEARCH, stride, header).map(|p| (p, stride, header))
            })
            .min_by_key(|c| c.0)?;
        Some(TsFileSource {
            bytes,
            stride,
            header,
            start,
        })
    }

    /// Reads a recording already in memory; `None` when it is not one.
    pub fn from_vec(bytes: Vec<u8>) -> Option<Self> {
        Self::from_bytes(Bytes::Owned(bytes))
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    /// Bytes per packet unit in the file: 188, 192 (M2TS) or 204.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Bytes before the first packet.
    pub fn leading_garbage(&self) -> usize {
        self.start
    }

    /// Hands every packet to `on`, front to back. A packet whose own sync byte is damaged
    /// while the next one is where it should be is handed over as is (a Sync_byte_error for
    /// the analysis); when neither is, framing is lost and the bytes up to the next run of
    /// sync bytes are skipped and reported as one [`TsUnit::Resync`]. A partial packet at the
    /// end is reported as skipped bytes.
    pub fn read(&self, mut on: impl FnMut(TsUnit<'_>)) {
        let data = self.bytes.as_slice();
        let (stride, header) = (self.stride, self.header);
        let mut pos = self.start;
        while pos < data.len() {
            if pos + stride > data.len() {
                on(TsUnit::Resync(data.len() - pos));
                return;
            }
            let packet = &data[pos + header..pos + stride];
            let next_ok = data
                .get(pos + stride + header)
                .is_none_or(|&b| b == SYNC_BYTE);
            if packet[0] == SYNC_BYTE || next_ok {
                on(TsUnit::Packet(packet));
                pos += stride;
                continue;
            }
            // However long the garbage: a recording's later packets are never given up on.
            match find_sync(data, pos + 1, usize::MAX, stride, header) {
                Some(p) => {
                    on(TsUnit::Resync(p - pos));
                    pos = p;
                }
                None => {
                    on(TsUnit::Resync(data.len() - pos));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::ts::PACKET_LEN;

    fn packets(n: usize, stride: usize, header: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let mut unit = vec![0u8; stride];
            unit[header] = SYNC_BYTE;
            unit[header + 1] = 0x01;
            unit[header + 3] = 0x10 | (i as u8 & 0x0f);
            out.extend(unit);
        }
        out
    }

    fn units(src: &TsFileSource) -> (usize, Vec<usize>) {
        let (mut n, mut skipped) = (0, Vec::new());
        src.read(|u| match u {
            TsUnit::Packet(p) => {
                assert!(p.len() == PACKET_LEN || p.len() == 204);
                n += 1
            }
            TsUnit::Resync(k) => skipped.push(k),
        });
        (n, skipped)
    }

    #[test]
    fn recognises_strides_and_resyncs_after_garbage() {
        for (stride, header) in [(188, 0), (192, 4), (204, 0)] {
            let mut data = b"junk!".to_vec();
            data.extend(packets(20, stride, header));
            data.extend([0x11; 77]);
            data.extend(packets(10, stride, header));
            // A damaged sync byte inside framing is handed over as a packet.
            let damaged = 5 + 10 * stride + header;
            data[damaged] = 0x48;
            let src = TsFileSource::from_vec(data).expect("a transport stream");
            assert_eq!((src.stride(), src.leading_garbage()), (stride, 5));
            assert_eq!(units(&src), (30, vec![77]), "stride {stride}");
        }
        assert!(TsFileSource::from_vec(vec![0x47; 100]).is_none());
        assert!(TsFileSource::from_vec(b"not a transport stream at all".repeat(100)).is_none());
        // Garbage longer than the recognition window does not lose the packets after it.
        let mut data = packets(10, 188, 0);
        data.extend(vec![0x11; 2 * SYNC_SEARCH]);
        data.extend(packets(10, 188, 0));
        let src = TsFileSource::from_vec(data).unwrap();
        assert_eq!(units(&src), (20, vec![2 * SYNC_SEARCH]));
        // A cut last packet is reported as skipped bytes.
        let mut data = packets(8, 188, 0);
        data.truncate(data.len() - 100);
        let src = TsFileSource::from_vec(data).unwrap();
        assert_eq!(units(&src), (7, vec![88]));
    }
}
