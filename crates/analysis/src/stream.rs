//! Per-flow state: an RTP stream (one SSRC on one 4-tuple) or a plain UDP flow.

use crate::clock::{ClockEstimate, ClockSource};
use crate::frames::{AccessUnit, FrameCounter, PayloadDetector, PayloadFormat, PayloadReading};
use crate::jitter::InterarrivalJitter;
use crate::mdi::MdiMeter;
use crate::packet::MediaPacket;
use crate::seq::{SeqVerdict, SequenceEvents, SequenceFigures, SequenceTracker};
use crate::ts::{TsAnalyzer, TsLimits};
use std::net::SocketAddr;
use wire::prefetch::{prefetch, prefetch_prefix};
use wire::ts::{ts_datagram_packet_size, PACKET_LEN};

/// A flow's monitor group and its Media Delivery Index. `repr(C)`: the meter first, as the
/// last per-packet field of an [`RtpStream`].
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Delivery {
    /// MDI (RFC 4445).
    pub mdi: MdiMeter,
    /// Index of the flow's monitor group (longest prefix match on the destination).
    pub group: Option<u16>,
}

/// Packets, bytes and times common to every flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct Volume {
    /// Packets.
    pub packets: u64,
    /// UDP payload bytes as sent.
    pub bytes: u64,
    /// First arrival (ns since the epoch).
    pub first_ns: i64,
    /// Last arrival (ns since the epoch).
    pub last_ns: i64,
}

impl Volume {
    fn add(&mut self, arrival_ns: i64, bytes: u16) {
        if self.packets == 0 {
            self.first_ns = arrival_ns;
        }
        self.packets += 1;
        self.bytes += u64::from(bytes);
        self.last_ns = arrival_ns;
    }
}

/// Most RTP datagrams of a TS stream held while a gap in sequence numbers waits to be filled.
pub const REORDER_DEPTH: usize = 32;
/// Longest a datagram is held for a gap before it, ns.
pub const REORDER_WAIT_NS: i64 = 100_000_000;

/// Puts the datagrams of an RTP stream carrying TS back in sequence order before TS analysis,
/// as a receiver's RTP buffer does (RFC 3550 section 2; SMPTE 2022-1 receivers likewise): a
/// datagram that arrives within [`REORDER_DEPTH`] datagrams and [`REORDER_WAIT_NS`] of its
/// place is no continuity error; one later than that is dropped, and continuity shows its
/// packets as missing. In-order datagrams pass straight through without a copy.
#[derive(Clone, Debug, Default)]
pub struct TsReorder {
    next: Option<u16>,
    /// Held datagrams (sequence number, arrival, payload), by distance from `next`.
    held: Vec<(u16, i64, Box<[u8]>)>,
    /// Datagrams dropped as too late.
    pub too_late: u64,
}

impl TsReorder {
    /// Hands `payload` (sequence number `seq`) to `feed` in sequence order. Returns false when
    /// the datagram came too late to be put in its place.
    pub fn push(
        &mut self,
        seq: u16,
        at: i64,
        payload: &[u8],
        mut feed: impl FnMut(i64, &[u8]),
    ) -> bool {
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        if ahead >= 0x8000 {
            self.too_late += 1;
            return false;
        }
        if ahead == 0 && self.held.is_empty() {
            feed(at, payload);
            self.next = Some(seq.wrapping_add(1));
            return true;
        }
        let place = self
            .held
            .partition_point(|h| h.0.wrapping_sub(next) < ahead);
        self.held.insert(place, (seq, at, payload.into()));
        self.release(at, &mut feed);
        true
    }

    fn release(&mut self, now: i64, feed: &mut impl FnMut(i64, &[u8])) {
        loop {
            let Some(&(seq, held_at, _)) = self.held.first() else {
                return;
            };
            let next = self.next.unwrap_or(seq);
            // Give up on a gap when too much waits behind it, or for too long.
            if seq != next && self.held.len() <= REORDER_DEPTH && now - held_at <= REORDER_WAIT_NS {
                return;
            }
            let (seq, at, payload) = self.held.remove(0);
            feed(at, &payload);
            self.next = Some(seq.wrapping_add(1));
        }
    }

