//! `GET /api/v1/wall` and `/api/v1/wall/band` over real HTTP, from a live view fed interval by
//! interval: each flow's health second by second (green, amber from its SLA, red from an
//! alarm, grey when silent), rows of many flows showing the worst of them, per-second counts,
//! and a band listing the flows it hit with what they share.

use analysis::alarm::{AlarmRecord, AlarmRule, AlarmState, ALARM_SCHEMA};
use analysis::event::FlowEvent;
use analysis::frames::PayloadFormat;
use analysis::interval::{EventRecord, FlowName, FlowRecord, Record, SCHEMA};
use analysis::kind::FlowKind;
use analysis::report::{SlaReport, SlaViolation};
use api::{AppState, Server};
use base64::Engine;
use outputs::live_view::GroupInfo;
use outputs::{IntervalBatch, LiveView, ProbeRecord, WorkerReport};
use std::io::{Read, Write};
use std::sync::Arc;

const S: i64 = 1_000_000_000;
/// The first interval ends at this Unix second.
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
        group: Some(if i < 8 { "cams" } else { "studio" }.into()),
        vlan: Some(300 + u16::from(i >= 8)),
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

fn alarm(i: u16, end: i64, state: AlarmState) -> AlarmRecord {
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

fn batch(end: i64, records: Vec<Record>, alarms: Vec<AlarmRecord>) -> IntervalBatch {
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

/// 10 flows (8 in `cams`, 2 in `studio`) over 20 one-second intervals: flows 0-5 break their
/// SLA in seconds 5-7 (a band), flow 1 has an alarm from second 6 to 9, flow 9 goes silent
/// from second 15, flow 8 is forgotten after second 11.
fn fed() -> Server {
    let view = LiveView::new(vec![
        GroupInfo {
            name: "cams".into(),
            media_rate_bps: None,
            prefixes: vec!["239.1.1.0/24".into()],
        },
        GroupInfo {
            name: "studio".into(),
            media_rate_bps: None,
            prefixes: vec!["239.1.1.8/29".into()],
        },
    ]);
    for k in 0..20i64 {
        let end = (T0 + k) * S;
        let mut records: Vec<Record> = (0..10u16)
            .filter(|&i| !(i == 8 && k > 11))
            .map(|i| {
                let packets = if i == 9 && k >= 15 { 0 } else { 90 };
                flow(i, end, i < 6 && (5..=7).contains(&k), packets)
            })
            .collect();
        if k == 12 {
            records.push(event(8, end, FlowEvent::Expired));
        }
        if k == 15 {
            records.push(event(9, end, FlowEvent::Silent));
        }
        let alarms = match k {
            6 => vec![alarm(1, end, AlarmState::Raised)],
            10 => vec![alarm(1, end, AlarmState::Cleared)],
            _ => vec![],
        };
        view.write().apply(&batch(end, records, alarms));
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

fn event(i: u16, end: i64, event: FlowEvent) -> Record {
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

fn cells(doc: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(doc["cells"].as_str().unwrap())
        .unwrap()
}

#[test]
fn one_row_per_flow_holds_its_health_second_by_second() {
    let s = fed();
    let (status, doc) = get(&s, "/api/v1/wall?minutes=1&rows=100");
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["schema"], "streamprobe.wall/1");
    assert_eq!(doc["seconds"], 60);
    // The last interval ended at T0 + 19: its second is T0 + 18, the wall's last.
    let start = T0 + 18 - 59;
    assert_eq!(doc["start_s"], start);
    assert_eq!(
        doc["flows"], 10,
        "flow 8 was forgotten, its past is still on the wall"
    );
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0]["flow"], name(0).id());
    assert_eq!(rows[8]["flow"], name(8).id());
    assert_eq!(rows[9]["flow"], name(9).id());
    assert_eq!(rows[9]["group"], "studio");
    let c = cells(&doc);
    assert_eq!(c.len(), 10 * 60);
    let at = |row: usize, k: i64| c[row * 60 + (T0 + k - 1 - start) as usize];
    // Interval k (ending at T0 + k) is second T0 + k - 1.
    let flow0: Vec<u8> = (0..20).map(|k| at(0, k)).collect();
    assert_eq!(
        flow0,
        [1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    );
    let flow1: Vec<u8> = (0..20).map(|k| at(1, k)).collect();
    assert_eq!(
        flow1,
        [1, 1, 1, 1, 1, 2, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        "red while the alarm is active, over amber"
    );
    let flow8: Vec<u8> = (0..20).map(|k| at(8, k)).collect();
    assert_eq!(
        flow8,
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        "none once forgotten"
    );
    let flow9: Vec<u8> = (0..20).map(|k| at(9, k)).collect();
    assert_eq!(
        flow9,
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3]
    );
    // Before the first interval: no flow.
    assert_eq!(c[0], 0);
    let second = |k: i64| (T0 + k - 1 - start) as usize;
    assert_eq!(doc["counts"]["amber"][second(5)], 6);
    assert_eq!(doc["counts"]["red"][second(6)], 1);
    assert_eq!(doc["counts"]["amber"][second(6)], 5);
    assert_eq!(doc["counts"]["grey"][second(16)], 1);
    assert_eq!(doc["counts"]["green"][second(16)], 8);
}

#[test]
fn rows_of_many_flows_show_the_worst_and_never_mix_groups() {
    let s = fed();
    let (_, doc) = get(&s, "/api/v1/wall?minutes=1&rows=3");
    let rows = doc["rows"].as_array().unwrap();
    // 3 rows: one a group, the spare one to the larger: 8 cams flows in 2 rows of 4, the 2
    // studio flows (one forgotten) in one.
    let sizes: Vec<u64> = rows.iter().map(|r| r["flows"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(rows[0]["label"], "cams 1-4 of 8");
    assert_eq!(rows[2]["label"], "studio 1-2 of 2");
    assert_eq!(rows[0]["flow"], serde_json::Value::Null);
    let start = doc["start_s"].as_i64().unwrap();
    let c = cells(&doc);
    let at = |row: usize, k: i64| c[row * 60 + (T0 + k - 1 - start) as usize];
    assert_eq!(at(0, 7), 4, "flow 1's alarm");
    assert_eq!(at(1, 7), 2, "flows 4-5 amber, 6-7 green");
    assert_eq!(at(1, 9), 1, "all four green");
    assert_eq!(at(2, 16), 3, "flow 9 silent, flow 8 gone");
    let (_, doc) = get(&s, "/api/v1/wall?minutes=1&group=studio");
    assert_eq!(doc["flows"], 2);
    let (status, doc) = get(&s, "/api/v1/wall?rows=10000");
    assert_eq!(
        (status, doc["rows"].as_array().unwrap().len()),
        (200, 10),
        "a row per flow at most"
    );
    assert_eq!(get(&s, "/api/v1/wall?rows=100001").0, 400);
    let (status, doc) = get(&s, "/api/v1/wall?group=nothing");
    assert_eq!(
        (status, doc["error"].as_str().unwrap()),
        (404, "group=nothing: no such group")
    );
    let (status, doc) = get(&s, "/api/v1/wall?minutes=16");
    assert_eq!(status, 400);
    assert_eq!(
        doc["error"],
        "minutes=16: must be 1 to 15 (the wall's length)"
    );
    assert_eq!(get(&s, "/api/v1/wall?rows=0").0, 400);
    assert_eq!(get(&s, "/api/v1/wall?color=red").0, 400);
}

#[test]
fn a_band_lists_the_flows_it_hit_and_what_they_share() {
    let s = fed();
    let (status, doc) = get(
        &s,
        &format!("/api/v1/wall/band?from={}&to={}", T0 + 4, T0 + 6),
    );
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["schema"], "streamprobe.wall-band/1");
    assert_eq!(doc["count"], 6);
    let flows = doc["flows"].as_array().unwrap();
    let ids: Vec<&str> = flows.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..6).map(|i| name(i).id()).collect();
    assert_eq!(ids, want);
    assert_eq!(flows[1]["worst"], "red");
    assert_eq!(flows[1]["seconds"], 3);
    assert_eq!(flows[0]["worst"], "amber");
    assert_eq!(flows[0]["vlan"], 300);
    let shared = &doc["shared"];
    assert_eq!(shared["flows"], 6);
    assert_eq!(shared["group"], "cams");
    assert_eq!(shared["vlan"], 300);
    assert_eq!(shared["kind"], "rtp");
    assert_eq!(shared["dst_prefix"], "239.1.1.0/29");
    assert_eq!(shared["src_prefix"], "10.1.0.0/21");
    // Red only: flow 1 alone.
    let (_, doc) = get(
        &s,
        &format!("/api/v1/wall/band?from={}&to={}&health=red", T0 + 4, T0 + 6),
    );
    assert_eq!(doc["count"], 1);
    assert_eq!(doc["shared"]["dst_prefix"], "239.1.1.1/32");
    // The silent flow is hit in a later band, and is the only one.
    let (_, doc) = get(
        &s,
        &format!("/api/v1/wall/band?from={}&to={}", T0 + 15, T0 + 18),
    );
    assert_eq!(doc["count"], 1);
    assert_eq!(doc["flows"][0]["worst"], "grey");
    assert_eq!(doc["shared"]["group"], "studio");
    let (status, doc) = get(&s, "/api/v1/wall/band?from=2&to=1");
    assert_eq!(
        (status, doc["error"].as_str().unwrap()),
        (400, "to=1: before from=2")
    );
    assert_eq!(get(&s, "/api/v1/wall/band?from=x&to=1").0, 400);
    assert_eq!(get(&s, "/api/v1/wall/band").0, 400);
}
