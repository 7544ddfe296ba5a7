//! pcap / pcapng files, memory-mapped and parsed in place.
//!
//! Why not pcap-parser's streaming reader: it `read()`s the file into a buffer and moves the
//! buffer's tail on every refill. On a 1.4 GB capture of full-size video packets that copy was
//! a third of the whole analysis time (profile in docs/architecture.md). Mapping the file
//! reads it straight from the page cache; only the cache lines of the headers we look at are
//! ever touched. Legacy pcap record headers (16 bytes) are read here; pcapng blocks go
//! through pcap-parser's slice parsers.
//!
//! Memory stays constant: pages already read are handed back to the kernel (they stay in the
//! page cache) every [`RELEASE_STEP`] bytes, so the resident set does not grow with the file.

use memmap2::Mmap;
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};
use std::fs::File;
use std::path::{Path, PathBuf};
use wire::prefetch::{prefetch, prefetch_to_l2};
use wire::{Frame, LinkType, SkipReason};

/// A record larger than this is taken as corruption rather than data.
const MAX_RECORD: usize = 256 << 20;
/// Latest capture time accepted (2^62 ns, in 2116).
pub const MAX_TIME_NS: i64 = 1 << 62;
/// Consumed pages are released to the kernel in steps of this many bytes.
const RELEASE_STEP: usize = 8 << 20;

/// What the reader hands over.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    /// A frame.
    Frame(Frame<'a>),
    /// A record that could not be handed over, and why.
    Skipped(SkipReason),
}

/// A file that cannot be read at all. One line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, not a pcap or pcapng capture nor an MPEG-TS recording")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A directory, pipe or device.
    #[error("{path}: not a regular file (give a pcap or pcapng file)")]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// Neither pcap, pcapng nor MPEG-TS.
    #[error(
        "{path}: not a pcap or pcapng capture, nor an MPEG-TS recording (unrecognised content)"
    )]
    NotACapture {
        /// The file.
        path: PathBuf,
    },
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    units_per_second: u64,
    offset_s: i64,
}

/// The bytes of a capture: a mapped file, or bytes already in memory.
pub(crate) enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// The container format, from the file header.
#[derive(Clone, Copy, Debug)]
enum Format {
    /// Legacy pcap: one link type, micro- or nanosecond times, either byte order.
    Pcap {
        link: LinkType,
        nanos: bool,
        big_endian: bool,
    },
    /// pcapng: link type and time resolution per interface.
    Pcapng,
}

/// A pcap or pcapng file. [`PcapFileSource::reader`] reads its records; the frames borrow
/// the source, so a caller may keep a batch of them while it reads on.
pub struct PcapFileSource {
    bytes: Bytes,
    format: Format,
    /// Offset of the first record.
    start: usize,
}

/// Reads the records of a [`PcapFileSource`] front to back.
pub struct PcapReader<'a> {
    source: &'a PcapFileSource,
    /// Offset of the next record.
    pos: usize,
    /// Everything before this offset was handed back to the kernel.
    released: usize,
    blocks: BlockDecoder,
    lookahead: Lookahead,
    finished: bool,
}

/// Per-file state needed to turn pcapng blocks into frames.
#[derive(Debug, Default)]
struct BlockDecoder {
    interfaces: Vec<Interface>,
    last_ns: i64,
    /// Byte order of the current pcapng section, once its header was seen.
    big_endian: Option<bool>,
}

impl std::fmt::Debug for PcapFileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapFileSource")
            .field("size", &self.size())
            .field("format", &self.format)
            .finish()
    }
}

