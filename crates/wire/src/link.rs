//! From a captured frame to a UDP datagram (or an IP fragment to reassemble).
//!
//! Ethernet (with any number of 802.1Q / 802.1ad tags, up to etherparse's limit), Linux cooked
//! capture v1 (SLL) and v2 (SLL2), BSD null/loopback and raw IPv4/IPv6 are decoded. etherparse
//! does the Ethernet, VLAN and IP header work with lax length checks, so a frame cut by the snap
//! length still yields its headers; the SLL2 and null headers and the UDP header are read here
//! because etherparse has no SLL2 and we want the UDP length field as sent, not as captured.

use crate::skip::SkipReason;
use etherparse::{err::Layer, EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The link-layer header type of a capture interface (tcpdump.org LINKTYPE_* values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture v1, 16-byte header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture v2, 20-byte header.
    LinuxSll2,
    /// LINKTYPE_RAW (101, also DLT 12 and 14), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229).
    RawIp,
    /// LINKTYPE_NULL (0) and LINKTYPE_LOOP (108): a 4-byte address family.
    Null,
    /// Any other link type: its frames are skipped as `unsupported_link_type`.
    Unknown(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link type number.
    pub fn from_linktype(value: u32) -> LinkType {
        match value {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            101 | 12 | 14 | 228 | 229 => LinkType::RawIp,
            0 | 108 => LinkType::Null,
            other => LinkType::Unknown(other),
        }
    }
}

/// One captured frame, as a source hands it over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time, ns since the Unix epoch.
    pub arrival_ns: i64,
    /// Link type of the interface it was captured on.
    pub link: LinkType,
    /// The bytes captured (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
    /// Its outer VLAN id when the capture took the tag out of the bytes and gave it beside
    /// them (AF_PACKET: `TP_STATUS_VLAN_VALID`); None when the tag, if any, is in `data`.
    pub vlan: Option<u16>,
}

/// A UDP datagram inside a frame: addresses, ports and the payload as captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload as captured (may be shorter than `payload_len` when the snap length cut it).
    pub payload: &'a [u8],
    /// The UDP payload length as sent (UDP length field - 8).
    pub payload_len: u16,
}

impl UdpDatagram<'_> {
    /// True when the capture's snap length cut part of the payload.
    pub fn is_cut(&self) -> bool {
        self.payload.len() < usize::from(self.payload_len)
    }
}

/// One fragment of a fragmented IPv4 or IPv6 datagram (RFC 791, RFC 8200 section 4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpFragment<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Identification (16 bits in IPv4, 32 bits in IPv6).
    pub identification: u32,
    /// Protocol of the reassembled payload (17 for UDP).
    pub protocol: u8,
    /// Offset of this fragment's data in the reassembled payload, in bytes.
    pub offset: u32,
    /// The more-fragments flag.
    pub more_fragments: bool,
    /// The fragment's data as captured.
    pub data: &'a [u8],
    /// False when the snap length cut the fragment (it cannot be used for reassembly).
    pub complete: bool,
}

/// What a frame holds, once decoded down to the transport layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole UDP datagram.
    Udp(UdpDatagram<'a>),
    /// A fragment of an IP datagram, to be reassembled before its UDP header can be read.
    Fragment(IpFragment<'a>),
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;

/// A datagram's addresses and ports as plain integers: the form a flow table hashes and
/// compares on every packet. std's `SocketAddr` is 32 bytes with a family tag, and carrying
/// two of them through the analysis pipeline cost copies on every packet (docs/performance.md,
/// "Choices in the code"). IPv4 addresses sit in the low 32 bits; `v6` keeps an IPv4 address
/// apart from the IPv4-mapped IPv6 address with the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Source address.
    pub src_ip: u128,
    /// Destination address.
    pub dst_ip: u128,
    /// Source port in the high 16 bits, destination port in the low 16.
    pub ports: u32,
    /// True for IPv6 addresses.
    pub v6: bool,
}

/// An address as an integer, IPv4 in the low 32 bits (the form [`FourTuple`] and prefix
/// matching use).
pub fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl FourTuple {
    /// The tuple of a datagram from `src` to `dst` (both of one family).
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        FourTuple {
            src_ip: ip_bits(src.ip()),
            dst_ip: ip_bits(dst.ip()),
            ports: u32::from(src.port()) << 16 | u32::from(dst.port()),
            v6: src.is_ipv6(),
        }
    }

    fn ip(&self, bits: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(bits.into())
        } else {
            IpAddr::V4((bits as u32).into())
        }
    }

    /// Source address and port.
    pub fn src(&self) -> SocketAddr {
        SocketAddr::new(self.ip(self.src_ip), (self.ports >> 16) as u16)
    }

    /// Destination address and port.
    pub fn dst(&self) -> SocketAddr {
        SocketAddr::new(self.ip(self.dst_ip), self.ports as u16)
    }
}

