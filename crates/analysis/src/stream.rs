//! Per-flow state: an RTP stream (one SSRC on one 4-tuple) or a plain UDP flow.

use crate::frames::{FrameCounter, PayloadDetector, PayloadFormat};
use crate::jitter::InterarrivalJitter;
use crate::packet::MediaPacket;
use crate::seq::{SeqVerdict, SequenceTracker};
use crate::ts::{TsAnalyzer, TsLimits};
use std::net::SocketAddr;
use wire::ts::ts_datagram_packet_size;

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

/// One RTP stream: RFC 3550 A.1 / A.8 state plus frame counting.
#[derive(Clone, Debug)]
pub struct RtpStream {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload type of the first packet.
    pub payload_type: u8,
    /// Clock rate used for jitter, in Hz.
    pub clock_rate: u32,
    /// Packets, bytes, times.
    pub volume: Volume,
    /// Sequence accounting.
    pub seq: SequenceTracker,
    /// Interarrival jitter.
    pub jitter: InterarrivalJitter,
    /// Frames.
    pub frames: FrameCounter,
    /// Payload format detection.
    pub detector: PayloadDetector,
    /// Largest gap between consecutive arrivals, ns.
    pub max_delta_ns: i64,
    /// SSRCs that replaced this one on the same 4-tuple.
    pub ssrc_changes: u64,
    /// The last SSRC that replaced this one.
    pub new_ssrc: Option<u32>,
    /// RTCP packets attributed to this stream.
    pub rtcp_packets: u64,
    /// MPEG-TS analysis, when the stream carries TS (PT 33 or TS-framed payloads).
    pub ts: Option<Box<TsAnalyzer>>,
}

impl RtpStream {
    /// A stream that has not seen a packet yet.
    pub fn new(
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
        payload_type: u8,
        clock_rate: u32,
    ) -> Self {
        RtpStream {
            src,
            dst,
            ssrc,
            payload_type,
            clock_rate,
            volume: Volume::default(),
            seq: SequenceTracker::default(),
            jitter: InterarrivalJitter::default(),
            frames: FrameCounter::default(),
            detector: PayloadDetector::default(),
            max_delta_ns: 0,
            ssrc_changes: 0,
            new_ssrc: None,
            rtcp_packets: 0,
            ts: None,
        }
    }

    /// Starts TS analysis on this stream (its payloads are TS).
    pub fn carry_ts(&mut self, limits: TsLimits) {
        self.ts
            .get_or_insert_with(|| Box::new(TsAnalyzer::new(limits)));
    }

    /// Accounts one packet of this stream, in arrival order; `payload` is its RTP payload
    /// (needed for TS analysis only: may be empty otherwise).
    pub fn update(&mut self, p: &MediaPacket, payload: &[u8]) {
        let Some(rtp) = p.rtp else { return };
        if self.volume.packets > 0 {
            self.max_delta_ns = self
                .max_delta_ns
                .max(p.arrival_ns.saturating_sub(self.volume.last_ns));
        }
        self.volume.add(p.arrival_ns, p.udp_payload_len);
        match self.seq.update(rtp.seq) {
            SeqVerdict::Duplicate | SeqVerdict::Stray => return,
            SeqVerdict::Restart => self.jitter.reset_reference(),
            SeqVerdict::First | SeqVerdict::InOrder | SeqVerdict::Late => {}
        }
        self.jitter
            .update(p.arrival_ns, rtp.timestamp, self.clock_rate);
        self.frames.update(p.arrival_ns, rtp.marker, p.h264, p.h265);
        self.detector.update(p.ts_packets, p.h264, p.h265);
        if let Some(ts) = &mut self.ts {
            // Duplicates and strays returned above: a duplicated datagram is RTP's figure, not
            // a TS continuity error (docs/figures.md).
            if let Some(size) = ts_datagram_packet_size(payload) {
                ts.on_datagram(p.arrival_ns, payload, size);
            }
        }
    }

    /// The detected payload format.
    pub fn payload_format(&self) -> PayloadFormat {
        self.detector.format(self.payload_type)
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
}

impl UdpFlow {
    /// A flow with no packet yet.
    pub fn new(src: SocketAddr, dst: SocketAddr, kind: UdpKind, limits: TsLimits) -> Self {
        UdpFlow {
            src,
            dst,
            kind,
            volume: Volume::default(),
            ts_packets: 0,
            ts: (kind == UdpKind::Ts).then(|| Box::new(TsAnalyzer::new(limits))),
        }
    }

    /// Accounts one datagram; `payload` is its UDP payload (needed for TS flows only).
    /// Returns false, accounting nothing, when a TS flow's datagram is not TS-framed.
    pub fn update(&mut self, p: &MediaPacket, payload: &[u8]) -> bool {
        if let Some(ts) = &mut self.ts {
            let Some(size) = ts_datagram_packet_size(payload) else {
                return false;
            };
            self.ts_packets += (payload.len() / size) as u64;
            ts.on_datagram(p.arrival_ns, payload, size);
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
    use wire::nal::NalSummary;

    fn pkt(ms: i64, seq: u16, ts: u32, marker: bool) -> MediaPacket {
        MediaPacket {
            arrival_ns: ms * 1_000_000,
            udp_payload_len: 1000,
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
        let mut s = RtpStream::new(
            "1.1.1.1:1".parse().unwrap(),
            "2.2.2.2:2".parse().unwrap(),
            1,
            96,
            90_000,
        );
        s.update(&pkt(0, 1, 0, true), &[]);
        s.update(&pkt(40, 2, 3600, true), &[]);
        s.update(&pkt(45, 2, 3600, true), &[]);
        s.update(&pkt(80, 3, 7200, true), &[]);
        assert_eq!(s.seq.duplicates(), 1);
        assert_eq!(s.frames.frames(PayloadFormat::Unknown).0, 3);
        assert_eq!(s.jitter.max(), 0.0);
        assert_eq!(s.max_delta_ns, 40_000_000);
        assert_eq!((s.volume.packets, s.volume.bytes), (4, 4000));
    }
}
