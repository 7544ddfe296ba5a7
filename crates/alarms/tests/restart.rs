//! Each receiver stopped mid-run and started again: the alarms its queue held (the newest
//! `QUEUE`) arrive late and in order, the older ones are counted dropped, and the figures in
//! the sink's status are exact.

mod common;

use analysis::alarm::{AlarmRecord, AlarmState};
use common::daemons::*;
use common::http::Hook;
use common::*;
use outputs::Bus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Alarms a receiver holds while it is away, in these tests.
const QUEUE: usize = 5;

fn numbered(id: u64) -> AlarmRecord {
    alarm(id, AlarmState::Raised)
}

/// Alarms 1 to 3 while the receiver is up, 4 to 11 (an interval each) while it is away,
/// then the receiver back: `arrived` gives the ids it has got so far.
fn stop_and_restart(
    receivers: alarms::Receivers,
    name: &str,
    arrived: impl Fn() -> Vec<u64>,
    stop: impl FnOnce(),
    restart: impl FnOnce(),
) {
    let receivers = alarms::Receivers {
        queue: QUEUE,
        ..receivers
    };
    let bus: Bus = bus(&receivers);
    bus.publish(batch((1..=3).map(numbered).collect())).unwrap();
    wait_for("the first 3 alarms", Duration::from_secs(30), || {
        arrived().len() >= 3
    });
    stop();
    for id in 4..=11 {
        bus.publish(batch(vec![numbered(id)])).unwrap();
    }
    // The receiver away: the sink retries, its queue full of the newest alarms.
    wait_for("a failed send", Duration::from_secs(10), || {
        status(&bus, name).errors >= 1
    });
    wait_for("the 8 alarms queued", Duration::from_secs(10), || {
        status(&bus, name).received_records == 11
    });
    let s = status(&bus, name);
    assert_eq!(s.state, outputs::SinkState::Retrying);
    assert_eq!(
        (
            s.received_records,
            s.written_records,
            s.dropped_records,
            s.queued_records
        ),
        (11, 3, 3, 5)
    );
    restart();
    wait_for("the queued alarms", Duration::from_secs(20), || {
        arrived().len() >= 8
    });
    let statuses = bus.close().unwrap();
    let s = statuses.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        (
            s.state,
            s.received_records,
            s.written_records,
            s.dropped_records,
            s.queued_records
        ),
        (outputs::SinkState::Ok, 11, 8, 3, 0)
    );
    assert_eq!(arrived(), [1, 2, 3, 7, 8, 9, 10, 11]);
}

/// The `id="N"` of each syslog line, or the `streamprobeAlarmId.0` of each trap.
fn ids_in(texts: Vec<String>, key: &str, end: char) -> Vec<u64> {
    texts
        .iter()
        .filter_map(|t| {
            let at = t.find(key)? + key.len();
            t[at..].split(end).next()?.parse().ok()
        })
        .collect()
}

#[test]
fn snmp_trap_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("traps.log");
    let trapd = Arc::new(Mutex::new(snmptrapd(dir.path(), port, &log)));
    let arrived = || {
        ids_in(
            traps(&log).into_iter().map(|t| t.join("\t")).collect(),
            "streamprobeAlarmId.0 = STRING: ",
            '\t',
        )
    };
    stop_and_restart(
        alarms::Receivers {
            snmp_trap: vec![format!("127.0.0.1:{port}").parse().unwrap()],
            ..receivers()
        },
        &format!("snmp:127.0.0.1:{port}"),
        arrived,
        || trapd.lock().unwrap().stop(),
        || *trapd.lock().unwrap() = snmptrapd(dir.path(), port, &log),
    );
}

fn syslog_receiver(tcp: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (udp_port, tcp_port) = (free_port(), free_port());
    let (daemon, out) = rsyslogd(dir.path(), udp_port, tcp_port);
    let daemon = Arc::new(Mutex::new(daemon));
    let target = if tcp {
        format!("tcp://127.0.0.1:{tcp_port}")
    } else {
        format!("udp://127.0.0.1:{udp_port}")
    };
    stop_and_restart(
        alarms::Receivers {
            syslog: vec![alarms::config::syslog_target(&target).unwrap()],
            ..receivers()
        },
        &format!("syslog:{target}"),
        || ids_in(lines(&out), " id=\"", '"'),
        || daemon.lock().unwrap().stop(),
        || *daemon.lock().unwrap() = rsyslogd(dir.path(), udp_port, tcp_port).0,
    );
}

#[test]
fn syslog_receiver_over_udp() {
    syslog_receiver(false);
}

#[test]
fn syslog_receiver_over_tcp() {
    syslog_receiver(true);
}

#[test]
fn webhook_receiver() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::new(Mutex::new(Hook::start(0, b"", received.clone())));
    let port = hook.lock().unwrap().port;
    let arrived = || {
        received
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect::<Vec<u64>>()
    };
    stop_and_restart(
        alarms::Receivers {
            webhook: vec![format!("http://127.0.0.1:{port}/hook")],
            ..receivers()
        },
        &format!("webhook:http://127.0.0.1:{port}"),
        arrived,
        || hook.lock().unwrap().stop(),
        || *hook.lock().unwrap() = Hook::start(port, b"", received.clone()),
    );
}