/// A whole UDP datagram as the fast path reads it ([`decode_plain`]): the same facts as a
/// [`UdpDatagram`], with the endpoints as a [`FourTuple`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainDatagram<'a> {
    /// Addresses and ports.
    pub tuple: FourTuple,
    /// The UDP payload as captured.
    pub payload: &'a [u8],
    /// The UDP payload length as sent (UDP length field - 8).
    pub payload_len: u16,
}

impl<'a> PlainDatagram<'a> {
    /// The same datagram with its endpoints as socket addresses.
    pub fn datagram(&self) -> UdpDatagram<'a> {
        UdpDatagram {
            src: self.tuple.src(),
            dst: self.tuple.dst(),
            payload: self.payload,
            payload_len: self.payload_len,
        }
    }
}

impl<'a> From<&UdpDatagram<'a>> for PlainDatagram<'a> {
    fn from(d: &UdpDatagram<'a>) -> Self {
        PlainDatagram {
            tuple: FourTuple::new(d.src, d.dst),
            payload: d.payload,
            payload_len: d.payload_len,
        }
    }
}

/// Decodes a captured frame of the given link type down to UDP.
#[inline]
pub fn decode_frame(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, SkipReason> {
    if let Some(plain) = decode_plain(link, frame) {
        return Ok(Decoded::Udp(plain.datagram()));
    }
    decode_frame_general(link, frame)
}

/// The fast path alone: the datagram of a frame that carries a plain IPv4/UDP packet
/// (see [`plain_ipv4_udp`]), `None` for any other frame, which [`decode_frame`] decodes in
/// full. [`decode_frame`] gives the same datagram wherever this one answers.
///
/// Always inlined: as a call it returns its result through memory, which was slower for the
/// same instructions (docs/performance.md, "Choices in the code").
#[inline(always)]
pub fn decode_plain(link: LinkType, frame: &[u8]) -> Option<PlainDatagram<'_>> {
    let ip = match link {
        LinkType::Ethernet => ethernet_ipv4_payload(frame),
        LinkType::LinuxSll if frame.get(14..16) == Some(&[0x08, 0x00]) => {
            Some(&frame[SLL_HEADER_LEN..])
        }
        LinkType::LinuxSll2 if frame.get(0..2) == Some(&[0x08, 0x00]) => {
            frame.get(SLL2_HEADER_LEN..)
        }
        LinkType::RawIp => Some(frame),
        _ => None,
    };
    ip.and_then(plain_ipv4_udp)
}

/// The outer VLAN id of an Ethernet frame: the VID (low 12 bits of the TCI) of its first
/// 802.1Q (TPID 0x8100) or 802.1ad (0x88a8) tag, None for an untagged frame or another link.
/// A Linux cooked capture (SLL, SLL2) has had its tags removed by the kernel: None.
pub fn outer_vlan(link: LinkType, frame: &[u8]) -> Option<u16> {
    match (link, frame.get(12..16)) {
        (LinkType::Ethernet, Some([0x81, 0x00, hi, lo] | [0x88, 0xa8, hi, lo])) => {
            Some(u16::from_be_bytes([*hi, *lo]) & 0x0fff)
        }
        _ => None,
    }
}

