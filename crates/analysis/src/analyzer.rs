//! The flow table: discovery of RTP and TS flows and dispatch of each datagram to its flow.
//!
//! A 4-tuple's first datagram decides what it may be: RTCP (RFC 5761 packet types), an RTP
//! candidate (version 2, an accepted payload type), a TS candidate (sync bytes at 188/204
//! strides) or other UDP. A candidate holds its first packets (at most
//! [`crate::config::MAX_PROBATION`]) until it shows `probation` consecutive sequence numbers
//! (TS: consecutive TS-framed datagrams); then the held packets are replayed into the new
//! flow, so they count in every figure. A candidate that breaks the pattern is rejected and
//! its 4-tuple stays other UDP for the rest of the run.

use crate::config::{AnalysisConfig, MAX_PROBATION};
use crate::defrag::{FragmentOutcome, Reassembler};
use crate::interval::{FlowView, LiveState, Record, Tick};
use crate::packet::{ts_packets, MediaPacket};
use crate::report::{AnalysisReport, CaptureReport, Discovery};
use crate::stream::{RtpStream, UdpFlow, UdpKind, Volume};
use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use wire::link::{decode_frame_general, decode_udp};
use wire::prefetch::{prefetch, prefetch_every};
use wire::{
    decode_plain, Decoded, FourTuple, Frame, LinkType, PlainDatagram, RtcpPacket, RtpPacket,
    SkipReason, UdpDatagram,
};

/// A UDP 4-tuple as the flow table keys it: integers, not socket addresses (see
/// [`FourTuple`]).
type FlowKey = FourTuple;

/// The table's hash of a key.
fn flow_hash(key: &FlowKey) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    Hash::hash(key, &mut h);
    // Fx is fast but weak in its low bits, which pick the slot: mix them (the
    // finaliser of MurmurHash3).
    let mut x = h.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

#[derive(Debug)]
enum Candidate {
    Rtp { ssrc: u32, last_seq: u16 },
    Ts,
}

#[derive(Debug)]
struct Probation {
    candidate: Candidate,
    run: u8,
    held: Vec<MediaPacket>,
    /// Copies of the held packets' TS payloads (empty for others), replayed into the TS
    /// analysis on confirmation so no packet of a TS flow is left out.
    held_ts: Vec<Box<[u8]>>,
}

/// A copy of a held packet's media payload (RTP payload, or UDP payload) when it is TS;
/// empty otherwise.
fn ts_copy(p: &MediaPacket, media: &[u8]) -> Box<[u8]> {
    if p.ts_packets == 0 {
        Box::default()
    } else {
        media.into()
    }
}

/// No entry in `ssrc_sets`.
const NO_SET: u32 = u32::MAX;

/// What a 4-tuple carries.
#[derive(Debug)]
enum TupleState {
    Probation(Box<Probation>),
    /// RTP: the current SSRC and its stream (an index into `streams`). When other SSRCs were
    /// seen on the 4-tuple, `set` indexes their list in `ssrc_sets`.
    Rtp {
        ssrc: u32,
        stream: u32,
        set: u32,
    },
    Udp(u32),
    /// RTCP, with the arrival of its last packet (for expiry).
    Rtcp(i64),
}

/// One 4-tuple: one cache line, so that finding a packet's flow costs one memory access.
#[derive(Debug)]
#[repr(align(64))]
struct Tuple {
    key: FlowKey,
    state: TupleState,
}

/// The flow table: 4-tuples found by hash, open addressing with linear probing.
///
/// Why our own table rather than hashbrown's: a batch must be able to prefetch the slot a
/// packet's hash lands on, then the tuple it names, then the tuple's stream, before it reads
/// any of them; a general map hides where its slots are. Each slot is 8 bytes, the tuple's
/// index and 32 bits of its hash as a fingerprint, so 100,000 flows take 2 MiB of slots and
/// a probe rarely leaves one cache line. Tuples are never removed in an offline run; a live
/// probe removes idle ones at its ticks by rebuilding the table.
#[derive(Debug, Default)]
struct FlowTable {
    /// 0 = empty, else (fingerprint << 32) | (tuple index + 1). Length a power of two, at
    /// most half full.
    slots: Vec<u64>,
    tuples: Vec<Tuple>,
}

impl FlowTable {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    fn prefetch_slot(&self, hash: u64) {
        if let Some(slot) = self.slots.get(self.home(hash)) {
            prefetch(slot);
        }
    }

    /// The tuple whose fingerprint matches: a hint, wrong only on a fingerprint collision
    /// (about one lookup in 2^32), used for prefetching only.
    fn hint(&self, hash: u64) -> Option<u32> {
        self.probe(hash, |_| true)
    }

    fn find(&self, key: &FlowKey, hash: u64) -> Option<u32> {
        self.probe(hash, |i| self.tuples[i as usize].key == *key)
    }

    /// [`FlowTable::find`], trying a [`FlowTable::hint`] taken earlier first: it saves the
    /// probe when it still names the key's tuple, as it does unless a tuple was added or the
    /// table grew since. Always inlined: as a call it cost 21 instructions a packet (callgrind).
    #[inline(always)]
    fn find_hinted(&self, key: &FlowKey, hash: u64, hint: Option<u32>) -> Option<u32> {
        hint.filter(|&t| self.tuples.get(t as usize).is_some_and(|t| t.key == *key))
            .or_else(|| self.find(key, hash))
    }