    /// Hands over the held datagrams whose gap has waited past [`REORDER_WAIT_NS`] by `now`
    /// (and those in order behind them): a live probe's tick, for a stream that stopped
    /// sending, whose next datagram would otherwise release them.
    pub fn release_by(&mut self, now: i64, mut feed: impl FnMut(i64, &[u8])) {
        self.release(now, &mut feed);
    }

    /// Hands over everything still held, in order (the stream ended or restarted).
    pub fn flush(&mut self, mut feed: impl FnMut(i64, &[u8])) {
        for (_, at, payload) in self.held.drain(..) {
            feed(at, &payload);
        }
        self.next = None;
    }
}

/// Bytes at the start of an [`RtpStream`] that a packet reads or writes (five cache lines):
/// the flow table's batch prefetches exactly these.
pub const RTP_STREAM_HOT_BYTES: usize = 320;

/// One RTP stream: RFC 3550 A.1 / A.8 state plus frame counting and MDI.
///
/// Laid out for 55,000 streams that outgrow the cache, where every cache line a packet
/// touches is a memory read (and, dirty, a write back): the fields every packet reads or
/// writes come first and fill [`RTP_STREAM_HOT_BYTES`] from a line boundary (`repr(C)` keeps
/// that order, a compile-time check keeps the size); what changes only on a marker bit, a
/// gap, a duplicate or a restart, and what is only reported, follows in [`StreamRecord`].
/// Before this split a packet touched 9 lines of 528 bytes.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct RtpStream {
    // Per packet (RTP_STREAM_HOT_BYTES).
    /// Sequence accounting, per-packet half.
    seq: SequenceTracker,
    /// Packets.
    packets: u64,
    /// UDP payload bytes as sent.
    bytes: u64,
    /// Last arrival (ns since the epoch).
    last_ns: i64,
    /// Largest gap between consecutive arrivals, ns.
    pub max_delta_ns: i64,
    /// Interarrival jitter (with the payload clock rate).
    jitter: InterarrivalJitter,
    /// MPEG-TS analysis, when the stream carries TS (PT 33 or TS-framed payloads).
    pub ts: Option<Box<TsOverRtp>>,
    /// The access unit in progress.
    access_unit: AccessUnit,
    /// Payload format detection.
    detector: PayloadDetector,
    /// Monitor group and MDI: the meter is per-packet state, the group index after it is not.
    pub delivery: Delivery,
    // Rare and reported only.
    /// Frame tallies, sequence events, endpoints and the rest.
    pub record: StreamRecord,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload type of the first packet.
    pub payload_type: u8,
}

// The per-packet fields end within the hot bytes (the meter is the last of them).
const _: () = assert!(
    std::mem::offset_of!(RtpStream, delivery)
        + std::mem::offset_of!(Delivery, mdi)
        + std::mem::size_of::<MdiMeter>()
        <= RTP_STREAM_HOT_BYTES
);

/// What an RTP stream changes only on rare events, or never per packet: kept after the
/// per-packet state, so that 55,000 streams' packets touch fewer cache lines. The frame
/// tallies come first: a packet with the marker bit touches them (the batch prefetches them
/// then).
#[derive(Clone, Debug)]
pub struct StreamRecord {
    /// Frames counted by marker bit.
    pub frames: FrameCounter,
    /// Sequence accounting, rare half.
    seq_events: SequenceEvents,
    /// Largest jitter estimate of the intervals taken so far, clock units.
    jitter_peak: f64,
    /// First arrival (ns since the epoch).
    first_ns: i64,
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// SSRCs that replaced this one on the same 4-tuple.
    pub ssrc_changes: u64,
    /// The last SSRC that replaced this one.
    pub new_ssrc: Option<u32>,
    /// RTCP packets attributed to this stream.
    pub rtcp_packets: u64,
    /// Where the clock rate came from.
    pub clock_source: ClockSource,
    /// The clock estimate while the source is [`ClockSource::Assumed`].
    clock_estimate: ClockEstimate,
}