/// The IPv4 packet of an Ethernet frame with at most two VLAN tags (802.1Q, 802.1ad).
#[inline]
fn ethernet_ipv4_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    for _ in 0..3 {
        let ether_type = frame.get(at..at + 2)?;
        match ether_type {
            [0x08, 0x00] => return frame.get(at + 2..),
            [0x81, 0x00] | [0x88, 0xa8] => at += 4,
            _ => return None,
        }
    }
    None
}

/// The fast path for the packets a probe sees nearly always: an IPv4 header without options,
/// not fragmented, carrying a whole UDP datagram whose lengths agree with the IP header.
/// Anything else returns `None` and goes through [`decode_frame_general`], which decodes every
/// case and names what is wrong; a property test checks that both agree wherever this one
/// answers. Why our own: etherparse's lax slicer builds a large general structure and took
/// about 96 ns per packet, the largest single cost of the analysis (docs/architecture.md).
#[inline]
fn plain_ipv4_udp(ip: &[u8]) -> Option<PlainDatagram<'_>> {
    // Version 4, IHL 5 (no options), protocol UDP, no MF flag and fragment offset 0.
    if ip.len() < 28 || ip[0] != 0x45 || ip[9] != 17 || (ip[6] & 0x3f) != 0 || ip[7] != 0 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < 28 || total > ip.len() {
        return None;
    }
    let udp = &ip[20..total];
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len < UDP_HEADER_LEN || udp_len > udp.len() {
        return None;
    }
    let addr = |at: usize| {
        u128::from(u32::from_be_bytes([
            ip[at],
            ip[at + 1],
            ip[at + 2],
            ip[at + 3],
        ]))
    };
    Some(PlainDatagram {
        tuple: FourTuple {
            src_ip: addr(12),
            dst_ip: addr(16),
            ports: u32::from_be_bytes([udp[0], udp[1], udp[2], udp[3]]),
            v6: false,
        },
        payload: &udp[UDP_HEADER_LEN..udp_len],
        payload_len: (udp_len - UDP_HEADER_LEN) as u16,
    })
}

/// Decodes any frame of the given link type down to UDP, naming what is wrong when it cannot,
/// without trying the fast path first: for a frame [`decode_plain`] has already declined.
pub fn decode_frame_general(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, SkipReason> {
    let sliced = match link {
        LinkType::Ethernet => {
            LaxSlicedPacket::from_ethernet(frame).map_err(|_| SkipReason::LinkTruncated)?
        }
        LinkType::LinuxSll => {
            // Linux cooked v1: the protocol (an EtherType) is the last 2 of 16 header bytes.
            if frame.len() < SLL_HEADER_LEN {
                return Err(SkipReason::LinkTruncated);
            }
            let ether_type = u16::from_be_bytes([frame[14], frame[15]]);
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), &frame[SLL_HEADER_LEN..])
        }
        LinkType::LinuxSll2 => {
            // Linux cooked v2: the protocol is the first 2 of 20 header bytes.
            if frame.len() < SLL2_HEADER_LEN {
                return Err(SkipReason::LinkTruncated);
            }
            let ether_type = u16::from_be_bytes([frame[0], frame[1]]);
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), &frame[SLL2_HEADER_LEN..])
        }
        LinkType::RawIp => from_ip(frame)?,
        LinkType::Null => {
            // The family is in the capturing host's byte order: accept either.
            if frame.len() < 4 {
                return Err(SkipReason::LinkTruncated);
            }
            let le = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let be = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let is_ip = |f: u32| matches!(f, 2 | 24 | 28 | 30);
            if !is_ip(le) && !is_ip(be) {
                return Err(SkipReason::NonIp);
            }
            from_ip(&frame[4..])?
        }
        LinkType::Unknown(_) => return Err(SkipReason::UnsupportedLinkType),
    };
    decode_net(&sliced)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, SkipReason> {
    use etherparse::err::ip::LaxHeaderSliceError;
    LaxSlicedPacket::from_ip(data).map_err(|e| match e {
        LaxHeaderSliceError::Len(_) => SkipReason::IpTruncated,
        LaxHeaderSliceError::Content(_) => SkipReason::IpInvalid,
    })
}

