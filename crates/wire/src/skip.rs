//! Why a packet was not analysed: a fixed vocabulary, documented in `docs/figures.md`.
//!
//! The names are part of the output contract (`capture.skipped.<reason>`): never rename one.

/// The reason a captured record or packet was left out of the analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The interface's link type is not one we decode (Ethernet, SLL, SLL2, raw IP, null).
    UnsupportedLinkType,
    /// The frame is shorter than its link-layer header (Ethernet, VLAN tag, SLL, SLL2).
    LinkTruncated,
    /// The link layer carries something other than IPv4 or IPv6 (ARP, LLDP, ...).
    NonIp,
    /// The IP header is malformed: bad version, header length or total length.
    IpInvalid,
    /// The capture's snap length cut the IP header.
    IpTruncated,
    /// The IP payload is not UDP (TCP, ICMP, ...).
    NonUdp,
    /// The capture's snap length cut the UDP header.
    UdpTruncated,
    /// The UDP length field is below 8 or larger than the IP payload.
    UdpLengthInvalid,
    /// An IP fragment whose offset or length cannot belong to a datagram (overlap, > 64 KiB).
    FragmentInvalid,
    /// A fragment of a datagram that never completed (timeout or end of capture).
    FragmentIncomplete,
    /// A fragment dropped because the reassembly table was full.
    FragmentLimit,
    /// A packet on a confirmed RTP 4-tuple that is not valid RTP (version, length, header).
    RtpInvalid,
    /// A datagram on a confirmed TS-over-UDP flow that is not TS-framed.
    TsInvalid,
    /// A new SSRC on a 4-tuple that already carries the maximum number of streams.
    SsrcLimit,
    /// The file ended inside a record (a capture cut short while being written or copied).
    RecordTruncated,
    /// A record header made no sense (corrupt file); reading stopped there.
    RecordCorrupt,
    /// A datagram received on a socket whose source address the kernel did not give as an
    /// IPv4 or IPv6 address (live multicast joins only).
    SourceInvalid,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 17] = [
        SkipReason::UnsupportedLinkType,
        SkipReason::LinkTruncated,
        SkipReason::NonIp,
        SkipReason::IpInvalid,
        SkipReason::IpTruncated,
        SkipReason::NonUdp,
        SkipReason::UdpTruncated,
        SkipReason::UdpLengthInvalid,
        SkipReason::FragmentInvalid,
        SkipReason::FragmentIncomplete,
        SkipReason::FragmentLimit,
        SkipReason::RtpInvalid,
        SkipReason::TsInvalid,
        SkipReason::SsrcLimit,
        SkipReason::RecordTruncated,
        SkipReason::RecordCorrupt,
        SkipReason::SourceInvalid,
    ];

    /// The reason's name in reports (`snake_case`, stable).
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::LinkTruncated => "link_truncated",
            SkipReason::NonIp => "non_ip",
            SkipReason::IpInvalid => "ip_invalid",
            SkipReason::IpTruncated => "ip_truncated",
            SkipReason::NonUdp => "non_udp",
            SkipReason::UdpTruncated => "udp_truncated",
            SkipReason::UdpLengthInvalid => "udp_length_invalid",
            SkipReason::FragmentInvalid => "fragment_invalid",
            SkipReason::FragmentIncomplete => "fragment_incomplete",
            SkipReason::FragmentLimit => "fragment_limit",
            SkipReason::RtpInvalid => "rtp_invalid",
            SkipReason::TsInvalid => "ts_invalid",
            SkipReason::SsrcLimit => "ssrc_limit",
            SkipReason::RecordTruncated => "record_truncated",
            SkipReason::RecordCorrupt => "record_corrupt",
            SkipReason::SourceInvalid => "source_invalid",
        }
    }

    /// Dense index, for counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order_and_names_are_unique() {
        for (i, r) in SkipReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = SkipReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SkipReason::ALL.len());
    }
}
