//! `[alarms]`'s receiver keys, checked: each function takes one value as written and says
//! what is wrong with it in one line (the caller names the key and where it is).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// The enterprise OID the MIB hangs under by default: `enterprises.32473`, the private
/// enterprise number IANA keeps for documentation (RFC 5612). It is a placeholder until the
/// project has a number of its own: a site may set `snmp_enterprise_oid` to one it owns
/// (and edit the MIB's MODULE-IDENTITY to match).
pub const DEFAULT_ENTERPRISE_OID: &str = "1.3.6.1.4.1.32473";

/// `enterprises` (SNMPv2-SMI): every private enterprise number hangs under it.
const ENTERPRISES: [u32; 6] = [1, 3, 6, 1, 4, 1];

/// Alarms each receiver holds while it is away, by default.
pub const DEFAULT_QUEUE: usize = 1000;

/// Everything the receivers need, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Receivers {
    /// SNMPv2c trap receivers.
    pub snmp_trap: Vec<SocketAddr>,
    /// Their community.
    pub snmp_community: String,
    /// The OID the MIB hangs under; its private enterprise number is also syslog's SD-ID
    /// suffix (`alarm@32473`, RFC 5424 7.2.2).
    pub enterprise: EnterpriseOid,
    /// syslog receivers.
    pub syslog: Vec<SyslogTarget>,
    /// Their facility.
    pub syslog_facility: Facility,
    /// Webhook URLs.
    pub webhook: Vec<String>,
    /// The key of the bodies' HMAC-SHA256, when set.
    pub webhook_secret: Option<Secret>,
    /// Alarms each receiver holds while it is away.
    pub queue: usize,
    /// The first back-off after a failed send, and the longest (the bus's: 1 s to 60 s).
    pub backoff: (Duration, Duration),
    /// How long one send may take (a TCP connect, a write, an HTTP exchange).
    pub timeout: Duration,
}

impl Default for Receivers {
    fn default() -> Self {
        Receivers {
            snmp_trap: Vec::new(),
            snmp_community: "public".into(),
            enterprise: EnterpriseOid::default(),
            syslog: Vec::new(),
            syslog_facility: Facility::LOCAL0,
            webhook: Vec::new(),
            webhook_secret: None,
            queue: DEFAULT_QUEUE,
            backoff: (outputs::bus::FIRST_BACKOFF, outputs::bus::MAX_BACKOFF),
            timeout: Duration::from_secs(5),
        }
    }
}

/// An OID under `enterprises` (1.3.6.1.4.1.N...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseOid(Vec<u32>);

impl Default for EnterpriseOid {
    fn default() -> Self {
        enterprise_oid(DEFAULT_ENTERPRISE_OID).unwrap_or(EnterpriseOid(vec![1, 3, 6, 1, 4, 1]))
    }
}

impl EnterpriseOid {
    /// Its arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// The private enterprise number: the arc after `enterprises`.
    pub fn number(&self) -> u32 {
        self.0.get(ENTERPRISES.len()).copied().unwrap_or(0)
    }

    /// This OID with `more` arcs after it.
    pub fn child(&self, more: &[u32]) -> Vec<u32> {
        let mut arcs = self.0.clone();
        arcs.extend_from_slice(more);
        arcs
    }
}

impl std::fmt::Display for EnterpriseOid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let arcs: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&arcs.join("."))
    }
}

/// `snmp_enterprise_oid`: dotted decimal under 1.3.6.1.4.1 (a leading dot is allowed).
pub fn enterprise_oid(text: &str) -> Result<EnterpriseOid, String> {
    let t = text.trim();
    let t = t.strip_prefix('.').unwrap_or(t);
    let arcs: Result<Vec<u32>, _> = t.split('.').map(str::parse::<u32>).collect();
    let Ok(arcs) = arcs else {
        return Err("an OID is dotted decimal numbers, such as 1.3.6.1.4.1.32473".into());
    };
    if arcs.len() <= ENTERPRISES.len() || arcs[..ENTERPRISES.len()] != ENTERPRISES {
        return Err(
            "the OID must be under enterprises (1.3.6.1.4.1.N, N a private enterprise number), such as 1.3.6.1.4.1.32473".into(),
        );
    }
    if arcs[ENTERPRISES.len()] == 0 {
        return Err("0 is not a private enterprise number".into());
    }
    Ok(EnterpriseOid(arcs))
}