/// Reads a u32 at `at` in the given byte order; the caller checked the bounds. One bounds
/// check for the four bytes (four, one per byte, cost the reader 60 instructions a record).
#[inline(always)]
fn u32_at(data: &[u8], at: usize, big_endian: bool) -> u32 {
    let b: [u8; 4] = data[at..at + 4]
        .try_into()
        .expect("a four-byte range is four bytes");
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Maps a whole regular, non-empty file read-only.
pub(crate) fn map_file(path: &Path) -> Result<Bytes, CaptureError> {
    let io = |source| CaptureError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(CaptureError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() == 0 {
        return Err(CaptureError::Empty {
            path: path.to_owned(),
        });
    }
    // SAFETY: the map is read-only and private to this reader. The one hazard is another
    // process truncating the file while it is mapped (SIGBUS); documented on the sources.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(&file) }.map_err(io)?;
    // Readahead in large steps; we read front to back once.
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Bytes::Mapped(map))
}

/// A file given to `analyze`: a packet capture, or a recorded transport stream.
#[derive(Debug)]
pub enum InputFile {
    /// pcap or pcapng.
    Capture(PcapFileSource),
    /// A raw MPEG-TS recording (.ts, .m2ts).
    Ts(crate::ts_file::TsFileSource),
}

impl InputFile {
    /// Opens a file and tells by its content what it is.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let bytes = map_file(path)?;
        let is_capture = PcapFileSource::recognises(bytes.as_slice());
        if is_capture {
            return PcapFileSource::from_bytes_inner(bytes)
                .map(InputFile::Capture)
                .ok_or_else(|| CaptureError::NotACapture {
                    path: path.to_owned(),
                });
        }
        crate::ts_file::TsFileSource::from_bytes(bytes)
            .map(InputFile::Ts)
            .ok_or_else(|| CaptureError::NotACapture {
                path: path.to_owned(),
            })
    }
}

impl PcapFileSource {
    /// True when `data` starts with a pcap or pcapng header.
    fn recognises(data: &[u8]) -> bool {
        data.len() >= 4
            && (data[..4] == PCAPNG_SHB
                || matches!(
                    u32_at(data, 0, false),
                    0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1
                ))
    }

    /// Opens a capture file; fails with one clear line when it is not a capture.
    ///
    /// The file is memory-mapped: it must not be truncated by another process while it is
    /// read (appending, as a running tcpdump does, is fine; the part present at open is read).
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::from_bytes_inner(map_file(path)?).ok_or_else(|| CaptureError::NotACapture {
            path: path.to_owned(),
        })
    }

    /// Reads a capture already in memory; `None` when it is not pcap or pcapng.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        Self::from_bytes_inner(Bytes::Owned(bytes))
    }

    fn from_bytes_inner(bytes: Bytes) -> Option<Self> {
        let data = bytes.as_slice();
        if data.len() < 4 {
            return None;
        }
        let (format, pos) = if data[..4] == PCAPNG_SHB {
            (Format::Pcapng, 0)
        } else {
            if data.len() < 24 {
                return None;
            }
            let (big_endian, nanos) = match u32_at(data, 0, false) {
                0xa1b2_c3d4 => (false, false),
                0xa1b2_3c4d => (false, true),
                0xd4c3_b2a1 => (true, false),
                0x4d3c_b2a1 => (true, true),
                _ => return None,
            };
            // The link type is the low 26 bits; the bits above carry FCS information.
            let network = u32_at(data, 20, big_endian) & 0x03ff_ffff;
            let format = Format::Pcap {
                link: LinkType::from_linktype(network),
                nanos,
                big_endian,
            };
            (format, 24)
        };
        Some(PcapFileSource {
            bytes,
            format,
            start: pos,
        })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    /// A reader at the first record.
    pub fn reader(&self) -> PcapReader<'_> {
        PcapReader {
            source: self,
            pos: self.start,
            released: 0,
            blocks: BlockDecoder::default(),
            lookahead: Lookahead::new(self.start),
            finished: false,
        }
    }
}

impl std::fmt::Debug for PcapReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapReader")
            .field("pos", &self.pos)
            .finish()
    }
}

