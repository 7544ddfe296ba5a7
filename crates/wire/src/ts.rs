//! MPEG-2 transport stream (ISO/IEC 13818-1): datagram framing, the packet header and
//! adaptation field (2.4.3.2-2.4.3.5), PES timestamps (2.4.3.7) and PSI/SI sections (2.4.4,
//! ETSI EN 300 468) as zero-copy views.
//!
//! Section *assembly* across packets is stateful and lives in the analysis crate; here a
//! [`Section`] is a view over bytes already put together.

/// The sync byte that starts every transport stream packet.
pub const SYNC_BYTE: u8 = 0x47;
/// A transport stream packet; 204-byte packets carry 16 Reed-Solomon bytes after these.
pub const PACKET_LEN: usize = 188;
/// The null PID: stuffing, exempt from continuity (2.4.3.3).
pub const NULL_PID: u16 = 0x1fff;
/// The PAT's PID.
pub const PAT_PID: u16 = 0x0000;
/// The CAT's PID.
pub const CAT_PID: u16 = 0x0001;
/// DVB NIT (EN 300 468 table 1).
pub const NIT_PID: u16 = 0x0010;
/// DVB SDT and BAT.
pub const SDT_PID: u16 = 0x0011;
/// DVB EIT.
pub const EIT_PID: u16 = 0x0012;
/// DVB TDT and TOT.
pub const TDT_PID: u16 = 0x0014;

/// Returns the TS packet size (188, or 204 with Reed-Solomon bytes) when the buffer is a whole
/// number of TS packets, each starting with the sync byte; `None` otherwise.
pub fn ts_packet_size(buf: &[u8]) -> Option<usize> {
    [188usize, 204].into_iter().find(|&size| {
        !buf.is_empty()
            && buf.len() % size == 0
            && buf.chunks_exact(size).all(|p| p[0] == SYNC_BYTE)
    })
}

/// The packet size of a datagram on a flow already known to carry TS: the datagram is a whole
/// number of 188- or 204-byte packets and its first byte is a sync byte. Unlike
/// [`ts_packet_size`] a later packet's sync byte may be broken: that is a `Sync_byte_error`
/// of TR 101 290 to count, not a reason to drop the datagram. 188 wins when both divide.
pub fn ts_datagram_packet_size(buf: &[u8]) -> Option<usize> {
    if buf.first() != Some(&SYNC_BYTE) {
        return None;
    }
    [188usize, 204]
        .into_iter()
        .find(|&size| buf.len() % size == 0 && (buf.len() == size || buf[size] == SYNC_BYTE))
        .or_else(|| {
            [188usize, 204]
                .into_iter()
                .find(|&size| buf.len() % size == 0)
        })
}

/// Why 188 bytes are not a usable TS packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsError {
    /// Fewer than 188 bytes.
    TooShort,
    /// The first byte is not 0x47.
    SyncByte,
    /// adaptation_field_control is 00, reserved: decoders discard the packet (2.4.3.3).
    ReservedAdaptationControl,
    /// adaptation_field_length runs past the packet.
    AdaptationOverrun,
}

/// A view over one transport stream packet. After [`TsPacket::new_checked`] succeeds no
/// accessor panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsPacket<'a> {
    buf: &'a [u8],
    /// Offset of the payload (4, or past the adaptation field).
    payload_start: usize,
}