fn decode_net<'a>(sliced: &LaxSlicedPacket<'a>) -> Result<Decoded<'a>, SkipReason> {
    let stop_reason = |layer: Layer, is_len: bool| match layer {
        Layer::VlanHeader | Layer::Ethernet2Header | Layer::LinuxSllHeader => {
            SkipReason::LinkTruncated
        }
        _ if is_len => SkipReason::IpTruncated,
        _ => SkipReason::IpInvalid,
    };
    let net = match &sliced.net {
        Some(net) => net,
        None => {
            return Err(match &sliced.stop_err {
                Some((err, layer)) => stop_reason(
                    *layer,
                    matches!(err, etherparse::err::packet::SliceError::Len(_)),
                ),
                None => SkipReason::NonIp,
            })
        }
    };
    let (src, dst, payload, fragment) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let frag = v4.is_payload_fragmented().then(|| {
                (
                    u32::from(h.identification()),
                    u8::from(h.protocol()),
                    u32::from(h.fragments_offset().value()) * 8,
                    h.more_fragments(),
                )
            });
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
                v4.payload(),
                frag,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let frag = if v6.is_payload_fragmented() {
                Some(
                    ipv6_fragment_header(v6.extensions().first_header(), v6.extensions().slice())
                        .ok_or(SkipReason::IpInvalid)?,
                )
            } else {
                None
            };
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
                v6.payload(),
                frag,
            )
        }
        LaxNetSlice::Arp(_) => return Err(SkipReason::NonIp),
    };
    if let Some((_, layer)) = &sliced.stop_err {
        // An IPv6 extension header or IPv4 option cut short: the payload start is unknown.
        if matches!(
            layer,
            Layer::Ipv6ExtHeader | Layer::IpAuthHeader | Layer::Ipv6FragHeader
        ) && fragment.is_none()
        {
            return Err(SkipReason::IpTruncated);
        }
    }
    if let Some((identification, protocol, offset, more_fragments)) = fragment {
        return Ok(Decoded::Fragment(IpFragment {
            src,
            dst,
            identification,
            protocol,
            offset,
            more_fragments,
            data: payload.payload,
            complete: !payload.incomplete,
        }));
    }
    if payload.ip_number != IpNumber::UDP {
        return Err(SkipReason::NonUdp);
    }
    decode_udp(src, dst, payload.payload, payload.incomplete).map(Decoded::Udp)
}

/// Finds the fragment header in an IPv6 extension header chain (RFC 8200 section 4).
/// Returns (identification, next header after reassembly, offset in bytes, more fragments).
fn ipv6_fragment_header(first: Option<IpNumber>, mut exts: &[u8]) -> Option<(u32, u8, u32, bool)> {
    let mut next = u8::from(first?);
    loop {
        if exts.len() < 8 {
            return None;
        }
        let len = match next {
            44 => {
                let offset_flags = u16::from_be_bytes([exts[2], exts[3]]);
                let id = u32::from_be_bytes([exts[4], exts[5], exts[6], exts[7]]);
                return Some((
                    id,
                    exts[0],
                    u32::from(offset_flags >> 3) * 8,
                    offset_flags & 1 == 1,
                ));
            }
            0 | 43 | 60 => (usize::from(exts[1]) + 1) * 8,
            51 => (usize::from(exts[1]) + 2) * 4,
            _ => return None,
        };
        next = exts[0];
        exts = exts.get(len..)?;
    }
}