impl<'a> PcapReader<'a> {
    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Reads up to `max` records, handing each to `on`. Returns false at the end of the file.
    /// A truncated or corrupt end is handed over as a skipped record, after which the file
    /// counts as finished: the records before it are kept.
    pub fn read_batch(&mut self, max: usize, mut on: impl FnMut(Record<'a>)) -> bool {
        if self.finished {
            return false;
        }
        let source = self.source;
        let data = source.bytes.as_slice();
        let mut pos = self.pos;
        let outcome = match source.format {
            Format::Pcap {
                link,
                nanos,
                big_endian,
            } => {
                let record = RecordFormat { link, nanos };
                // One copy of the loop per byte order, so that no field read tests it
                // (18 instructions a record).
                if big_endian {
                    read_pcap::<true>(data, &mut pos, max, record, &mut self.lookahead, &mut on)
                } else {
                    read_pcap::<false>(data, &mut pos, max, record, &mut self.lookahead, &mut on)
                }
            }
            Format::Pcapng => self.blocks.read(data, &mut pos, max, &mut on),
        };
        self.pos = pos;
        if let Some(end) = outcome {
            if let Some(reason) = end {
                on(Record::Skipped(reason));
            }
            self.finished = true;
        }
        self.release_consumed();
        !self.finished
    }

    /// Hands pages already read back to the kernel, so the resident set stays small however
    /// large the file is. They stay in the page cache.
    fn release_consumed(&mut self) {
        let Bytes::Mapped(map) = &self.source.bytes else {
            return;
        };
        let page = 4096;
        let upto = self.pos / page * page;
        if upto < self.released + RELEASE_STEP && !(self.finished && upto > self.released) {
            return;
        }
        // SAFETY: the range lies before `pos` and is never read again; the mapping is
        // read-only and file-backed, so dropping its pages loses nothing.
        #[allow(unsafe_code)]
        let _ = unsafe {
            map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                self.released,
                upto - self.released,
            )
        };
        self.released = upto;
    }
}

/// How a legacy pcap file's records are laid out (the byte order is `read_pcap`'s parameter).
#[derive(Debug, Clone, Copy)]
struct RecordFormat {
    link: LinkType,
    nanos: bool,
}

/// How many records ahead of the reader the stride prediction reaches (32 was best against
/// 16, 48 and 64: docs/performance.md, "Choices in the code"). The analysis takes frames 256 at a time
/// (`analysis::analyzer::LANES`), so the reader runs through 256 records with little work
/// between them.
const STRIDE_RECORDS: usize = 32;
/// Records per verdict on the stride prediction.
const VERDICT_RECORDS: u32 = 256;
/// Hits out of [`VERDICT_RECORDS`] above which the prediction is trusted.
const VERDICT_HITS: u32 = 192;
/// How far ahead of the record being read the bytes are streamed when the prediction fails.
const STREAM_DISTANCE: usize = 16 << 10;

/// Keeps the cache lines of the next records on their way while earlier ones are analysed.
///
/// Each pcap record's header gives the next one's offset, so reading a pcap is a chain of
/// dependent loads, each a DRAM access (about 75 ns here) on a file much larger than the
/// cache. Two ways break the chain:
/// - **Stride prediction**: cameras send runs of equal-sized packets, so the record
///   [`STRIDE_RECORDS`] ahead usually starts `STRIDE_RECORDS x` the last record's length
///   further on. Prefetching that one line per record costs almost nothing.
/// - **Streaming**: prefetching every line [`STREAM_DISTANCE`] ahead needs no prediction but
///   moves every byte of the file through the cache, about 1.4 kB per packet: memory
///   bandwidth then bounds the reader. The lines go to level 2 only, which leaves level 1
///   and its fill buffers to the flow state (about 8 % faster than into level 1).
///
/// At each record the reader checks where the prediction made [`STRIDE_RECORDS`] records
/// earlier said that record would be. Every [`VERDICT_RECORDS`] records it uses the
/// prediction if at least [`VERDICT_HITS`] of them hit, and streams otherwise: prediction
/// wins where lengths repeat, streaming where they do not (docs/performance.md, "Choices in
/// the code"). No scout walks the chain ahead: both ways already bring the headers.
#[derive(Debug)]
struct Lookahead {
    /// Records read; indexes `predicted`.
    count: usize,
    /// Where each of the next [`STRIDE_RECORDS`] records is expected to start.
    predicted: [usize; STRIDE_RECORDS],
    /// Hits among the records read since the last verdict (every [`VERDICT_RECORDS`]-th).
    hits: u32,
    /// Whether stride prediction is trusted (otherwise bytes are streamed).
    predict: bool,
    /// Streaming: every line before this offset has been prefetched.
    streamed: usize,
}

impl Lookahead {
    fn new(start: usize) -> Self {
        Lookahead {
            count: 0,
            predicted: [usize::MAX; STRIDE_RECORDS],
            hits: 0,
            predict: true,
            streamed: start,
        }
    }