/// MPEG-TS carried in RTP: the TS analysis, behind the sequence order it restores.
#[derive(Clone, Debug)]
pub struct TsOverRtp {
    /// The TS analysis.
    pub analyzer: TsAnalyzer,
    /// Sequence order restored before TS analysis.
    reorder: TsReorder,
}

impl TsReorder {
    /// Heap bytes held: the datagrams waiting for a gap.
    fn heap_bytes(&self) -> usize {
        self.held.capacity() * std::mem::size_of::<(u16, i64, Box<[u8]>)>()
            + self
                .held
                .iter()
                .map(|h| h.2.len() + crate::ALLOCATION)
                .sum::<usize>()
    }
}

impl TsOverRtp {
    /// Datagrams that came too late to be put in sequence order (left out of the TS
    /// analysis; continuity shows their packets missing).
    pub fn late_datagrams(&self) -> u64 {
        self.reorder.too_late
    }
}

impl RtpStream {
    /// Bytes this stream holds on the heap (its own struct not included).
    pub fn heap_bytes(&self) -> usize {
        self.delivery.mdi.heap_bytes()
            + self.ts.as_ref().map_or(0, |ts| {
                std::mem::size_of::<TsOverRtp>()
                    + crate::ALLOCATION
                    + ts.analyzer.heap_bytes()
                    + ts.reorder.heap_bytes()
            })
    }

    /// A stream that has not seen a packet yet, in its group (see
    /// [`crate::AnalysisConfig::delivery`]).
    pub fn new(
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
        payload_type: u8,
        (clock_rate, clock_source): (u32, ClockSource),
        delivery: Delivery,
    ) -> Self {
        RtpStream {
            seq: SequenceTracker::default(),
            packets: 0,
            bytes: 0,
            last_ns: 0,
            max_delta_ns: 0,
            jitter: InterarrivalJitter::new(clock_rate),
            ts: None,
            access_unit: AccessUnit::default(),
            detector: PayloadDetector::default(),
            delivery,
            record: StreamRecord {
                frames: FrameCounter::default(),
                seq_events: SequenceEvents::default(),
                jitter_peak: 0.0,
                first_ns: 0,
                src,
                dst,
                ssrc_changes: 0,
                new_ssrc: None,
                rtcp_packets: 0,
                clock_source,
                clock_estimate: ClockEstimate::default(),
            },
            ssrc,
            payload_type,
        }
    }

    /// Asks the CPU for the cache lines a packet will touch: the per-packet state, and the
    /// frame tallies when the packet ends an access unit (`marker`).
    #[inline(always)]
    pub fn prefetch(&self, marker: bool) {
        prefetch_prefix(self, RTP_STREAM_HOT_BYTES);
        if marker {
            prefetch(&self.record.frames);
        }
    }

    /// Packets, bytes, first and last arrival.
    pub fn volume(&self) -> Volume {
        Volume {
            packets: self.packets,
            bytes: self.bytes,
            first_ns: self.record.first_ns,
            last_ns: self.last_ns,
        }
    }

