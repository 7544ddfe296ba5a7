//! /metrics from a live view: per-flow series capped at `max_flow_series` with the rest
//! counted, a forgotten flow's series gone, group counters kept across it, counters untouched
//! by `clear`, and the text format 0.0.4 naming counters by their samples.

use analysis::event::FlowEvent;
use analysis::frames::PayloadFormat;
use analysis::interval::{EventRecord, FlowName, FlowRecord, Record, SCHEMA};
use analysis::kind::FlowKind;
use outputs::live_view::GroupInfo;
use outputs::{IntervalBatch, LiveView, ProbeRecord, WorkerReport};

const S: i64 = 1_000_000_000;

fn name(i: u16) -> FlowName {
    FlowName {
        src: format!("10.0.0.1:{}", 1000 + i).parse().unwrap(),
        dst: "239.1.1.1:5000".parse().unwrap(),
        ssrc: Some(u32::from(i)),
        kind: FlowKind::Rtp,
    }
}

fn flow(i: u16, time: i64) -> Record {
    Record::Flow(Box::new(FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time,
        interval_s: 1.0,
        name: name(i),
        payload: PayloadFormat::H264,
        group: Some("cams".into()),
        vlan: None,
        packets: 100 + u64::from(i),
        bytes: 1000,
        bitrate_bps: 8000.0,
        lost: u64::from(i),
        recovered: Some(0),
        duplicates: 0,
        reordered: Some(0),
        jitter_ms: Some(2.0),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: Some(40.0),
        mlr: Some(0.0),
        tr101290: None,
        tr101290_p1_open: None,
        sla: None,
        programs: None,
    }))
}

fn batch(end_ns: i64, records: Vec<Record>) -> IntervalBatch {
    IntervalBatch {
        alarms: Vec::new(),
        end_ns,
        records,
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns,
            length_ns: S,
            packets: 7,
            ..WorkerReport::default()
        }]),
        published: None,
    }
}

fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn flow_series_are_capped_counted_and_gone_with_their_flow() {
    let view = LiveView::new(vec![GroupInfo {
        name: "cams".into(),
        media_rate_bps: Some(2e6),
        prefixes: vec!["239.1.1.1/32".into()],
    }]);
    view.write()
        .apply(&batch(S, (0..15).map(|i| flow(i, S)).collect()));
    let text = api::metrics::to_text_004(&api::metrics::encode(view.clone(), 10).unwrap());
    let exported = text
        .lines()
        .filter(|l| l.starts_with("streamprobe_flow_packets_total{"))
        .count();
    assert_eq!(exported, 10);
    assert_eq!(
        sample(&text, "streamprobe_metrics_flows_not_exported{}"),
        Some(5.0)
    );
    assert_eq!(sample(&text, "streamprobe_flows{}"), Some(15.0));
    // Group counters count every flow, exported or not: 100 + 101 + ... + 114.
    assert_eq!(
        sample(&text, "streamprobe_group_packets_total{group=\"cams\"}"),
        Some(1605.0)
    );
    assert_eq!(
        sample(&text, "streamprobe_group_lost_total{group=\"cams\"}"),
        Some(105.0)
    );
    assert_eq!(sample(&text, "streamprobe_packets_total{}"), Some(7.0));
    let first = "streamprobe_flow_lost_total{flow=\"10.0.0.1:1001>239.1.1.1:5000/0x00000001\",group=\"cams\",kind=\"rtp\"}";
    assert_eq!(sample(&text, first), Some(1.0));
    assert_eq!(sample(&text, "streamprobe_flow_delay_factor_seconds{flow=\"10.0.0.1:1001>239.1.1.1:5000/0x00000001\""), Some(0.04));
    // The text format names a counter's HELP and TYPE by its samples, and has no # EOF.
    assert!(
        text.contains("# TYPE streamprobe_flow_packets_total counter\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"));
    // Forgotten: its series go, the group's counters stay; clear changes no counter.
    view.write().apply(&batch(
        2 * S,
        vec![Record::Event(Box::new(EventRecord {
            schema: SCHEMA,
            kind_of_record: "event",
            time: 2 * S,
            event: FlowEvent::Expired,
            name: name(1),
            silent_s: Some(300.0),
            new_ssrc: None,
            violations: None,
        }))],
    ));
    view.write().clear(None, 2 * S);
    let text = api::metrics::to_text_004(&api::metrics::encode(view, 10).unwrap());
    assert_eq!(sample(&text, first), None);
    assert_eq!(sample(&text, "streamprobe_flows{}"), Some(14.0));
    assert_eq!(
        sample(&text, "streamprobe_metrics_flows_not_exported{}"),
        Some(4.0)
    );
    assert_eq!(
        sample(&text, "streamprobe_group_packets_total{group=\"cams\"}"),
        Some(1605.0)
    );
    assert_eq!(
        sample(&text, "streamprobe_flows_forgotten_total{}"),
        Some(0.0),
        "the probe record's count, not the view's"
    );
    assert_eq!(sample(&text, "streamprobe_packets_total{}"), Some(14.0));
    // Gauges of the last interval only for flows with a record in it: none in this one.
    assert!(
        !text.contains("streamprobe_flow_delay_factor_seconds{"),
        "{text}"
    );
}