    /// Called when the reader has read the header of the record at `at`, `length` bytes
    /// with its header.
    #[inline(always)]
    fn on_record(&mut self, data: &[u8], at: usize, length: usize) {
        let slot = self.count % STRIDE_RECORDS;
        self.hits += u32::from(self.predicted[slot] == at);
        let guess = at + STRIDE_RECORDS * length;
        self.predicted[slot] = guess;
        if self.predict {
            // Both lines a record's first 72 bytes usually span (16 + 14 + 20 + 8 + 12 + 2
            // bytes of record, Ethernet, IP, UDP and RTP headers): one line a record
            // halved the time to walk the chain (5 M records: 50 -> 25 ns each).
            if let Some(bytes) = data.get(guess..guess + 72) {
                prefetch(&bytes[0]);
                prefetch(&bytes[64]);
            }
        }
        self.count += 1;
        if self.count % VERDICT_RECORDS as usize == 0 {
            self.predict = self.hits >= VERDICT_HITS;
            self.hits = 0;
        }
        if !self.predict {
            self.streamed = self.streamed.max(at + STREAM_DISTANCE);
            let until = (at + 2 * STREAM_DISTANCE).min(data.len());
            while self.streamed < until {
                prefetch_to_l2(&data[self.streamed..]);
                self.streamed += 64;
            }
        }
    }
}

/// Reads up to `max` legacy pcap records from `data[*pos..]`. Returns `Some(end)` when the
/// file ends there: `Some(None)` cleanly, `Some(Some(reason))` inside a record.
///
/// Hand-written rather than pcap-parser's `parse_pcap_frame`: the record header is four
/// integers and this loop runs once per packet.
fn read_pcap<'a, const BIG_ENDIAN: bool>(
    data: &'a [u8],
    pos: &mut usize,
    max: usize,
    format: RecordFormat,
    lookahead: &mut Lookahead,
    on: &mut impl FnMut(Record<'a>),
) -> Option<Option<SkipReason>> {
    let RecordFormat { link, nanos } = format;
    let frac_scale = if nanos { 1 } else { 1_000 };
    for _ in 0..max {
        let at = *pos;
        if at == data.len() {
            return Some(None);
        }
        // One bounds check for the whole header; its fields are then read at fixed offsets.
        let Some(header) = data
            .get(at..at + 16)
            .and_then(|h| <&[u8; 16]>::try_from(h).ok())
        else {
            return Some(Some(SkipReason::RecordTruncated));
        };
        let ts_sec = u32_at(header, 0, BIG_ENDIAN);
        let ts_frac = u32_at(header, 4, BIG_ENDIAN);
        let caplen = u32_at(header, 8, BIG_ENDIAN) as usize;
        let origlen = u32_at(header, 12, BIG_ENDIAN);
        if caplen > MAX_RECORD {
            return Some(Some(SkipReason::RecordCorrupt));
        }
        let Some(frame) = data.get(at + 16..at + 16 + caplen) else {
            return Some(Some(SkipReason::RecordTruncated));
        };
        *pos = at + 16 + caplen;
        lookahead.on_record(data, at, 16 + caplen);
        let arrival_ns = i64::from(ts_sec) * 1_000_000_000 + i64::from(ts_frac) * frac_scale;
        on(Record::Frame(Frame {
            arrival_ns: arrival_ns.clamp(0, MAX_TIME_NS),
            link,
            data: frame,
            wire_len: origlen.max(caplen as u32),
            vlan: None,
        }));
    }
    None
}

