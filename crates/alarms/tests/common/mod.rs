//! What the receiver tests share: the alarms they send, the bus they publish on, and the
//! tools they start (snmptrapd, rsyslogd: scripts/install-deps.sh --test installs them; a
//! missing one fails the test, never skips it).
#![allow(dead_code)]

pub mod daemons;
pub mod http;

use alarms::config::Receivers;
use analysis::alarm::{AlarmRecord, AlarmRule, AlarmState, FloodSummary, Shared, ALARM_SCHEMA};
use analysis::interval::FlowName;
use analysis::kind::FlowKind;
use outputs::{Bus, IntervalBatch, ProbeRecord, SinkStatus, WorkerReport};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// 2024-05-06T12:34:56.789012345Z, ns.
pub const TIME: i64 = 1_714_998_896_789_012_345;
/// Three intervals before it, ns.
pub const RAISED: i64 = TIME - 3_000_000_000;

pub fn flow() -> FlowName {
    FlowName {
        src: "10.20.1.7:5004".parse().unwrap(),
        dst: "239.1.1.1:5004".parse().unwrap(),
        ssrc: Some(0x1234),
        kind: FlowKind::Rtp,
    }
}

/// An alarm of the flow, `state` at `TIME`.
pub fn alarm(id: u64, state: AlarmState) -> AlarmRecord {
    AlarmRecord {
        schema: ALARM_SCHEMA,
        kind_of_record: "alarm",
        id,
        time: TIME,
        state,
        rule: AlarmRule::MaxLossPct,
        flow: Some(flow()),
        group: Some("cams-north".into()),
        raised: RAISED,
        value: Some(2.5),
        threshold: Some(1.0),
        // Every character a receiver's format must escape or carry.
        text: r#"loss 2.5 % over max_loss_pct 1 in "cams-north" [a\b]"#.into(),
        summary: None,
        summarised_in: None,
        reason: None,
        ack: None,
    }
}

/// A flood summary: 60 flows raised silent at once.
pub fn flood(id: u64) -> AlarmRecord {
    AlarmRecord {
        rule: AlarmRule::Silent,
        flow: None,
        group: None,
        value: None,
        threshold: None,
        raised: TIME,
        text: "60 flows silent: group cams-north, from 10.20.0.0/16, VLAN 310".into(),
        summary: Some(FloodSummary {
            count: 60,
            shared: Shared {
                flows: 60,
                group: Some("cams-north".into()),
                src_prefix: Some("10.20.0.0/16".into()),
                dst_prefix: Some("239.1.1.0/24".into()),
                vlan: Some(310),
                kind: Some(FlowKind::Rtp),
            },
        }),
        ..alarm(id, AlarmState::Raised)
    }
}

/// A per-flow alarm the flood summary `of` stands for: never sent.
pub fn summarised(id: u64, of: u64) -> AlarmRecord {
    AlarmRecord {
        rule: AlarmRule::Silent,
        summarised_in: Some(of),
        ..alarm(id, AlarmState::Raised)
    }
}

/// The alarms every receiver test sends: raised 7, acknowledged 7 (its group renamed), cleared 7, flood summary
/// 8, and the per-flow alarm 9 it stands for (not sent).
pub fn five() -> Vec<AlarmRecord> {
    vec![
        alarm(7, AlarmState::Raised),
        AlarmRecord {
            // A group name with every character RFC 5424 escapes in a PARAM-VALUE.
            group: Some(ACK_GROUP.into()),
            ..alarm(7, AlarmState::Acknowledged)
        },
        alarm(7, AlarmState::Cleared),
        flood(8),
        summarised(9, 8),
    ]
}

/// The acknowledged alarm's group.
pub const ACK_GROUP: &str = r#"cams "north" \ [1]"#;

/// An interval holding `alarms`.
pub fn batch(alarms: Vec<AlarmRecord>) -> IntervalBatch {
    IntervalBatch {
        end_ns: TIME,
        records: Vec::new(),
        alarms,
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns: TIME,
            length_ns: 1_000_000_000,
            ..WorkerReport::default()
        }]),
        published: None,
    }
}

/// Receivers with test back-offs (50 ms to 200 ms).
pub fn receivers() -> Receivers {
    Receivers {
        backoff: (Duration::from_millis(50), Duration::from_millis(200)),
        timeout: Duration::from_secs(2),
        ..Receivers::default()
    }
}

/// A bus with `receivers` attached.
pub fn bus(receivers: &Receivers) -> Bus {
    let mut bus = Bus::new();
    alarms::attach(&mut bus, receivers).unwrap();
    bus
}

/// The status of the sink named `name`.
pub fn status(bus: &Bus, name: &str) -> SinkStatus {
    bus.statuses()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sink {name}"))
}

/// Waits until `done` holds, failing after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free port on loopback (for UDP and TCP both, as far as a probe can tell).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Whether something listens on 127.0.0.1:`port` (`/proc/net/udp`, or `tcp` in LISTEN).
pub fn listening(port: u16, tcp: bool) -> bool {
    let table = std::fs::read_to_string(if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    })
    .unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == local && (!tcp || f[3] == "0A")
    })
}

/// A tool's path, or a failure saying how to install it.
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: scripts/install-deps.sh --test installs it");
}

/// The MIB folders: ours and the IETF base modules it imports (SNMPv2-SMI...).
pub fn mib_path() -> String {
    let ours = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/mib");
    let base = ["/usr/share/snmp/mibs/ietf", "/usr/share/snmp/mibs", "/usr/share/mibs/ietf"]
        .into_iter()
        .find(|d| Path::new(d).join("SNMPv2-SMI").exists())
        .unwrap_or_else(|| {
            panic!("the IETF base MIBs (SNMPv2-SMI...) are not installed: scripts/install-base-mibs.sh (run by scripts/install-deps.sh --test) installs them")
        });
    format!("{ours}:{base}")
}

/// A child process killed when dropped.
pub struct Child(pub std::process::Child);

impl Child {
    /// Kills it and waits for it to be gone (its port free).
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop();
    }
}
