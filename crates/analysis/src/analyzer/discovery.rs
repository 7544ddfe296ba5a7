//! Discovery: what a 4-tuple carries. Its first datagram makes it RTCP, an RTP or TS
//! candidate, or other UDP; a candidate is held on probation until its packets confirm it.
//!
//! Every state tells RTCP from the rest as RFC 5761 section 4 does (packet types 192-223 in
//! the second byte), so RTCP first on a multiplexed 4-tuple does not hide the RTP after it.
//! Other UDP is probed again ([`REPROBE_PACKETS`], [`REPROBE_NS`], at most [`MAX_REPROBES`]
//! times), so one keepalive first does not hide a camera for the whole run.

use super::flow_table::FlowKey;
use super::{Analyzer, TupleState, NO_SET};
use crate::config::MAX_PROBATION;
use crate::packet::MediaPacket;
use crate::stream::{Reprobe, RtpStream, UdpFlow, UdpKind};
use std::net::SocketAddr;
use wire::{RtcpPacket, RtpPacket, SkipReason, UdpDatagram};

/// SSRCs a 4-tuple may try at once on probation: a second SSRC starts its own run rather
/// than rejecting the first (two sources, or a sender restarting, on one 4-tuple).
const PROBATION_SSRCS: usize = 4;

/// Other UDP is probed again after this many of its datagrams...
pub(super) const REPROBE_PACKETS: u64 = 64;
/// ... or this much packet time, whichever comes first ...
pub(super) const REPROBE_NS: i64 = 10_000_000_000;
/// ... at most this many times per 4-tuple.
pub(super) const MAX_REPROBES: u8 = 8;

/// One SSRC's run of consecutive sequence numbers on probation.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SsrcRun {
    ssrc: u32,
    last_seq: u16,
    run: u8,
}

#[derive(Debug)]
pub(super) enum Candidate {
    /// The SSRCs seen so far (the first `count` of `runs`), in order of first appearance.
    Rtp {
        runs: [SsrcRun; PROBATION_SSRCS],
        count: u8,
    },
    /// TS over UDP, with its run of TS-framed datagrams.
    Ts { run: u8 },
}

#[derive(Debug)]
pub(super) struct Probation {
    pub(super) candidate: Candidate,
    pub(super) held: Vec<MediaPacket>,
    /// Copies of the held packets' TS payloads (empty for others), replayed into the TS
    /// analysis on confirmation so no packet of a TS flow is left out.
    pub(super) held_ts: Vec<Box<[u8]>>,
    /// The other-UDP flow of the 4-tuple when this is a probe again: a rejection returns
    /// its packets there.
    pub(super) other: Option<u32>,
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

impl Reprobe {
    /// The next probe of a flow at `packets` datagrams, last probed (or judged) at `at_ns`.
    fn after(self, packets: u64, at_ns: i64) -> Self {
        Reprobe {
            probes: self.probes,
            due_packets: packets + REPROBE_PACKETS,
            due_ns: at_ns.saturating_add(REPROBE_NS),
        }
    }

