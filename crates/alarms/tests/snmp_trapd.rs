//! SNMPv2c traps to a real snmptrapd started on loopback, which decodes every varbind with
//! docs/mib/STREAMPROBE-MIB.txt: the names and values it prints are asserted exactly.

mod common;

use common::daemons::*;
use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn snmptrapd_decodes_every_notification_by_the_mibs_names() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("traps.log");
    let _trapd = snmptrapd(dir.path(), port, &log);
    let receivers = alarms::Receivers {
        snmp_trap: vec![format!("127.0.0.1:{port}").parse().unwrap()],
        ..receivers()
    };
    let bus = bus(&receivers);
    bus.publish(batch(five())).unwrap();
    wait_for("4 traps", Duration::from_secs(10), || {
        traps(&log).len() >= 4
    });
    let name = format!("snmp:127.0.0.1:{port}");
    let statuses = bus.close().unwrap();
    let s = statuses.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        (
            s.received_records,
            s.written_records,
            s.dropped_records,
            s.errors
        ),
        (4, 4, 0, 0)
    );
    let got = traps(&log);
    let m =
        |name: &str, value: &str| format!("STREAMPROBE-MIB::streamprobeAlarm{name}.0 = {value}");
    let flow_alarm = |notification: &str, state: &str, group: &str| {
        vec![
            format!(
                "SNMPv2-MIB::snmpTrapOID.0 = OID: STREAMPROBE-MIB::streamprobeAlarm{notification}"
            ),
            m("Id", "STRING: 7"),
            m("Rule", "INTEGER: maxLossPct(1)"),
            m("State", &format!("INTEGER: {state}")),
            m("Flow", "STRING: 10.20.1.7:5004>239.1.1.1:5004/0x00001234"),
            m("Group", &format!("STRING: {group}")),
            m("Value", "STRING: 2.5"),
            m("Threshold", "STRING: 1"),
            m(
                "Text",
                r#"STRING: loss 2.5 % over max_loss_pct 1 in "cams-north" [a\b]"#,
            ),
            m("RaisedTime", "STRING: 2024-5-6,12:34:53.7,+0:0"),
            m("Time", "STRING: 2024-5-6,12:34:56.7,+0:0"),
        ]
    };
    let expected = vec![
        flow_alarm("Raised", "raised(1)", "cams-north"),
        flow_alarm("Acknowledged", "acknowledged(3)", ACK_GROUP),
        flow_alarm("Cleared", "cleared(2)", "cams-north"),
        vec![
            "SNMPv2-MIB::snmpTrapOID.0 = OID: STREAMPROBE-MIB::streamprobeAlarmFlood".into(),
            m("Id", "STRING: 8"),
            m("Rule", "INTEGER: silent(9)"),
            m("State", "INTEGER: raised(1)"),
            m("Flow", "STRING: "),
            m("Group", "STRING: cams-north"),
            m("Value", "STRING: "),
            m("Threshold", "STRING: "),
            m(
                "Text",
                "STRING: 60 flows silent: group cams-north, from 10.20.0.0/16, VLAN 310",
            ),
            m("RaisedTime", "STRING: 2024-5-6,12:34:56.7,+0:0"),
            m("Time", "STRING: 2024-5-6,12:34:56.7,+0:0"),
            m("FloodFlows", "Gauge32: 60"),
            m("SharedSrcPrefix", "STRING: 10.20.0.0/16"),
            m("SharedDstPrefix", "STRING: 239.1.1.0/24"),
            m("SharedVlan", "Gauge32: 310"),
            m("SharedKind", "STRING: rtp"),
        ],
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (trap, want) in got.iter().zip(&expected) {
        // sysUpTime.0 first (RFC 3416 4.2.6): the probe's uptime, whatever it is now.
        assert!(
            trap[0].starts_with("SNMPv2-MIB::sysUpTime.0 = Timeticks: ("),
            "{trap:?}"
        );
        assert_eq!(&trap[1..], &want[..]);
    }
}

#[test]
fn the_mib_loads_without_error_and_names_every_rule_as_the_records_do() {
    // Its own persistent directory, made beforehand: on a machine where net-snmp never ran,
    // it would say "Created directory: /var/lib/snmp/cert_indexes" on its first run.
    let persistent = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(persistent.path().join("cert_indexes")).unwrap();
    let out = Command::new(tool("snmptranslate"))
        .env("SNMP_PERSISTENT_DIR", persistent.path())
        .args(["-M", &mib_path(), "-m", "STREAMPROBE-MIB", "-On"])
        .args([
            "STREAMPROBE-MIB::streamprobeAlarmRaised",
            "STREAMPROBE-MIB::streamprobeAlarmCleared",
            "STREAMPROBE-MIB::streamprobeAlarmAcknowledged",
            "STREAMPROBE-MIB::streamprobeAlarmFlood",
            "STREAMPROBE-MIB::streamprobeAlarmId",
            "STREAMPROBE-MIB::streamprobeAlarmSharedKind",
        ])
        .output()
        .expect("snmptranslate cannot run: scripts/install-deps.sh --test installs snmp");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "the MIB loads without a word"
    );
    assert!(out.status.success());
    let oids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(
        oids,
        [
            ".1.3.6.1.4.1.32473.0.1",
            ".1.3.6.1.4.1.32473.0.2",
            ".1.3.6.1.4.1.32473.0.3",
            ".1.3.6.1.4.1.32473.0.4",
            ".1.3.6.1.4.1.32473.1.1.1",
            ".1.3.6.1.4.1.32473.1.1.15",
        ]
    );
    // streamprobeAlarmRule's labels are the rules' names in camel case, numbered by
    // AlarmRule::code.
    let out = Command::new(tool("snmptranslate"))
        .args(["-M", &mib_path(), "-m", "STREAMPROBE-MIB", "-Td"])
        .arg("STREAMPROBE-MIB::streamprobeAlarmRule")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let syntax = text
        .lines()
        .find(|l| l.trim_start().starts_with("SYNTAX"))
        .unwrap_or_default()
        .to_string();
    let labels: Vec<String> = analysis::alarm::AlarmRule::ALL
        .iter()
        .map(|r| {
            let mut camel = String::new();
            for (i, word) in r.as_str().split('_').enumerate() {
                if i == 0 {
                    camel.push_str(word);
                } else {
                    let mut c = word.chars();
                    camel.extend(c.next().map(|c| c.to_ascii_uppercase()));
                    camel.push_str(c.as_str());
                }
            }
            format!("{camel}({})", r.code())
        })
        .collect();
    assert_eq!(
        syntax.trim(),
        format!("SYNTAX\tINTEGER {{{}}}", labels.join(", ")),
    );
}