impl<'a> TsPacket<'a> {
    /// Checks the sync byte, the adaptation field control and the adaptation field's length.
    /// Bytes past 188 (Reed-Solomon parity of 204-byte packets) are ignored.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, TsError> {
        let buf = buf.get(..PACKET_LEN).ok_or(TsError::TooShort)?;
        if buf[0] != SYNC_BYTE {
            return Err(TsError::SyncByte);
        }
        let control = (buf[3] >> 4) & 0b11;
        let payload_start = match control {
            0b00 => return Err(TsError::ReservedAdaptationControl),
            0b01 => 4,
            _ => {
                // adaptation_field_length: 183 when there is no payload, 0-182 otherwise.
                let len = usize::from(buf[4]);
                let max = if control == 0b10 { 183 } else { 182 };
                if len > max {
                    return Err(TsError::AdaptationOverrun);
                }
                5 + len
            }
        };
        Ok(TsPacket { buf, payload_start })
    }

    /// transport_error_indicator: a demodulator or gateway marked the packet as damaged.
    pub fn transport_error(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// payload_unit_start_indicator: a PES packet or a PSI pointer field starts here.
    pub fn payload_unit_start(&self) -> bool {
        self.buf[1] & 0x40 != 0
    }

    /// The 13-bit packet identifier.
    pub fn pid(&self) -> u16 {
        u16::from_be_bytes([self.buf[1] & 0x1f, self.buf[2]])
    }

    /// transport_scrambling_control: 0 when not scrambled.
    pub fn scrambling(&self) -> u8 {
        self.buf[3] >> 6
    }

    /// Whether the packet carries payload (adaptation_field_control 01 or 11).
    pub fn has_payload(&self) -> bool {
        self.buf[3] & 0x10 != 0
    }

    /// The 4-bit continuity_counter.
    pub fn continuity_counter(&self) -> u8 {
        self.buf[3] & 0x0f
    }

    /// The adaptation field, when present and at least one byte long (its flags).
    pub fn adaptation(&self) -> Option<AdaptationField<'a>> {
        if self.buf[3] & 0x20 == 0 || self.buf[4] == 0 {
            return None;
        }
        Some(AdaptationField {
            buf: &self.buf[5..self.payload_start],
        })
    }

    /// The payload bytes (empty when there is none).
    pub fn payload(&self) -> &'a [u8] {
        if self.has_payload() {
            &self.buf[self.payload_start..]
        } else {
            &[]
        }
    }

    /// The 188 bytes of the packet.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// The adaptation field after its length byte (2.4.3.4); at least one byte (the flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptationField<'a> {
    buf: &'a [u8],
}

impl AdaptationField<'_> {
    /// discontinuity_indicator: the continuity counter or the PCR time base restarts here.
    pub fn discontinuity(&self) -> bool {
        self.buf[0] & 0x80 != 0
    }

    /// random_access_indicator.
    pub fn random_access(&self) -> bool {
        self.buf[0] & 0x40 != 0
    }

    /// The program clock reference, when the PCR flag is set and its 6 bytes are present.
    pub fn pcr(&self) -> Option<Pcr> {
        if self.buf[0] & 0x10 == 0 {
            return None;
        }
        let b = self.buf.get(1..7)?;
        // 33-bit base at 90 kHz, 6 reserved bits, 9-bit extension at 27 MHz (2.4.3.5).
        let base = (u64::from(b[0]) << 25)
            | (u64::from(b[1]) << 17)
            | (u64::from(b[2]) << 9)
            | (u64::from(b[3]) << 1)
            | (u64::from(b[4]) >> 7);
        let extension = (u64::from(b[4] & 1) << 8) | u64::from(b[5]);
        Some(Pcr(base * 300 + extension))
    }
}

/// A program clock reference in 27 MHz ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pcr(pub u64);

impl Pcr {
    /// The PCR wraps after 2^33 periods of 90 kHz (about 26.5 hours).
    pub const MODULUS: u64 = (1 << 33) * 300;

    /// The 6 bytes of the adaptation field's PCR field (reserved bits set), as a muxer writes
    /// them: the inverse of [`AdaptationField::pcr`].
    pub fn to_bytes(self) -> [u8; 6] {
        let base = (self.0 / 300) % (1 << 33);
        let extension = self.0 % 300;
        [
            (base >> 25) as u8,
            (base >> 17) as u8,
            (base >> 9) as u8,
            (base >> 1) as u8,
            ((base & 1) << 7) as u8 | 0x7e | (extension >> 8) as u8,
            extension as u8,
        ]
    }