/// pcapng Section Header Block type: the same bytes in either byte order.
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl BlockDecoder {
    /// Reads up to `max` pcapng blocks from `data[*pos..]`; the same contract as [`read_pcap`].
    fn read<'a>(
        &mut self,
        data: &'a [u8],
        pos: &mut usize,
        max: usize,
        on: &mut impl FnMut(Record<'a>),
    ) -> Option<Option<SkipReason>> {
        for _ in 0..max {
            let block = &data[*pos..];
            if block.is_empty() {
                return Some(None);
            }
            if block.len() < 12 {
                return Some(Some(SkipReason::RecordTruncated));
            }
            if block[..4] == PCAPNG_SHB {
                // The byte-order magic 0x1A2B3C4D tells the section's endianness.
                self.big_endian = Some(block[8..12] == [0x1a, 0x2b, 0x3c, 0x4d]);
            }
            let big_endian = self.big_endian.unwrap_or(false);
            // pcap-parser (0.16 and 0.17) computes `length - 12` unchecked for some block
            // types and would underflow: a length below the block's own header and trailer is
            // caught here as corruption.
            if u32_at(block, 4, big_endian) < 12 {
                return Some(Some(SkipReason::RecordCorrupt));
            }
            let parsed = if big_endian {
                parse_block_be(block)
            } else {
                parse_block_le(block)
            };
            match parsed {
                Ok((rest, parsed)) => {
                    *pos = data.len() - rest.len();
                    self.handle(parsed, on);
                }
                Err(pcap_parser::nom::Err::Incomplete(_)) => {
                    return Some(Some(SkipReason::RecordTruncated))
                }
                Err(_) => return Some(Some(SkipReason::RecordCorrupt)),
            }
        }
        None
    }

    fn handle<'a>(&mut self, block: Block<'a>, on: &mut impl FnMut(Record<'a>)) {
        match block {
            Block::SectionHeader(_) => {
                // Interface numbers restart in each section.
                self.interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                self.interfaces.push(Interface {
                    link: LinkType::from_linktype(idb.linktype.0 as u32),
                    // pcapng if_tsresol: 10^-n or 2^-n seconds; default microseconds.
                    units_per_second: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset_s: idb.ts_offset(),
                });
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() else {
                    on(Record::Skipped(SkipReason::RecordCorrupt));
                    return;
                };
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let per = u128::from(iface.units_per_second);
                let ns = (u128::from(units) / per) * 1_000_000_000
                    + (u128::from(units) % per) * 1_000_000_000 / per;
                let arrival_ns = i64::try_from(ns)
                    .unwrap_or(i64::MAX)
                    .saturating_add(iface.offset_s.saturating_mul(1_000_000_000));
                let len = (epb.caplen as usize).min(epb.data.len());
                self.emit(on, arrival_ns, iface.link, &epb.data[..len], epb.origlen);
            }
            Block::SimplePacket(spb) => {
                // No timestamp of its own: it takes the previous record's time.
                let Some(iface) = self.interfaces.first().copied() else {
                    on(Record::Skipped(SkipReason::RecordCorrupt));
                    return;
                };
                let arrival_ns = self.last_ns;
                self.emit(on, arrival_ns, iface.link, spb.data, spb.origlen);
            }
            _ => {}
        }
    }

    fn emit<'a>(
        &mut self,
        on: &mut impl FnMut(Record<'a>),
        arrival_ns: i64,
        link: LinkType,
        data: &'a [u8],
        wire_len: u32,
    ) {
        // Times outside 1970..2116 (a corrupt record, an absurd pcapng offset) are clamped, so
        // that any difference of two capture times fits in an i64.
        let arrival_ns = arrival_ns.clamp(0, MAX_TIME_NS);
        self.last_ns = arrival_ns;
        on(Record::Frame(Frame {
            arrival_ns,
            link,
            data,
            wire_len: wire_len.max(data.len() as u32),
            vlan: None,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A legacy pcap of the given records (caplen, data length) in either byte order.
    fn pcap(big_endian: bool, nanos: bool, records: &[(u32, usize)]) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let mut out = Vec::new();
        put(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        put(
            &mut out,
            0x0004_0002u32.rotate_left(if big_endian { 16 } else { 0 }),
        );
        put(&mut out, 0);
        put(&mut out, 0);
        put(&mut out, 65535);
        put(&mut out, 1);
        for (i, &(caplen, len)) in records.iter().enumerate() {
            put(&mut out, 1_700_000_000 + i as u32);
            put(&mut out, 250);
            put(&mut out, caplen);
            put(&mut out, caplen + 4);
            out.extend(std::iter::repeat_n(0xab, len));
        }
        out
    }

    fn read_all(source: &PcapFileSource) -> (Vec<(i64, usize, u32)>, Vec<SkipReason>) {
        let (mut frames, mut skipped) = (Vec::new(), Vec::new());
        let mut reader = source.reader();
        while reader.read_batch(2, |r| match r {
            Record::Frame(f) => frames.push((f.arrival_ns, f.data.len(), f.wire_len)),
            Record::Skipped(reason) => skipped.push(reason),
        }) {}
        (frames, skipped)
    }

    #[test]
    fn legacy_pcap_in_both_byte_orders_and_resolutions() {
        for big_endian in [false, true] {
            for nanos in [false, true] {
                let bytes = pcap(big_endian, nanos, &[(60, 60), (0, 0), (1500, 1500)]);
                let source = PcapFileSource::from_bytes(bytes).unwrap();
                let (frames, skipped) = read_all(&source);
                let frac = if nanos { 250 } else { 250_000 };
                assert_eq!(
                    frames,
                    vec![
                        (1_700_000_000_000_000_000 + frac, 60, 64),
                        (1_700_000_001_000_000_000 + frac, 0, 4),
                        (1_700_000_002_000_000_000 + frac, 1500, 1504)
                    ],
                    "big endian {big_endian}, nanos {nanos}"
                );
                assert!(skipped.is_empty());
                let mut reader = source.reader();
                while reader.read_batch(100, |_| {}) {}
                assert_eq!(reader.position(), source.size());
            }
        }
    }

    /// The lookahead only prefetches: whichever way it goes, every record is read as written,
    /// in batches of any size, and the prediction is trusted exactly when lengths repeat.
    #[test]
    fn lookahead_predicts_equal_lengths_and_streams_varying_ones() {
        let equal: Vec<(u32, usize)> = vec![(100, 100); 1_000];
        let varying: Vec<(u32, usize)> = (0..1_000u32)
            .map(|i| {
                let len = 20 + (i * 37) % 200;
                (len, len as usize)
            })
            .collect();
        for (records, predicted) in [(&equal, true), (&varying, false)] {
            let source = PcapFileSource::from_bytes(pcap(false, false, records)).unwrap();
            for batch in [1, 7, 4096] {
                let mut reader = source.reader();
                let mut lengths = Vec::new();
                while reader.read_batch(batch, |r| match r {
                    Record::Frame(f) => lengths.push(f.data.len() as u32),
                    Record::Skipped(reason) => panic!("{reason:?}"),
                }) {}
                let expected: Vec<u32> = records.iter().map(|r| r.0).collect();
                assert_eq!(lengths, expected, "batch {batch}");
                assert_eq!(reader.lookahead.predict, predicted, "batch {batch}");
                assert_eq!(reader.lookahead.count, 1_000);
            }
        }
    }

    #[test]
    fn a_file_ending_inside_a_record_keeps_the_records_before_it() {
        // The last record's data is cut short.
        let source = PcapFileSource::from_bytes(pcap(false, false, &[(60, 60), (60, 30)])).unwrap();
        let (frames, skipped) = read_all(&source);
        assert_eq!(
            (frames.len(), skipped),
            (1, vec![SkipReason::RecordTruncated])
        );
        // The last record's header is cut short.
        let mut bytes = pcap(false, false, &[(60, 60)]);
        bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
        let (frames, skipped) = read_all(&PcapFileSource::from_bytes(bytes).unwrap());
        assert_eq!(
            (frames.len(), skipped),
            (1, vec![SkipReason::RecordTruncated])
        );
    }

    #[test]
    fn an_impossible_record_length_is_corruption() {
        let bytes = pcap(true, false, &[(60, 60), (MAX_RECORD as u32 + 1, 10)]);
        let (frames, skipped) = read_all(&PcapFileSource::from_bytes(bytes).unwrap());
        assert_eq!(
            (frames.len(), skipped),
            (1, vec![SkipReason::RecordCorrupt])
        );
    }

    #[test]
    fn other_files_are_not_captures() {
        assert!(PcapFileSource::from_bytes(b"GIF89a and then some more bytes".to_vec()).is_none());
        assert!(PcapFileSource::from_bytes(vec![0xd4, 0xc3, 0xb2]).is_none());
        // A pcap magic with a header cut short.
        assert!(PcapFileSource::from_bytes(vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).is_none());
    }

    #[test]
    fn open_names_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("streamprobe-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pcap");
        std::fs::write(&empty, b"").unwrap();
        let text = dir.join("notes.txt");
        std::fs::write(&text, b"not a capture at all").unwrap();
        let message = |p: &Path| InputFile::open(p).unwrap_err().to_string();
        assert!(message(&empty).ends_with(
            "empty.pcap: empty file, not a pcap or pcapng capture nor an MPEG-TS recording"
        ));
        assert!(message(&text)
            .ends_with("notes.txt: not a pcap or pcapng capture, nor an MPEG-TS recording (unrecognised content)"));
        assert!(message(&dir).contains("not a regular file"));
        assert!(message(&dir.join("missing.pcap")).contains("missing.pcap: cannot read: "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
