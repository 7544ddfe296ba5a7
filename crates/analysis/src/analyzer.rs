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
use crate::packet::MediaPacket;
use crate::report::{AnalysisReport, Discovery};
use crate::stream::{RtpStream, UdpFlow, UdpKind, Volume};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};
use wire::link::decode_udp;
use wire::{decode_frame, Decoded, LinkType, RtcpPacket, RtpPacket, SkipReason, UdpDatagram};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FourTuple {
    src: SocketAddr,
    dst: SocketAddr,
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
}

#[derive(Debug)]
enum Tuple {
    Probation(Box<Probation>),
    /// Streams on this 4-tuple as (SSRC, index into `streams`); the first is the current one.
    Rtp(Vec<(u32, u32)>),
    Udp(u32),
    Rtcp,
}

/// Offline and live analysis state for one worker.
#[derive(Debug, Default)]
pub struct Analyzer {
    config: AnalysisConfig,
    tuples: FxHashMap<FourTuple, Tuple>,
    streams: Vec<RtpStream>,
    udp_flows: Vec<UdpFlow>,
    rtcp: FxHashMap<(IpAddr, IpAddr, u32), u64>,
    reassembler: Reassembler,
    discovery: Discovery,
    skipped: [u64; SkipReason::ALL.len()],
    capture: Volume,
    capture_bytes: u64,
}

impl Analyzer {
    /// An empty analyzer.
    pub fn new(config: AnalysisConfig) -> Self {
        Analyzer {
            config,
            ..Analyzer::default()
        }
    }