    /// Ticks from `earlier` to `self`, across one wrap of the clock.
    pub fn ticks_since(self, earlier: Pcr) -> u64 {
        (self.0 + Self::MODULUS - earlier.0) % Self::MODULUS
    }
}

/// The PTS of a PES packet starting at `payload` (2.4.3.7), in 90 kHz ticks; `None` when the
/// payload is not a PES header with a PTS.
pub fn pes_pts(payload: &[u8]) -> Option<u64> {
    if payload.len() < 14 || payload[..3] != [0, 0, 1] {
        return None;
    }
    // Streams whose PES packets have no optional header (table 2-22).
    if matches!(
        payload[3],
        0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xf2 | 0xf8 | 0xff
    ) {
        return None;
    }
    if payload[6] >> 6 != 0b10 || payload[7] & 0x80 == 0 {
        return None;
    }
    let p = &payload[9..14];
    Some(
        (u64::from(p[0] >> 1 & 0x07) << 30)
            | (u64::from(p[1]) << 22)
            | (u64::from(p[2] >> 1) << 15)
            | (u64::from(p[3]) << 7)
            | u64::from(p[4] >> 1),
    )
}

/// The 5 bytes of a PES header's PTS field (PTS only, marker bits set): the inverse of
/// [`pes_pts`].
pub fn pts_bytes(pts: u64) -> [u8; 5] {
    [
        0x21 | ((pts >> 29) as u8 & 0x0e),
        (pts >> 22) as u8,
        ((pts >> 14) as u8 & 0xfe) | 1,
        (pts >> 7) as u8,
        ((pts << 1) as u8) | 1,
    ]
}

/// Why assembled bytes are not a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionError {
    /// Fewer than the 3 header bytes, or fewer than section_length announces.
    Truncated,
    /// section_length above 1021 (PSI) or 4093 (private sections).
    TooLong,
}

/// table_id of a PAT section.
pub const TABLE_PAT: u8 = 0x00;
/// table_id of a CAT section.
pub const TABLE_CAT: u8 = 0x01;
/// table_id of a PMT section.
pub const TABLE_PMT: u8 = 0x02;
/// table_id of the NIT of the actual network.
pub const TABLE_NIT_ACTUAL: u8 = 0x40;
/// table_id of the SDT of the actual transport stream.
pub const TABLE_SDT_ACTUAL: u8 = 0x42;
/// table_id of the TDT.
pub const TABLE_TDT: u8 = 0x70;
/// table_id of the TOT.
pub const TABLE_TOT: u8 = 0x73;
/// The table_id that fills the rest of a packet after the last section.
pub const TABLE_STUFFING: u8 = 0xff;

/// CRC-32/MPEG-2 (ISO/IEC 13818-1 annex A): a section whose CRC is right gives 0 over its
/// whole length, CRC included. Slice-by-16 tables: every PAT and PMT repetition (tens per
/// second per flow) is checked, and the byte-at-a-time table was 3 % of the TS benchmark.
const CRC_MPEG2: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_MPEG_2);

/// CRC-32/MPEG-2 of `bytes`: what a section's CRC_32 field holds for the bytes before it.
pub fn crc32_mpeg2(bytes: &[u8]) -> u32 {
    CRC_MPEG2.checksum(bytes)
}

/// The total length (header included) of a section whose first 3 bytes are `header`.
pub fn section_total_len(header: [u8; 3]) -> usize {
    3 + (usize::from(header[1] & 0x0f) << 8 | usize::from(header[2]))
}

/// A whole PSI/SI section (2.4.4.10-11): header, body and, where the syntax has one, CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section<'a> {
    buf: &'a [u8],
}