    /// Clock rate used for jitter, in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.jitter.clock_rate()
    }

    /// The sequence figures so far.
    pub fn sequence(&self) -> SequenceFigures {
        self.seq.figures(&self.record.seq_events)
    }

    /// A live interval closes: gaps open now are that interval's loss; a packet filling one
    /// later is `recovered` ([`SequenceTracker::mark_interval`]).
    pub fn mark_interval(&mut self) {
        self.seq.mark_interval(&mut self.record.seq_events);
    }

    /// Largest and mean interarrival jitter so far, in clock units.
    pub fn jitter(&self) -> (f64, f64) {
        (self.jitter.max(self.record.jitter_peak), self.jitter.mean())
    }

    /// Largest jitter estimate since the last call, in clock units (a live interval's).
    pub fn take_interval_jitter(&mut self) -> f64 {
        self.jitter.take_interval_max(&mut self.record.jitter_peak)
    }

    /// Frames and frame rate for the detected payload format.
    pub fn frames(&self) -> (u64, f64) {
        self.record.frames.frames(self.payload_format())
    }

    /// Starts TS analysis on this stream (its payloads are TS).
    pub fn carry_ts(&mut self, limits: TsLimits, ledger: &std::sync::Arc<crate::budget::Ledger>) {
        self.ts.get_or_insert_with(|| {
            let mut analyzer = TsAnalyzer::new(limits);
            analyzer.set_ledger(ledger.clone());
            Box::new(TsOverRtp {
                analyzer,
                reorder: TsReorder::default(),
            })
        });
    }

    /// Accounts one packet of this stream, in arrival order; `payload` is its RTP payload
    /// (needed for TS analysis only: may be empty otherwise).
    ///
    /// Always inlined (into the analyzer's dispatch and a confirmed candidate's replay): a
    /// call cost instructions and time (docs/performance.md, "Choices in the code").
    #[inline(always)]
    pub fn update(&mut self, p: &MediaPacket, payload: &[u8]) {
        let Some(rtp) = p.rtp else { return };
        if self.packets > 0 {
            self.max_delta_ns = self
                .max_delta_ns
                .max(p.arrival_ns.saturating_sub(self.last_ns));
        } else {
            self.record.first_ns = p.arrival_ns;
            self.record.clock_estimate.first = Some((p.arrival_ns, rtp.timestamp));
        }
        self.packets += 1;
        self.bytes += u64::from(p.udp_payload_len);
        self.last_ns = p.arrival_ns;
        let verdict = self.seq.update(&mut self.record.seq_events, rtp.seq);
        let skipped = match verdict {
            SeqVerdict::Duplicate | SeqVerdict::Stray => return,
            SeqVerdict::InOrder { skipped } => skipped,
            SeqVerdict::Restart => {
                self.jitter.reset_reference();
                self.release_ts(None);
                // The timestamps start anew too: so does the clock estimate.
                self.record.clock_estimate =
                    ClockEstimate::starting_at(p.arrival_ns, rtp.timestamp);
                0
            }
            SeqVerdict::First | SeqVerdict::Late => 0,
        };
        self.jitter.update(p.arrival_ns, rtp.timestamp);
        if crate::clock::is_checkpoint(self.jitter.samples()) {
            self.clock_checkpoint(p.arrival_ns, rtp.timestamp);
        }
        if let Some(end) = self.access_unit.add(rtp.marker, p.h264, p.h265) {
            self.record.frames.count(p.arrival_ns, end);
        }
        self.detector
            .update(self.payload_type, p.ts_packets, p.h264, p.h265);
        // Duplicates and strays returned above: a duplicated datagram is RTP's figure, not a
        // TS continuity error, and a receiver drops it before its buffer (docs/figures.md).
        if let Some(ts) = &mut self.ts {
            let TsOverRtp {
                analyzer: ts,
                reorder,
            } = &mut **ts;
            let missing = ts.missing_packets;
            let packets = ts_datagram_packet_size(payload).map_or(0, |size| payload.len() / size);
            let in_place = reorder.push(rtp.seq, p.arrival_ns, payload, |at, payload| {
                feed_ts(ts, at, payload)
            });
            let media = (packets * PACKET_LEN) as u32;
            // RFC 4445 counts out-of-order packets with the lost ones: a late datagram put
            // back in its place counts its TS packets; one too late to be put back is already
            // counted by continuity as missing.
            let out_of_order = if verdict == SeqVerdict::Late && in_place {
                packets as u64
            } else {
                0
            };
            let lost = ts.missing_packets - missing + out_of_order;
            self.delivery
                .mdi
                .on_packet(p.arrival_ns, media, lost, ts.rate_mark);
        } else {
            self.delivery.mdi.on_packet(
                p.arrival_ns,
                u32::from(p.media_len),
                u64::from(skipped),
                None,
            );
        }
    }

    /// A clock estimate checkpoint: a dynamic payload type's assumed 90 kHz gives way to the
    /// common clock its timestamps settle on (audio at 8 to 48 kHz would otherwise get a
    /// jitter 2 to 11 times too small, silently).
    #[cold]
    fn clock_checkpoint(&mut self, arrival_ns: i64, timestamp: u32) {
        if self.record.clock_source != ClockSource::Assumed {
            return;
        }
        if let Some(clock) = self.record.clock_estimate.checkpoint(arrival_ns, timestamp) {
            self.record.clock_source = ClockSource::Estimated;
            // The assumed 90 kHz confirmed (video): the estimates so far stand.
            if clock != self.jitter.clock_rate() {
                self.jitter.restart_with_clock(clock);
                self.record.jitter_peak = 0.0;
            }
        }
    }

    /// What this stream's next packet must be read for ([`MediaPacket::read_rtp`]).
    #[inline(always)]
    pub fn payload_reading(&self) -> PayloadReading {
        self.detector.reading()
    }

    /// The detected payload format.
    pub fn payload_format(&self) -> PayloadFormat {
        self.detector.format(self.payload_type)
    }

    /// A live tick at `now`: TS datagrams held for a gap longer than the reorder wait go to
    /// the TS analysis; all of them when `ended` (the source ended).
    pub fn release_held(&mut self, now: i64, ended: bool) {
        self.release_ts((!ended).then_some(now));
    }

    /// Hands held TS datagrams to the TS analysis: those held past the reorder wait by `now`
    /// (and those in order behind them), or all of them (None). The TS packets continuity
    /// then finds missing are lost media packets of the MDI interval in progress (RFC 4445
    /// section 4.2); outside of an interval they count in the flow's total only.
    fn release_ts(&mut self, now: Option<i64>) {
        let Some(ts) = &mut self.ts else {
            return;
        };
        let TsOverRtp { analyzer, reorder } = &mut **ts;
        let missing = analyzer.missing_packets;
        let feed = |at, payload: &[u8]| feed_ts(analyzer, at, payload);
        match now {
            Some(now) => reorder.release_by(now, feed),
            None => reorder.flush(feed),
        }
        let lost = analyzer.missing_packets - missing;
        if lost > 0 {
            self.delivery.mdi.add_lost(lost);
        }
    }

    /// Ends the stream at its last packet: held datagrams, TS intervals and MDI are closed.
    pub fn finish(&mut self, horizon_ns: i64) {
        self.release_ts(None);
        if let Some(ts) = &mut self.ts {
            ts.analyzer.finish_until(self.last_ns, horizon_ns);
        }
        self.delivery.mdi.finish();
    }
}

