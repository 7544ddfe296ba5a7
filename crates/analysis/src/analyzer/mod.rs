//! The analyzer of one worker: discovery of RTP and TS flows and dispatch of each datagram
//! to its flow.
//!
//! A 4-tuple's first datagram decides what it may be: RTCP (RFC 5761 packet types), an RTP
//! candidate (version 2, an accepted payload type), a TS candidate (sync bytes at 188/204
//! strides) or other UDP. A candidate holds its first packets (at most
//! [`crate::config::MAX_PROBATION`]) until it shows `probation` consecutive sequence numbers
//! (TS: consecutive TS-framed datagrams); then the held packets are replayed into the new
//! flow, so they count in every figure. A candidate that breaks the pattern is rejected and
//! its 4-tuple stays other UDP for the rest of the run.
//!
//! Its parts: [`flow_table`] (4-tuples by hash), [`discovery`] (probation), `pipeline` (the
//! prefetching lookup of a batch of frames), `tick` (live intervals, expiry, eviction), and
//! here the dispatch of a datagram to its flow and the end of an offline run.

#[cfg(test)]
mod accounting;
mod discovery;
mod flow_table;
mod pipeline;
mod state;
mod tick;

pub use pipeline::LANES;
pub use tick::TickOutcome;

use crate::config::AnalysisConfig;
use crate::defrag::{FragmentOutcome, Reassembler};
use crate::interval::LiveState;
use crate::packet::{ts_packets, MediaPacket};
use crate::report::{AnalysisReport, CaptureReport, Discovery, Fragments, Tally};
use crate::stream::{RtpStream, UdpFlow, UdpKind, Volume};
use discovery::Probation;
use flow_table::{flow_hash, FlowTable};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use wire::link::decode_udp;
use wire::{
    outer_vlan, Decoded, FourTuple, Frame, LinkType, PlainDatagram, RtcpPacket, RtpPacket,
    SkipReason, UdpDatagram,
};

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

/// Offline and live analysis state for one worker.
#[derive(Debug, Default)]
pub struct Analyzer {
    config: AnalysisConfig,
    table: FlowTable,
    ssrc_sets: Vec<Vec<(u32, u32)>>,
    streams: Vec<RtpStream>,
    udp_flows: Vec<UdpFlow>,
    rtcp: FxHashMap<(IpAddr, IpAddr, u32), u64>,
    /// RTCP datagrams, wherever they came.
    rtcp_packets: u64,
    reassembler: Reassembler,
    discovery: Discovery,
    skipped: [u64; SkipReason::ALL.len()],
    capture: Volume,
    capture_bytes: u64,
    /// Live interval state per RTP stream and per UDP flow (same indexes).
    live_streams: Vec<LiveState>,
    live_udp: Vec<LiveState>,
    /// The outer VLAN id (802.1Q / 802.1ad) of each tracked 4-tuple whose first frame had
    /// one, for its flow records. Kept beside the table, not in it: a table entry is one
    /// cache line, full, and only a new 4-tuple's frame is read for its tag.
    vlans: FxHashMap<FourTuple, u16>,
    /// Packets of new 4-tuples not tracked because the flow cap was reached, since the last
    /// tick.
    refused: u64,
    /// Datagrams of refused 4-tuples over the whole run (`refused` is per live interval).
    refused_total: u64,
    /// RTCP packets of senders beyond the bounded map (unmatched).
    rtcp_overflow: u64,
    /// IP fragments reassembled.
    fragments: Fragments,
    /// The state budget's bookkeeping.
    budget: state::StateBudget,
    /// The bytes held against the budget, shared with the flows' TS analyses.
    ledger: std::sync::Arc<crate::budget::Ledger>,
    /// Datagrams of SSRCs seen once on a candidate that another SSRC confirmed: other UDP
    /// (`flows` stays 0: their 4-tuple is counted as RTP).
    strays: crate::report::OtherUdp,
    /// Datagrams of other UDP forgotten by live ticks: the other-UDP flows that went and the
    /// packets held on probation by 4-tuples that went unconfirmed.
    forgotten_other: u64,
    /// The live accounting's running sums at the last tick.
    buckets_before: tick::Buckets,
}

impl Analyzer {
    /// An empty analyzer.
    pub fn new(config: AnalysisConfig) -> Self {
        Analyzer {
            ledger: std::sync::Arc::new(crate::budget::Ledger::new(config.max_state_bytes)),
            config,
            ..Analyzer::default()
        }
    }

