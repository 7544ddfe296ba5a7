//! `POST /api/v1/alarms/{id}/ack` over real HTTP: a second acknowledgement of an alarm whose
//! first one waits on the desk is refused (409, "queued"), not accepted then dropped; the
//! acknowledgements the engine refused later are counted in `/api/v1/health`.

use analysis::alarm::{AlarmRecord, AlarmRule, AlarmState, ALARM_SCHEMA};
use analysis::interval::FlowName;
use analysis::kind::FlowKind;
use api::{AppState, Server};
use outputs::{AlarmDesk, IntervalBatch, LiveView, ProbeRecord, WorkerReport};
use std::io::{Read, Write};
use std::sync::Arc;

const S: i64 = 1_000_000_000;
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct NoConfig;
impl api::ConfigControl for NoConfig {
    fn current(&self) -> String {
        String::new()
    }
    fn apply(&self, _: &str) -> Result<api::routes::ConfigOutcome, String> {
        Err("no config".into())
    }
}

fn served(desk: Arc<AlarmDesk>) -> Server {
    let view = Arc::new(LiveView::default());
    let end = 1_800_000_000 * S;
    let name = FlowName {
        src: "10.1.0.2:4000".parse().unwrap(),
        dst: "239.1.1.1:5000".parse().unwrap(),
        ssrc: Some(7),
        kind: FlowKind::Rtp,
    };
    view.write().apply(&IntervalBatch {
        alarms: vec![AlarmRecord {
            schema: ALARM_SCHEMA,
            kind_of_record: "alarm",
            id: 1,
            time: end,
            state: AlarmState::Raised,
            rule: AlarmRule::MaxLossPct,
            flow: Some(name),
            group: None,
            raised: end,
            value: Some(2.0),
            threshold: Some(0.1),
            text: "loss".into(),
            summary: None,
            summarised_in: None,
            reason: None,
            ack: None,
        }],
        end_ns: end,
        records: vec![],
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns: end,
            length_ns: S,
            ..WorkerReport::default()
        }]),
        published: None,
    });
    Server::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        AppState {
            view,
            history: None,
            config: Arc::new(NoConfig),
            token: TOKEN.into(),
            read_token: false,
            max_flow_series: 10,
            started_ns: 0,
            mirror: tap::TapSet::new(1, tap::RING_BYTES),
            alarm_desk: desk,
        },
    )
    .unwrap()
}

fn call(server: &Server, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = std::net::TcpStream::connect(server.local_addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

#[test]
fn a_second_ack_while_one_is_queued_is_refused_and_refusals_are_counted() {
    let desk = Arc::new(AlarmDesk::default());
    let s = served(Arc::clone(&desk));
    let (status, doc) = call(&s, "POST", "/api/v1/alarms/1/ack", r#"{"by":"ann"}"#);
    assert_eq!(
        (status, doc["status"].as_str()),
        (202, Some("queued")),
        "{doc}"
    );
    let (status, doc) = call(&s, "POST", "/api/v1/alarms/1/ack", r#"{"by":"bob"}"#);
    assert_eq!(status, 409, "{doc}");
    let error = doc.to_string();
    assert!(
        error.contains("alarm 1: an acknowledgement is queued already"),
        "{error}"
    );
    // Only the first waits.
    let waiting = desk.take();
    assert_eq!(
        waiting
            .iter()
            .map(|a| (a.id, a.by.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "ann")]
    );
    let (status, doc) = call(&s, "GET", "/api/v1/health", "");
    assert_eq!((status, doc["alarm_acks_refused"].as_u64()), (200, Some(0)));
    // The engine refused it (cleared meanwhile: the alarm stage counts it on the desk).
    desk.count_refused();
    let (_, doc) = call(&s, "GET", "/api/v1/health", "");
    assert_eq!(doc["alarm_acks_refused"].as_u64(), Some(1));
}
