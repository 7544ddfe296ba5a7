//! Discovery: what a 4-tuple carries. Its first datagram makes it RTCP, an RTP or TS
//! candidate, or other UDP; a candidate is held on probation until its packets confirm it.

use super::flow_table::FlowKey;
use super::{Analyzer, TupleState, NO_SET};
use crate::config::MAX_PROBATION;
use crate::packet::MediaPacket;
use crate::stream::{RtpStream, UdpFlow, UdpKind};
use std::net::SocketAddr;
use wire::{RtcpPacket, RtpPacket, UdpDatagram};

#[derive(Debug)]
pub(super) enum Candidate {
    Rtp { ssrc: u32, last_seq: u16 },
    Ts,
}

#[derive(Debug)]
pub(super) struct Probation {
    pub(super) candidate: Candidate,
    pub(super) run: u8,
    pub(super) held: Vec<MediaPacket>,
    /// Copies of the held packets' TS payloads (empty for others), replayed into the TS
    /// analysis on confirmation so no packet of a TS flow is left out.
    pub(super) held_ts: Vec<Box<[u8]>>,
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

impl Analyzer {
    pub(super) fn rtp_candidate<'a>(&self, payload: &'a [u8]) -> Option<RtpPacket<'a>> {
        RtpPacket::new_checked(payload).ok().filter(|r| {
            RtcpPacket::new_checked(payload).is_none()
                && self.config.accepts_payload_type(r.payload_type())
        })
    }

    pub(super) fn on_first(
        &mut self,
        key: FlowKey,
        hash: u64,
        arrival_ns: i64,
        d: &UdpDatagram<'_>,
    ) {
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

    pub(super) fn on_probation(&mut self, index: u32, arrival_ns: i64, d: &UdpDatagram<'_>) {
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

    pub(super) fn confirm(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        prob: Probation,
    ) -> TupleState {
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

    pub(super) fn new_udp_flow(
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
}