    /// Whether a datagram at `at_ns` of a flow of `packets` datagrams is probed.
    #[inline]
    pub(super) fn due(&self, packets: u64, at_ns: i64) -> bool {
        self.probes < MAX_REPROBES && (packets >= self.due_packets || at_ns >= self.due_ns)
    }
}

/// The SSRC's run after `seq` (started when the SSRC is new); None when the probation holds
/// as many SSRCs as it may.
fn step(runs: &mut [SsrcRun; PROBATION_SSRCS], count: &mut u8, ssrc: u32, seq: u16) -> Option<u8> {
    let known = &mut runs[..usize::from(*count)];
    if let Some(r) = known.iter_mut().find(|r| r.ssrc == ssrc) {
        if seq == r.last_seq.wrapping_add(1) {
            r.run = r.run.saturating_add(1);
        } else if seq != r.last_seq {
            // An exact repeat of the last number neither extends nor breaks the run.
            r.run = 1;
        }
        r.last_seq = seq;
        return Some(r.run);
    }
    let slot = runs.get_mut(usize::from(*count))?;
    *slot = SsrcRun {
        ssrc,
        last_seq: seq,
        run: 1,
    };
    *count += 1;
    Some(1)
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
            self.refused_total += 1;
            return;
        }
        if !self.admit_flow() {
            return;
        }
        if RtcpPacket::new_checked(d.payload).is_some() {
            self.table.insert(key, hash, TupleState::Rtcp(arrival_ns));
            self.on_rtcp(d);
            return;
        }
        let state = self.discover(arrival_ns, d, None);
        self.table.insert(key, hash, state);
    }

    /// What a datagram that is not RTCP makes of its 4-tuple: the first datagram after
    /// RTCP only or of a new 4-tuple (`other` None), or a probe of other UDP (`other`, the
    /// 4-tuple's flow of it).
    pub(super) fn discover(
        &mut self,
        arrival_ns: i64,
        d: &UdpDatagram<'_>,
        other: Option<u32>,
    ) -> TupleState {
        let (candidate, p, media) = if let Some(rtp) = self.rtp_candidate(d.payload) {
            let p = MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp);
            let mut runs = [SsrcRun::default(); PROBATION_SSRCS];
            runs[0] = SsrcRun {
                ssrc: rtp.ssrc(),
                last_seq: rtp.sequence_number(),
                run: 1,
            };
            (Candidate::Rtp { runs, count: 1 }, p, rtp.payload())
        } else {
            let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
            if p.ts_packets == 0 {
                return self.other_udp(d.src, d.dst, other, &[p]);
            }
            (Candidate::Ts { run: 1 }, p, d.payload)
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
            held,
            held_ts,
            other,
        };
        if self.config.probation <= 1 {
            self.confirm(d.src, d.dst, probation)
        } else {
            TupleState::Probation(Box::new(probation))
        }
    }

    /// A datagram of other UDP that is due a probe (see [`Reprobe::due`]).
    pub(super) fn reprobe(&mut self, index: u32, flow: u32, arrival_ns: i64, d: &UdpDatagram<'_>) {
        self.discovery.reprobed += 1;
        self.udp_flows[flow as usize].reprobe.probes += 1;
        let state = self.discover(arrival_ns, d, Some(flow));
        self.table.tuples[index as usize].state = state;
    }

    pub(super) fn on_probation(&mut self, index: u32, arrival_ns: i64, d: &UdpDatagram<'_>) {
        if RtcpPacket::new_checked(d.payload).is_some() {
            // RTCP on the candidate's 4-tuple (RFC 5761): counted, the probation goes on.
            self.on_rtcp(d);
            return;
        }
        let rtp = self.rtp_candidate(d.payload);
        let slot = &mut self.table.tuples[index as usize].state;
        let TupleState::Probation(mut prob) = std::mem::replace(slot, TupleState::Rtcp(0)) else {
            return;
        };
        let step = match (&mut prob.candidate, rtp) {
            (Candidate::Rtp { runs, count }, Some(rtp)) => {
                step(runs, count, rtp.ssrc(), rtp.sequence_number()).map(|run| {
                    let p = MediaPacket::from_rtp(arrival_ns, d.payload_len, &rtp);
                    (p, rtp.payload(), run)
                })
            }
            (Candidate::Ts { run }, None) => {
                let p = MediaPacket::from_udp(arrival_ns, d.payload_len, d.payload);
                (p.ts_packets > 0).then(|| {
                    *run = run.saturating_add(1);
                    (p, d.payload, *run)
                })
            }
            _ => None,
        };
        let state = match step {
            Some((p, media, run)) if usize::from(MAX_PROBATION) > prob.held.len() => {
                prob.held.push(p);
                prob.held_ts.push(ts_copy(&p, media));
                if run >= self.config.probation {
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
                self.other_udp(d.src, d.dst, prob.other, &prob.held)
            }
        };
        self.table.tuples[index as usize].state = state;
    }

    /// A candidate's end without confirmation (the end of the run): its packets are other
    /// UDP.
    pub(super) fn reject(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        prob: Probation,
    ) -> TupleState {
        self.discovery.rejected += 1;
        self.other_udp(src, dst, prob.other, &prob.held)
    }

    /// Confirms a candidate: its held packets go to the new flow.
    pub(super) fn confirm(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        prob: Probation,
    ) -> TupleState {
        self.discovery.confirmed += 1;
        match prob.candidate {
            Candidate::Rtp { .. } => {}
            Candidate::Ts { .. } => {
                let mut flow = UdpFlow::new(
                    src,
                    dst,
                    UdpKind::Ts,
                    self.config.ts,
                    self.config.delivery(dst.ip()),
                );
                if let Some(ts) = &mut flow.ts {
                    ts.set_ledger(self.ledger.clone());
                }
                for (p, payload) in prob.held.iter().zip(&prob.held_ts) {
                    flow.update(p, payload);
                }
                self.udp_flows.push(flow);
                return TupleState::Udp(self.udp_flows.len() as u32 - 1);
            }
        }
        // The SSRC that reached the run confirmed the candidate, with the packet just held.
        let confirmed = prob
            .held
            .last()
            .and_then(|p| p.rtp)
            .expect("an RTP candidate is confirmed by an RTP packet")
            .ssrc;
        // Most candidates hold one SSRC: nothing to sort out then.
        let one_ssrc = prob
            .held
            .iter()
            .all(|q| q.rtp.is_none_or(|r| r.ssrc == confirmed));
        let of = |ssrc: u32| {
            if one_ssrc {
                return usize::MAX;
            }
            prob.held
                .iter()
                .filter(|q| q.rtp.is_some_and(|r| r.ssrc == ssrc))
                .count()
        };
        // An SSRC seen once while on probation (a stray, a packet of junk that looked like
        // RTP) is no stream: its packet is other UDP, not a phantom stream and a false SSRC
        // change.
        if !one_ssrc {
            for p in &prob.held {
                if p.rtp.is_some_and(|r| r.ssrc != confirmed && of(r.ssrc) < 2) {
                    self.strays.packets += 1;
                    self.strays.bytes += u64::from(p.udp_payload_len);
                }
            }
        }
        // The held packets in arrival order, as they would have gone on a confirmed 4-tuple:
        // the confirmed SSRC's stream first, each other SSRC seen twice or more a change to a
        // new stream.
        let mut current: Option<(u32, u32, u32)> = None;
        let first = prob
            .held
            .iter()
            .position(|q| q.rtp.is_some_and(|r| r.ssrc == confirmed))
            .expect("the confirming packet is held");
        let order = std::iter::once(first).chain((0..prob.held.len()).filter(|&i| i != first));
        for i in order {
            let (p, payload) = (&prob.held[i], &prob.held_ts[i]);
            let Some(rtp) = p.rtp else { continue };
            if rtp.ssrc != confirmed && of(rtp.ssrc) < 2 {
                continue;
            }
            let ts = rtp.payload_type == 33 || p.ts_packets > 0;
            let target = match &mut current {
                None => {
                    let pt = rtp.payload_type;
                    let mut stream = RtpStream::new(
                        src,
                        dst,
                        rtp.ssrc,
                        pt,
                        self.config.clock(pt),
                        self.config.delivery(dst.ip()),
                    );
                    let of_ssrc = |q: &MediaPacket| q.rtp.is_some_and(|r| r.ssrc == rtp.ssrc);
                    if pt == 33 || prob.held.iter().any(|q| of_ssrc(q) && q.ts_packets > 0) {
                        stream.carry_ts(self.config.ts, &self.ledger);
                    }
                    self.streams.push(stream);
                    let index = self.streams.len() as u32 - 1;
                    current = Some((rtp.ssrc, index, NO_SET));
                    Ok(index)
                }
                Some(c) if c.0 == rtp.ssrc => Ok(c.1),
                Some(c) => self.switch_ssrc(c, src, dst, rtp.ssrc, rtp.payload_type, ts),
            };
            match target {
                Ok(target) => self.streams[target as usize].update(p, payload),
                Err(Some(reason)) => self.skip(reason),
                Err(None) => {}
            }
        }
        let current = current.expect("an RTP candidate holds an RTP packet");
        TupleState::Rtp {
            ssrc: current.0,
            stream: current.1,
            set: current.2,
        }
    }

    /// A datagram of SSRC `new` on a confirmed RTP 4-tuple whose current (SSRC, stream,
    /// SSRC set) is `current`, not of the current SSRC: the stream it goes to, now current.
    /// A known SSRC again (several sources share the 4-tuple) is made current; a new one
    /// starts a new stream at once (the 4-tuple is proven RTP), and an SSRC change (with its
    /// restart) for the old one.
    pub(super) fn switch_ssrc(
        &mut self,
        current: &mut (u32, u32, u32),
        src: SocketAddr,
        dst: SocketAddr,
        new: u32,
        payload_type: u8,
        ts: bool,
    ) -> Result<u32, Option<SkipReason>> {
        let (ssrc, stream, set) = current;
        let list = self.ssrc_sets.get(*set as usize);
        if let Some(&(_, index)) = list.and_then(|l| l.iter().find(|s| s.0 == new)) {
            *ssrc = new;
            *stream = index;
            return Ok(index);
        }
        if list.map_or(1, Vec::len) >= self.config.max_ssrcs_per_tuple {
            return Err(Some(SkipReason::SsrcLimit));
        }
        if !self.config.accepts_payload_type(payload_type) {
            return Err(Some(SkipReason::RtpInvalid));
        }
        if !self.admit_flow() {
            // Counted in `refused_state`.
            return Err(None);
        }
        let old = &mut self.streams[*stream as usize];
        old.record.ssrc_changes += 1;
        old.record.new_ssrc = Some(new);
        let index = self.streams.len() as u32;
        let mut fresh = RtpStream::new(
            src,
            dst,
            new,
            payload_type,
            self.config.clock(payload_type),
            self.config.delivery(dst.ip()),
        );
        if ts {
            fresh.carry_ts(self.config.ts, &self.ledger);
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
        Ok(index)
    }

    /// `packets` of a 4-tuple that is other UDP: added to its flow of it (`other`), or to a
    /// new one; the next probe is due from here.
    fn other_udp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        other: Option<u32>,
        packets: &[MediaPacket],
    ) -> TupleState {
        let index = match other {
            Some(index) => index,
            None => {
                self.udp_flows.push(UdpFlow::new(
                    src,
                    dst,
                    UdpKind::Other,
                    self.config.ts,
                    self.config.delivery(dst.ip()),
                ));
                self.udp_flows.len() as u32 - 1
            }
        };
        let flow = &mut self.udp_flows[index as usize];
        for p in packets {
            flow.update(p, &[]);
        }
        let last = packets.last().map_or(0, |p| p.arrival_ns);
        flow.reprobe = flow.reprobe.after(flow.volume.packets, last);
        TupleState::Udp(index)
    }
}

