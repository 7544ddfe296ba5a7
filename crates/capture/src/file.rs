//! pcap / pcapng files through pcap-parser's streaming readers.

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use wire::{LinkType, SkipReason};

/// Starting read buffer; grown (up to [`MAX_BUFFER`]) when one record is larger.
const BUFFER: usize = 4 << 20;
/// A record larger than this is taken as corruption rather than data.
const MAX_BUFFER: usize = 256 << 20;
/// Latest capture time accepted (2^62 ns, in 2116).
pub const MAX_TIME_NS: i64 = 1 << 62;

/// One captured frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time, ns since the Unix epoch.
    pub arrival_ns: i64,
    /// Link type of the interface it was captured on.
    pub link: LinkType,
    /// The bytes captured (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
}

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
    #[error("{path}: empty file, not a pcap or pcapng capture")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Neither pcap nor pcapng.
    #[error("{path}: not a pcap or pcapng capture (unrecognised file header)")]
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

/// A pcap or pcapng file, read as a stream.
pub struct PcapFileSource {
    reader: Box<dyn PcapReaderIterator>,
    blocks: BlockDecoder,
    size: u64,
    finished: bool,
}

/// Per-file state needed to turn blocks into frames (kept apart from the reader, whose buffer
/// the blocks borrow).
#[derive(Debug, Default)]
struct BlockDecoder {
    legacy: Option<(LinkType, bool)>,
    interfaces: Vec<Interface>,
    last_ns: i64,
    /// Byte order of the current pcapng section, once its header was seen.
    big_endian: Option<bool>,
}

impl std::fmt::Debug for PcapFileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapFileSource")
            .field("size", &self.size)
            .finish()
    }
}

impl PcapFileSource {
    /// Opens a capture file; fails with one clear line when it is not a capture.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let io = |source| CaptureError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size == 0 {
            return Err(CaptureError::Empty {
                path: path.to_owned(),
            });
        }
        Self::from_reader(file, size).map_err(|e| match e {
            None => CaptureError::NotACapture {
                path: path.to_owned(),
            },
            Some(source) => CaptureError::Io {
                path: path.to_owned(),
                source,
            },
        })
    }

    /// Reads a capture from any byte stream of `size` bytes (for progress).
    pub fn from_reader<R: Read + 'static>(
        reader: R,
        size: u64,
    ) -> Result<Self, Option<std::io::Error>> {
        let reader = match create_reader(BUFFER, reader) {
            Ok(r) => r,
            Err(PcapError::ReadError) => {
                return Err(Some(std::io::Error::other("read failed")));
            }
            Err(_) => return Err(None),
        };
        Ok(PcapFileSource {
            reader,
            blocks: BlockDecoder::default(),
            size,
            finished: false,
        })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.reader.consumed() as u64
    }

    /// Reads up to `max` records, handing each to `on`. Returns false at the end of the file.
    /// A truncated or corrupt end is handed over as a skipped record, after which the file
    /// counts as finished: the records before it are kept.
    pub fn read_batch(&mut self, max: usize, mut on: impl FnMut(Record<'_>)) -> bool {
        let mut n = 0;
        while n < max && !self.finished {
            if self.blocks.impossible_pcapng_block(self.reader.data()) {
                on(Record::Skipped(SkipReason::RecordCorrupt));
                self.finished = true;
                break;
            }
            match self.reader.next() {
                Ok((offset, block)) => {
                    n += 1;
                    self.blocks.handle(block, &mut on);
                    // No compaction per record: refill() compacts when it needs room, so the
                    // buffer is moved once per refill instead of every time half of it is read.
                    self.reader.consume_noshift(offset);
                }
                Err(PcapError::Eof) => self.finished = true,
                Err(PcapError::Incomplete(_)) => {
                    if self.reader.refill().is_err() {
                        on(Record::Skipped(SkipReason::RecordTruncated));
                        self.finished = true;
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    on(Record::Skipped(SkipReason::RecordTruncated));
                    self.finished = true;
                }
                Err(PcapError::BufferTooSmall) => {
                    let capacity = self.reader.data().len().max(BUFFER) * 2;
                    if capacity > MAX_BUFFER || !self.reader.grow(capacity) {
                        on(Record::Skipped(SkipReason::RecordCorrupt));
                        self.finished = true;
                    } else if self.reader.refill().is_err() {
                        on(Record::Skipped(SkipReason::RecordTruncated));
                        self.finished = true;
                    }
                }
                Err(_) => {
                    on(Record::Skipped(SkipReason::RecordCorrupt));
                    self.finished = true;
                }
            }
        }
        !self.finished
    }
}

/// pcapng Section Header Block type: the same bytes in either byte order.
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl BlockDecoder {
    /// True when the next pcapng block declares a total length below the 12 bytes of its own
    /// header and trailer. pcap-parser (0.16 and 0.17) computes `length - 12` unchecked and
    /// would underflow, so such a block is caught here as corruption.
    fn impossible_pcapng_block(&mut self, data: &[u8]) -> bool {
        if data.len() < 12 || self.legacy.is_some() {
            return false;
        }
        if data[..4] == PCAPNG_SHB {
            // The byte-order magic 0x1A2B3C4D tells the section's endianness.
            self.big_endian = Some(data[8..12] == [0x1a, 0x2b, 0x3c, 0x4d]);
        }
        let Some(big_endian) = self.big_endian else {
            return false;
        };
        let len = [data[4], data[5], data[6], data[7]];
        let len = if big_endian {
            u32::from_be_bytes(len)
        } else {
            u32::from_le_bytes(len)
        };
        len < 12
    }

    fn handle(&mut self, block: PcapBlockOwned<'_>, on: &mut impl FnMut(Record<'_>)) {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy = Some((
                    LinkType::from_linktype(h.network.0 as u32),
                    h.is_nanosecond_precision(),
                ));
            }
            PcapBlockOwned::Legacy(b) => {
                let (link, nanos) = self.legacy.unwrap_or((LinkType::Ethernet, false));
                let frac = i64::from(b.ts_usec) * if nanos { 1 } else { 1_000 };
                let arrival_ns = i64::from(b.ts_sec) * 1_000_000_000 + frac;
                let len = (b.caplen as usize).min(b.data.len());
                self.emit(on, arrival_ns, link, &b.data[..len], b.origlen);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                // Interface numbers restart in each section.
                self.interfaces.clear();
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    link: LinkType::from_linktype(idb.linktype.0 as u32),
                    // pcapng if_tsresol: 10^-n or 2^-n seconds; default microseconds.
                    units_per_second: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset_s: idb.ts_offset(),
                });
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
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
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                // No timestamp of its own: it takes the previous record's time.
                let Some(iface) = self.interfaces.first().copied() else {
                    on(Record::Skipped(SkipReason::RecordCorrupt));
                    return;
                };
                let arrival_ns = self.last_ns;
                self.emit(on, arrival_ns, iface.link, spb.data, spb.origlen);
            }
            PcapBlockOwned::NG(_) => {}
        }
    }

    fn emit(
        &mut self,
        on: &mut impl FnMut(Record<'_>),
        arrival_ns: i64,
        link: LinkType,
        data: &[u8],
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
        }));
    }
}
