//! The live tick: interval records for every media flow, then expiry and eviction of idle
//! 4-tuples.

use super::flow_table::flow_hash;
use super::{Analyzer, TupleState};
use crate::event::FlowEvent;
use crate::interval::{FlowView, LiveState, Record, Tick};
use crate::stream::{RtpStream, UdpFlow, UdpKind};
use wire::{FourTuple, SkipReason};

/// What a tick did to the flow table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// 4-tuples forgotten after their idle time.
    pub expired: u64,
    /// 4-tuples forgotten to make room under the flow cap.
    pub evicted: u64,
    /// Packets of new 4-tuples not tracked since the last tick, the cap being reached.
    pub refused: u64,
    /// Packets of new flows not tracked since the last tick, the state budget being reached.
    pub refused_state: u64,
    /// The state the analysis holds after the tick, bytes.
    pub state_bytes: u64,
    /// The state budget, bytes (None: none).
    pub state_budget_bytes: Option<u64>,
    /// RTCP datagrams in the interval.
    pub rtcp_packets: u64,
    /// Datagrams of UDP that carries no media in the interval: of other-UDP flows, stray
    /// SSRCs, and packets held on probation by a 4-tuple that was rejected or forgotten.
    pub other_udp_packets: u64,
    /// IP fragments that made datagrams in the interval, less the datagrams (which land in
    /// a bucket of their own).
    pub fragments: u64,
    /// Fragments held now for datagrams not yet complete.
    pub fragments_held: u64,
    /// Datagrams held now on probation (they go to a stream or to other UDP when it ends).
    pub probation_packets: u64,
}

impl TickOutcome {
    /// The interval's packets counted outside flow records: refused, RTCP, other UDP and
    /// fragments folded into datagrams. Summed over the intervals, with the flow records'
    /// packets, the skipped records and [`TickOutcome::held`], it is the packets read.
    pub fn counted_outside_records(&self) -> u64 {
        self.refused
            + self.refused_state
            + self.rtcp_packets
            + self.other_udp_packets
            + self.fragments
    }

    /// Packets held at the tick: fragments of datagrams not complete, datagrams on probation.
    pub fn held(&self) -> u64 {
        self.fragments_held + self.probation_packets
    }
}

/// The live accounting's running sums (see [`TickOutcome`]): what every interval's figures
/// are differences of.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Buckets {
    rtcp: u64,
    other_udp: u64,
    fragments: u64,
}

/// After evictions the table holds at most this share of the cap, so that the next
/// interval's new flows find room.
const EVICT_TO_PERCENT: usize = 90;

impl Analyzer {
    /// Closes a live interval: hands `out` a record for every media flow that sent packets
    /// since the last tick, and its events (appeared, silent, resumed, SSRC change). Flows
    /// are visited in the order they were found.
    pub fn tick(&mut self, tick: &Tick, out: &mut impl FnMut(Record)) -> TickOutcome {
        // Flow records carry their 4-tuple's outer VLAN id, kept aside (see `vlans`).
        let vlans = std::mem::take(&mut self.vlans);
        let mut tagged = |mut r: Record| {
            if let Record::Flow(f) = &mut r {
                if !vlans.is_empty() {
                    f.vlan = vlans.get(&FourTuple::new(f.name.src, f.name.dst)).copied();
                }
            }
            out(r)
        };
        let outcome = self.close_interval(tick, &mut tagged);
        self.vlans = vlans;
        if !self.vlans.is_empty() {
            // Forgotten 4-tuples forget their VLAN too: the map never outgrows the table.
            let table = &self.table;
            self.vlans
                .retain(|t, _| table.find(t, flow_hash(t)).is_some());
        }
        outcome
    }