/// Reads a UDP header (RFC 768) from an IP payload. `cut` says the capture cut the IP payload,
/// in which case a UDP length beyond the captured bytes is expected, not an error.
pub fn decode_udp(
    src: IpAddr,
    dst: IpAddr,
    ip_payload: &[u8],
    cut: bool,
) -> Result<UdpDatagram<'_>, SkipReason> {
    if ip_payload.len() < UDP_HEADER_LEN {
        return Err(if cut {
            SkipReason::UdpTruncated
        } else {
            SkipReason::UdpLengthInvalid
        });
    }
    let src_port = u16::from_be_bytes([ip_payload[0], ip_payload[1]]);
    let dst_port = u16::from_be_bytes([ip_payload[2], ip_payload[3]]);
    let udp_len = usize::from(u16::from_be_bytes([ip_payload[4], ip_payload[5]]));
    if udp_len < UDP_HEADER_LEN || (!cut && udp_len > ip_payload.len()) {
        return Err(SkipReason::UdpLengthInvalid);
    }
    let end = udp_len.min(ip_payload.len());
    Ok(UdpDatagram {
        src: SocketAddr::new(src, src_port),
        dst: SocketAddr::new(dst, dst_port),
        payload: &ip_payload[UDP_HEADER_LEN..end],
        payload_len: (udp_len - UDP_HEADER_LEN) as u16,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_v4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [239, 1, 1, 1], 16)
            .udp(5004, 5006);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn ethernet_ipv4_udp() {
        let frame = udp_v4(b"hello");
        let Decoded::Udp(d) = decode_frame(LinkType::Ethernet, &frame).unwrap() else {
            panic!("not udp")
        };
        assert_eq!(d.src, "10.0.0.1:5004".parse().unwrap());
        assert_eq!(d.dst, "239.1.1.1:5006".parse().unwrap());
        assert_eq!(d.payload, b"hello");
        assert_eq!(d.payload_len, 5);
        assert!(!d.is_cut());
    }

    #[test]
    fn snap_length_cut_keeps_the_sent_length() {
        let frame = udp_v4(&[7u8; 100]);
        let Decoded::Udp(d) = decode_frame(LinkType::Ethernet, &frame[..14 + 20 + 8 + 12]).unwrap()
        else {
            panic!("not udp")
        };
        assert_eq!(d.payload.len(), 12);
        assert_eq!(d.payload_len, 100);
        assert!(d.is_cut());
        assert_eq!(
            decode_frame(LinkType::Ethernet, &frame[..14 + 20 + 4]),
            Err(SkipReason::UdpTruncated)
        );
        assert_eq!(
            decode_frame(LinkType::Ethernet, &frame[..14 + 10]),
            Err(SkipReason::IpTruncated)
        );
        assert_eq!(
            decode_frame(LinkType::Ethernet, &frame[..10]),
            Err(SkipReason::LinkTruncated)
        );
    }

    #[test]
    fn the_outer_vlan_is_the_first_tags_vid() {
        let payload = [0u8; 8];
        let mut qinq = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(
                etherparse::VlanId::try_new(10).unwrap(),
                etherparse::VlanId::try_new(20).unwrap(),
            )
            .ipv4([10, 0, 0, 1], [239, 1, 1, 1], 64)
            .udp(1000, 5000)
            .write(&mut qinq, &payload)
            .unwrap();
        assert_eq!(outer_vlan(LinkType::Ethernet, &qinq), Some(10));
        let mut single = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(etherparse::VlanId::try_new(4094).unwrap())
            .ipv4([10, 0, 0, 1], [239, 1, 1, 1], 64)
            .udp(1000, 5000)
            .write(&mut single, &payload)
            .unwrap();
        assert_eq!(outer_vlan(LinkType::Ethernet, &single), Some(4094));
        let mut plain = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [239, 1, 1, 1], 64)
            .udp(1000, 5000)
            .write(&mut plain, &payload)
            .unwrap();
        assert_eq!(outer_vlan(LinkType::Ethernet, &plain), None);
        assert_eq!(outer_vlan(LinkType::RawIp, &single), None);
        assert_eq!(outer_vlan(LinkType::Ethernet, &single[..15]), None);
    }

    #[test]
    fn qinq_and_ipv6() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(
                etherparse::VlanId::try_new(10).unwrap(),
                etherparse::VlanId::try_new(20).unwrap(),
            )
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0xff, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
                8,
            )
            .udp(1000, 2000);
        let mut frame = Vec::new();
        b.write(&mut frame, b"abc").unwrap();
        let Decoded::Udp(d) = decode_frame(LinkType::Ethernet, &frame).unwrap() else {
            panic!()
        };
        assert_eq!(d.src, "[2001:db8::1]:1000".parse().unwrap());
        assert_eq!(d.dst, "[ff3e::5]:2000".parse().unwrap());
        assert_eq!(d.payload, b"abc");
    }

    #[test]
    fn sll_sll2_raw_and_null() {
        let eth = udp_v4(b"xyz");
        let ip = &eth[14..];
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&[0x08, 0x00]);
        sll2.extend_from_slice(ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        for (link, frame) in [
            (LinkType::LinuxSll, &sll[..]),
            (LinkType::LinuxSll2, &sll2[..]),
            (LinkType::RawIp, ip),
            (LinkType::Null, &null[..]),
        ] {
            let Decoded::Udp(d) = decode_frame(link, frame).unwrap() else {
                panic!()
            };
            assert_eq!(d.payload, b"xyz", "{link:?}");
        }
        assert_eq!(
            decode_frame(LinkType::Unknown(147), ip),
            Err(SkipReason::UnsupportedLinkType)
        );
    }

    #[test]
    fn non_ip_non_udp_and_bad_udp_length() {
        let mut arp = udp_v4(b"");
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(
            decode_frame(LinkType::Ethernet, &arp),
            Err(SkipReason::NonIp)
        );
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 5)
            .icmpv4_echo_request(1, 1);
        let mut icmp = Vec::new();
        b.write(&mut icmp, b"ping").unwrap();
        assert_eq!(
            decode_frame(LinkType::Ethernet, &icmp),
            Err(SkipReason::NonUdp)
        );
        let mut bad = udp_v4(b"12345678");
        bad[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(
            decode_frame(LinkType::Ethernet, &bad),
            Err(SkipReason::UdpLengthInvalid)
        );
        bad[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(
            decode_frame(LinkType::Ethernet, &bad),
            Err(SkipReason::UdpLengthInvalid)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// Wherever the fast path answers, the general path gives the same datagram; and the
        /// fast path answers for every plain IPv4/UDP frame. Frames are built valid, then
        /// some header bytes are overwritten and the frame may be cut.
        #[test]
        fn fast_path_agrees_with_the_general_path(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            vlan_tags in 0usize..3,
            link in 0usize..4,
            edits in proptest::collection::vec((0usize..60, proptest::num::u8::ANY), 0..3),
            cut in 0usize..120,
        ) {
            let eth = udp_v4(&payload);
            let mut frame = match link {
                0 => {
                    let mut f = eth[..12].to_vec();
                    for _ in 0..vlan_tags {
                        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
                    }
                    f.extend_from_slice(&eth[12..]);
                    f
                }
                1 => [&[0u8; 14][..], &[0x08, 0x00], &eth[14..]].concat(),
                2 => [&[0x08u8, 0x00][..], &[0u8; 18], &eth[14..]].concat(),
                _ => eth[14..].to_vec(),
            };
            let link = [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp][link];
            let untouched = frame.clone();
            for (at, value) in edits {
                if let Some(b) = frame.get_mut(at) {
                    *b = value;
                }
            }
            let len = frame.len().saturating_sub(cut);
            let frame = &frame[..if cut < 60 { len } else { frame.len() }];
            let fast = decode_frame(link, frame);
            let general = decode_frame_general(link, frame);
            proptest::prop_assert_eq!(fast, general);
            if frame == &untouched[..] {
                let ip = match link {
                    LinkType::Ethernet => ethernet_ipv4_payload(frame),
                    LinkType::LinuxSll => Some(&frame[16..]),
                    LinkType::LinuxSll2 => Some(&frame[20..]),
                    _ => Some(frame),
                };
                proptest::prop_assert!(ip.and_then(plain_ipv4_udp).is_some());
                proptest::prop_assert!(decode_plain(link, frame).is_some());
            }
        }
    }

    #[test]
    fn ipv4_fragments_are_reported_as_fragments() {
        let mut frame = udp_v4(&[1u8; 64]);
        // Set more-fragments, offset 0.
        frame[14 + 6] = 0x20;
        frame[14 + 4..14 + 6].copy_from_slice(&0x1234u16.to_be_bytes());
        let Decoded::Fragment(f) = decode_frame(LinkType::Ethernet, &frame).unwrap() else {
            panic!()
        };
        assert_eq!(
            (f.identification, f.protocol, f.offset, f.more_fragments),
            (0x1234, 17, 0, true)
        );
        assert_eq!(f.data.len(), 72);
        assert!(f.complete);
    }
}
