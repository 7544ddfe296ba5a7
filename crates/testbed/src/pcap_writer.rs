//! Writes classic pcap files (nanosecond resolution) of synthetic Ethernet/IPv4/UDP frames.

use std::io::{self, Write};

/// A pcap writer with nanosecond timestamps and Ethernet link type.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header (magic a1b23c4d = nanoseconds, link type 1 = Ethernet).
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&0xa1b2_3c4du32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65535u32.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    /// Writes one frame captured at `ns` (ns since the epoch), `wire_len` long on the wire.
    pub fn write_frame(&mut self, ns: i64, frame: &[u8], wire_len: usize) -> io::Result<()> {
        self.out
            .write_all(&((ns / 1_000_000_000) as u32).to_le_bytes())?;
        self.out
            .write_all(&((ns % 1_000_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&(frame.len() as u32).to_le_bytes())?;
        self.out.write_all(&(wire_len as u32).to_le_bytes())?;
        self.out.write_all(frame)
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Builds an RTP packet around `payload`: the 12-byte fixed header of RFC 3550 section 5.1
/// (version 2; no padding, extension or CSRC).
pub fn rtp_packet(
    payload_type: u8,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x80, payload_type | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Builds an Ethernet/IPv4/UDP frame around `payload`.
pub fn udp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let ip = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [1, 0, 0x5e, 0, 0, 1])
        .ipv4(src, dst, 16);
    with_udp(ip, sport, dport, payload)
}

/// Builds an Ethernet/IPv6/UDP frame around `payload`.
pub fn udp_frame_v6(
    src: [u8; 16],
    sport: u16,
    dst: [u8; 16],
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ip = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0x33, 0x33, 0, 0, 0, 1])
        .ipv6(src, dst, 16);
    with_udp(ip, sport, dport, payload)
}

/// The frame of `ip` (Ethernet and an IP header, either family) with a UDP header and
/// `payload` after it.
fn with_udp(
    ip: etherparse::PacketBuilderStep<etherparse::IpHeaders>,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let builder = ip.udp(sport, dport);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder
        .write(&mut frame, payload)
        .expect("writing to a Vec cannot fail");
    frame
}
