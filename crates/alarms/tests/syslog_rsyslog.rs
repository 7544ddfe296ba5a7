//! syslog (RFC 5424) over UDP and TCP (octet counting, RFC 6587 3.4.1) to a real rsyslogd
//! started on loopback: the raw messages it received and the fields it parsed are asserted
//! exactly.

mod common;

use common::daemons::*;
use common::*;
use std::time::Duration;

#[test]
fn rsyslogd_parses_every_alarm_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_port(), free_port());
    let (_rsyslogd, out) = rsyslogd(dir.path(), udp, tcp);
    let receivers = alarms::Receivers {
        syslog: vec![
            alarms::config::syslog_target(&format!("udp://127.0.0.1:{udp}")).unwrap(),
            alarms::config::syslog_target(&format!("tcp://127.0.0.1:{tcp}")).unwrap(),
        ],
        ..receivers()
    };
    let bus = bus(&receivers);
    bus.publish(batch(five())).unwrap();
    wait_for("8 messages", Duration::from_secs(10), || {
        lines(&out).len() >= 8
    });
    let statuses = bus.close().unwrap();
    for s in statuses.iter().filter(|s| s.name.starts_with("syslog:")) {
        assert_eq!(
            (
                s.received_records,
                s.written_records,
                s.dropped_records,
                s.errors
            ),
            (4, 4, 0, 0),
            "{}",
            s.name
        );
    }
    let host = alarms::syslog::hostname();
    let pid = std::process::id();
    let sd_flow = |state: &str, group: &str| {
        format!(
            r#"[alarm@32473 id="7" rule="max_loss_pct" state="{state}" flow="10.20.1.7:5004>239.1.1.1:5004/0x00001234" group="{group}" value="2.5" threshold="1" raised="2024-05-06T12:34:53.789012Z"]"#
        )
    };
    let text = r#"loss 2.5 % over max_loss_pct 1 in "cams-north" [a\b]"#;
    let flood_text = "60 flows silent: group cams-north, from 10.20.0.0/16, VLAN 310";
    // (PRI, severity, structured data, message)
    let expected = [
        (131, "err", sd_flow("raised", "cams-north"), text),
        (132, "warning", sd_flow("acknowledged", r#"cams \"north\" \\ [1\]"#), text),
        (133, "notice", sd_flow("cleared", "cams-north"), text),
        (
            131,
            "err",
            r#"[alarm@32473 id="8" rule="silent" state="raised" group="cams-north" raised="2024-05-06T12:34:56.789012Z" flows="60" src_prefix="10.20.0.0/16" dst_prefix="239.1.1.0/24" vlan="310" kind="rtp"]"#.to_string(),
            flood_text,
        ),
    ];
    let got = lines(&out);
    for input in ["imudp", "imtcp"] {
        let want: Vec<String> = expected
            .iter()
            .map(|(pri, severity, sd, msg)| {
                let raw = format!("<{pri}>1 2024-05-06T12:34:56.789012Z {host} streamprobe {pid} ALARM {sd} {msg}");
                format!("{input}|{pri}|local0|{severity}|2024-05-06T12:34:56.789012Z|{host}|streamprobe|{pid}|ALARM|{sd}|{msg}|{raw}")
            })
            .collect();
        let of_input: Vec<&String> = got.iter().filter(|l| l.starts_with(input)).collect();
        assert_eq!(of_input, want.iter().collect::<Vec<_>>(), "{input}");
    }
}
