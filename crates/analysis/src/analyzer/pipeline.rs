//! The lookup pipeline: frames decoded, their flow table slots, tuples and streams
//! prefetched stages apart, then accounted.

use super::flow_table::flow_hash;
use super::{Analyzer, TupleState};
use wire::link::decode_frame_general;
use wire::prefetch::{prefetch, prefetch_every};
use wire::{decode_plain, Decoded, Frame, PlainDatagram, SkipReason};

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

impl Analyzer {
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
                self.dispatch(index, lane.hash, f.arrival_ns, d);
                if index.is_none() {
                    // A new 4-tuple (the cold path): keep its frame's outer VLAN id.
                    self.note_vlan(&d.tuple, lane.hash, f);
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AnalysisConfig;
    use testbed::pcap_writer::{udp_frame, udp_frame_v6};
    use wire::LinkType;

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
                vlan: None,
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