    fn probe(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let fingerprint = hash >> 32;
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            let index = (slot as u32).wrapping_sub(1);
            if slot >> 32 == fingerprint && is(index) {
                return Some(index);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Adds a tuple the table does not hold yet.
    fn insert(&mut self, key: FlowKey, hash: u64, state: TupleState) {
        if (self.tuples.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let index = self.tuples.len() as u32;
        self.tuples.push(Tuple { key, state });
        self.place(hash, index);
    }

    fn place(&mut self, hash: u64, index: u32) {
        let mut at = self.home(hash);
        while self.slots[at] != 0 {
            at = (at + 1) & self.mask();
        }
        self.slots[at] = (hash >> 32) << 32 | u64::from(index + 1);
    }

    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(1024);
        self.slots = vec![0; len];
        self.place_all();
    }

    /// Places the tuples again after some were removed (their indexes changed).
    fn rehash(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = 0);
        self.place_all();
    }

    fn place_all(&mut self) {
        for index in 0..self.tuples.len() {
            let hash = flow_hash(&self.tuples[index].key);
            self.place(hash, index as u32);
        }
    }
}

/// Frames a caller hands [`Analyzer::on_frames`] at a time, when it can choose: the lookup
/// pipeline fills and drains at each call, so a call of this many keeps it full for all but
/// a few percent of its frames.
pub const LANES: usize = 256;

/// Frames between the stages of [`Analyzer::on_frames`]' lookup pipeline: each stage's
/// memory reads were asked for this many frames earlier, time enough for a miss to memory
/// (about 100-200 ns here, against 150-300 ns of work per frame).
const PIPELINE_DISTANCE: usize = 2;

/// Frames between a frame's decoding and its accounting (three stages apart).
const PIPELINE_DEPTH: usize = 3 * PIPELINE_DISTANCE;

/// Frames in flight in the pipeline (a power of two above its three distances).
const PIPELINE_RING: usize = 8;
const RING_MASK: usize = PIPELINE_RING - 1;

/// What the pipeline's first stage made of a frame.
#[derive(Clone, Copy)]
enum Lane<'a> {
    /// A whole UDP datagram: from the fast path, or decoded in full (IPv6, IP options).
    Datagram(PlainDatagram<'a>),
    /// A frame to skip, and why.
    Skip(SkipReason),
    /// An IP fragment: decoded again when accounted, to be reassembled (rare).
    Fragment,
}

/// One frame in the lookup pipeline.
#[derive(Clone, Copy)]
struct InFlight<'a> {
    /// The frame, decoded.
    lane: Lane<'a>,
    /// The hash of its tuple.
    hash: u64,
    /// The tuple the slot's fingerprint names (a hint: verified when the packet is
    /// accounted).
    hint: Option<u32>,
}

/// A frame off the decode fast path, decoded in full for the pipeline (kept out of line: the
/// fast path covers nearly every frame of a video network's IPv4 traffic).
#[inline(never)]
fn decode_other<'a>(f: &Frame<'a>) -> Lane<'a> {
    match decode_frame_general(f.link, f.data) {
        Ok(Decoded::Udp(d)) => Lane::Datagram(PlainDatagram::from(&d)),
        Ok(Decoded::Fragment(_)) => Lane::Fragment,
        Err(reason) => Lane::Skip(reason),
    }
}

/// Offline and live analysis state for one worker.
#[derive(Debug, Default)]
pub struct Analyzer {
    config: AnalysisConfig,
    table: FlowTable,
    ssrc_sets: Vec<Vec<(u32, u32)>>,
    streams: Vec<RtpStream>,
    udp_flows: Vec<UdpFlow>,
    rtcp: FxHashMap<(IpAddr, IpAddr, u32), u64>,
    reassembler: Reassembler,
    discovery: Discovery,
    skipped: [u64; SkipReason::ALL.len()],
    capture: Volume,
    capture_bytes: u64,
    /// Live interval state per RTP stream and per UDP flow (same indexes).
    live_streams: Vec<LiveState>,
    live_udp: Vec<LiveState>,
    /// Packets of new 4-tuples not tracked because the flow cap was reached, since the last
    /// tick.
    refused: u64,
}

/// What a tick did to the flow table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// 4-tuples forgotten after their idle time.
    pub expired: u64,
    /// 4-tuples forgotten to make room under the flow cap.
    pub evicted: u64,
    /// Packets of new 4-tuples not tracked since the last tick, the cap being reached.
    pub refused: u64,
}

/// After evictions the table holds at most this share of the cap, so that the next
/// interval's new flows find room.
const EVICT_TO_PERCENT: usize = 90;

impl Analyzer {
    /// An empty analyzer.
    pub fn new(config: AnalysisConfig) -> Self {
        Analyzer {
            config,
            ..Analyzer::default()
        }
    }

    /// Closes a live interval: hands `out` a record for every media flow that sent packets
    /// since the last tick, and its events (appeared, silent, resumed, SSRC change). Flows
    /// are visited in the order they were found.
    pub fn tick(&mut self, tick: &Tick, out: &mut impl FnMut(Record)) -> TickOutcome {
        self.live_streams
            .resize_with(self.streams.len(), LiveState::default);
        self.live_udp
            .resize_with(self.udp_flows.len(), LiveState::default);
        let groups = &self.config.groups;
        for (stream, live) in self.streams.iter_mut().zip(&mut self.live_streams) {
            // A stream that stopped must not keep TS datagrams held for a gap forever: what
            // waited past the reorder wait counts in this interval.
            stream.release_held(tick.end_ns, tick.source_ended);
            live.close(FlowView::rtp(stream), tick, groups, out);
        }
        for (flow, live) in self.udp_flows.iter_mut().zip(&mut self.live_udp) {
            if let Some(view) = FlowView::udp(flow) {
                live.close(view, tick, groups, out);
            }
        }
        let mut outcome = self.forget(tick, out);
        outcome.refused = std::mem::take(&mut self.refused);
        outcome
    }

    /// The last packet time of a 4-tuple (of its latest stream when several SSRCs share it).
    fn last_packet(&self, state: &TupleState) -> i64 {
        match state {
            TupleState::Probation(p) => p.held.last().map_or(0, |p| p.arrival_ns),
            TupleState::Rtp { stream, set, .. } => match self.ssrc_sets.get(*set as usize) {
                Some(list) => list
                    .iter()
                    .map(|&(_, s)| self.streams[s as usize].volume().last_ns)
                    .max()
                    .unwrap_or(0),
                None => self.streams[*stream as usize].volume().last_ns,
            },
            TupleState::Udp(i) => self.udp_flows[*i as usize].volume.last_ns,
            TupleState::Rtcp(last) => *last,
        }
    }

