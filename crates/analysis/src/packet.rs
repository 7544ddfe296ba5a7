//! The facts the analysis needs from one datagram, read once.

use crate::frames::PayloadReading;
use wire::nal::{h264_summary, h265_summary, NalSummary};
use wire::ts::ts_packet_size;
use wire::RtpPacket;

/// The RTP header fields the analysis uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpFields {
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
}

/// One media datagram reduced to what the analyzers need (small and `Copy`, so a flow on
/// probation can hold a few without borrowing the capture buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaPacket {
    /// Arrival time, ns since the Unix epoch.
    pub arrival_ns: i64,
    /// UDP payload length as sent.
    pub udp_payload_len: u16,
    /// Media bytes: the RTP payload of RTP packets, the UDP payload otherwise.
    pub media_len: u16,
    /// RTP header, for RTP flows.
    pub rtp: Option<RtpFields>,
    /// TS packets in the (RTP) payload, 0 when it is not TS-framed.
    pub ts_packets: u8,
    /// The payload read as H.264.
    pub h264: NalSummary,
    /// The payload read as H.265.
    pub h265: NalSummary,
}

impl MediaPacket {
    /// Reads an RTP datagram in full, for a stream whose format is not settled.
    pub fn from_rtp(arrival_ns: i64, udp_payload_len: u16, rtp: &RtpPacket<'_>) -> Self {
        Self::read_rtp(arrival_ns, udp_payload_len, rtp, PayloadReading::All)
    }

    /// Reads an RTP datagram for what its stream still needs (`reading`): the readings it
    /// does not need are left at their defaults, and `ts_packets` at 0 once the format is
    /// settled.
    #[inline(always)]
    pub fn read_rtp(
        arrival_ns: i64,
        udp_payload_len: u16,
        rtp: &RtpPacket<'_>,
        reading: PayloadReading,
    ) -> Self {
        let payload = rtp.payload();
        // One call site per reading, so that each stays inlined.
        let ts_packets = match reading {
            PayloadReading::All => ts_packets(payload),
            _ => 0,
        };
        let not_ts = ts_packets == 0;
        let h264 = match reading {
            PayloadReading::All | PayloadReading::H264 if not_ts => h264_summary(payload),
            _ => NalSummary::default(),
        };
        let h265 = match reading {
            PayloadReading::All | PayloadReading::H265 if not_ts => h265_summary(payload),
            _ => NalSummary::default(),
        };
        MediaPacket {
            arrival_ns,
            udp_payload_len,
            media_len: payload.len() as u16,
            rtp: Some(RtpFields {
                seq: rtp.sequence_number(),
                timestamp: rtp.timestamp(),
                ssrc: rtp.ssrc(),
                payload_type: rtp.payload_type(),
                marker: rtp.marker(),
            }),
            ts_packets,
            h264,
            h265,
        }
    }

    /// A datagram of a flow known to carry TS over UDP: the TS analysis reads the payload
    /// itself, so nothing is read here (the sync-byte scan would touch every packet's line
    /// once more).
    pub fn known_ts(arrival_ns: i64, udp_payload_len: u16, payload: &[u8]) -> Self {
        MediaPacket {
            arrival_ns,
            udp_payload_len,
            media_len: payload.len() as u16,
            rtp: None,
            ts_packets: 0,
            h264: NalSummary::default(),
            h265: NalSummary::default(),
        }
    }

    /// Reads a datagram that is not RTP (TS over UDP, or other UDP).
    pub fn from_udp(arrival_ns: i64, udp_payload_len: u16, payload: &[u8]) -> Self {
        MediaPacket {
            ts_packets: ts_packets(payload),
            ..MediaPacket::known_ts(arrival_ns, udp_payload_len, payload)
        }
    }
}

/// TS packets in a TS-framed payload (at most 255: a count, not a length), else 0.
pub fn ts_packets(payload: &[u8]) -> u8 {
    ts_packet_size(payload).map_or(0, |size| (payload.len() / size).min(255) as u8)
}
