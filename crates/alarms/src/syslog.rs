//! syslog messages (RFC 5424) to `[alarms] syslog` receivers: over UDP one message a
//! datagram (RFC 5426), over TCP octet-counted (`LEN SP MESSAGE`, RFC 6587 3.4.1).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME streamprobe PROCID ALARM [alarm@PEN id=".." rule=".." ...] TEXT`
//!
//! - PRI: the facility (`syslog_facility`, local0 by default) times 8 plus the severity of
//!   the state: raised err (3), acknowledged warning (4), cleared notice (5) (6.2.1).
//! - TIMESTAMP: the transition's time, UTC, microseconds (6.2.3).
//! - The structured data's SD-ID is `alarm@` and the private enterprise number of
//!   `snmp_enterprise_oid` (7.2.2); its values escape `"`, `\` and `]` (6.3.3).
//! - MSG: the alarm's text; plain ASCII as it is, other text as UTF-8 after a BOM (6.4).

use crate::config::{Facility, SyslogTarget, Transport};
use crate::queue::Channel;
use crate::time::Civil;
use analysis::alarm::{AlarmRecord, AlarmState};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

/// RFC 5424 6.2.1 severities.
pub fn severity(state: AlarmState) -> u8 {
    match state {
        AlarmState::Raised => 3,
        AlarmState::Acknowledged => 4,
        AlarmState::Cleared => 5,
    }
}

/// A PARAM-VALUE with `"`, `\` and `]` escaped (RFC 5424 6.3.3).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// This host's name as HOSTNAME wants it (6.2.4): printable ASCII without spaces, at most
/// 255 characters; `-` when it cannot be told.
pub fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || !name.bytes().all(|b| (33..=126).contains(&b)) {
        "-".into()
    } else {
        name.to_string()
    }
}

/// The message of one alarm.
pub fn message(
    alarm: &AlarmRecord,
    facility: Facility,
    enterprise: u32,
    hostname: &str,
    procid: u32,
) -> Vec<u8> {
    let pri = u32::from(facility.0) * 8 + u32::from(severity(alarm.state));
    let mut sd = format!(
        "[alarm@{enterprise} id=\"{}\" rule=\"{}\" state=\"{}\"",
        alarm.id,
        alarm.rule.as_str(),
        alarm.state.as_str()
    );
    let mut param = |name: &str, value: &str| {
        sd.push_str(&format!(" {name}=\"{}\"", escape(value)));
    };
    if let Some(flow) = &alarm.flow {
        param("flow", &flow.id());
    }
    let group = alarm.group.as_deref().or(alarm
        .summary
        .as_ref()
        .and_then(|s| s.shared.group.as_deref()));
    if let Some(g) = group {
        param("group", g);
    }
    if let Some(v) = alarm.value {
        param("value", &v.to_string());
    }
    if let Some(t) = alarm.threshold {
        param("threshold", &t.to_string());
    }
    param("raised", &Civil::of_ns(alarm.raised).rfc5424());
    if let Some(summary) = &alarm.summary {
        param("flows", &summary.count.to_string());
        let shared = &summary.shared;
        if let Some(p) = &shared.src_prefix {
            param("src_prefix", p);
        }
        if let Some(p) = &shared.dst_prefix {
            param("dst_prefix", p);
        }
        if let Some(v) = shared.vlan {
            param("vlan", &v.to_string());
        }
        if let Some(k) = shared.kind {
            param("kind", k.as_str());
        }
    }
    sd.push(']');
    let mut out = format!(
        "<{pri}>1 {} {hostname} streamprobe {procid} ALARM {sd}",
        Civil::of_ns(alarm.time).rfc5424()
    )
    .into_bytes();
    // One line for people: a line break in it would split the message for line-based
    // receivers.
    let text = alarm.text.replace(['\r', '\n'], " ");
    if !text.is_empty() {
        out.push(b' ');
        if !text.is_ascii() {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// Where the messages go.
enum Link {
    Udp(UdpSocket),
    /// Connected when the first message goes, and again after a failure.
    Tcp(Option<TcpStream>),
}

/// One syslog receiver.
pub struct SyslogChannel {
    target: SyslogTarget,
    link: Link,
    facility: Facility,
    enterprise: u32,
    hostname: String,
    procid: u32,
    timeout: Duration,
}

impl SyslogChannel {
    pub fn new(
        target: SyslogTarget,
        facility: Facility,
        enterprise: u32,
        timeout: Duration,
    ) -> std::io::Result<SyslogChannel> {
        let link = match target.transport {
            Transport::Udp => Link::Udp(crate::udp::connected(target.addr)?),
            Transport::Tcp => Link::Tcp(None),
        };
        Ok(SyslogChannel {
            target,
            link,
            facility,
            enterprise,
            hostname: hostname(),
            procid: std::process::id(),
            timeout,
        })
    }
}

/// Whether the receiver's end of a connection is still open: a receiver that went away has
/// closed it (a read gives end of file or an error), and a write would seem to work once
/// before failing, losing that message.
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 64];
    let open = loop {
        match stream.peek(&mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) | Ok(0) => break false,
            // A receiver has nothing to say on this connection: what it says is read and
            // dropped.
            Ok(_) => {
                let _ = (&*stream).read(&mut byte);
            }
        }
    };
    stream.set_nonblocking(false).is_ok() && open
}

impl Channel for SyslogChannel {
    fn send(&mut self, alarm: &AlarmRecord) -> Result<(), crate::Failure> {
        let msg = message(
            alarm,
            self.facility,
            self.enterprise,
            &self.hostname,
            self.procid,
        );
        let target = &self.target;
        match &mut self.link {
            Link::Udp(socket) => crate::udp::send(socket, &msg),
            Link::Tcp(stream) => {
                if stream.as_ref().is_some_and(|s| !still_open(s)) {
                    *stream = None;
                }
                if stream.is_none() {
                    let s = TcpStream::connect_timeout(&target.addr, self.timeout)
                        .map_err(|e| format!("{target}: {e}"))?;
                    s.set_write_timeout(Some(self.timeout))
                        .map_err(|e| format!("{target}: {e}"))?;
                    let _ = s.set_nodelay(true);
                    *stream = Some(s);
                }
                let Some(s) = stream.as_mut() else {
                    return Err(format!("{target}: not connected").into());
                };
                let mut framed = format!("{} ", msg.len()).into_bytes();
                framed.extend_from_slice(&msg);
                s.write_all(&framed).map_err(|e| {
                    *stream = None;
                    format!("{target}: {e}").into()
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
    }
}