/// A host and port, the port `default_port` when left out (`HOST`, `HOST:PORT`, `[V6]`,
/// `[V6]:PORT`), resolved now: the first address it resolves to. An IPv6 address must be in
/// brackets (RFC 3986 section 3.2.2): `::1:514` is itself an IPv6 address, so without them
/// the port could not be told from the address.
fn host_port(text: &str, default_port: u16) -> Result<SocketAddr, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty address".into());
    }
    if let Ok(a) = t.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Some(ip) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return match ip.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => Ok(SocketAddr::new(ip.into(), default_port)),
            Err(_) => Err(format!("{t:?}: not an IPv6 address in brackets")),
        };
    }
    if t.matches(':').count() > 1 {
        return Err(format!(
            "{t:?}: an IPv6 address is written in brackets, [V6]:PORT or [V6] (such as [::1]:{default_port})"
        ));
    }
    if let Ok(ip) = t.parse::<std::net::Ipv4Addr>() {
        return Ok(SocketAddr::new(ip.into(), default_port));
    }
    let with_port = match t.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => t.to_string(),
        Some((_, port)) => return Err(format!("{port:?} is not a port number")),
        None => format!("{t}:{default_port}"),
    };
    match with_port.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{t} resolves to no address")),
        Err(e) => Err(format!("cannot resolve {t}: {e}")),
    }
}

/// `snmp_trap`: `ADDR[:PORT]`, port 162 by default (RFC 3417 section 3).
pub fn snmp_target(text: &str) -> Result<SocketAddr, String> {
    host_port(text, 162).map_err(|e| format!("{e}; give ADDR:PORT, such as 127.0.0.1:162"))
}

/// How a syslog message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One message a datagram (RFC 5426).
    Udp,
    /// Octet-counted messages on a stream (RFC 6587 3.4.1).
    Tcp,
}

/// One syslog receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogTarget {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        write!(f, "{scheme}://{}", self.addr)
    }
}

/// `syslog`: `udp://ADDR[:PORT]` or `tcp://ADDR[:PORT]`, port 514 by default.
pub fn syslog_target(text: &str) -> Result<SyslogTarget, String> {
    let t = text.trim();
    let (transport, rest) = if let Some(rest) = t.strip_prefix("udp://") {
        (Transport::Udp, rest)
    } else if let Some(rest) = t.strip_prefix("tcp://") {
        (Transport::Tcp, rest)
    } else {
        return Err("give udp://ADDR:PORT or tcp://ADDR:PORT, such as udp://127.0.0.1:514".into());
    };
    let addr = host_port(rest.trim_end_matches('/'), 514)?;
    Ok(SyslogTarget { transport, addr })
}

/// `webhook`: an `http://HOST[:PORT]/PATH` URL.
pub fn webhook_url(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.starts_with("https://") {
        return Err("https:// is not supported by this build (no TLS): give an http:// URL (bodies are signed with webhook_secret_file) or put a TLS proxy on the probe's host in front".into());
    }
    let Some(rest) = t.strip_prefix("http://") else {
        return Err("give an http://HOST:PORT/PATH URL, such as http://127.0.0.1:9000/hook".into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') || host.chars().any(char::is_whitespace) {
        return Err("the URL has no host (or has user info, or spaces)".into());
    }
    Ok(t.to_string())
}

/// A syslog facility (RFC 5424 6.2.1, table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(pub u8);

/// Facility names, by their code.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

impl Facility {
    /// local0 (16): the default, a facility for local use.
    pub const LOCAL0: Facility = Facility(16);

    pub fn name(self) -> &'static str {
        FACILITIES.get(usize::from(self.0)).copied().unwrap_or("?")
    }
}

