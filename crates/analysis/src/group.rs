//! Monitor groups: named sets of destination prefixes with the media rate of their channels
//! (the MDI's MR, RFC 4445) and the SLA limits their flows are judged against.

use rustc_hash::FxHashMap;
use std::fmt;
use std::net::IpAddr;

/// Slowest and fastest media rates a group may set, bit/s.
pub const MEDIA_RATE_RANGE: std::ops::RangeInclusive<u64> = 10_000..=100_000_000_000;
/// Most prefixes in one group.
pub const MAX_PREFIXES: usize = 100;

/// An address prefix, IPv4 or IPv6, with its host bits clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// Network address.
    pub network: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

/// Why a prefix did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixError(pub String);

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bits(ip: IpAddr) -> (bool, u128) {
    (ip.is_ipv6(), wire::link::ip_bits(ip))
}

fn mask(value: u128, len: u8, width: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let keep = u128::MAX << (128 - u32::from(len));
        value & (keep >> (128 - u32::from(width)))
    }
}

impl std::str::FromStr for Prefix {
    type Err = PrefixError;

    /// `239.1.0.0/16`, `ff3e::/96`, or a bare address (a /32 or /128).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| PrefixError(format!("\"{text}\" is not an IPv4 or IPv6 prefix")))?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => width,
            Some(l) => match l.trim().parse::<u8>() {
                Ok(n) if n <= width => n,
                _ => {
                    return Err(PrefixError(format!(
                        "\"{text}\": prefix length must be 0 to {width}"
                    )))
                }
            },
        };
        let (_, value) = bits(network);
        if mask(value, len, width) != value {
            let masked = match network {
                IpAddr::V4(_) => IpAddr::from((mask(value, len, width) as u32).to_be_bytes()),
                IpAddr::V6(_) => IpAddr::from(mask(value, len, width).to_be_bytes()),
            };
            return Err(PrefixError(format!(
                "\"{text}\" has host bits set (did you mean {masked}/{len}?)"
            )));
        }
        Ok(Prefix { network, len })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

/// The same prefix in two groups: which prefix, and where it is listed the second time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicatePrefix {
    /// The prefix.
    pub prefix: Prefix,
    /// Name of the group that lists it first.
    pub first: String,
    /// Name of the group that lists it again.
    pub second: String,
    /// Index of that group.
    pub group: usize,
    /// Index of the prefix in that group's list.
    pub index: usize,
}

impl fmt::Display for DuplicatePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "prefix {} is in groups \"{}\" and \"{}\"",
            self.prefix, self.first, self.second
        )
    }
}

/// SLA limits of a group; each is optional.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlaLimits {
    /// Lowest frame rate, frames/s.
    pub min_fps: Option<f64>,
    /// Lowest bitrate, bit/s.
    pub min_bitrate_bps: Option<u64>,
    /// Highest bitrate, bit/s.
    pub max_bitrate_bps: Option<u64>,
    /// Highest loss, % of expected packets (RTP) or of TS packets (TS).
    pub max_loss_pct: Option<f64>,
    /// Highest jitter (largest running RFC 3550 estimate), ms.
    pub max_jitter_ms: Option<f64>,
    /// Highest MDI Delay Factor of any interval, ms.
    pub max_df_ms: Option<f64>,
    /// Highest MDI Media Loss Rate of any interval, packets/s.
    pub max_mlr: Option<f64>,
}

impl SlaLimits {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == SlaLimits::default()
    }
}

/// A monitor group.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorGroup {
    /// Its name, as reports show it.
    pub name: String,
    /// Destination prefixes.
    pub prefixes: Vec<Prefix>,
    /// The media rate of its channels, bit/s.
    pub media_rate_bps: u64,
    /// SLA limits.
    pub sla: SlaLimits,
}