    /// Counts a record the capture layer could not hand over.
    pub fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason.index()] += 1;
    }

    /// Analyses one captured frame. `wire_len` is its length on the wire.
    pub fn on_frame(&mut self, arrival_ns: i64, link: LinkType, frame: &[u8], wire_len: u32) {
        if self.capture.packets == 0 {
            self.capture.first_ns = arrival_ns;
        }
        self.capture.packets += 1;
        self.capture.last_ns = self.capture.last_ns.max(arrival_ns);
        self.capture_bytes += u64::from(wire_len);
        match decode_frame(link, frame) {
            Ok(Decoded::Udp(d)) => self.on_datagram(arrival_ns, &d),
            Ok(Decoded::Fragment(f)) => match self.reassembler.push(arrival_ns, &f) {
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

    /// Analyses one UDP datagram.
    pub fn on_datagram(&mut self, arrival_ns: i64, d: &UdpDatagram<'_>) {
        let key = FourTuple {
            src: d.src,
            dst: d.dst,
        };
        match self.tuples.get_mut(&key) {
            Some(Tuple::Rtp(streams)) => {
                if let Some(rtcp) = RtcpPacket::new_checked(d.payload) {
                    // RFC 5761 multiplexing: RTCP on the RTP 4-tuple.
                    *self
                        .rtcp
                        .entry((d.src.ip(), d.dst.ip(), rtcp.sender_ssrc()))
                        .or_default() += 1;
                    return;
                }
                let Ok(rtp) = RtpPacket::new_checked(d.payload) else {
                    self.skipped[SkipReason::RtpInvalid.index()] += 1;
                    return;
                };
                let p = MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp);
                let ssrc = rtp.ssrc();
                let index = if streams[0].0 == ssrc {
                    streams[0].1
                } else if let Some(i) = streams.iter().position(|s| s.0 == ssrc) {
                    // A known SSRC again (several sources share the 4-tuple): make it current.
                    streams.swap(0, i);
                    streams[0].1
                } else if streams.len() >= self.config.max_ssrcs_per_tuple {
                    self.skipped[SkipReason::SsrcLimit.index()] += 1;
                    return;
                } else if !self.config.accepts_payload_type(rtp.payload_type()) {
                    self.skipped[SkipReason::RtpInvalid.index()] += 1;
                    return;
                } else {
                    // A new SSRC on a confirmed 4-tuple: a new stream at once (the 4-tuple is
                    // proven RTP), and an SSRC change (with its restart) for the old one.
                    let old = &mut self.streams[streams[0].1 as usize];
                    old.ssrc_changes += 1;
                    old.new_ssrc = Some(ssrc);
                    let index = self.streams.len() as u32;
                    self.streams.push(RtpStream::new(
                        d.src,
                        d.dst,
                        ssrc,
                        rtp.payload_type(),
                        self.config.clock_rate(rtp.payload_type()),
                    ));
                    self.discovery.confirmed += 1;
                    streams.insert(0, (ssrc, index));
                    index
                };
                self.streams[index as usize].update(&p);
            }
            Some(Tuple::Udp(i)) => {
                let flow = &mut self.udp_flows[*i as usize];
                let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
                if flow.kind == UdpKind::Ts && p.ts_packets == 0 {
                    self.skipped[SkipReason::TsInvalid.index()] += 1;
                    return;
                }
                flow.update(&p);
            }
            Some(Tuple::Rtcp) => self.on_rtcp(d),
            Some(Tuple::Probation(_)) => self.on_probation(key, arrival_ns, d),
            None => self.on_first(key, arrival_ns, d),
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

    fn on_first(&mut self, key: FourTuple, arrival_ns: i64, d: &UdpDatagram<'_>) {
        if RtcpPacket::new_checked(d.payload).is_some() {
            self.tuples.insert(key, Tuple::Rtcp);
            self.on_rtcp(d);
            return;
        }
        let (candidate, p) = if let Some(rtp) = self.rtp_candidate(d.payload) {
            let p = MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp);
            (
                Candidate::Rtp {
                    ssrc: rtp.ssrc(),
                    last_seq: rtp.sequence_number(),
                },
                p,
            )
        } else {
            let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
            if p.ts_packets == 0 {
                let tuple = self.new_udp_flow(key, UdpKind::Other, &[p]);
                self.tuples.insert(key, tuple);
                return;
            }
            (Candidate::Ts, p)
        };
        self.discovery.candidates += 1;
        let probation = Probation {
            candidate,
            run: 1,
            held: vec![p],
        };
        if self.config.probation <= 1 {
            let tuple = self.confirm(key, probation);
            self.tuples.insert(key, tuple);
        } else {
            self.tuples
                .insert(key, Tuple::Probation(Box::new(probation)));
        }
    }

    fn on_probation(&mut self, key: FourTuple, arrival_ns: i64, d: &UdpDatagram<'_>) {
        let rtp = self.rtp_candidate(d.payload);
        let Some(Tuple::Probation(prob)) = self.tuples.get_mut(&key) else {
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
                Some(MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp))
            }
            (Candidate::Ts, None) => {
                let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
                (p.ts_packets > 0).then(|| {
                    prob.run += 1;
                    p
                })
            }
            _ => None,
        };
        let Some(Tuple::Probation(prob)) = self.tuples.remove(&key) else {
            return;
        };
        let mut prob = *prob;
        let tuple = match p {
            Some(p) if usize::from(MAX_PROBATION) > prob.held.len() => {
                prob.held.push(p);
                if prob.run >= self.config.probation {
                    self.confirm(key, prob)
                } else {
                    Tuple::Probation(Box::new(prob))
                }
            }
            _ => {
                // Rejected: the held packets and this one become other UDP.
                self.discovery.rejected += 1;
                prob.held
                    .push(MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload));
                self.new_udp_flow(key, UdpKind::Other, &prob.held)
            }
        };
        self.tuples.insert(key, tuple);
    }

    fn confirm(&mut self, key: FourTuple, prob: Probation) -> Tuple {
        self.discovery.confirmed += 1;
        match prob.candidate {
            Candidate::Ts => self.new_udp_flow(key, UdpKind::Ts, &prob.held),
            Candidate::Rtp { ssrc, .. } => {
                let pt = prob.held[0].rtp.map_or(0, |r| r.payload_type);
                let mut stream =
                    RtpStream::new(key.src, key.dst, ssrc, pt, self.config.clock_rate(pt));
                for p in &prob.held {
                    stream.update(p);
                }
                self.streams.push(stream);
                Tuple::Rtp(vec![(ssrc, self.streams.len() as u32 - 1)])
            }
        }
    }

    fn new_udp_flow(&mut self, key: FourTuple, kind: UdpKind, packets: &[MediaPacket]) -> Tuple {
        let mut flow = UdpFlow::new(key.src, key.dst, kind);
        for p in packets {
            flow.update(p);
        }
        self.udp_flows.push(flow);
        Tuple::Udp(self.udp_flows.len() as u32 - 1)
    }

    /// Ends the analysis: candidates still on probation are counted as rejected (their
    /// packets as other UDP), pending fragments as incomplete, and the report is built.
    pub fn finish(mut self) -> AnalysisReport {
        let pending: Vec<FourTuple> = self
            .tuples
            .iter()
            .filter(|(_, t)| matches!(t, Tuple::Probation(_)))
            .map(|(k, _)| *k)
            .collect();
        for key in pending {
            if let Some(Tuple::Probation(prob)) = self.tuples.remove(&key) {
                self.discovery.rejected += 1;
                self.new_udp_flow(key, UdpKind::Other, &prob.held);
            }
        }
        self.skipped[SkipReason::FragmentIncomplete.index()] += self.reassembler.flush();
        for s in &mut self.streams {
            s.rtcp_packets = self
                .rtcp
                .remove(&(s.src.ip(), s.dst.ip(), s.ssrc))
                .unwrap_or(0);
        }
        let rtcp_unmatched = self.rtcp.values().sum();
        AnalysisReport::build(
            self.capture,
            self.capture_bytes,
            self.skipped,
            self.discovery,
            rtcp_unmatched,
            self.streams,
            self.udp_flows,
        )
    }
}
