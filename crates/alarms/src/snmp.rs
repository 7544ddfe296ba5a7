//! SNMPv2c traps (RFC 3416 4.2.6 SNMPv2-Trap-PDU in an RFC 1901 community message), one
//! datagram a notification, to `[alarms] snmp_trap` receivers. The objects and notifications
//! are those of docs/mib/STREAMPROBE-MIB.txt, under `[alarms] snmp_enterprise_oid`:
//!
//! - `ROOT.0.1` streamprobeAlarmRaised, `.0.2` streamprobeAlarmCleared, `.0.3`
//!   streamprobeAlarmAcknowledged, `.0.4` streamprobeAlarmFlood (a flood summary, whatever
//!   its state);
//! - `ROOT.1.1.N.0` the objects: 1 id, 2 rule, 3 state, 4 flow, 5 group, 6 value,
//!   7 threshold, 8 text, 9 raised time, 10 time; for a flood summary 11 flows, then when the
//!   flows share them 12 source prefix, 13 destination prefix, 14 VLAN, 15 kind.
//!
//! Encoded with rasn-snmp (BER). A trap is not acknowledged; a receiver away is seen when
//! its host answers ICMP port unreachable: the socket is connected, so the kernel reports
//! that as ECONNREFUSED on it (at once on loopback and the local network's hosts), and the
//! alarm is kept and tried again. A receiver that is gone without a word loses what is sent
//! meanwhile (an SNMP InformRequest would be acknowledged; not done).

use crate::config::EnterpriseOid;
use crate::queue::Channel;
use crate::time::Civil;
use analysis::alarm::{AlarmRecord, AlarmState};
use rasn::types::{Integer, ObjectIdentifier, OctetString};
use rasn_smi::v1::{Gauge, TimeTicks};
use rasn_smi::v2::{ApplicationSyntax, ObjectSyntax, SimpleSyntax};
use rasn_snmp::v2::{Pdu, Trap, VarBind, VarBindValue};
use rasn_snmp::v2c::Message;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

/// sysUpTime.0 (SNMPv2-MIB, RFC 3418).
const SYS_UP_TIME_0: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpTrapOID.0 (SNMPv2-MIB, RFC 3418).
const SNMP_TRAP_OID_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];

/// The notifications, under `ROOT.0` (RFC 2578 8.5: the 0 arc makes them translatable to
/// SNMPv1 traps).
pub mod notification {
    pub const RAISED: u32 = 1;
    pub const CLEARED: u32 = 2;
    pub const ACKNOWLEDGED: u32 = 3;
    pub const FLOOD: u32 = 4;
}

/// The objects, under `ROOT.1.1`.
pub mod object {
    pub const ID: u32 = 1;
    pub const RULE: u32 = 2;
    pub const STATE: u32 = 3;
    pub const FLOW: u32 = 4;
    pub const GROUP: u32 = 5;
    pub const VALUE: u32 = 6;
    pub const THRESHOLD: u32 = 7;
    pub const TEXT: u32 = 8;
    pub const RAISED: u32 = 9;
    pub const TIME: u32 = 10;
    pub const FLOOD_FLOWS: u32 = 11;
    pub const SHARED_SRC_PREFIX: u32 = 12;
    pub const SHARED_DST_PREFIX: u32 = 13;
    pub const SHARED_VLAN: u32 = 14;
    pub const SHARED_KIND: u32 = 15;
}

/// streamprobeAlarmState's values.
pub fn state_code(state: AlarmState) -> i64 {
    match state {
        AlarmState::Raised => 1,
        AlarmState::Cleared => 2,
        AlarmState::Acknowledged => 3,
    }
}

/// A DisplayString is at most 255 octets (SNMPv2-TC): longer text is cut at a character's
/// boundary.
fn display_string(text: &str) -> OctetString {
    let mut end = text.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    OctetString::from(text.as_bytes()[..end].to_vec())
}

fn oid(arcs: Vec<u32>) -> ObjectIdentifier {
    // Every OID here starts 1.3 (enterprises, SNMPv2-MIB): always valid.
    ObjectIdentifier::new(arcs)
        .unwrap_or_else(|| ObjectIdentifier::new_unchecked(vec![0, 0].into()))
}

