//! Which datagrams a tap takes, and where a mirror may send them: the text forms the config
//! and the API accept, checked once, and the integer match the worker runs.

use std::net::{IpAddr, SocketAddr};
use wire::link::{ip_bits, FourTuple};

/// A flow as a mirror names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowSpec {
    /// Every datagram to this address (and port, when given): `239.1.1.1`, `239.1.1.1:5000`,
    /// `[ff3e::1]:5000`. All sources and, for RTP, all SSRCs of the matching 4-tuples.
    Destination { ip: IpAddr, port: Option<u16> },
    /// One flow by its id, as the API and the records write it: `SRC>DST` for MPEG-TS in
    /// UDP, `SRC>DST/0xSSRC` for RTP (only the datagrams with that SSRC).
    Flow {
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: Option<u32>,
    },
}

impl std::str::FromStr for FlowSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<FlowSpec, String> {
        let text = text.trim();
        let bad = |why: &str| {
            format!("flow \"{text}\": {why}; give a destination ADDR or ADDR:PORT (239.1.1.1:5000, [ff3e::1]:5000) or a flow id (10.0.0.1:4000>239.1.1.1:5000, .../0x0000abcd for RTP)")
        };
        if let Some((src, rest)) = text.split_once('>') {
            let (dst, ssrc) = match rest.split_once('/') {
                Some((dst, ssrc)) => {
                    let hex = ssrc
                        .strip_prefix("0x")
                        .ok_or_else(|| bad("the SSRC must be written 0x followed by hex digits"))?;
                    let ssrc = u32::from_str_radix(hex, 16)
                        .map_err(|_| bad("the SSRC must be written 0x followed by hex digits"))?;
                    (dst, Some(ssrc))
                }
                None => (rest, None),
            };
            let src: SocketAddr = src
                .parse()
                .map_err(|_| bad("the source is not an ADDR:PORT"))?;
            let dst: SocketAddr = dst
                .parse()
                .map_err(|_| bad("the destination is not an ADDR:PORT"))?;
            if src.is_ipv4() != dst.is_ipv4() {
                return Err(bad("the source and destination are of different families"));
            }
            return Ok(FlowSpec::Flow { src, dst, ssrc });
        }
        if let Ok(a) = text.parse::<SocketAddr>() {
            return Ok(FlowSpec::Destination {
                ip: a.ip(),
                port: Some(a.port()),
            });
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(FlowSpec::Destination { ip, port: None });
        }
        Err(bad("not an address, ADDR:PORT or flow id"))
    }
}

impl std::fmt::Display for FlowSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowSpec::Destination { ip, port: Some(p) } => {
                write!(f, "{}", SocketAddr::new(*ip, *p))
            }
            FlowSpec::Destination { ip, port: None } => write!(f, "{ip}"),
            FlowSpec::Flow { src, dst, ssrc } => {
                write!(f, "{src}>{dst}")?;
                if let Some(s) = ssrc {
                    write!(f, "/0x{s:08x}")?;
                }
                Ok(())
            }
        }
    }
}

/// A [`FlowSpec`] as integers, compared with each datagram's [`FourTuple`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowMatch {
    v6: bool,
    dst_ip: u128,
    dst_port: Option<u16>,
    src: Option<(u128, u16)>,
    ssrc: Option<u32>,
}

impl From<&FlowSpec> for FlowMatch {
    fn from(spec: &FlowSpec) -> FlowMatch {
        match *spec {
            FlowSpec::Destination { ip, port } => FlowMatch {
                v6: ip.is_ipv6(),
                dst_ip: ip_bits(ip),
                dst_port: port,
                src: None,
                ssrc: None,
            },
            FlowSpec::Flow { src, dst, ssrc } => FlowMatch {
                v6: dst.is_ipv6(),
                dst_ip: ip_bits(dst.ip()),
                dst_port: Some(dst.port()),
                src: Some((ip_bits(src.ip()), src.port())),
                ssrc,
            },
        }
    }
}

impl FlowMatch {
    /// Whether the datagram `tuple` carrying `payload` belongs to the flow. The SSRC of a
    /// flow id is read where RFC 3550 section 5.1 puts it (bytes 8-11, version 2).
    #[inline]
    pub fn matches(&self, tuple: &FourTuple, payload: &[u8]) -> bool {
        if tuple.dst_ip != self.dst_ip || tuple.v6 != self.v6 {
            return false;
        }
        if self.dst_port.is_some_and(|p| p != tuple.ports as u16) {
            return false;
        }
        if let Some((ip, port)) = self.src {
            if tuple.src_ip != ip || (tuple.ports >> 16) as u16 != port {
                return false;
            }
        }
        match self.ssrc {
            None => true,
            Some(ssrc) => {
                payload.len() >= 12
                    && payload[0] >> 6 == 2
                    && u32::from_be_bytes([payload[8], payload[9], payload[10], payload[11]])
                        == ssrc
            }
        }
    }
}