/// `syslog_facility`: a name (`local0`, `daemon`...) or its code (0 to 23).
pub fn facility(text: &str) -> Result<Facility, String> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(code) = FACILITIES.iter().position(|f| *f == t) {
        return Ok(Facility(code as u8));
    }
    match t.parse::<u8>() {
        Ok(code) if code < 24 => Ok(Facility(code)),
        _ => Err(format!(
            "a facility is one of {} (or its code, 0 to 23)",
            FACILITIES.join(", ")
        )),
    }
}

/// The webhook key: never written anywhere (its Debug hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// `webhook_secret_file`: the file's bytes, less a trailing newline (and other trailing
/// white space), as the HMAC key; an empty key is an error.
pub fn read_secret(path: &Path) -> Result<Secret, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    if end == 0 {
        return Err(format!(
            "{} is empty: it holds the HMAC key",
            path.display()
        ));
    }
    Ok(Secret(bytes[..end].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_are_read_with_their_default_ports() {
        assert_eq!(
            snmp_target("127.0.0.1").unwrap(),
            "127.0.0.1:162".parse().unwrap()
        );
        assert_eq!(
            snmp_target("[::1]:1162").unwrap(),
            "[::1]:1162".parse().unwrap()
        );
        assert_eq!(snmp_target("localhost:1162").unwrap().port(), 1162);
        assert!(snmp_target("127.0.0.1:99999").is_err());
        let t = syslog_target("tcp://127.0.0.1").unwrap();
        assert_eq!((t.transport, t.addr.port()), (Transport::Tcp, 514));
        assert_eq!(t.to_string(), "tcp://127.0.0.1:514");
        assert!(syslog_target("127.0.0.1:514")
            .unwrap_err()
            .contains("udp://"));
        // IPv6 in brackets only: `::1:514` is itself an IPv6 address (::0.1.2.20 ...).
        let t = syslog_target("udp://[::1]:514").unwrap();
        assert_eq!(t.addr, "[::1]:514".parse().unwrap());
        assert_eq!(syslog_target("udp://[::1]").unwrap().addr.port(), 514);
        assert_eq!(snmp_target("[::1]").unwrap(), "[::1]:162".parse().unwrap());
        for bad in ["udp://::1:514", "udp://::1"] {
            let e = syslog_target(bad).unwrap_err();
            assert!(
                e.contains("in brackets, [V6]:PORT or [V6] (such as [::1]:514)"),
                "{bad}: {e}"
            );
        }
        assert!(snmp_target("fe80::1:162")
            .unwrap_err()
            .contains("in brackets"));
        assert!(snmp_target("[nothing]")
            .unwrap_err()
            .contains("not an IPv6 address"));
        assert!(webhook_url("https://x/hook").unwrap_err().contains("TLS"));
        assert!(webhook_url("http:///hook").is_err());
        assert_eq!(
            webhook_url("http://127.0.0.1:9000/hook").unwrap(),
            "http://127.0.0.1:9000/hook"
        );
    }

    #[test]
    fn an_enterprise_oid_must_be_under_enterprises() {
        let oid = EnterpriseOid::default();
        assert_eq!(
            (oid.to_string(), oid.number()),
            ("1.3.6.1.4.1.32473".into(), 32473)
        );
        assert_eq!(
            enterprise_oid(".1.3.6.1.4.1.8072.9").unwrap().number(),
            8072
        );
        assert!(enterprise_oid("1.3.6.1.2.1").is_err());
        assert!(enterprise_oid("1.3.6.1.4.1").is_err());
        assert!(enterprise_oid("1.3.x").is_err());
    }

    #[test]
    fn facilities_by_name_or_code() {
        assert_eq!(facility("daemon").unwrap(), Facility(3));
        assert_eq!(facility("LOCAL7").unwrap().name(), "local7");
        assert_eq!(facility("16").unwrap(), Facility::LOCAL0);
        assert!(facility("local8").is_err());
    }
}
