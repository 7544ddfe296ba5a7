//! What a set of flows has in common: the same group, the longest source and destination
//! prefixes that cover them all, the same outer VLAN, the same kind. A fault that hits many
//! streams at once (a flood of alarms, a band on the health wall) is told by it: "all in
//! group cams-north, all from 10.20.0.0/16, VLAN 310".

use crate::kind::FlowKind;
use serde::Serialize;
use std::net::IpAddr;

/// What the flows added to it share; a field is none when they differ (or none was added).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Shared {
    /// Flows added.
    pub flows: u64,
    /// Their monitor group, when it is the same for all.
    pub group: Option<String>,
    /// The longest prefix that covers every source address (`10.20.0.0/16`); none when the
    /// families differ or the prefix would be /0.
    pub src_prefix: Option<String>,
    /// Likewise for the destination addresses.
    pub dst_prefix: Option<String>,
    /// Their outer VLAN id, when every frame had the same one.
    pub vlan: Option<u16>,
    /// Their kind, when it is the same for all.
    pub kind: Option<FlowKind>,
}

/// A prefix narrowed by each address added.
#[derive(Clone, Copy, Debug)]
struct Prefix {
    v6: bool,
    bits: u128,
    len: u32,
    mixed: bool,
}

impl Prefix {
    fn new(ip: IpAddr) -> Prefix {
        let (v6, bits, len) = match ip {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (true, u128::from(a), 128),
        };
        Prefix {
            v6,
            bits,
            len,
            mixed: false,
        }
    }

    fn add(&mut self, ip: IpAddr) {
        let other = Prefix::new(ip);
        if other.v6 != self.v6 {
            self.mixed = true;
            return;
        }
        let width = if self.v6 { 128 } else { 32 };
        // Bits that differ, aligned to the address's width: the prefix ends at the first.
        let differ = (self.bits ^ other.bits) << (128 - width);
        self.len = self.len.min(differ.leading_zeros());
    }

    fn text(&self) -> Option<String> {
        if self.mixed || self.len == 0 {
            return None;
        }
        let width = if self.v6 { 128 } else { 32 };
        let mask = if self.len == width {
            u128::MAX >> (128 - width)
        } else {
            (u128::MAX >> (128 - width)) & !((1u128 << (width - self.len)) - 1)
        };
        let network = self.bits & mask;
        Some(if self.v6 {
            format!("{}/{}", std::net::Ipv6Addr::from(network), self.len)
        } else {
            format!("{}/{}", std::net::Ipv4Addr::from(network as u32), self.len)
        })
    }
}

/// Same-for-all tracking of one field.
#[derive(Clone, Debug)]
enum Same<T> {
    Unset,
    Is(T),
    Differs,
}

impl<T: PartialEq> Same<T> {
    fn add(&mut self, value: T) {
        match self {
            Same::Unset => *self = Same::Is(value),
            Same::Is(v) if *v == value => {}
            _ => *self = Same::Differs,
        }
    }

    fn get(self) -> Option<T> {
        match self {
            Same::Is(v) => Some(v),
            _ => None,
        }
    }
}

/// Builds a [`Shared`] one flow at a time.
#[derive(Clone, Debug)]
pub struct SharedBuilder {
    flows: u64,
    group: Same<Option<String>>,
    src: Option<Prefix>,
    dst: Option<Prefix>,
    vlan: Same<Option<u16>>,
    kind: Same<FlowKind>,
}

impl Default for SharedBuilder {
    fn default() -> Self {
        SharedBuilder {
            flows: 0,
            group: Same::Unset,
            src: None,
            dst: None,
            vlan: Same::Unset,
            kind: Same::Unset,
        }
    }
}

impl SharedBuilder {
    /// Adds one flow.
    pub fn add(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        group: Option<&str>,
        vlan: Option<u16>,
        kind: FlowKind,
    ) {
        self.flows += 1;
        // Compared before an allocation: most flows of a band share their group.
        match &self.group {
            Same::Is(g) if g.as_deref() == group => {}
            _ => self.group.add(group.map(str::to_string)),
        }
        match &mut self.src {
            Some(p) => p.add(src),
            None => self.src = Some(Prefix::new(src)),
        }
        match &mut self.dst {
            Some(p) => p.add(dst),
            None => self.dst = Some(Prefix::new(dst)),
        }
        self.vlan.add(vlan);
        self.kind.add(kind);
    }

    /// What the flows added share.
    pub fn finish(self) -> Shared {
        Shared {
            flows: self.flows,
            group: self.group.get().flatten(),
            src_prefix: self.src.and_then(|p| p.text()),
            dst_prefix: self.dst.and_then(|p| p.text()),
            vlan: self.vlan.get().flatten(),
            kind: self.kind.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_narrow_to_the_first_differing_bit() {
        let mut b = SharedBuilder::default();
        b.add(
            ip("10.20.1.5"),
            ip("239.1.1.1"),
            Some("north"),
            Some(310),
            FlowKind::Rtp,
        );
        b.add(
            ip("10.20.7.9"),
            ip("239.1.1.2"),
            Some("north"),
            Some(310),
            FlowKind::Rtp,
        );
        let s = b.finish();
        assert_eq!(s.flows, 2);
        assert_eq!(s.group.as_deref(), Some("north"));
        // 1 = 0000_0001, 7 = 0000_0111: they differ from bit 21 on.
        assert_eq!(s.src_prefix.as_deref(), Some("10.20.0.0/21"));
        // .1 and .2 differ at bit 31 (the 2-bit): /30.
        assert_eq!(s.dst_prefix.as_deref(), Some("239.1.1.0/30"));
        assert_eq!(s.vlan, Some(310));
        assert_eq!(s.kind, Some(FlowKind::Rtp));
    }

    #[test]
    fn one_flow_shares_everything_and_a_mix_shares_nothing() {
        let mut b = SharedBuilder::default();
        b.add(
            ip("10.0.0.1"),
            ip("2001:db8::1"),
            None,
            None,
            FlowKind::UdpTs,
        );
        let s = b.clone().finish();
        assert_eq!(s.src_prefix.as_deref(), Some("10.0.0.1/32"));
        assert_eq!(s.dst_prefix.as_deref(), Some("2001:db8::1/128"));
        assert_eq!(s.group, None);
        b.add(
            ip("2001:db8::2"),
            ip("2001:db9::1"),
            Some("g"),
            Some(5),
            FlowKind::Rtp,
        );
        let s = b.finish();
        assert_eq!(s.src_prefix, None);
        assert_eq!(s.dst_prefix.as_deref(), Some("2001:db8::/31"));
        assert_eq!((s.group, s.vlan, s.kind), (None, None, None));
        let mut b = SharedBuilder::default();
        b.add(ip("1.0.0.0"), ip("1.0.0.0"), None, None, FlowKind::Rtp);
        b.add(ip("129.0.0.0"), ip("1.0.0.0"), None, None, FlowKind::Rtp);
        assert_eq!(
            b.finish().src_prefix,
            None,
            "differ at the first bit: /0 says nothing"
        );
        assert_eq!(SharedBuilder::default().finish(), Shared::default());
    }
}