fn feed_ts(ts: &mut TsAnalyzer, at: i64, payload: &[u8]) {
    match ts_datagram_packet_size(payload) {
        Some(size) => ts.on_datagram(at, payload, size),
        None => ts.unframed_datagrams += 1,
    }
}

/// What a non-RTP UDP flow carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpKind {
    /// MPEG-TS packets directly in UDP.
    Ts,
    /// Anything else.
    Other,
}

/// A UDP flow that is not RTP.
#[derive(Clone, Debug)]
pub struct UdpFlow {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// What it carries.
    pub kind: UdpKind,
    /// Packets, bytes, times.
    pub volume: Volume,
    /// TS packets carried (TS flows).
    pub ts_packets: u64,
    /// MPEG-TS analysis (TS flows).
    pub ts: Option<Box<TsAnalyzer>>,
    /// Monitor group and MDI (TS flows).
    pub delivery: Delivery,
    /// When other UDP is looked at again for media (discovery's bookkeeping; other flows
    /// only).
    pub reprobe: Reprobe,
}

/// When a 4-tuple judged other UDP is probed again: one datagram that is neither RTP nor TS
/// (a keepalive, a NAT probe) must not hide a camera for the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reprobe {
    /// Probes so far.
    pub probes: u8,
    /// The flow's packet count at which the next probe is due.
    pub due_packets: u64,
    /// Or the packet time at which it is due, whichever comes first.
    pub due_ns: i64,
}