    fn close_interval(&mut self, tick: &Tick, out: &mut impl FnMut(Record)) -> TickOutcome {
        self.live_streams
            .resize_with(self.streams.len(), LiveState::default);
        self.live_udp
            .resize_with(self.udp_flows.len(), LiveState::default);
        let groups = &self.config.groups;
        // TS absences that passed their limit by the interval's end count in it, packets or
        // not; a source that ended is judged up to its last packet, where `analyze` judges
        // (a replay's earlier ticks all end before a packet read).
        let horizon = if tick.source_ended {
            tick.end_ns.min(self.capture.last_ns)
        } else {
            tick.end_ns
        };
        for (stream, live) in self.streams.iter_mut().zip(&mut self.live_streams) {
            // A stream that stopped must not keep TS datagrams held for a gap forever: what
            // waited past the reorder wait counts in this interval.
            stream.release_held(tick.end_ns, tick.source_ended);
            if let Some(ts) = &mut stream.ts {
                ts.analyzer.judge_gaps(horizon);
            }
            live.close(FlowView::rtp(stream), tick, groups, out);
        }
        for (flow, live) in self.udp_flows.iter_mut().zip(&mut self.live_udp) {
            if let Some(ts) = &mut flow.ts {
                ts.judge_gaps(horizon);
            }
            if let Some(view) = FlowView::udp(flow) {
                live.close(view, tick, groups, out);
            }
        }
        // Fragments of datagrams that never completed are dropped at the tick too, not only
        // when the next fragment comes: what `fragments_held` says is held is held.
        self.reassembler.expire(tick.end_ns);
        self.skipped[SkipReason::FragmentIncomplete.index()] +=
            std::mem::take(&mut self.reassembler.expired_fragments);
        let mut outcome = self.forget(tick, out);
        outcome.refused = std::mem::take(&mut self.refused);
        outcome.refused_state = std::mem::take(&mut self.budget.refused_interval);
        // Expiry and eviction freed room: the budget's count starts exact again.
        self.recount_state();
        outcome.state_bytes = self.ledger.bytes() as u64;
        outcome.state_budget_bytes = (self.config.max_state_bytes != usize::MAX)
            .then_some(self.config.max_state_bytes as u64);
        // Every packet read is in a flow's record, refused, skipped, or in one of these
        // (docs/live.md's accounting; the running sums never decrease, so each difference
        // is the interval's).
        let now = Buckets {
            rtcp: self.rtcp_packets,
            other_udp: self
                .udp_flows
                .iter()
                .filter(|f| f.kind == UdpKind::Other)
                .map(|f| f.volume.packets)
                .sum::<u64>()
                + self.strays.packets
                + self.forgotten_other,
            fragments: self.fragments.frames - self.fragments.datagrams,
        };
        let before = std::mem::replace(&mut self.buckets_before, now);
        debug_assert!(
            now.rtcp >= before.rtcp
                && now.other_udp >= before.other_udp
                && now.fragments >= before.fragments,
            "a running sum went down: {before:?} -> {now:?}"
        );
        outcome.rtcp_packets = now.rtcp.saturating_sub(before.rtcp);
        outcome.other_udp_packets = now.other_udp.saturating_sub(before.other_udp);
        outcome.fragments = now.fragments.saturating_sub(before.fragments);
        outcome.fragments_held = self.reassembler.held_fragments();
        outcome.probation_packets = self
            .table
            .tuples
            .iter()
            .map(|t| match &t.state {
                TupleState::Probation(p) => p.held.len() as u64,
                _ => 0,
            })
            .sum();
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
                1 => Some(FlowEvent::Expired),
                _ => Some(FlowEvent::Evicted),
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
                (TupleState::Probation(prob), None) => {
                    // A probe of other UDP returns to the 4-tuple's flow of it if rejected.
                    if let Some(i) = &mut prob.other {
                        let flow = udp[*i as usize].take().expect("a flow has one 4-tuple");
                        self.udp_flows.push(flow);
                        self.live_udp
                            .push(live_udp[*i as usize].take().unwrap_or_default());
                        *i = self.udp_flows.len() as u32 - 1;
                    }
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
                        match FlowView::udp(&mut flow) {
                            Some(view) => live.farewell(view, tick, event, out),
                            None => self.forgotten_other += flow.volume.packets,
                        }
                    }
                }
                (TupleState::Probation(prob), Some(_)) => {
                    // Never confirmed: other UDP (a probe again leaves its other-UDP flow
                    // behind, swept below).
                    self.forgotten_other += prob.held.len() as u64;
                }
                (_, Some(_)) => {}
            }
            if f == 0 {
                tuples.push(tuple);
            }
        }
        // Other-UDP flows no 4-tuple owns any more: of forgotten probes, and of probes that
        // confirmed a stream (the flow keeps the datagrams from before it).
        for flow in udp.iter().flatten() {
            if flow.kind == UdpKind::Other {
                self.forgotten_other += flow.volume.packets;
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
}

#[cfg(test)]
mod tests {
    use super::super::flow_table::flow_hash;
    use super::*;
    use crate::AnalysisConfig;
    use testbed::pcap_writer::udp_frame;
    use wire::LinkType;

    /// A keepalive makes a 4-tuple other UDP; its 66th datagram is probed again and
    /// confirms a stream, which keeps the 36 packets from it on (discovery's rule). When
    /// the stream expires, the other-UDP flow of the 65 before it goes too: live accounting
    /// still counts each datagram once (65 other UDP, 36 in records), never negative.
    #[test]
    fn a_probe_that_confirmed_a_stream_keeps_its_other_udp_counted() {
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        let base = 1_700_000_000_000_000_000i64;
        let ms = 1_000_000;
        let f = udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, b"keepalive");
        analyzer.on_frame(base, LinkType::Ethernet, &f, f.len() as u32);
        for seq in 0..100u16 {
            let p = testbed::pcap_writer::rtp_packet(96, false, seq, 0, 9, &[0x41; 40]);
            let f = udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, &p);
            let t = base + ms + i64::from(seq) * 20 * ms;
            analyzer.on_frame(t, LinkType::Ethernet, &f, f.len() as u32);
        }
        let (mut recorded, mut other) = (0, 0);
        for (end, expire) in [(3_000, 60_000), (10_000, 1_000)] {
            let tick = Tick {
                end_ns: base + end * ms,
                interval_ns: 1_000 * ms,
                silent_after_ns: 2_000 * ms,
                expire_after_ns: expire * ms,
                source_ended: false,
            };
            let o = analyzer.tick(&tick, &mut |r| {
                if let Record::Flow(f) = r {
                    recorded += f.packets;
                }
            });
            other += o.other_udp_packets;
            assert_eq!(o.probation_packets, 0);
        }
        assert_eq!((recorded, other), (36, 65));
        assert!(analyzer.table.tuples.is_empty() && analyzer.udp_flows.is_empty());
    }

    proptest::proptest! {
        /// Live ticks that expire and evict flows keep the table whole: every 4-tuple is found
        /// at its index, owns what it points to and nothing is owned twice, the cap holds,
        /// and at every tick each packet read is in exactly one bucket: a flow's record,
        /// refused, RTCP, other UDP, or held on probation (an equality).
        #[test]
        fn expiry_and_eviction_keep_the_table_whole(
            steps in proptest::collection::vec((0u8..40, 0u8..4, 0u8..7), 1..600),
            cap in 8usize..40,
        ) {
            let config = AnalysisConfig { max_flows: cap, ..AnalysisConfig::default() };
            let mut analyzer = Analyzer::new(config);
            let mut seq = [0u16; 256];
            let mut t = 1_700_000_000_000_000_000i64;
            let (mut packets, mut counted) = (0u64, 0u64);
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
                    let mut recorded = 0;
                    let o = analyzer.tick(&tick, &mut |r| {
                        if let Record::Flow(f) = r {
                            recorded += f.packets;
                        }
                    });
                    counted += recorded + o.counted_outside_records();
                    let skipped: u64 = analyzer.skipped().iter().sum();
                    proptest::prop_assert_eq!(
                        counted + skipped + o.held(),
                        packets,
                        "{:?}", o
                    );
                    proptest::prop_assert!(analyzer.table.tuples.len() < cap.max(1));
                } else {
                    // RTP from `host`, SSRC `ssrc` (several SSRCs share a 4-tuple), RTCP, or
                    // a datagram that is neither RTP nor TS (a keepalive).
                    let i = usize::from(host) * 4 + usize::from(ssrc);
                    seq[i] = seq[i].wrapping_add(1);
                    let mut p = vec![0x80, if action == 5 { 200 } else { 96 }];
                    p.extend_from_slice(&seq[i].to_be_bytes());
                    p.extend_from_slice(&[0; 4]);
                    p.extend_from_slice(&u32::from(ssrc).to_be_bytes());
                    p.extend_from_slice(&[0x41; 20]);
                    if action == 6 {
                        p = b"keepalive".to_vec();
                    }
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
        }
    }
}