impl<'a> Section<'a> {
    /// Checks the length fields; `buf` may run past the section (the rest is ignored).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, SectionError> {
        let header: [u8; 3] = buf
            .get(..3)
            .and_then(|h| h.try_into().ok())
            .ok_or(SectionError::Truncated)?;
        let total = section_total_len(header);
        let syntax = header[1] & 0x80 != 0;
        // PSI tables below 0x40 are limited to 1021 bytes; other (private, SI) to 4093.
        let limit = if header[0] < 0x40 { 1021 } else { 4093 } + 3;
        if total > limit {
            return Err(SectionError::TooLong);
        }
        // The long form needs its 5 extension bytes and the CRC.
        if syntax && total < 3 + 5 + 4 {
            return Err(SectionError::Truncated);
        }
        let buf = buf.get(..total).ok_or(SectionError::Truncated)?;
        Ok(Section { buf })
    }

    /// table_id.
    pub fn table_id(&self) -> u8 {
        self.buf[0]
    }

    /// section_syntax_indicator: the long form with extension, version and CRC.
    pub fn long_form(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// Whether the section carries a CRC_32: the long form, and the TOT (EN 300 468 5.2.6).
    pub fn has_crc(&self) -> bool {
        (self.long_form() || self.table_id() == TABLE_TOT) && self.buf.len() >= 7
    }

    /// True when the section has no CRC or its CRC is right.
    pub fn crc_ok(&self) -> bool {
        !self.has_crc() || CRC_MPEG2.checksum(self.buf) == 0
    }

    /// table_id_extension (transport_stream_id, program_number, service id...); long form only.
    pub fn table_id_extension(&self) -> Option<u16> {
        self.long_form()
            .then(|| u16::from_be_bytes([self.buf[3], self.buf[4]]))
    }

    /// version_number; long form only.
    pub fn version(&self) -> Option<u8> {
        self.long_form().then(|| (self.buf[5] >> 1) & 0x1f)
    }

    /// The bytes between the header (3 bytes, or 8 in the long form) and the CRC.
    pub fn body(&self) -> &'a [u8] {
        let start = if self.long_form() { 8 } else { 3 };
        let end = self.buf.len() - if self.has_crc() { 4 } else { 0 };
        self.buf.get(start..end).unwrap_or(&[])
    }

    /// The whole section.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// The (program_number, PID) entries of a PAT body; program 0 names the NIT's PID.
pub fn pat_entries(body: &[u8]) -> impl Iterator<Item = (u16, u16)> + '_ {
    body.chunks_exact(4).map(|e| {
        (
            u16::from_be_bytes([e[0], e[1]]),
            u16::from_be_bytes([e[2] & 0x1f, e[3]]),
        )
    })
}

/// One elementary stream of a PMT (2.4.4.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmtStream<'a> {
    /// stream_type (table 2-34).
    pub stream_type: u8,
    /// elementary_PID.
    pub pid: u16,
    /// The ES_info descriptors.
    pub descriptors: &'a [u8],
}

/// A PMT body: PCR_PID, program descriptors, then the elementary streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pmt<'a> {
    /// PCR_PID (0x1FFF: no PCR).
    pub pcr_pid: u16,
    /// The program_info descriptors.
    pub descriptors: &'a [u8],
    streams: &'a [u8],
}

impl<'a> Pmt<'a> {
    /// `None` when the body is too short for its own length fields.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let pcr_pid = u16::from_be_bytes([*body.first()? & 0x1f, *body.get(1)?]);
        let info_len = usize::from(body.get(2)? & 0x0f) << 8 | usize::from(*body.get(3)?);
        let descriptors = body.get(4..4 + info_len)?;
        Some(Pmt {
            pcr_pid,
            descriptors,
            streams: &body[4 + info_len..],
        })
    }

    /// The elementary streams; a truncated last entry ends the list.
    pub fn streams(&self) -> impl Iterator<Item = PmtStream<'a>> + 'a {
        let mut rest = self.streams;
        std::iter::from_fn(move || {
            let e = rest.get(..5)?;
            let info_len = usize::from(e[3] & 0x0f) << 8 | usize::from(e[4]);
            let descriptors = rest.get(5..5 + info_len)?;
            let stream = PmtStream {
                stream_type: e[0],
                pid: u16::from_be_bytes([e[1] & 0x1f, e[2]]),
                descriptors,
            };
            rest = &rest[5 + info_len..];
            Some(stream)
        })
    }
}

