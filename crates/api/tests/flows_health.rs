//! `GET /api/v1/flows?health=`: the flows of one health or a comma list of them, over real
//! HTTP, from a live view fed four flows whose health is known: green, amber (an SLA limit
//! broken in the last interval), grey (silent) and red (an active alarm).

use analysis::alarm::{AlarmRecord, AlarmRule, AlarmState, ALARM_SCHEMA};
use analysis::event::FlowEvent;
use analysis::frames::PayloadFormat;
use analysis::interval::{EventRecord, FlowName, FlowRecord, Record, SCHEMA};
use analysis::kind::FlowKind;
use analysis::report::{SlaReport, SlaViolation};
use api::{AppState, Server};
use outputs::{IntervalBatch, LiveView, ProbeRecord, WorkerReport};
use std::io::{Read, Write};
use std::sync::Arc;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_800_000_000;

struct NoConfig;
impl api::ConfigControl for NoConfig {
    fn current(&self) -> String {
        String::new()
    }
    fn apply(&self, _: &str) -> Result<api::routes::ConfigOutcome, String> {
        Err("no config".into())
    }
}

fn name(i: u16) -> FlowName {
    FlowName {
        src: format!("10.1.{i}.2:4000").parse().unwrap(),
        dst: format!("239.1.1.{i}:5000").parse().unwrap(),
        ssrc: Some(u32::from(i)),
        kind: FlowKind::Rtp,
    }
}

fn flow(i: u16, end: i64, amber: bool, packets: u64) -> Record {
    Record::Flow(Box::new(FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time: end,
        interval_s: 1.0,
        name: name(i),
        payload: PayloadFormat::H264,
        group: Some("cams".into()),
        vlan: None,
        packets,
        bytes: 1111 * packets,
        bitrate_bps: 800_000.0,
        lost: 0,
        recovered: Some(0),
        duplicates: 0,
        reordered: Some(0),
        jitter_ms: Some(1.0),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: Some(10.0),
        mlr: Some(0.0),
        tr101290: None,
        tr101290_p1_open: None,
        sla: Some(SlaReport {
            violations: if amber {
                vec![SlaViolation {
                    limit: "max_loss_pct",
                    threshold: 0.1,
                    value: 2.0,
                }]
            } else {
                vec![]
            },
            not_judged: vec![],
        }),
    }))
}

/// Four flows over 5 intervals: 0 green, 1 amber in the last, 2 silent, 3 with an alarm.
fn fed() -> Server {
    let view = LiveView::new(vec![]);
    for k in 0..5i64 {
        let end = (T0 + k) * S;
        let mut records: Vec<Record> = (0..4u16)
            .map(|i| {
                let packets = if i == 2 && k >= 3 { 0 } else { 90 };
                flow(i, end, i == 1 && k == 4, packets)
            })
            .collect();
        if k == 3 {
            records.push(Record::Event(Box::new(EventRecord {
                schema: SCHEMA,
                kind_of_record: "event",
                time: end,
                event: FlowEvent::Silent,
                name: name(2),
                silent_s: None,
                new_ssrc: None,
                violations: None,
            })));
        }
        let alarms = if k == 2 {
            vec![AlarmRecord {
                schema: ALARM_SCHEMA,
                kind_of_record: "alarm",
                id: 1,
                time: end,
                state: AlarmState::Raised,
                rule: AlarmRule::MaxLossPct,
                flow: Some(name(3)),
                group: Some("cams".into()),
                raised: end,
                value: Some(2.0),
                threshold: Some(0.1),
                text: "loss".into(),
                summary: None,
                summarised_in: None,
                reason: None,
                ack: None,
            }]
        } else {
            vec![]
        };
        view.write().apply(&IntervalBatch {
            alarms,
            end_ns: end,
            records,
            probe: ProbeRecord::from_reports(&[WorkerReport {
                end_ns: end,
                length_ns: S,
                ..WorkerReport::default()
            }]),
            published: None,
        });
    }
    Server::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        AppState {
            view,
            history: None,
            config: Arc::new(NoConfig),
            token: "0123456789abcdef0123456789abcdef".into(),
            read_token: false,
            max_flow_series: 10,
            started_ns: 0,
            mirror: tap::TapSet::new(1, tap::RING_BYTES),
            alarm_desk: Arc::default(),
        },
    )
    .unwrap()
}

fn get(server: &Server, path: &str) -> (u16, serde_json::Value) {
    let mut s = std::net::TcpStream::connect(server.local_addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

/// The flows (by their index) and healths of a list.
fn listed(server: &Server, query: &str) -> (u64, Vec<(String, String)>) {
    let (status, doc) = get(server, &format!("/api/v1/flows{query}"));
    assert_eq!(status, 200, "{query}: {doc}");
    let flows = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["flow"].as_str().unwrap().to_string(),
                f["health"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (doc["total"].as_u64().unwrap(), flows)
}

#[test]
fn health_filters_the_flow_list_by_one_colour_or_a_list() {
    let s = fed();
    let id = |i: u16| name(i).id();
    let (total, all) = listed(&s, "");
    assert_eq!(total, 4);
    assert_eq!(
        all,
        [
            (id(0), "green".to_string()),
            (id(1), "amber".to_string()),
            (id(2), "grey".to_string()),
            (id(3), "red".to_string()),
        ]
    );
    for (i, h) in ["green", "amber", "grey", "red"].into_iter().enumerate() {
        let (total, got) = listed(&s, &format!("?health={h}"));
        assert_eq!(total, 1, "health={h}");
        assert_eq!(got, [(id(i as u16), h.to_string())]);
    }
    let (total, got) = listed(&s, "?health=amber,red&sort=-flow");
    assert_eq!(total, 2);
    assert_eq!(
        got,
        [(id(3), "red".to_string()), (id(1), "amber".to_string())]
    );
    // With the other filters: the silent one is the only grey; none green is silent.
    assert_eq!(listed(&s, "?health=grey&state=silent").0, 1);
    assert_eq!(listed(&s, "?health=green&state=silent").0, 0);
    assert_eq!(listed(&s, "?health=green,%20red&limit=1").0, 2);
}

#[test]
fn an_unknown_health_is_a_bad_request_naming_it() {
    let s = fed();
    for q in ["purple", "red,", "", "RED"] {
        let (status, doc) = get(&s, &format!("/api/v1/flows?health={q}"));
        assert_eq!(status, 400, "health={q}: {doc}");
        let error = doc["error"].as_str().unwrap();
        assert!(error.contains(&format!("health={q}")), "{error}");
    }
}
