//! What the API's tests over real HTTP share: a live view fed records made here, served on a
//! loopback port, and GET with its JSON answer.
#![allow(dead_code)]

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

pub const S: i64 = 1_000_000_000;
/// The first interval ends at this Unix second.
pub const T0: i64 = 1_800_000_000;

/// A config the API cannot change.
pub struct NoConfig;
impl api::ConfigControl for NoConfig {
    fn current(&self) -> String {
        String::new()
    }
    fn apply(&self, _: &str) -> Result<api::routes::ConfigOutcome, String> {
        Err("no config".into())
    }
}

/// Flow `i`: 10.1.i.2:4000 to 239.1.1.i:5000, SSRC i.
pub fn name(i: u16) -> FlowName {
    FlowName {
        src: format!("10.1.{i}.2:4000").parse().unwrap(),
        dst: format!("239.1.1.{i}:5000").parse().unwrap(),
        ssrc: Some(u32::from(i)),
        kind: FlowKind::Rtp,
    }
}

/// Flow `i`'s record of the interval ending at `end`: amber when it broke its loss limit.
pub fn flow(i: u16, end: i64, amber: bool, packets: u64, group: &str, vlan: Option<u16>) -> Record {
    Record::Flow(Box::new(FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time: end,
        interval_s: 1.0,
        name: name(i),
        payload: PayloadFormat::H264,
        group: Some(group.into()),
        vlan,
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
        programs: None,
    }))
}

/// An event of flow `i`.
pub fn event(i: u16, end: i64, event: FlowEvent) -> Record {
    Record::Event(Box::new(EventRecord {
        schema: SCHEMA,
        kind_of_record: "event",
        time: end,
        event,
        name: name(i),
        silent_s: None,
        new_ssrc: None,
        violations: None,
    }))
}

/// A `max_loss_pct` alarm of flow `i` (id `i`) in group `cams`.
pub fn alarm(i: u16, end: i64, state: AlarmState) -> AlarmRecord {
    AlarmRecord {
        schema: ALARM_SCHEMA,
        kind_of_record: "alarm",
        id: u64::from(i),
        time: end,
        state,
        rule: AlarmRule::MaxLossPct,
        flow: Some(name(i)),
        group: Some("cams".into()),
        raised: end,
        value: Some(2.0),
        threshold: Some(0.1),
        text: "loss".into(),
        summary: None,
        summarised_in: None,
        reason: None,
        ack: None,
    }
}

/// The interval ending at `end`, of one worker.
pub fn batch(end: i64, records: Vec<Record>, alarms: Vec<AlarmRecord>) -> IntervalBatch {
    IntervalBatch {
        alarms,
        end_ns: end,
        records,
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns: end,
            length_ns: S,
            ..WorkerReport::default()
        }]),
        published: None,
    }
}

/// The bearer token of the API `serve` starts.
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// The API over `view` on a loopback port, no store, reads without the token.
pub fn serve(view: Arc<LiveView>) -> Server {
    serve_with_desk(view, Arc::default())
}

/// The same, its acknowledgements queued on `desk`.
pub fn serve_with_desk(view: Arc<LiveView>, desk: Arc<outputs::AlarmDesk>) -> Server {
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

/// GET `path`: the status and the JSON body.
pub fn get(server: &Server, path: &str) -> (u16, serde_json::Value) {
    call(server, "GET", path, "")
}

/// `method path` with the token and a JSON `body`: the status and the JSON answer.
pub fn call(server: &Server, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
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