fn simple(s: SimpleSyntax) -> VarBindValue {
    VarBindValue::Value(ObjectSyntax::Simple(s))
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// The trap of one alarm, BER-encoded: `uptime_ticks` is sysUpTime.0 (hundredths of a
/// second since the probe started).
pub fn trap_message(
    alarm: &AlarmRecord,
    root: &EnterpriseOid,
    community: &str,
    request_id: i32,
    uptime_ticks: u32,
) -> Vec<u8> {
    let object = |n: u32| oid(root.child(&[1, 1, n, 0]));
    let text = |n: u32, t: &str| VarBind {
        name: object(n),
        value: simple(SimpleSyntax::String(display_string(t))),
    };
    let integer = |n: u32, v: i64| VarBind {
        name: object(n),
        value: simple(SimpleSyntax::Integer(Integer::from(v))),
    };
    let unsigned = |n: u32, v: u32| VarBind {
        name: object(n),
        value: VarBindValue::Value(ObjectSyntax::ApplicationWide(ApplicationSyntax::Unsigned(
            Gauge(v),
        ))),
    };
    let date = |n: u32, ns: i64| VarBind {
        name: object(n),
        value: simple(SimpleSyntax::String(OctetString::from(
            Civil::of_ns(ns).date_and_time().to_vec(),
        ))),
    };
    let kind = match (&alarm.summary, alarm.state) {
        (Some(_), _) => notification::FLOOD,
        (None, AlarmState::Raised) => notification::RAISED,
        (None, AlarmState::Cleared) => notification::CLEARED,
        (None, AlarmState::Acknowledged) => notification::ACKNOWLEDGED,
    };
    let group = alarm
        .group
        .as_deref()
        .or(alarm
            .summary
            .as_ref()
            .and_then(|s| s.shared.group.as_deref()))
        .unwrap_or("");
    let mut binds = vec![
        VarBind {
            name: oid(SYS_UP_TIME_0.to_vec()),
            value: VarBindValue::Value(ObjectSyntax::ApplicationWide(ApplicationSyntax::Ticks(
                TimeTicks(uptime_ticks),
            ))),
        },
        VarBind {
            name: oid(SNMP_TRAP_OID_0.to_vec()),
            value: simple(SimpleSyntax::ObjectId(oid(root.child(&[0, kind])))),
        },
        text(object::ID, &alarm.id.to_string()),
        integer(object::RULE, i64::from(alarm.rule.code())),
        integer(object::STATE, state_code(alarm.state)),
        text(
            object::FLOW,
            &alarm.flow.as_ref().map(|f| f.id()).unwrap_or_default(),
        ),
        text(object::GROUP, group),
        text(object::VALUE, &number(alarm.value)),
        text(object::THRESHOLD, &number(alarm.threshold)),
        text(object::TEXT, &alarm.text),
        date(object::RAISED, alarm.raised),
        date(object::TIME, alarm.time),
    ];
    if let Some(summary) = &alarm.summary {
        binds.push(unsigned(
            object::FLOOD_FLOWS,
            u32::try_from(summary.count).unwrap_or(u32::MAX),
        ));
        let shared = &summary.shared;
        if let Some(p) = &shared.src_prefix {
            binds.push(text(object::SHARED_SRC_PREFIX, p));
        }
        if let Some(p) = &shared.dst_prefix {
            binds.push(text(object::SHARED_DST_PREFIX, p));
        }
        if let Some(v) = shared.vlan {
            binds.push(unsigned(object::SHARED_VLAN, u32::from(v)));
        }
        if let Some(k) = shared.kind {
            binds.push(text(object::SHARED_KIND, k.as_str()));
        }
    }
    let message = Message {
        version: Integer::from(Message::<Trap>::VERSION as i64),
        community: OctetString::from(community.as_bytes().to_vec()),
        data: Trap(Pdu {
            request_id,
            error_status: 0,
            error_index: 0,
            variable_bindings: binds,
        }),
    };
    // Encoding owned, well-formed values cannot fail; an empty datagram would be refused by
    // the receiver, never sent as garbage.
    rasn::ber::encode(&message).unwrap_or_default()
}

/// One trap receiver.
pub struct SnmpChannel {
    socket: UdpSocket,
    root: EnterpriseOid,
    community: String,
    started: Instant,
    request_id: i32,
}

impl SnmpChannel {
    /// A socket connected to `target` (so ICMP errors come back to it).
    pub fn new(
        target: SocketAddr,
        root: EnterpriseOid,
        community: String,
        started: Instant,
    ) -> std::io::Result<SnmpChannel> {
        let socket = crate::udp::connected(target)?;
        Ok(SnmpChannel {
            socket,
            root,
            community,
            started,
            request_id: 0,
        })
    }
}

impl Channel for SnmpChannel {
    fn send(&mut self, alarm: &AlarmRecord) -> Result<(), crate::Failure> {
        self.request_id = self.request_id.wrapping_add(1) & i32::MAX;
        // TimeTicks wrap at 2^32 hundredths (497 days), as sysUpTime does.
        let ticks = (self.started.elapsed().as_millis() / 10) as u32;
        let message = trap_message(alarm, &self.root, &self.community, self.request_id, ticks);
        crate::udp::send(&self.socket, &message)
    }
}