    /// Forgets 4-tuples idle longer than the tick's expiry time, then, when the table is at
    /// its cap, the longest-idle ones down to [`EVICT_TO_PERCENT`] of it. Media flows that go
    /// get an `expired` or `evicted` event. The table is rebuilt in one pass when anything
    /// goes: a tick's work, never a packet's.
    fn forget(&mut self, tick: &Tick, out: &mut impl FnMut(Record)) -> TickOutcome {
        let mut outcome = TickOutcome::default();
        let n = self.table.tuples.len();
        let last: Vec<i64> = self
            .table
            .tuples
            .iter()
            .map(|t| self.last_packet(&t.state))
            .collect();
        // 0 keep, 1 expired, 2 evicted.
        let mut fate = vec![0u8; n];
        for (f, &l) in fate.iter_mut().zip(&last) {
            if tick.end_ns.saturating_sub(l) > tick.expire_after_ns {
                *f = 1;
                outcome.expired += 1;
            }
        }
        let remaining = n - outcome.expired as usize;
        if remaining >= self.config.max_flows {
            let cap = self.config.max_flows as u128;
            let target = (cap * EVICT_TO_PERCENT as u128 / 100) as usize;
            let mut order: Vec<u32> = (0..n as u32).filter(|&i| fate[i as usize] == 0).collect();
            // Longest idle first; ties by table order, so the outcome is deterministic.
            order.sort_by_key(|&i| (last[i as usize], i));
            for &i in order.iter().take(remaining - target) {
                fate[i as usize] = 2;
                outcome.evicted += 1;
            }
        }
        if outcome.expired + outcome.evicted == 0 {
            return outcome;
        }
        self.rebuild(&fate, tick, out);
        outcome
    }

    /// Keeps the 4-tuples whose fate is 0 and everything they own; says farewell to the media
    /// flows of the others.
    fn rebuild(&mut self, fate: &[u8], tick: &Tick, out: &mut impl FnMut(Record)) {
        let mut streams: Vec<Option<RtpStream>> = self.streams.drain(..).map(Some).collect();
        let mut live_streams: Vec<Option<LiveState>> =
            self.live_streams.drain(..).map(Some).collect();
        let mut udp: Vec<Option<UdpFlow>> = self.udp_flows.drain(..).map(Some).collect();
        let mut live_udp: Vec<Option<LiveState>> = self.live_udp.drain(..).map(Some).collect();
        let old_sets = std::mem::take(&mut self.ssrc_sets);
        let old_tuples = std::mem::take(&mut self.table.tuples);
        // Moves stream `i` to the new table; its new index.
        let keep_stream = |i: u32,
                           this: &mut Self,
                           streams: &mut [Option<RtpStream>],
                           live: &mut [Option<LiveState>]|
         -> u32 {
            this.streams.push(
                streams[i as usize]
                    .take()
                    .expect("a stream has one 4-tuple"),
            );
            this.live_streams
                .push(live[i as usize].take().unwrap_or_default());
            this.streams.len() as u32 - 1
        };
        let mut tuples = Vec::with_capacity(old_tuples.len());
        for (mut tuple, &f) in old_tuples.into_iter().zip(fate) {
            let event = match f {
                0 => None,
                1 => Some("expired"),
                _ => Some("evicted"),
            };
            match (&mut tuple.state, event) {
                (TupleState::Rtp { stream, set, .. }, None) => {
                    if let Some(list) = old_sets.get(*set as usize) {
                        let list: Vec<(u32, u32)> = list
                            .iter()
                            .map(|&(ssrc, s)| {
                                (ssrc, keep_stream(s, self, &mut streams, &mut live_streams))
                            })
                            .collect();
                        // The current stream keeps its place in the list.
                        let current = old_sets[*set as usize]
                            .iter()
                            .position(|&(_, s)| s == *stream)
                            .map_or(list[0].1, |p| list[p].1);
                        *stream = current;
                        *set = self.ssrc_sets.len() as u32;
                        self.ssrc_sets.push(list);
                    } else {
                        *stream = keep_stream(*stream, self, &mut streams, &mut live_streams);
                    }
                }
                (TupleState::Udp(i), None) => {
                    self.udp_flows
                        .push(udp[*i as usize].take().expect("a flow has one 4-tuple"));
                    self.live_udp
                        .push(live_udp[*i as usize].take().unwrap_or_default());
                    *i = self.udp_flows.len() as u32 - 1;
                }
                (_, None) => {}
                (TupleState::Rtp { stream, set, .. }, Some(event)) => {
                    let all = match old_sets.get(*set as usize) {
                        Some(list) => list.iter().map(|&(_, s)| s).collect(),
                        None => vec![*stream],
                    };
                    for s in all {
                        if let (Some(mut stream), Some(live)) =
                            (streams[s as usize].take(), live_streams[s as usize].take())
                        {
                            live.farewell(FlowView::rtp(&mut stream), tick, event, out);
                        }
                    }
                }
                (TupleState::Udp(i), Some(event)) => {
                    if let (Some(mut flow), Some(live)) =
                        (udp[*i as usize].take(), live_udp[*i as usize].take())
                    {
                        if let Some(view) = FlowView::udp(&mut flow) {
                            live.farewell(view, tick, event, out);
                        }
                    }
                }
                (_, Some(_)) => {}
            }
            if f == 0 {
                tuples.push(tuple);
            }
        }
        self.table.tuples = tuples;
        self.table.rehash();
        if self.rtcp.len() > self.config.max_flows {
            // RTCP counts are for the offline report; a live probe under a flood of RTCP
            // senders keeps memory bounded by starting them over.
            self.rtcp.clear();
        }
    }

    /// Packets and bytes seen so far, and media flows found (live probe records).
    pub fn totals(&self) -> (u64, u64, usize) {
        let media_udp = self
            .udp_flows
            .iter()
            .filter(|f| f.kind != UdpKind::Other)
            .count();
        (
            self.capture.packets,
            self.capture_bytes,
            self.streams.len() + media_udp,
        )
    }

