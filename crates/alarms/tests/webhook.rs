//! Webhooks to a local HTTP server playing the user's receiver: each alarm arrives as its
//! JSON record, signed with the key of `webhook_secret_file`; a 5xx answer is retried, a 404
//! drops that alarm and the next ones go on.

mod common;

use common::http::Hook;
use common::*;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn every_alarm_arrives_signed_as_its_json_record_and_a_refusal_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("hook.key");
    std::fs::write(&secret_file, "s3cret key\n").unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let hook = Hook::start(0, b"s3cret key", received.clone());
    // The first answer refuses: the same alarm is sent again after the back-off.
    hook.status.store(503, Ordering::SeqCst);
    let receivers = alarms::Receivers {
        webhook: vec![format!("http://127.0.0.1:{}/hook/T0KEN", hook.port)],
        webhook_secret: Some(alarms::config::read_secret(&secret_file).unwrap()),
        ..receivers()
    };
    let bus = bus(&receivers);
    let name = format!("webhook:http://127.0.0.1:{}", hook.port);
    let alarms = five();
    bus.publish(batch(alarms.clone())).unwrap();
    wait_for("the refused first try", Duration::from_secs(10), || {
        status(&bus, &name).errors == 1
    });
    assert_eq!(status(&bus, &name).state, outputs::SinkState::Retrying);
    hook.status.store(200, Ordering::SeqCst);
    wait_for("5 requests", Duration::from_secs(10), || {
        received.lock().unwrap().len() >= 5
    });
    let statuses = bus.close().unwrap();
    let s = statuses.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        (
            s.state,
            s.received_records,
            s.written_records,
            s.dropped_records,
            s.errors
        ),
        (outputs::SinkState::Ok, 4, 4, 0, 1)
    );
    assert_eq!(
        s.last_error.as_deref(),
        Some(format!("http://127.0.0.1:{}/hook/T0KEN: HTTP 503", hook.port).as_str())
    );
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 5);
    for r in &got {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/hook/T0KEN")
        );
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert!(r.signed, "a good signature: {r:?}");
    }
    // The refused one again, then the rest, each its record's JSON exactly; the per-flow
    // alarm the flood summary stands for is not sent.
    let json = |i: usize| serde_json::to_string(&alarms[i]).unwrap();
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, [json(0), json(0), json(1), json(2), json(3)]);
    let first: serde_json::Value = serde_json::from_str(bodies[0]).unwrap();
    assert_eq!(first["schema"], "streamprobe.alarm/1");
    assert_eq!(first["state"], "raised");
    assert_eq!(first["flow"], "10.20.1.7:5004>239.1.1.1:5004/0x00001234");
    let flood: serde_json::Value = serde_json::from_str(bodies[4]).unwrap();
    assert_eq!(flood["summary"]["count"], 60);
    assert_eq!(flood["summary"]["shared"]["src_prefix"], "10.20.0.0/16");
}

#[test]
fn a_404_drops_that_alarm_counted_and_the_next_ones_go_on() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let hook = Hook::start(0, b"", received.clone());
    hook.once.store(404, Ordering::SeqCst);
    let receivers = alarms::Receivers {
        webhook: vec![format!("http://127.0.0.1:{}/hook/GONE", hook.port)],
        // A retry would wait a minute: the test would see it.
        backoff: (Duration::from_secs(60), Duration::from_secs(60)),
        ..receivers()
    };
    let bus = bus(&receivers);
    let name = format!("webhook:http://127.0.0.1:{}", hook.port);
    let alarms = five();
    bus.publish(batch(alarms.clone())).unwrap();
    wait_for("4 requests", Duration::from_secs(10), || {
        received.lock().unwrap().len() >= 4
    });
    let statuses = bus.close().unwrap();
    let s = statuses.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        (
            s.state,
            s.received_records,
            s.written_records,
            s.dropped_records,
            s.errors
        ),
        (outputs::SinkState::Ok, 4, 3, 1, 1)
    );
    assert_eq!(
        s.last_error.as_deref(),
        Some(
            format!(
                "http://127.0.0.1:{}/hook/GONE: HTTP 404 (refused: this alarm is dropped, not retried)",
                hook.port
            )
            .as_str()
        )
    );
    // Each alarm once: the refused one is not sent again.
    let json = |i: usize| serde_json::to_string(&alarms[i]).unwrap();
    let bodies: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(bodies, [json(0), json(1), json(2), json(3)]);
}

#[test]
fn a_wrong_key_is_caught_by_the_receiver() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let hook = Hook::start(0, b"the receiver's key", received.clone());
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("hook.key");
    std::fs::write(&secret_file, "another key").unwrap();
    let receivers = alarms::Receivers {
        webhook: vec![format!("http://127.0.0.1:{}/hook", hook.port)],
        webhook_secret: Some(alarms::config::read_secret(&secret_file).unwrap()),
        ..receivers()
    };
    let bus = bus(&receivers);
    bus.publish(batch(vec![alarm(1, analysis::alarm::AlarmState::Raised)]))
        .unwrap();
    bus.close().unwrap();
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(!got[0].signed);
}