/// Checks a mirror's destination: a unicast `ADDR:PORT`. Multicast, broadcast and the
/// unspecified address are refused (a mirror is for one viewer; a copy multicast back into
/// the network being monitored could loop); any unicast address is allowed, loopback or not.
pub fn destination(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let to: SocketAddr = text.parse().map_err(|_| {
        format!("to \"{text}\": not an ADDR:PORT such as 127.0.0.1:6000 or [::1]:6000")
    })?;
    // An IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2) is sent to as its IPv4 one:
    // `[::ffff:239.1.1.1]` is multicast too.
    let ip = match to.ip() {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    };
    let refused = match ip {
        IpAddr::V4(a) => {
            if a.is_multicast() {
                Some("a multicast address")
            } else if a.is_broadcast() {
                Some("the broadcast address")
            } else if a.is_unspecified() {
                Some("the unspecified address")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            if a.is_multicast() {
                Some("a multicast address")
            } else if a.is_unspecified() {
                Some("the unspecified address")
            } else {
                None
            }
        }
    };
    if let Some(what) = refused {
        return Err(format!(
            "to \"{text}\": {what}; a mirror sends to one unicast ADDR:PORT"
        ));
    }
    if to.port() == 0 {
        return Err(format!("to \"{text}\": port 0; give the viewer's port"));
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(src: &str, dst: &str) -> FourTuple {
        FourTuple::new(src.parse().unwrap(), dst.parse().unwrap())
    }

    #[test]
    fn the_three_forms_parse_and_print_back() {
        for text in [
            "239.1.1.1",
            "239.1.1.1:5000",
            "[ff3e::1]:5000",
            "10.0.0.1:4000>239.1.1.1:5000",
            "10.0.0.1:4000>239.1.1.1:5000/0x0000abcd",
        ] {
            assert_eq!(text.parse::<FlowSpec>().unwrap().to_string(), text);
        }
        for bad in [
            "",
            "239.1.1",
            "10.0.0.1:4000>239.1.1.1",
            "1.2.3.4:1>[::1]:2",
            "1.2.3.4:1>5.6.7.8:2/abcd",
        ] {
            let e = bad.parse::<FlowSpec>().unwrap_err();
            assert!(e.starts_with(&format!("flow \"{bad}\"")), "{e}");
        }
    }

    #[test]
    fn a_destination_takes_every_source_and_a_flow_id_one_tuple_and_ssrc() {
        let by_addr = FlowMatch::from(&"239.1.1.1".parse::<FlowSpec>().unwrap());
        let by_port = FlowMatch::from(&"239.1.1.1:5000".parse::<FlowSpec>().unwrap());
        let by_id = FlowMatch::from(
            &"10.0.0.1:4000>239.1.1.1:5000/0x0000abcd"
                .parse::<FlowSpec>()
                .unwrap(),
        );
        let mut rtp = [0u8; 12];
        rtp[0] = 0x80;
        rtp[8..12].copy_from_slice(&0xabcdu32.to_be_bytes());
        let a = tuple("10.0.0.1:4000", "239.1.1.1:5000");
        let b = tuple("10.0.0.2:4000", "239.1.1.1:5002");
        assert!(by_addr.matches(&a, &[]) && by_addr.matches(&b, &[]));
        assert!(by_port.matches(&a, &[]) && !by_port.matches(&b, &[]));
        assert!(by_id.matches(&a, &rtp));
        let mut other = rtp;
        other[11] = 0xce;
        assert!(!by_id.matches(&a, &other), "another SSRC");
        assert!(!by_id.matches(&a, &rtp[..11]), "too short for RTP");
        assert!(!by_id.matches(&tuple("10.0.0.1:4001", "239.1.1.1:5000"), &rtp));
        // An IPv4-mapped IPv6 destination is not the IPv4 one.
        assert!(!by_addr.matches(
            &tuple("[::ffff:10.0.0.1]:1", "[::ffff:239.1.1.1]:5000"),
            &[]
        ));
    }

    #[test]
    fn only_unicast_destinations_are_taken() {
        assert_eq!(destination("127.0.0.1:6000").unwrap().port(), 6000);
        assert!(destination("[::1]:6000").is_ok());
        assert!(destination("192.0.2.7:6000").is_ok());
        assert!(destination("[::ffff:127.0.0.1]:6000").is_ok());
        for (bad, why) in [
            ("239.1.1.1:6000", "multicast"),
            ("[ff02::1]:6000", "multicast"),
            ("255.255.255.255:6000", "broadcast"),
            ("[::ffff:239.1.1.1]:6000", "multicast"),
            ("[::ffff:255.255.255.255]:6000", "broadcast"),
            ("[::ffff:0.0.0.0]:6000", "unspecified"),
            ("0.0.0.0:6000", "unspecified"),
            ("127.0.0.1:0", "port 0"),
            ("127.0.0.1", "not an ADDR:PORT"),
        ] {
            let e = destination(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