#[cfg(test)]
mod tests {
    use crate::report::AnalysisReport;
    use crate::{AnalysisConfig, Analyzer};
    use testbed::pcap_writer::{rtp_packet, udp_frame};
    use wire::LinkType;

    const MS: i64 = 1_000_000;

    /// Datagrams from 10.0.0.1:4000 to 10.0.0.2:5004, at the times given.
    fn analyse(datagrams: &[(i64, Vec<u8>)]) -> AnalysisReport {
        analyse_with(AnalysisConfig::default(), datagrams)
    }

    fn analyse_with(config: AnalysisConfig, datagrams: &[(i64, Vec<u8>)]) -> AnalysisReport {
        let mut analyzer = Analyzer::new(config);
        for (at, payload) in datagrams {
            let f = udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, payload);
            analyzer.on_frame(*at, LinkType::Ethernet, &f, f.len() as u32);
        }
        analyzer.finish()
    }

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        rtp_packet(96, false, seq, u32::from(seq) * 3000, ssrc, &[0x41; 100])
    }

    /// A sender report of SSRC 7 (packet type 200), 28 bytes.
    fn sender_report() -> Vec<u8> {
        let mut p = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
        p.resize(28, 0);
        p
    }

    /// (packets, ssrc) of every RTP flow, in report order.
    fn streams(r: &AnalysisReport) -> Vec<(u64, Option<u32>)> {
        r.flows
            .iter()
            .filter(|f| f.rtp.is_some())
            .map(|f| (f.packets, f.ssrc))
            .collect()
    }

    #[test]
    fn rtcp_first_on_a_multiplexed_tuple_does_not_hide_the_rtp_after_it() {
        // RFC 5761: a sender report first, then 20 RTP packets with another report among
        // the probation's packets and one after confirmation.
        let mut d = vec![(0, sender_report())];
        for seq in 0..20u16 {
            d.push((MS + i64::from(seq) * 40 * MS, rtp(seq, 7)));
            if seq == 1 || seq == 10 {
                d.push((MS + i64::from(seq) * 40 * MS + 1, sender_report()));
            }
        }
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(20, Some(7))]);
        let rtp = r.flows[0].rtp.as_ref().unwrap();
        assert_eq!((rtp.lost, rtp.rtcp_packets), (0, 3));
        assert_eq!(r.capture.rtcp_packets, 3);
        assert_eq!(r.capture.other_udp.packets, 0);
        assert_eq!(r.capture.discovery.rejected, 0);
    }

    /// RTP-carried TS (PT 33): a datagram that is not TS-framed and one that comes after
    /// the reorder window gave up on it are RTP packets, left out of the TS analysis, and
    /// each is counted (before: silently).
    #[test]
    fn rtp_ts_datagrams_left_out_of_the_ts_analysis_are_counted() {
        let ts = |seq: u16| -> Vec<u8> {
            let mut payload = Vec::new();
            for k in 0..7u16 {
                let cc = (seq * 7 + k) as u8 & 0x0f;
                let mut p = vec![0x47, 0x01, 0x00, 0x10 | cc];
                p.resize(188, 0xaa);
                payload.extend(p);
            }
            rtp_packet(33, false, seq, u32::from(seq) * 900, 9, &payload)
        };
        let mut d = Vec::new();
        for seq in 0..60u16 {
            if seq == 20 {
                continue; // comes after the 32 behind it were handed over
            }
            let bytes = if seq == 10 {
                rtp_packet(33, false, 10, 9_000, 9, &[0x55; 100])
            } else {
                ts(seq)
            };
            d.push((i64::from(seq) * MS, bytes));
        }
        d.push((70 * MS, ts(20)));
        let r = analyse(&d);
        let f = &r.flows[0];
        assert_eq!((f.kind, f.packets), (crate::kind::FlowKind::RtpTs, 60));
        let report = f.ts.as_ref().unwrap();
        assert_eq!((report.unframed_datagrams, report.late_datagrams), (1, 1));
        // 58 datagrams of 7 TS packets analysed.
        assert_eq!(report.packets, 58 * 7);
    }

    /// definitions.md, clock rate: a dynamic payload type with no configured clock gets
    /// the common clock its timestamps settle on (48 kHz audio, 20 ms packets: settled at
    /// 128 packets), with its jitter counted from there; a static one RFC 3551's; and 90 kHz
    /// stays `assumed` when no common clock fits (24 kHz).
    #[test]
    fn an_audio_clock_on_a_dynamic_payload_type_is_estimated() {
        let stream = |pt: u8, step: u32, configured: u32| {
            let d: Vec<(i64, Vec<u8>)> = (0..500u16)
                .map(|k| {
                    // Every 10th packet 2 ms late: a jitter to measure.
                    let late = if k % 10 == 5 { 2 * MS } else { 0 };
                    let p = rtp_packet(pt, false, k, u32::from(k) * step, 5, &[0x11; 160]);
                    (i64::from(k) * 20 * MS + late, p)
                })
                .collect();
            let mut config = AnalysisConfig::default();
            config.clock_rates[usize::from(pt)] = configured;
            // PCMU (PT 0) is not among the payload types that start a stream by default.
            config.rtp_payload_types |= 1 << pt;
            let r = analyse_with(config, &d);
            let rtp = r.flows[0].rtp.clone().unwrap();
            (rtp.clock_rate, rtp.clock_rate_source, rtp.jitter_ms_max)
        };
        let (rate, source, jitter) = stream(97, 960, 0);
        assert_eq!((rate, source), (48_000, "estimated"));
        // The largest jitter is reached in the steady state, after the estimate: the same
        // as with the clock configured. With 90 kHz assumed, the clocks' difference (840
        // units a packet) would read as 9.3 ms of jitter.
        let (_, configured, expected) = stream(97, 960, 48_000);
        assert_eq!(configured, "config");
        assert!((jitter - expected).abs() < 1e-9, "{jitter} {expected}");
        assert_eq!(
            stream(0, 160, 0),
            (8_000, "rfc3551", stream(0, 160, 8_000).2)
        );
        let (rate, source, _) = stream(97, 480, 0);
        assert_eq!((rate, source), (90_000, "assumed"));
    }

    /// One stray RTP-looking datagram, then a clean stream on the same 4-tuple: one stream,
    /// the confirmed SSRC's, and the stray in other UDP; no phantom stream, no SSRC change.
    #[test]
    fn a_stray_ssrc_before_the_stream_is_other_udp_not_a_stream() {
        let mut d = vec![(0, rtp(40_000, 0xdead_beef))];
        d.extend((0..20u16).map(|seq| (MS + i64::from(seq) * 40 * MS, rtp(seq, 0x1111))));
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(20, Some(0x1111))]);
        let rtp = r.flows[0].rtp.as_ref().unwrap();
        assert_eq!(
            (rtp.ssrc_changes, rtp.seq_jumps, rtp.new_ssrc),
            (0, 0, None)
        );
        assert_eq!(
            (r.capture.discovery.confirmed, r.capture.other_udp.packets),
            (1, 1)
        );
    }

    #[test]
    fn other_udp_is_probed_again_after_64_datagrams_or_10_s() {
        // A keepalive first, then 100 RTP packets 20 ms apart: the keepalive and the next
        // 64 datagrams are other UDP; the 65th is probed and starts a probation.
        let mut d = vec![(0, b"keepalive".to_vec())];
        d.extend((0..100u16).map(|seq| (MS + i64::from(seq) * 20 * MS, rtp(seq, 9))));
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(36, Some(9))]);
        assert_eq!(r.capture.other_udp.packets, 65);
        assert_eq!(r.capture.discovery.reprobed, 1);
        // One RTP packet a second: 10 s of packet time come first, at the packet of 10 s.
        let mut d = vec![(0, b"keepalive".to_vec())];
        d.extend((0..20u16).map(|seq| (i64::from(seq + 1) * 1_000 * MS, rtp(seq, 9))));
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(11, Some(9))]);
        assert_eq!(r.capture.discovery.reprobed, 1);
    }

    #[test]
    fn probes_stop_after_8() {
        // Garbage only, 1,000 datagrams: 8 probes, each finding nothing.
        let d: Vec<_> = (0..1_000i64).map(|i| (i * MS, vec![0u8; 50])).collect();
        let r = analyse(&d);
        assert_eq!(r.capture.discovery.reprobed, 8);
        assert_eq!(r.capture.discovery.candidates, 0);
        assert_eq!(r.capture.other_udp.packets, 1_000);
    }

    #[test]
    fn a_second_ssrc_on_probation_starts_its_own_run() {
        // Two sources interleaved from the first packet: both become streams.
        let d: Vec<_> = (0..6u16)
            .map(|i| {
                (
                    i64::from(i) * MS,
                    rtp(100 + i / 2, if i % 2 == 0 { 1 } else { 2 }),
                )
            })
            .collect();
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(3, Some(1)), (3, Some(2))]);
        assert_eq!(r.capture.discovery.rejected, 0);
        // One packet of an SSRC, then another SSRC's run: the single packet cannot be told
        // from a stray, and is other UDP; two of them make it a stream that changed SSRC.
        let d = [
            (0, rtp(5, 1)),
            (MS, rtp(900, 2)),
            (2 * MS, rtp(901, 2)),
            (3 * MS, rtp(902, 2)),
        ];
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(3, Some(2))]);
        assert_eq!(r.capture.other_udp.packets, 1);
        let d = [
            (0, rtp(5, 1)),
            (MS / 2, rtp(6, 1)),
            (MS, rtp(900, 2)),
            (2 * MS, rtp(901, 2)),
            (3 * MS, rtp(902, 2)),
        ];
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(2, Some(1)), (3, Some(2))]);
        // The confirmed SSRC's stream is made first; the other's is a change to it, replayed
        // in its arrival order.
        let changed = r.flows.iter().find(|f| f.ssrc == Some(2)).unwrap();
        assert_eq!(changed.rtp.as_ref().unwrap().new_ssrc, Some(1));
    }

    #[test]
    fn an_exact_repeat_on_probation_neither_extends_nor_breaks_the_run() {
        let d = [
            (0, rtp(1, 3)),
            (MS, rtp(2, 3)),
            (2 * MS, rtp(2, 3)),
            (3 * MS, rtp(3, 3)),
        ];
        let r = analyse(&d);
        assert_eq!(streams(&r), vec![(4, Some(3))]);
        assert_eq!(r.flows[0].rtp.as_ref().unwrap().duplicates, 1);
    }
}