/// The (tag, data) descriptors of a descriptor loop; a truncated last one ends the list.
pub fn descriptors(mut loop_bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let tag = *loop_bytes.first()?;
        let len = usize::from(*loop_bytes.get(1)?);
        let data = loop_bytes.get(2..2 + len)?;
        loop_bytes = &loop_bytes[2 + len..];
        Some((tag, data))
    })
}

/// One service of an SDT (EN 300 468 5.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdtService<'a> {
    /// service_id: the program_number of the service's PMT.
    pub service_id: u16,
    /// The service's descriptors.
    pub descriptors: &'a [u8],
}

/// The services of an SDT body (after original_network_id and a reserved byte).
pub fn sdt_services(body: &[u8]) -> impl Iterator<Item = SdtService<'_>> {
    let mut rest = body.get(3..).unwrap_or(&[]);
    std::iter::from_fn(move || {
        let e = rest.get(..5)?;
        let len = usize::from(e[3] & 0x0f) << 8 | usize::from(e[4]);
        let descriptors = rest.get(5..5 + len)?;
        let service = SdtService {
            service_id: u16::from_be_bytes([e[0], e[1]]),
            descriptors,
        };
        rest = &rest[5 + len..];
        Some(service)
    })
}

/// The service descriptor (tag 0x48): service_type, provider name and service name, the names
/// as raw DVB strings (see [`dvb_text`]).
pub fn service_descriptor(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let service_type = *data.first()?;
    let provider_len = usize::from(*data.get(1)?);
    let provider = data.get(2..2 + provider_len)?;
    let name_len = usize::from(*data.get(2 + provider_len)?);
    let name = data.get(3 + provider_len..3 + provider_len + name_len)?;
    Some((service_type, provider, name))
}

/// A DVB string (EN 300 468 annex A) as text: a leading character-table selector is dropped;
/// UTF-8 (selector 0x15) is decoded as such, anything else byte by byte as Latin-1, which is
/// right for the default table's ASCII range; control codes are dropped.
pub fn dvb_text(raw: &[u8]) -> String {
    let (utf8, text) = match raw.first() {
        Some(0x15) => (true, &raw[1..]),
        Some(0x10) => (false, raw.get(3..).unwrap_or(&[])),
        Some(0x1f) => (false, raw.get(2..).unwrap_or(&[])),
        Some(&b) if b < 0x20 => (false, &raw[1..]),
        _ => (false, raw),
    };
    if utf8 {
        return String::from_utf8_lossy(text)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
    }
    text.iter()
        .filter(|&&b| !(b < 0x20 || (0x80..0xa0).contains(&b)))
        .map(|&b| char::from(b))
        .collect()
}

/// What a PMT stream_type carries, as a short codec name (13818-1 table 2-34 and common
/// registrations); stream_type 0x06 (PES private data) is told apart by its descriptors.
pub fn stream_type_name(stream_type: u8, descriptors_loop: &[u8]) -> &'static str {
    match stream_type {
        0x01 => "mpeg1-video",
        0x02 => "mpeg2-video",
        0x03 => "mpeg1-audio",
        0x04 => "mpeg2-audio",
        0x05 => "private-sections",
        0x06 => {
            for (tag, _) in descriptors(descriptors_loop) {
                match tag {
                    0x6a => return "ac3",
                    0x7a => return "eac3",
                    0x7b => return "dts",
                    0x56 => return "teletext",
                    0x59 => return "dvb-subtitles",
                    _ => {}
                }
            }
            "private-pes"
        }
        0x0b => "dsmcc",
        0x0f => "aac",
        0x10 => "mpeg4-video",
        0x11 => "aac-latm",
        0x15 => "metadata",
        0x1b => "h264",
        0x20 => "h264-mvc",
        0x24 => "h265",
        0x42 => "cavs",
        0x81 => "ac3",
        0x86 => "scte35",
        0x87 => "eac3",
        0xd1 => "dirac",
        0xea => "vc1",
        _ => "other",
    }
}