    /// Counts a record the capture layer could not hand over.
    pub fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason.index()] += 1;
    }

    /// Analyses one captured frame. `wire_len` is its length on the wire.
    pub fn on_frame(&mut self, arrival_ns: i64, link: LinkType, data: &[u8], wire_len: u32) {
        self.on_frames(&[Frame {
            arrival_ns,
            link,
            data,
            wire_len,
        }]);
    }

    /// Analyses captured frames in order. The same figures as [`Analyzer::on_frame`] one by
    /// one, faster: the flow table is read in a software pipeline, so that the cache misses
    /// of a large table overlap with work instead of following one another. Frame i is
    /// decoded and its slot asked for; the slot of frame i - D is read and its tuple asked
    /// for; the tuple of frame i - 2D is read and its stream's per-packet state asked for;
    /// frame i - 3D is accounted (D = [`PIPELINE_DISTANCE`]). Before, groups of 16 frames
    /// waited for memory three times each (slots, tuples, streams), and 16 streams' lines
    /// were more misses than the core can have in flight.
    ///
    /// The early stages only read and prefetch: a hint made stale by an earlier frame of the
    /// pipeline (a new tuple, a grown table) costs a miss, never a wrong figure, since every
    /// packet is looked up again when it is accounted.
    pub fn on_frames(&mut self, frames: &[Frame<'_>]) {
        const D: usize = PIPELINE_DISTANCE;
        const _: () = assert!(PIPELINE_DEPTH < PIPELINE_RING && PIPELINE_RING.is_power_of_two());
        let mut ring = [InFlight {
            lane: Lane::Fragment,
            hash: 0,
            hint: None,
        }; PIPELINE_RING];
        let n = frames.len();
        let full = PIPELINE_DEPTH;
        // Filling: the later stages have no frame yet.
        for i in 0..full {
            self.pipeline_step(&mut ring, frames, i);
        }
        // Full: every stage has a frame, so none is checked.
        for i in full..n {
            self.decode_stage(&mut ring[i & RING_MASK], &frames[i]);
            self.slot_stage(&mut ring[(i - D) & RING_MASK]);
            self.tuple_stage(&ring[(i - 2 * D) & RING_MASK]);
            self.account_stage(&ring[(i - full) & RING_MASK], &frames[i - full]);
        }
        // Draining: the earlier stages have no frame left.
        for i in n.max(full)..n + full {
            self.pipeline_step(&mut ring, frames, i);
        }
    }

    /// One step of the pipeline for frame `i`, each stage run only if its frame exists.
    #[inline(always)]
    fn pipeline_step<'a>(
        &mut self,
        ring: &mut [InFlight<'a>; PIPELINE_RING],
        frames: &[Frame<'a>],
        i: usize,
    ) {
        const D: usize = PIPELINE_DISTANCE;
        let n = frames.len();
        if let Some(f) = frames.get(i) {
            self.decode_stage(&mut ring[i & RING_MASK], f);
        }
        if let Some(j) = i.checked_sub(D).filter(|&j| j < n) {
            self.slot_stage(&mut ring[j & RING_MASK]);
        }
        if let Some(j) = i.checked_sub(2 * D).filter(|&j| j < n) {
            self.tuple_stage(&ring[j & RING_MASK]);
        }
        if let Some(j) = i.checked_sub(PIPELINE_DEPTH).filter(|&j| j < n) {
            self.account_stage(&ring[j & RING_MASK], &frames[j]);
        }
    }

    /// Stage 1: decodes the frame and asks for its slot.
    #[inline(always)]
    fn decode_stage<'a>(&self, lane: &mut InFlight<'a>, f: &Frame<'a>) {
        lane.lane = match decode_plain(f.link, f.data) {
            Some(d) => Lane::Datagram(d),
            None => decode_other(f),
        };
        lane.hint = None;
        if let Lane::Datagram(d) = &lane.lane {
            lane.hash = flow_hash(&d.tuple);
            self.table.prefetch_slot(lane.hash);
        }
    }

    /// Stage 2: reads the slot and asks for the tuple it names.
    #[inline(always)]
    fn slot_stage(&self, lane: &mut InFlight<'_>) {
        if let Lane::Datagram(_) = lane.lane {
            lane.hint = self.table.hint(lane.hash);
            if let Some(t) = lane.hint.and_then(|t| self.table.tuples.get(t as usize)) {
                prefetch(t);
            }
        }
    }

    /// Stage 3: reads the tuple and asks for its flow's per-packet state.
    #[inline(always)]
    fn tuple_stage(&self, lane: &InFlight<'_>) {
        if let (Some(t), Lane::Datagram(d)) = (
            lane.hint.and_then(|t| self.table.tuples.get(t as usize)),
            &lane.lane,
        ) {
            self.prefetch_state(&t.state, d.payload);
        }
    }

    /// Stage 4: accounts the frame.
    #[inline(always)]
    fn account_stage(&mut self, lane: &InFlight<'_>, f: &Frame<'_>) {
        self.count_frame(f);
        match &lane.lane {
            Lane::Datagram(d) => {
                let index = self.table.find_hinted(&d.tuple, lane.hash, lane.hint);
                self.dispatch(index, lane.hash, f.arrival_ns, d)
            }
            Lane::Skip(reason) => self.on_decoded(f.arrival_ns, Err(*reason)),
            Lane::Fragment => self.on_decoded(f.arrival_ns, decode_frame_general(f.link, f.data)),
        }
    }

    /// Asks for the flow state a packet of the tuple in `state`, with `payload`, will touch.
    #[inline(always)]
    fn prefetch_state(&self, state: &TupleState, payload: &[u8]) {
        match *state {
            TupleState::Rtp { stream, .. } => {
                if let Some(stream) = self.streams.get(stream as usize) {
                    // The marker bit (RTP header byte 1) says whether the frame tallies
                    // will be touched too.
                    let marker = payload.get(1).is_some_and(|b| b & 0x80 != 0);
                    stream.prefetch(marker);
                }
            }
            TupleState::Udp(flow) => {
                if let Some(flow) = self.udp_flows.get(flow as usize) {
                    prefetch(flow);
                    prefetch_every(payload, wire::ts::PACKET_LEN);
                }
            }
            _ => {}
        }
    }

    fn count_frame(&mut self, f: &Frame<'_>) {
        if self.capture.packets == 0 {
            self.capture.first_ns = f.arrival_ns;
        }
        self.capture.packets += 1;
        self.capture.last_ns = self.capture.last_ns.max(f.arrival_ns);
        self.capture_bytes += u64::from(f.wire_len);
    }

    /// A decoded frame: a datagram, a fragment to reassemble, or a skip.
    fn on_decoded(&mut self, arrival_ns: i64, decoded: Result<Decoded<'_>, SkipReason>) {
        match decoded {
            Ok(Decoded::Udp(d)) => self.on_datagram(arrival_ns, &d),
            Ok(Decoded::Fragment(fragment)) => match self.reassembler.push(arrival_ns, &fragment) {
                FragmentOutcome::Pending => {}
                FragmentOutcome::Dropped(reason, n) => self.skipped[reason.index()] += n,
                FragmentOutcome::Complete(r) => {
                    if r.protocol != 17 {
                        self.skip(SkipReason::NonUdp);
                    } else {
                        match decode_udp(r.src, r.dst, &r.payload, false) {
                            Ok(d) => self.on_datagram(arrival_ns, &d),
                            Err(reason) => self.skip(reason),
                        }
                    }
                }
            },
            Err(reason) => self.skip(reason),
        }
        let expired = std::mem::take(&mut self.reassembler.expired_fragments);
        self.skipped[SkipReason::FragmentIncomplete.index()] += expired;
    }

    /// Analyses one datagram received on a socket (a multicast join), counted as a captured
    /// frame of `wire_len` bytes.
    pub fn on_received(&mut self, arrival_ns: i64, d: &UdpDatagram<'_>, wire_len: u32) {
        self.count_frame(&Frame {
            arrival_ns,
            link: LinkType::RawIp,
            data: &[],
            wire_len,
        });
        // A datagram longer than the receive slot arrives cut, as a snap length cuts a
        // captured one: analysed the same way.
        self.on_datagram(arrival_ns, d);
    }

    /// 4-tuples on probation (candidates not yet confirmed or rejected).
    pub fn probation_size(&self) -> usize {
        self.table
            .tuples
            .iter()
            .filter(|t| matches!(t.state, TupleState::Probation(_)))
            .count()
    }

    /// Analyses one UDP datagram.
    pub fn on_datagram(&mut self, arrival_ns: i64, d: &UdpDatagram<'_>) {
        let d = PlainDatagram::from(d);
        let hash = flow_hash(&d.tuple);
        self.dispatch(self.table.find(&d.tuple, hash), hash, arrival_ns, &d);
    }

    /// Hands a datagram to the flow of its tuple (`index`, found in the table), or starts one.
    fn dispatch(&mut self, index: Option<u32>, hash: u64, arrival_ns: i64, d: &PlainDatagram<'_>) {
        let Some(index) = index else {
            self.on_first(d.tuple, hash, arrival_ns, &d.datagram());
            return;
        };
        match &mut self.table.tuples[index as usize].state {
            TupleState::Rtp { ssrc, stream, set } => {
                if let Some(rtcp) = RtcpPacket::new_checked(d.payload) {
                    // RFC 5761 multiplexing: RTCP on the RTP 4-tuple.
                    *self
                        .rtcp
                        .entry((d.tuple.src().ip(), d.tuple.dst().ip(), rtcp.sender_ssrc()))
                        .or_default() += 1;
                    return;
                }
                let Ok(rtp) = RtpPacket::new_checked(d.payload) else {
                    self.skipped[SkipReason::RtpInvalid.index()] += 1;
                    return;
                };
                let new = rtp.ssrc();
                let known = || {
                    let list = self.ssrc_sets.get(*set as usize)?;
                    list.iter().find(|s| s.0 == new).map(|s| s.1)
                };
                let target = if new == *ssrc {
                    *stream
                } else if let Some(index) = known() {
                    // A known SSRC again (several sources share the 4-tuple): make it current.
                    *ssrc = new;
                    *stream = index;
                    index
                } else if self.ssrc_sets.get(*set as usize).map_or(1, Vec::len)
                    >= self.config.max_ssrcs_per_tuple
                {
                    self.skipped[SkipReason::SsrcLimit.index()] += 1;
                    return;
                } else if !self.config.accepts_payload_type(rtp.payload_type()) {
                    self.skipped[SkipReason::RtpInvalid.index()] += 1;
                    return;
                } else {
                    // A new SSRC on a confirmed 4-tuple: a new stream at once (the 4-tuple is
                    // proven RTP), and an SSRC change (with its restart) for the old one.
                    let old = &mut self.streams[*stream as usize];
                    old.record.ssrc_changes += 1;
                    old.record.new_ssrc = Some(new);
                    let index = self.streams.len() as u32;
                    let mut fresh = RtpStream::new(
                        d.tuple.src(),
                        d.tuple.dst(),
                        new,
                        rtp.payload_type(),
                        self.config.clock_rate(rtp.payload_type()),
                        self.config.delivery(d.tuple.dst().ip()),
                    );
                    if rtp.payload_type() == 33 || ts_packets(rtp.payload()) > 0 {
                        fresh.carry_ts(self.config.ts);
                    }
                    self.streams.push(fresh);
                    self.discovery.confirmed += 1;
                    if *set == NO_SET {
                        *set = self.ssrc_sets.len() as u32;
                        self.ssrc_sets.push(vec![(*ssrc, *stream)]);
                    }
                    self.ssrc_sets[*set as usize].push((new, index));
                    *ssrc = new;
                    *stream = index;
                    index
                };
                // The stream's line with its detector is prefetched: read the payload for
                // what the stream still needs only.
                let stream = &mut self.streams[target as usize];
                let p = MediaPacket::read_rtp(
                    arrival_ns,
                    d.payload_len,
                    &rtp,
                    stream.payload_reading(),
                );
                stream.update(&p, rtp.payload());
            }
            TupleState::Udp(i) => {
                let flow = &mut self.udp_flows[*i as usize];
                let p = if flow.ts.is_some() {
                    MediaPacket::known_ts(arrival_ns, d.payload_len, d.payload)
                } else {
                    MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload)
                };
                if !flow.update(&p, d.payload) {
                    self.skipped[SkipReason::TsInvalid.index()] += 1;
                }
            }
            TupleState::Rtcp(last) => {
                *last = arrival_ns;
                self.on_rtcp(&d.datagram())
            }
            TupleState::Probation(_) => self.on_probation(index, arrival_ns, &d.datagram()),
        }
    }

    fn on_rtcp(&mut self, d: &UdpDatagram<'_>) {
        if let Some(rtcp) = RtcpPacket::new_checked(d.payload) {
            *self
                .rtcp
                .entry((d.src.ip(), d.dst.ip(), rtcp.sender_ssrc()))
                .or_default() += 1;
            if let Some(reported) = rtcp.first_reported_ssrc() {
                // A receiver report travels back towards the sender: count it for the stream
                // it reports on as well.
                *self
                    .rtcp
                    .entry((d.dst.ip(), d.src.ip(), reported))
                    .or_default() += 1;
            }
        }
    }

    fn rtp_candidate<'a>(&self, payload: &'a [u8]) -> Option<RtpPacket<'a>> {
        RtpPacket::new_checked(payload).ok().filter(|r| {
            RtcpPacket::new_checked(payload).is_none()
                && self.config.accepts_payload_type(r.payload_type())
        })
    }

    fn on_first(&mut self, key: FlowKey, hash: u64, arrival_ns: i64, d: &UdpDatagram<'_>) {
        if self.table.tuples.len() >= self.config.max_flows {
            // The flow cap: a flood of new 4-tuples must not exhaust memory. Room is made
            // at the next tick by evicting the longest-idle flows.
            self.refused += 1;
            return;
        }
        if RtcpPacket::new_checked(d.payload).is_some() {
            self.table.insert(key, hash, TupleState::Rtcp(arrival_ns));
            self.on_rtcp(d);
            return;
        }
        let (candidate, p, media) = if let Some(rtp) = self.rtp_candidate(d.payload) {
            let p = MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp);
            (
                Candidate::Rtp {
                    ssrc: rtp.ssrc(),
                    last_seq: rtp.sequence_number(),
                },
                p,
                rtp.payload(),
            )
        } else {
            let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
            if p.ts_packets == 0 {
                let state = self.new_udp_flow(d.src, d.dst, UdpKind::Other, &[p]);
                self.table.insert(key, hash, state);
                return;
            }
            (Candidate::Ts, p, d.payload)
        };
        self.discovery.candidates += 1;
        // Room for the packets a confirmation takes, so that the lists do not grow on the way
        // to one (two reallocations a flow: 1,200 instructions each, callgrind, 55,000 flows).
        let room = usize::from(self.config.probation.clamp(1, MAX_PROBATION));
        let mut held = Vec::with_capacity(room);
        let mut held_ts = Vec::with_capacity(room);
        held.push(p);
        held_ts.push(ts_copy(&p, media));
        let probation = Probation {
            candidate,
            run: 1,
            held,
            held_ts,
        };
        let state = if self.config.probation <= 1 {
            self.confirm(d.src, d.dst, probation)
        } else {
            TupleState::Probation(Box::new(probation))
        };
        self.table.insert(key, hash, state);
    }

    fn on_probation(&mut self, index: u32, arrival_ns: i64, d: &UdpDatagram<'_>) {
        let rtp = self.rtp_candidate(d.payload);
        let slot = &mut self.table.tuples[index as usize].state;
        let TupleState::Probation(mut prob) = std::mem::replace(slot, TupleState::Rtcp(0)) else {
            return;
        };
        let p = match (&mut prob.candidate, rtp) {
            (Candidate::Rtp { ssrc, last_seq }, Some(rtp)) if rtp.ssrc() == *ssrc => {
                let seq = rtp.sequence_number();
                prob.run = if seq == last_seq.wrapping_add(1) {
                    prob.run + 1
                } else {
                    1
                };
                *last_seq = seq;
                let p = MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp);
                Some((p, rtp.payload()))
            }
            (Candidate::Ts, None) => {
                let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
                (p.ts_packets > 0).then(|| {
                    prob.run += 1;
                    (p, d.payload)
                })
            }
            _ => None,
        };
        let state = match p {
            Some((p, media)) if usize::from(MAX_PROBATION) > prob.held.len() => {
                prob.held.push(p);
                prob.held_ts.push(ts_copy(&p, media));
                if prob.run >= self.config.probation {
                    self.confirm(d.src, d.dst, *prob)
                } else {
                    TupleState::Probation(prob)
                }
            }
            _ => {
                // Rejected: the held packets and this one become other UDP.
                self.discovery.rejected += 1;
                prob.held
                    .push(MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload));
                self.new_udp_flow(d.src, d.dst, UdpKind::Other, &prob.held)
            }
        };
        self.table.tuples[index as usize].state = state;
    }

    fn confirm(&mut self, src: SocketAddr, dst: SocketAddr, prob: Probation) -> TupleState {
        self.discovery.confirmed += 1;
        match prob.candidate {
            Candidate::Ts => {
                let mut flow = UdpFlow::new(
                    src,
                    dst,
                    UdpKind::Ts,
                    self.config.ts,
                    self.config.delivery(dst.ip()),
                );
                for (p, payload) in prob.held.iter().zip(&prob.held_ts) {
                    flow.update(p, payload);
                }
                self.udp_flows.push(flow);
                TupleState::Udp(self.udp_flows.len() as u32 - 1)
            }
            Candidate::Rtp { ssrc, .. } => {
                let pt = prob.held[0].rtp.map_or(0, |r| r.payload_type);
                let mut stream = RtpStream::new(
                    src,
                    dst,
                    ssrc,
                    pt,
                    self.config.clock_rate(pt),
                    self.config.delivery(dst.ip()),
                );
                if pt == 33 || prob.held.iter().any(|p| p.ts_packets > 0) {
                    stream.carry_ts(self.config.ts);
                }
                for (p, payload) in prob.held.iter().zip(&prob.held_ts) {
                    stream.update(p, payload);
                }
                self.streams.push(stream);
                TupleState::Rtp {
                    ssrc,
                    stream: self.streams.len() as u32 - 1,
                    set: NO_SET,
                }
            }
        }
    }

    fn new_udp_flow(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        kind: UdpKind,
        packets: &[MediaPacket],
    ) -> TupleState {
        let mut flow = UdpFlow::new(
            src,
            dst,
            kind,
            self.config.ts,
            self.config.delivery(dst.ip()),
        );
        for p in packets {
            flow.update(p, &[]);
        }
        self.udp_flows.push(flow);
        TupleState::Udp(self.udp_flows.len() as u32 - 1)
    }

    /// Ends the analysis: candidates still on probation are counted as rejected (their
    /// packets as other UDP), pending fragments as incomplete, and the report is built.
    pub fn finish(mut self) -> AnalysisReport {
        let mut tuples = std::mem::take(&mut self.table.tuples);
        for tuple in &mut tuples {
            if let TupleState::Probation(prob) =
                std::mem::replace(&mut tuple.state, TupleState::Rtcp(0))
            {
                self.discovery.rejected += 1;
                let (src, dst) = (tuple.key.src(), tuple.key.dst());
                tuple.state = self.new_udp_flow(src, dst, UdpKind::Other, &prob.held);
            }
        }
        self.skipped[SkipReason::FragmentIncomplete.index()] += self.reassembler.flush();
        for s in &mut self.streams {
            s.record.rtcp_packets = self
                .rtcp
                .remove(&(s.record.src.ip(), s.record.dst.ip(), s.ssrc))
                .unwrap_or(0);
        }
        let rtcp_unmatched = self.rtcp.values().sum();
        for s in &mut self.streams {
            s.finish();
        }
        for f in &mut self.udp_flows {
            f.finish();
        }
        let capture = CaptureReport::new(
            &self.capture,
            self.capture_bytes,
            &self.skipped,
            self.discovery,
            rtcp_unmatched,
        );
        AnalysisReport::build(
            capture,
            self.capture.first_ns,
            self.streams,
            self.udp_flows,
            &self.config.groups,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval::{Record, Tick};
    use std::collections::HashMap;
    use testbed::pcap_writer::{udp_frame, udp_frame_v6};

    proptest::proptest! {
        /// The flow table finds exactly what was inserted, through growth and collisions.
        #[test]
        fn flow_table_finds_what_was_inserted(
            keys in proptest::collection::vec((0u32..500, 0u16..4, proptest::bool::ANY), 1..3000)
        ) {
            let mut table = FlowTable::default();
            let mut reference = HashMap::new();
            for (host, port, v6) in keys {
                let src: SocketAddr = if v6 {
                    SocketAddr::new(IpAddr::V6(u128::from(host).into()), port)
                } else {
                    SocketAddr::new(IpAddr::V4(host.into()), port)
                };
                let key = FlowKey::new(src, "10.0.0.1:5004".parse().unwrap());
                let hash = flow_hash(&key);
                let found = table.find(&key, hash);
                proptest::prop_assert_eq!(found, reference.get(&key).copied());
                if found.is_none() {
                    reference.insert(key, table.tuples.len() as u32);
                    table.insert(key, hash, TupleState::Rtcp(0));
                }
                proptest::prop_assert_eq!(table.hint(hash), reference.get(&key).copied());
                proptest::prop_assert_eq!(key.src(), src);
            }
            for (key, index) in &reference {
                proptest::prop_assert_eq!(table.find(key, flow_hash(key)), Some(*index));
            }
            proptest::prop_assert!(table.slots.len() >= 2 * table.tuples.len());
        }

        /// Live ticks that expire and evict flows keep the table whole: every 4-tuple is found
        /// at its index, owns what it points to and nothing is owned twice, the cap holds,
        /// and every packet is counted in a record, refused, or held on probation.
        #[test]
        fn expiry_and_eviction_keep_the_table_whole(
            steps in proptest::collection::vec((0u8..40, 0u8..4, 0u8..6), 1..600),
            cap in 8usize..40,
        ) {
            let config = AnalysisConfig { max_flows: cap, ..AnalysisConfig::default() };
            let mut analyzer = Analyzer::new(config);
            let mut seq = [0u16; 256];
            let mut t = 1_700_000_000_000_000_000i64;
            let (mut packets, mut recorded, mut refused) = (0u64, 0u64, 0u64);
            for (host, ssrc, action) in steps {
                t += 30_000_000;
                if action == 0 {
                    // A tick: idle for 0.3 s expires.
                    let tick = Tick {
                        end_ns: t,
                        interval_ns: 1_000_000_000,
                        silent_after_ns: 100_000_000,
                        expire_after_ns: 300_000_000,
                        source_ended: false,
                    };
                    let outcome = analyzer.tick(&tick, &mut |r| {
                        if let Record::Flow(f) = r {
                            recorded += f.packets;
                        }
                    });
                    refused += outcome.refused;
                    proptest::prop_assert!(analyzer.table.tuples.len() < cap.max(1));
                } else {
                    // RTP from `host`, SSRC `ssrc` (several SSRCs share a 4-tuple), or RTCP.
                    let i = usize::from(host) * 4 + usize::from(ssrc);
                    seq[i] = seq[i].wrapping_add(1);
                    let mut p = vec![0x80, if action == 5 { 200 } else { 96 }];
                    p.extend_from_slice(&seq[i].to_be_bytes());
                    p.extend_from_slice(&[0; 4]);
                    p.extend_from_slice(&u32::from(ssrc).to_be_bytes());
                    p.extend_from_slice(&[0x41; 20]);
                    let f = udp_frame([10, 0, 0, host], 4000, [10, 0, 0, 250], 5004, &p);
                    analyzer.on_frame(t, LinkType::Ethernet, &f, f.len() as u32);
                    packets += 1;
                }
                let a = &analyzer;
                let mut owned_streams = vec![0u8; a.streams.len()];
                let mut owned_udp = vec![0u8; a.udp_flows.len()];
                for (index, tuple) in a.table.tuples.iter().enumerate() {
                    proptest::prop_assert_eq!(a.table.find(&tuple.key, flow_hash(&tuple.key)), Some(index as u32));
                    match &tuple.state {
                        TupleState::Rtp { stream, set, ssrc } => {
                            proptest::prop_assert_eq!(a.streams[*stream as usize].ssrc, *ssrc);
                            match a.ssrc_sets.get(*set as usize) {
                                Some(list) => {
                                    proptest::prop_assert!(list.iter().any(|&(_, s)| s == *stream));
                                    for &(ssrc, s) in list {
                                        proptest::prop_assert_eq!(a.streams[s as usize].ssrc, ssrc);
                                        owned_streams[s as usize] += 1;
                                    }
                                }
                                None => owned_streams[*stream as usize] += 1,
                            }
                        }
                        TupleState::Udp(i) => owned_udp[*i as usize] += 1,
                        _ => {}
                    }
                }
                proptest::prop_assert!(owned_streams.iter().all(|&n| n == 1), "{:?}", owned_streams);
                proptest::prop_assert!(owned_udp.iter().all(|&n| n == 1));
            }
            // The rest: packets still on probation, of other UDP (RTCP) and of flows since
            // the last tick.
            proptest::prop_assert!(recorded + refused <= packets);
        }
    }

    /// Frames of `cameras` H.264/RTP cameras with some loss, duplication and reordering (every
    /// fourth camera over IPv6, which the decode fast path leaves to the full decode), and a
    /// little other traffic: DNS, a frame that is not IP, and a fragmented datagram.
    fn frames(cameras: u32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for round in 0u16..60 {
            for c in 0..cameras {
                let seq = match (round, c % 3) {
                    (10, 0) => continue,
                    (20, 1) => 19,
                    (30, 2) => 31,
                    (31, 2) => 30,
                    _ => round,
                };
                let mut payload = vec![0x80, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, c as u8, 0x7c, 0x81];
                payload[2..4].copy_from_slice(&seq.to_be_bytes());
                payload[4..8].copy_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
                payload[1] |= if seq % 2 == 1 { 0x80 } else { 0 };
                out.push(if c % 4 == 3 {
                    let mut src = [0u8; 16];
                    src[..2].copy_from_slice(&[0x20, 0x01]);
                    src[15] = c as u8;
                    let mut dst = src;
                    dst[15] = 0xff;
                    udp_frame_v6(src, 5004, dst, 5004, &payload)
                } else {
                    udp_frame([10, 1, 0, c as u8], 5004, [10, 0, 0, 1], 5004, &payload)
                });
            }
            // Not IP (an ARP EtherType).
            let mut arp = udp_frame([10, 9, 9, 9], 1, [10, 0, 0, 1], 1, b"x");
            arp[12..14].copy_from_slice(&[0x08, 0x06]);
            out.push(arp);
            // The first half of a fragmented datagram (more fragments, offset 0), then the
            // second (offset 8 bytes): reassembled into one datagram of other UDP.
            let whole = udp_frame([10, 7, 7, 7], 9000, [10, 0, 0, 1], 9000, &[round as u8; 32]);
            let udp = &whole[34..];
            for (offset, more, part) in [(0u16, true, &udp[..16]), (2, false, &udp[16..])] {
                let mut f = whole[..34].to_vec();
                f[18..20].copy_from_slice(&(round + 100).to_be_bytes());
                f[20..22].copy_from_slice(&(offset | if more { 0x2000 } else { 0 }).to_be_bytes());
                f[16..18].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
                f.extend_from_slice(part);
                out.push(f);
            }
            out.push(udp_frame(
                [10, 9, 9, 9],
                53,
                [10, 0, 0, 1],
                53,
                b"not media",
            ));
        }
        out
    }

    #[test]
    fn groups_give_the_same_figures_as_single_frames() {
        let frames = frames(40);
        let batch: Vec<Frame<'_>> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| Frame {
                arrival_ns: 1_000_000_000 + i as i64 * 1_000_000 + (i as i64 % 7) * 50_000,
                link: LinkType::Ethernet,
                data: f,
                wire_len: f.len() as u32,
            })
            .collect();
        let mut single = Analyzer::new(AnalysisConfig::default());
        for f in &batch {
            single.on_frame(f.arrival_ns, f.link, f.data, f.wire_len);
        }
        let single = single.finish();
        // 40 cameras, DNS, the reassembled datagrams' flow.
        assert_eq!(single.flows.len(), 42, "{:?}", single.capture.skipped);
        let rtp = single.flows.iter().find(|f| f.ssrc == Some(0)).unwrap();
        let figures = rtp.rtp.as_ref().unwrap();
        assert_eq!(
            (figures.lost, figures.duplicates, figures.reordered),
            (1, 0, 0)
        );
        // Camera 11 sends over IPv6 and has 31 and 30 swapped.
        let v6 = single.flows.iter().find(|f| f.ssrc == Some(11)).unwrap();
        assert_eq!(v6.src.as_deref(), Some("[2001::b]:5004"));
        assert_eq!(v6.packets, 60);
        let figures = v6.rtp.as_ref().unwrap();
        assert_eq!(
            (figures.lost, figures.duplicates, figures.reordered),
            (0, 0, 1)
        );
        assert_eq!(single.capture.skipped.get("non_ip"), Some(&60));
        let reassembled = single
            .flows
            .iter()
            .find(|f| f.src.as_deref() == Some("10.7.7.7:9000"))
            .unwrap();
        assert_eq!(reassembled.packets, 60);
        // Calls shorter than the pipeline, as long as it, and longer than a call's usual
        // size: the pipeline fills and drains at each.
        assert!(batch.len() > LANES + PIPELINE_DEPTH, "{}", batch.len());
        for size in [
            1,
            2,
            PIPELINE_DEPTH,
            PIPELINE_DEPTH + 1,
            61,
            LANES - 3,
            batch.len(),
        ] {
            let mut grouped = Analyzer::new(AnalysisConfig::default());
            for group in batch.chunks(size) {
                grouped.on_frames(group);
            }
            assert_eq!(
                serde_json::to_string(&single).unwrap(),
                serde_json::to_string(&grouped.finish()).unwrap(),
                "calls of {size} frames"
            );
        }
    }
}
