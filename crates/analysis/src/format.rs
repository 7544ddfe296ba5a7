//! Turning figures into text: RFC 3339 times, endpoints and flow ids, the same in every
//! output (the offline report, live records, and the output crates to come). Nothing here
//! runs per packet; live records keep times and addresses as values and are written out by
//! the output thread.

use std::net::SocketAddr;

/// A flow's id: `src>dst`, and `/0xSSRC` for RTP (the same offline and live).
pub fn flow_id(src: SocketAddr, dst: SocketAddr, ssrc: Option<u32>) -> String {
    joined_id(&endpoint(src), &endpoint(dst), ssrc)
}

/// [`flow_id`] from the endpoints as [`endpoint`] wrote them.
pub(crate) fn joined_id(src: &str, dst: &str, ssrc: Option<u32>) -> String {
    let mut id = String::with_capacity(src.len() + dst.len() + 12);
    id.push_str(src);
    id.push('>');
    id.push_str(dst);
    if let Some(ssrc) = ssrc {
        use std::fmt::Write;
        let _ = write!(id, "/0x{ssrc:08x}");
    }
    id
}

/// An endpoint as `SocketAddr`'s `Display` writes it (`1.2.3.4:5`, `[::1]:5`). IPv4 is
/// written with `itoa`, `Display` being far slower for the 110,000 endpoints of a 55,000-flow
/// report (docs/performance.md, "Choices in the code").
pub fn endpoint(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            let mut out = String::with_capacity(21);
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(octet));
            }
            out.push(':');
            out.push_str(digits.format(v4.port()));
            out
        }
        SocketAddr::V6(_) => a.to_string(),
    }
}

/// Formats ns since the Unix epoch as RFC 3339 UTC with nanoseconds.
pub fn rfc3339_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Endpoints and ids read as `Display` writes the addresses.
    #[test]
    fn endpoints_and_ids_match_display() {
        let addresses = [
            "0.0.0.0:0",
            "1.2.3.4:5",
            "10.0.100.255:65535",
            "255.255.255.255:9",
            "192.168.1.20:50004",
            "[::1]:5004",
            "[2001:db8::1:0:0:1]:5",
            "[::ffff:10.0.0.1]:7",
        ];
        for a in addresses {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(endpoint(a), a.to_string());
            for b in addresses {
                let b: SocketAddr = b.parse().unwrap();
                assert_eq!(flow_id(a, b, None), format!("{a}>{b}"));
                for ssrc in [0, 0x1f, 0xdead_beef, u32::MAX] {
                    assert_eq!(flow_id(a, b, Some(ssrc)), format!("{a}>{b}/0x{ssrc:08x}"));
                }
            }
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_ns(1_763_762_400_123_456_789),
            "2025-11-21T22:00:00.123456789Z"
        );
        assert_eq!(
            rfc3339_ns(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
    }
}