/// Groups and a longest-prefix-match lookup over their prefixes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorGroups {
    groups: Vec<MonitorGroup>,
    /// Prefix lengths in use, longest first, per family (false = IPv4).
    lengths: Vec<(bool, u8)>,
    /// (family, masked network, length) to group index.
    table: FxHashMap<(bool, u128, u8), u16>,
}

impl MonitorGroups {
    /// Builds the lookup. An identical prefix in two groups is an error naming both.
    pub fn new(groups: Vec<MonitorGroup>) -> Result<Self, DuplicatePrefix> {
        let mut table = FxHashMap::default();
        let mut lengths = Vec::new();
        for (index, group) in groups.iter().enumerate() {
            for (at, prefix) in group.prefixes.iter().enumerate() {
                let (v6, value) = bits(prefix.network);
                if let Some(&other) = table.get(&(v6, value, prefix.len)) {
                    let other: &MonitorGroup = &groups[usize::from(other)];
                    if other.name != group.name {
                        return Err(DuplicatePrefix {
                            prefix: *prefix,
                            first: other.name.clone(),
                            second: group.name.clone(),
                            group: index,
                            index: at,
                        });
                    }
                }
                table.insert((v6, value, prefix.len), index as u16);
                if !lengths.contains(&(v6, prefix.len)) {
                    lengths.push((v6, prefix.len));
                }
            }
        }
        lengths.sort_by_key(|l| std::cmp::Reverse(l.1));
        Ok(MonitorGroups {
            groups,
            lengths,
            table,
        })
    }

    /// The groups, in config order.
    pub fn groups(&self) -> &[MonitorGroup] {
        &self.groups
    }

    /// The group whose prefix matches `dst` best (longest prefix), if any.
    pub fn lookup(&self, dst: IpAddr) -> Option<u16> {
        let (v6, value) = bits(dst);
        let width = if v6 { 128 } else { 32 };
        self.lengths
            .iter()
            .filter(|l| l.0 == v6)
            .find_map(|&(_, len)| self.table.get(&(v6, mask(value, len, width), len)).copied())
    }

    /// The group at `index`.
    pub fn get(&self, index: u16) -> Option<&MonitorGroup> {
        self.groups.get(usize::from(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, prefixes: &[&str]) -> MonitorGroup {
        MonitorGroup {
            name: name.into(),
            prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            media_rate_bps: 4_000_000,
            sla: SlaLimits::default(),
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let groups = MonitorGroups::new(vec![
            group("all", &["239.0.0.0/8", "0.0.0.0/0"]),
            group("hd", &["239.1.0.0/16", "ff3e::/96"]),
            group("one", &["239.1.2.3"]),
        ])
        .unwrap();
        let at = |a: &str| groups.lookup(a.parse().unwrap());
        assert_eq!(at("239.1.2.3"), Some(2));
        assert_eq!(at("239.1.2.4"), Some(1));
        assert_eq!(at("239.2.0.1"), Some(0));
        assert_eq!(at("10.0.0.1"), Some(0));
        assert_eq!(at("ff3e::1:2"), Some(1));
        assert_eq!(at("ff3e::1:0:2"), None);
    }

    #[test]
    fn bad_prefixes_and_duplicates_are_named() {
        assert!("239.1.0.1/16"
            .parse::<Prefix>()
            .unwrap_err()
            .0
            .contains("did you mean 239.1.0.0/16"));
        assert!("239.1.0.0/33"
            .parse::<Prefix>()
            .unwrap_err()
            .0
            .contains("0 to 32"));
        assert!("ff3e::/129".parse::<Prefix>().is_err());
        assert!("camera".parse::<Prefix>().is_err());
        let err = MonitorGroups::new(vec![
            group("a", &["239.1.0.0/16"]),
            group("b", &["239.1.0.0/16"]),
        ])
        .unwrap_err();
        assert_eq!((err.group, err.index), (1, 0));
        assert!(err.to_string().contains("\"a\" and \"b\""), "{err}");
    }
}