impl UdpFlow {
    /// A flow with no packet yet, in its group (see [`crate::AnalysisConfig::delivery`]).
    pub fn new(
        src: SocketAddr,
        dst: SocketAddr,
        kind: UdpKind,
        limits: TsLimits,
        delivery: Delivery,
    ) -> Self {
        UdpFlow {
            src,
            dst,
            kind,
            volume: Volume::default(),
            ts_packets: 0,
            ts: (kind == UdpKind::Ts).then(|| Box::new(TsAnalyzer::new(limits))),
            delivery,
            reprobe: Reprobe::default(),
        }
    }

    /// Bytes this flow holds on the heap (its own struct not included).
    pub fn heap_bytes(&self) -> usize {
        self.delivery.mdi.heap_bytes()
            + self.ts.as_ref().map_or(0, |ts| {
                std::mem::size_of::<TsAnalyzer>() + crate::ALLOCATION + ts.heap_bytes()
            })
    }

    /// Ends the flow at its last packet: TS intervals and MDI are closed.
    pub fn finish(&mut self, horizon_ns: i64) {
        if let Some(ts) = &mut self.ts {
            ts.finish_until(self.volume.last_ns, horizon_ns);
        }
        self.delivery.mdi.finish();
    }

    /// Accounts one datagram; `payload` is its UDP payload (needed for TS flows only).
    /// Returns false, accounting nothing, when a TS flow's datagram is not TS-framed.
    pub fn update(&mut self, p: &MediaPacket, payload: &[u8]) -> bool {
        if let Some(ts) = &mut self.ts {
            let Some(size) = ts_datagram_packet_size(payload) else {
                return false;
            };
            let packets = payload.len() / size;
            self.ts_packets += packets as u64;
            let missing = ts.missing_packets;
            ts.on_udp_datagram(p.arrival_ns, payload, size);
            self.delivery.mdi.on_packet(
                p.arrival_ns,
                (packets * PACKET_LEN) as u32,
                ts.missing_packets - missing,
                ts.rate_mark,
            );
        } else {
            self.ts_packets += u64::from(p.ts_packets);
        }
        self.volume.add(p.arrival_ns, p.udp_payload_len);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RtpFields;
    use testbed::pcap_writer::rtp_packet;
    use wire::nal::NalSummary;

    /// A stream that stops after a gap: its held datagrams go to the TS analysis at a tick
    /// once they have waited past the reorder wait, not before.
    #[test]
    fn a_live_tick_releases_datagrams_held_past_the_wait() {
        const MS: i64 = 1_000_000;
        let mut reorder = TsReorder::default();
        let mut fed = Vec::new();
        for (seq, at) in [(0u16, 0), (2, 10 * MS), (3, 20 * MS)] {
            assert!(reorder.push(seq, at, &[seq as u8], |_, p| fed.push(p[0])));
        }
        assert_eq!(fed, vec![0]);
        reorder.release_by(105 * MS, |_, p| fed.push(p[0]));
        assert_eq!(fed, vec![0], "held 95 ms: still waiting for 1");
        reorder.release_by(111 * MS, |_, p| fed.push(p[0]));
        assert_eq!(fed, vec![0, 2, 3]);
        // 1 arrives after all: too late.
        assert!(!reorder.push(1, 120 * MS, &[1], |_, p| fed.push(p[0])));
    }

    /// A stream 1.1.1.1:1 > 2.2.2.2:2, SSRC 1, of payload type `pt` and a configured 90 kHz
    /// clock.
    fn stream(pt: u8) -> RtpStream {
        RtpStream::new(
            "1.1.1.1:1".parse().unwrap(),
            "2.2.2.2:2".parse().unwrap(),
            1,
            pt,
            (90_000, ClockSource::Config),
            crate::AnalysisConfig::default().delivery("2.2.2.2".parse().unwrap()),
        )
    }

    fn pkt(ms: i64, seq: u16, ts: u32, marker: bool) -> MediaPacket {
        MediaPacket {
            arrival_ns: ms * 1_000_000,
            udp_payload_len: 1000,
            media_len: 988,
            rtp: Some(RtpFields {
                seq,
                timestamp: ts,
                ssrc: 1,
                payload_type: 96,
                marker,
            }),
            ts_packets: 0,
            h264: NalSummary::default(),
            h265: NalSummary::default(),
        }
    }

    #[test]
    fn duplicates_do_not_move_jitter_or_frames() {
        let mut s = stream(96);
        s.update(&pkt(0, 1, 0, true), &[]);
        s.update(&pkt(40, 2, 3600, true), &[]);
        s.update(&pkt(45, 2, 3600, true), &[]);
        s.update(&pkt(80, 3, 7200, true), &[]);
        assert_eq!(s.sequence().duplicates, 1);
        assert_eq!(s.frames(), (3, 25.0));
        assert_eq!(s.jitter(), (0.0, 0.0));
        assert_eq!(s.max_delta_ns, 40_000_000);
        assert_eq!((s.volume().packets, s.volume().bytes), (4, 4000));
    }

    /// Once the detector has voted, packets are read for the settled format only: frames,
    /// frame rate and format stay those of a stream whose every packet is read in full.
    /// Payloads: H.264 (an SPS alone every 21 packets, FU-A pictures), H.265 (a VPS alone and
    /// picture units), and JPEG (PT 26, which reads as neither).
    #[test]
    fn a_settled_stream_reads_only_its_format_and_counts_the_same() {
        let h264: [&[u8]; 3] = [
            &[0x67, 0x42, 0, 0],
            &[0x7c, 0x85, 0, 0],
            &[0x7c, 0x45, 0, 0],
        ];
        let h265: [&[u8]; 3] = [
            &[0x40, 0x01, 0, 0],
            &[0x62, 0x01, 0x93, 0],
            &[0x62, 0x01, 0x53, 0],
        ];
        let jpeg: [&[u8]; 3] = [&[0, 0, 0, 0], &[0, 0, 0, 1], &[0, 0, 0, 2]];
        for (pt, payloads, format, reading) in [
            (96, h264, PayloadFormat::H264, PayloadReading::H264),
            (97, h265, PayloadFormat::H265, PayloadReading::H265),
            (26, jpeg, PayloadFormat::Jpeg, PayloadReading::MarkerOnly),
        ] {
            let (mut settled, mut full) = (stream(pt), stream(pt));
            for i in 0..1_000u16 {
                // Every 21 packets: a parameter set alone, then ten frames of a start and an
                // end fragment.
                let k = i % 21;
                let (payload, marker) = if k == 0 {
                    (payloads[0], true)
                } else if k % 2 == 1 {
                    (payloads[1], false)
                } else {
                    (payloads[2], true)
                };
                let datagram = rtp_packet(pt, marker, i, u32::from(i / 2) * 3600, 1, payload);
                let rtp = wire::RtpPacket::new_checked(&datagram).unwrap();
                let at = i64::from(i) * 20_000_000;
                let read = MediaPacket::read_rtp(at, 16, &rtp, settled.payload_reading());
                settled.update(&read, rtp.payload());
                full.update(&MediaPacket::from_rtp(at, 16, &rtp), rtp.payload());
                let expected = if i < 255 {
                    PayloadReading::All
                } else {
                    reading
                };
                assert_eq!(settled.payload_reading(), expected, "pt {pt}, packet {i}");
            }
            assert_eq!(settled.payload_format(), format);
            assert_eq!(full.payload_format(), format);
            assert_eq!(settled.frames(), full.frames(), "pt {pt}");
            // 524 access units, 48 of them a parameter set alone (not frames unless JPEG).
            let frames = if pt == 26 { 524 } else { 476 };
            assert_eq!(settled.frames().0, frames, "pt {pt}");
        }
    }

    /// TS datagrams held for a gap and released without a later packet (at the end, at a
    /// live tick, or on a sequence restart) still count their missing TS packets in MDI.
    #[test]
    fn held_ts_datagrams_released_late_count_in_mdi_loss() {
        const MS: i64 = 1_000_000;
        // Datagram k carries TS packets 7k..7k+7 of PID 0x100, continuity counter modulo 16.
        let datagram = |k: u16, seq: u16| {
            let mut ts = Vec::new();
            for n in 0..7 {
                let cc = (usize::from(k) * 7 + n) as u8 & 15;
                ts.extend_from_slice(&[0x47, 0x01, 0x00, 0x10 | cc]);
                ts.resize(188 * (n + 1), 0);
            }
            rtp_packet(33, false, seq, u32::from(k) * 900, 1, &ts)
        };
        let new = || {
            let mut s = stream(33);
            s.carry_ts(TsLimits::default(), &Default::default());
            s
        };
        let feed = |s: &mut RtpStream, k: u16, seq: u16, at: i64| {
            let d = datagram(k, seq);
            let rtp = wire::RtpPacket::new_checked(&d).unwrap();
            s.update(
                &MediaPacket::from_rtp(at, d.len() as u16, &rtp),
                rtp.payload(),
            );
        };
        let lost = |s: &RtpStream| {
            let ts = s.ts.as_ref().unwrap();
            (
                ts.analyzer.missing_packets,
                s.delivery.mdi.summary().lost_total,
            )
        };
        // Datagram 3 never comes; 4 and 5 wait for it when the capture ends.
        let mut ended = new();
        for k in [0, 1, 2, 4, 5] {
            feed(&mut ended, k, k, i64::from(k) * MS);
        }
        assert_eq!(lost(&ended), (0, 0), "4 and 5 still held");
        ended.finish(5 * MS);
        assert_eq!(lost(&ended), (7, 7));
        // The same, live: a tick 100 ms or more after 4 arrived releases them, within the
        // interval in progress (the first second), whose MLR then counts the 7.
        let mut live = new();
        for k in [0, 1, 2, 4, 5] {
            feed(&mut live, k, k, i64::from(k) * MS);
        }
        live.release_held(50 * MS, false);
        assert_eq!(lost(&live), (0, 0), "held 46 ms: still waiting");
        live.release_held(110 * MS, false);
        assert_eq!(lost(&live), (7, 7));
        live.delivery.mdi.close_ended(1_000 * MS);
        assert_eq!(live.delivery.mdi.summary().last_interval.unwrap().lost, 7);
        // A sequence restart hands the held datagrams over before the new numbering starts
        // (RFC 3550 A.1: the first datagram of the new numbering is taken for a stray, so
        // continuity misses its 7 packets too).
        let mut restarted = new();
        for k in [0, 1, 2, 4, 5] {
            feed(&mut restarted, k, k, i64::from(k) * MS);
        }
        for (i, seq) in [30_000u16, 30_001].into_iter().enumerate() {
            feed(&mut restarted, 6 + i as u16, seq, 10 * MS + i as i64 * MS);
        }
        assert_eq!(lost(&restarted), (14, 14));
    }

    #[test]
    fn reorder_restores_sequence_order_and_drops_the_too_late() {
        let mut r = TsReorder::default();
        let mut out = Vec::new();
        let mut push = |r: &mut TsReorder, seq: u16, ms: i64| {
            r.push(seq, ms * 1_000_000, &[seq as u8], |_, p| out.push(p[0]))
        };
        // 1 2 4 3 5: 4 waits for 3.
        for (seq, ms) in [(1, 0), (2, 1), (4, 2), (3, 3), (5, 4)] {
            assert!(push(&mut r, seq, ms));
        }
        // 7 waits for 6, which never comes: after 100 ms 7 goes on, and 6 is then too late.
        assert!(push(&mut r, 7, 5));
        assert!(push(&mut r, 8, 50));
        assert!(push(&mut r, 9, 106));
        assert!(!push(&mut r, 6, 107));
        // 11 waits for 10 until 33 datagrams are held.
        for seq in 11..=43 {
            assert!(push(&mut r, seq, 108));
        }
        // 45 waits for 44 until the stream ends.
        assert!(push(&mut r, 45, 109));
        assert_eq!(r.too_late, 1);
        let expected: Vec<u8> = (1..=5).chain(7..=9).chain(11..=43).collect();
        assert_eq!(out, expected);
        r.flush(|_, p| out.push(p[0]));
        assert_eq!(out.last(), Some(&45));
    }
}
