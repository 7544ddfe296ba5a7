//! Any bytes as a frame of any link type: decoding down to UDP, then RTP, RTCP, NAL and TS
//! readers, must never panic.
//!
//! The body of fuzz target `frame` (fuzz/fuzz_targets), shared with the stable replay of
//! its corpus and past crashes (crates/streamprobe/tests/fuzz_replay.rs).

use wire::{decode_frame, Decoded, LinkType, RtcpPacket, RtpPacket};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType::from_linktype([1, 113, 276, 101, 0, 147][usize::from(selector) % 6]);
    let payload = match decode_frame(link, frame) {
        Ok(Decoded::Udp(d)) => d.payload,
        Ok(Decoded::Fragment(f)) => f.data,
        Err(_) => frame,
    };
    if let Ok(rtp) = RtpPacket::new_checked(payload) {
        let _ = (
            rtp.marker(),
            rtp.payload_type(),
            rtp.sequence_number(),
            rtp.timestamp(),
            rtp.ssrc(),
        );
        let p = rtp.payload();
        let _ = (
            wire::nal::h264_summary(p),
            wire::nal::h265_summary(p),
            wire::ts::ts_packet_size(p),
        );
    }
    if let Some(rtcp) = RtcpPacket::new_checked(payload) {
        let _ = (
            rtcp.packet_type(),
            rtcp.sender_ssrc(),
            rtcp.first_reported_ssrc(),
        );
    }
}