/// Whether a stream_type's packets are PES (and so may carry PTS), not sections.
pub fn stream_type_is_pes(stream_type: u8) -> bool {
    !matches!(stream_type, 0x05 | 0x0a..=0x0d | 0x86)
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
        assert_eq!(ts_datagram_packet_size(&b), Some(188));
        b[188] = 0;
        assert_eq!(ts_packet_size(&b), None);
        // On a known TS flow a broken sync byte inside keeps the datagram.
        assert_eq!(ts_datagram_packet_size(&b), Some(188));
        let mut c = vec![0u8; 2 * 204];
        c[0] = SYNC_BYTE;
        c[204] = SYNC_BYTE;
        assert_eq!(ts_packet_size(&c), Some(204));
        assert_eq!(ts_datagram_packet_size(&c), Some(204));
        assert_eq!(ts_packet_size(&[]), None);
        assert_eq!(ts_datagram_packet_size(&[]), None);
        assert_eq!(ts_datagram_packet_size(&[SYNC_BYTE; 100]), None);
    }

    fn packet(header: [u8; 4], rest: &[u8]) -> Vec<u8> {
        let mut p = header.to_vec();
        p.extend_from_slice(rest);
        p.resize(PACKET_LEN, 0xff);
        p
    }

    #[test]
    fn header_fields() {
        // TEI, PUSI, PID 0x1234, scrambling 10, payload only, CC 7.
        let p = packet([0x47, 0xc0 | 0x12, 0x34, 0x80 | 0x10 | 7], &[]);
        let ts = TsPacket::new_checked(&p).unwrap();
        assert!(ts.transport_error() && ts.payload_unit_start());
        assert_eq!(ts.pid(), 0x1234);
        assert_eq!(ts.scrambling(), 2);
        assert!(ts.has_payload());
        assert_eq!(ts.continuity_counter(), 7);
        assert_eq!(ts.payload().len(), 184);
        assert!(ts.adaptation().is_none());
    }

    #[test]
    fn adaptation_field_and_pcr() {
        // PCR base 0x1_2345_6789 (33 bits), extension 0x123.
        let base: u64 = 0x1_2345_6789;
        let ext: u64 = 0x123;
        let mut af = vec![7, 0x80 | 0x10];
        af.extend_from_slice(&Pcr(base * 300 + ext).to_bytes());
        let p = packet([0x47, 0x01, 0x00, 0x30], &af);
        let ts = TsPacket::new_checked(&p).unwrap();
        let a = ts.adaptation().unwrap();
        assert!(a.discontinuity());
        assert_eq!(a.pcr(), Some(Pcr(base * 300 + ext)));
        assert_eq!(ts.payload().len(), 188 - 4 - 8);
        // Adaptation only: no payload.
        let p = packet([0x47, 0x01, 0x00, 0x20], &[183, 0]);
        assert_eq!(TsPacket::new_checked(&p).unwrap().payload(), &[] as &[u8]);
        // Too long an adaptation field, reserved control, bad sync, short.
        let p = packet([0x47, 0x01, 0x00, 0x30], &[183]);
        assert_eq!(TsPacket::new_checked(&p), Err(TsError::AdaptationOverrun));
        let p = packet([0x47, 0x01, 0x00, 0x00], &[]);
        assert_eq!(
            TsPacket::new_checked(&p),
            Err(TsError::ReservedAdaptationControl)
        );
        let p = packet([0x48, 0x01, 0x00, 0x10], &[]);
        assert_eq!(TsPacket::new_checked(&p), Err(TsError::SyncByte));
        assert_eq!(TsPacket::new_checked(&p[..187]), Err(TsError::TooShort));
    }

    #[test]
    fn pcr_wraps() {
        let late = Pcr(Pcr::MODULUS - 300);
        assert_eq!(Pcr(600).ticks_since(late), 900);
        assert_eq!(Pcr(900).ticks_since(Pcr(600)), 300);
    }

    #[test]
    fn pes_pts_is_read() {
        let pts: u64 = 0x1_fedc_ba98 & ((1 << 33) - 1);
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5];
        pes.extend_from_slice(&pts_bytes(pts));
        assert_eq!(pes_pts(&pes), Some(pts));
        pes[7] = 0; // no PTS
        assert_eq!(pes_pts(&pes), None);
        pes[3] = 0xbe; // padding stream: no header
        pes[7] = 0x80;
        assert_eq!(pes_pts(&pes), None);
    }

    /// A PAT from ffmpeg's muxer: one program (1) with its PMT on PID 0x1000.
    const PAT: [u8; 16] = [
        0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1, 0x04,
        0xb2,
    ];

    #[test]
    fn sections_and_crc() {
        let s = Section::new_checked(&PAT).unwrap();
        assert_eq!(s.table_id(), TABLE_PAT);
        assert!(s.crc_ok());
        assert_eq!(s.table_id_extension(), Some(1));
        assert_eq!(s.version(), Some(0));
        assert_eq!(pat_entries(s.body()).collect::<Vec<_>>(), vec![(1, 0x1000)]);
        let mut bad = PAT;
        bad[9] ^= 1;
        assert!(!Section::new_checked(&bad).unwrap().crc_ok());
        assert_eq!(
            Section::new_checked(&PAT[..10]),
            Err(SectionError::Truncated)
        );
        assert_eq!(
            Section::new_checked(&[0x02, 0xb4, 0x00]),
            Err(SectionError::TooLong)
        );
    }

    #[test]
    fn pmt_streams_and_names() {
        // PCR PID 0x100, no program info; H.264 on 0x100; AC-3 as private PES on 0x101.
        let body = [
            0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x06, 0xe1, 0x01, 0xf0, 0x03,
            0x6a, 0x01, 0x00,
        ];
        let pmt = Pmt::parse(&body).unwrap();
        assert_eq!(pmt.pcr_pid, 0x100);
        let streams: Vec<_> = pmt.streams().collect();
        assert_eq!(streams.len(), 2);
        assert_eq!(
            stream_type_name(streams[0].stream_type, streams[0].descriptors),
            "h264"
        );
        assert_eq!(streams[1].pid, 0x101);
        assert_eq!(
            stream_type_name(streams[1].stream_type, streams[1].descriptors),
            "ac3"
        );
        // Truncated: the last entry is dropped, nothing panics.
        assert_eq!(Pmt::parse(&body[..12]).unwrap().streams().count(), 1);
        assert!(Pmt::parse(&body[..3]).is_none());
    }

    #[test]
    fn sdt_service_names() {
        // original_network_id 1, reserved; service 1, running, service descriptor.
        let mut body = vec![0x00, 0x01, 0xff, 0x00, 0x01, 0xfc, 0x80, 0x00];
        let desc = [
            0x48, 0x0d, 0x01, 0x06, b'F', b'F', b'm', b'p', b'e', b'g', 0x04, b'S', b'v', b'c',
            b'1',
        ];
        body[7] = desc.len() as u8;
        body.extend_from_slice(&desc);
        let services: Vec<_> = sdt_services(&body).collect();
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].service_id, 1);
        let (tag, data) = descriptors(services[0].descriptors).next().unwrap();
        assert_eq!(tag, 0x48);
        let (kind, provider, name) = service_descriptor(data).unwrap();
        assert_eq!(
            (kind, dvb_text(provider), dvb_text(name)),
            (1, "FFmpeg".into(), "Svc1".into())
        );
        assert_eq!(dvb_text(&[0x15, 0xc3, 0xa9]), "é");
        assert_eq!(dvb_text(&[0x05, b'a', 0x86, b'b']), "ab");
    }
}