    /// Takes a new config while running (a live reload): monitor groups, their media rates
    /// and SLA limits apply to every flow from the next interval on (each flow's group is
    /// looked up again by its destination; its counters stay); payload types, clock rates,
    /// probation and TS limits apply to flows found from now on. The flow cap and the state
    /// budget are the probe's sizing: they stay as they were.
    pub fn reconfigure(&mut self, new: &AnalysisConfig) {
        let (max_flows, max_state_bytes) = (self.config.max_flows, self.config.max_state_bytes);
        self.config = new.clone();
        self.config.max_flows = max_flows;
        self.config.max_state_bytes = max_state_bytes;
        let config = &self.config;
        let regroup = |delivery: &mut crate::stream::Delivery, dst: std::net::IpAddr| {
            let fresh = config.delivery(dst);
            delivery.group = fresh.group;
            let rate = fresh
                .group
                .and_then(|g| config.groups.get(g))
                .map(|g| g.media_rate_bps);
            delivery.mdi.set_group_rate(rate);
        };
        for s in &mut self.streams {
            regroup(&mut s.delivery, s.record.dst.ip());
        }
        for f in &mut self.udp_flows {
            regroup(&mut f.delivery, f.dst.ip());
        }
    }

    /// The config in force.
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// Records left out so far, per reason (index [`SkipReason::index`]).
    pub fn skipped(&self) -> &[u64; SkipReason::ALL.len()] {
        &self.skipped
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

    /// Counts `n` records left out for `reason` by the source.
    pub fn skip_many(&mut self, reason: SkipReason, n: u64) {
        self.skipped[reason.index()] += n;
    }

    /// Analyses one captured frame. `wire_len` is its length on the wire.
    pub fn on_frame(&mut self, arrival_ns: i64, link: LinkType, data: &[u8], wire_len: u32) {
        self.on_frames(&[Frame {
            arrival_ns,
            link,
            data,
            wire_len,
            vlan: None,
        }]);
    }

    fn count_frame(&mut self, f: &Frame<'_>) {
        if self.capture.packets == 0 {
            self.capture.first_ns = f.arrival_ns;
        }
        self.capture.packets += 1;
        self.capture.last_ns = self.capture.last_ns.max(f.arrival_ns);
        self.capture_bytes += u64::from(f.wire_len);
    }

    /// Keeps the outer VLAN id of the frame that made a new 4-tuple, if it was tracked.
    #[cold]
    fn note_vlan(&mut self, tuple: &FourTuple, hash: u64, f: &Frame<'_>) {
        if let Some(vlan) = f.vlan.or_else(|| outer_vlan(f.link, f.data)) {
            if self.table.find(tuple, hash).is_some() {
                self.vlans.insert(*tuple, vlan);
            }
        }
    }

    /// A decoded frame: a datagram, a fragment to reassemble, or a skip.
    fn on_decoded(&mut self, arrival_ns: i64, decoded: Result<Decoded<'_>, SkipReason>) {
        match decoded {
            Ok(Decoded::Udp(d)) => self.on_datagram(arrival_ns, &d),
            Ok(Decoded::Fragment(fragment)) => match self.reassembler.push(arrival_ns, &fragment) {
                FragmentOutcome::Pending => {}
                FragmentOutcome::Dropped(reason, n) => self.skipped[reason.index()] += n,
                FragmentOutcome::Complete(r) => {
                    self.fragments.frames += r.fragments;
                    self.fragments.datagrams += 1;
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
            vlan: None,
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
                if RtcpPacket::new_checked(d.payload).is_some() {
                    // RFC 5761 multiplexing: RTCP on the RTP 4-tuple.
                    self.on_rtcp(&d.datagram());
                    return;
                }
                let Ok(rtp) = RtpPacket::new_checked(d.payload) else {
                    self.skipped[SkipReason::RtpInvalid.index()] += 1;
                    return;
                };
                let target = if rtp.ssrc() == *ssrc {
                    *stream
                } else {
                    let mut current = (*ssrc, *stream, *set);
                    let ts = rtp.payload_type() == 33 || ts_packets(rtp.payload()) > 0;
                    let (src, dst) = (d.tuple.src(), d.tuple.dst());
                    let target = self.switch_ssrc(
                        &mut current,
                        src,
                        dst,
                        rtp.ssrc(),
                        rtp.payload_type(),
                        ts,
                    );
                    if let TupleState::Rtp { ssrc, stream, set } =
                        &mut self.table.tuples[index as usize].state
                    {
                        (*ssrc, *stream, *set) = current;
                    }
                    match target {
                        Ok(target) => target,
                        Err(reason) => {
                            if let Some(reason) = reason {
                                self.skip(reason);
                            }
                            return;
                        }
                    }
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
                let i = *i;
                let flow = &mut self.udp_flows[i as usize];
                if flow.kind == UdpKind::Other {
                    if RtcpPacket::new_checked(d.payload).is_some() {
                        self.on_rtcp(&d.datagram());
                        return;
                    }
                    if flow.reprobe.due(flow.volume.packets, arrival_ns) {
                        self.reprobe(index, i, arrival_ns, &d.datagram());
                        return;
                    }
                }
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
                if RtcpPacket::new_checked(d.payload).is_some() {
                    *last = arrival_ns;
                    self.on_rtcp(&d.datagram());
                } else {
                    // RTCP came first on a multiplexed 4-tuple (RFC 5761): what follows is
                    // discovered as on a new 4-tuple.
                    let state = self.discover(arrival_ns, &d.datagram(), None);
                    self.table.tuples[index as usize].state = state;
                }
            }
            TupleState::Probation(_) => self.on_probation(index, arrival_ns, &d.datagram()),
        }
    }

    fn on_rtcp(&mut self, d: &UdpDatagram<'_>) {
        if let Some(rtcp) = RtcpPacket::new_checked(d.payload) {
            self.rtcp_packets += 1;
            self.count_rtcp((d.src.ip(), d.dst.ip(), rtcp.sender_ssrc()));
            if let Some(reported) = rtcp.first_reported_ssrc() {
                // A receiver report travels back towards the sender: count it for the stream
                // it reports on as well.
                self.count_rtcp((d.dst.ip(), d.src.ip(), reported));
            }
        }
    }

    /// One RTCP packet for the stream `key` names. The map is bounded: once it holds as
    /// many senders as the flow cap allows flows, packets of senders not in it count as
    /// matching no stream (a flood of spoofed RTCP senders cannot grow it).
    fn count_rtcp(&mut self, key: (IpAddr, IpAddr, u32)) {
        let full = self.rtcp.len() >= self.config.max_flows || self.state_full();
        match self.rtcp.get_mut(&key) {
            Some(n) => *n += 1,
            None if full => self.rtcp_overflow += 1,
            None => {
                self.rtcp.insert(key, 1);
            }
        }
    }

    /// Ends the analysis: candidates still on probation are counted as rejected (their
    /// packets as other UDP), pending fragments as incomplete, and the report is built.
    pub fn finish(mut self) -> AnalysisReport {
        let mut tuples = std::mem::take(&mut self.table.tuples);
        for tuple in &mut tuples {
            if let TupleState::Probation(prob) =
                std::mem::replace(&mut tuple.state, TupleState::Rtcp(0))
            {
                tuple.state = self.reject(tuple.key.src(), tuple.key.dst(), *prob);
            }
        }
        self.skipped[SkipReason::FragmentIncomplete.index()] += self.reassembler.flush();
        for s in &mut self.streams {
            s.record.rtcp_packets = self
                .rtcp
                .remove(&(s.record.src.ip(), s.record.dst.ip(), s.ssrc))
                .unwrap_or(0);
        }
        let rtcp_unmatched = self.rtcp.values().sum::<u64>() + self.rtcp_overflow;
        // TS absences are judged up to the capture's end, as live ticks judge them up to
        // the last packet read: a stream that stops has its PAT, PCR... gaps once each.
        let horizon = self.capture.last_ns;
        for s in &mut self.streams {
            s.finish(horizon);
        }
        for f in &mut self.udp_flows {
            f.finish(horizon);
        }
        let capture = CaptureReport::new(
            &self.capture,
            self.capture_bytes,
            &self.skipped,
            self.discovery,
            Tally {
                strays: self.strays,
                rtcp_packets: self.rtcp_packets,
                rtcp_unmatched,
                fragments: self.fragments,
                refused: self.refused_total,
                refused_state: self.budget.refused,
                state_bytes_peak: self.budget.peak.max(self.state_bytes()) as u64,
                state_budget_bytes: (self.config.max_state_bytes != usize::MAX)
                    .then_some(self.config.max_state_bytes as u64),
            },
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
