use super::*;
use crate::frames::PayloadFormat;
use crate::interval::{EventRecord, IndicatorCounts, SCHEMA};
use crate::kind::FlowKind;
use crate::report::{SlaReport, SlaViolation};
use proptest::prelude::*;

const S: i64 = 1_000_000_000;

fn name(i: u32) -> FlowName {
    FlowName {
        src: format!("10.20.{}.{}:5004", i / 250, i % 250 + 1)
            .parse()
            .unwrap(),
        dst: format!("239.1.{}.{}:5004", i / 250, i % 250 + 1)
            .parse()
            .unwrap(),
        ssrc: Some(0x100 + i),
        kind: FlowKind::Rtp,
    }
}

/// A flow record of flow `i` at `t`: its loss % against a 5 % limit when `loss` is given.
fn flow(i: u32, t: i64, loss: Option<f64>) -> Record {
    let sla = loss.map(|l| SlaReport {
        violations: if l > 5.0 {
            vec![SlaViolation {
                limit: "max_loss_pct",
                threshold: 5.0,
                value: l,
            }]
        } else {
            vec![]
        },
        not_judged: vec![],
    });
    Record::Flow(Box::new(FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time: t,
        interval_s: 1.0,
        name: name(i),
        payload: PayloadFormat::H264,
        group: Some("cams".into()),
        vlan: Some(310),
        packets: 100,
        bytes: 100_000,
        bitrate_bps: 800_000.0,
        lost: 0,
        recovered: Some(0),
        duplicates: 0,
        reordered: Some(0),
        jitter_ms: Some(1.0),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: None,
        mlr: None,
        tr101290: None,
        tr101290_p1_open: None,
        sla,
        programs: None,
    }))
}

fn event(i: u32, t: i64, event: FlowEvent, silent_s: Option<f64>) -> Record {
    Record::Event(Box::new(EventRecord {
        schema: SCHEMA,
        kind_of_record: "event",
        time: t,
        event,
        name: name(i),
        silent_s,
        new_ssrc: None,
        violations: None,
    }))
}

fn bad(t: i64) -> Vec<Record> {
    vec![flow(0, t, Some(12.5))]
}

fn good(t: i64) -> Vec<Record> {
    vec![flow(0, t, Some(0.0))]
}

fn states(out: &[AlarmRecord]) -> Vec<(u64, AlarmState, AlarmRule)> {
    out.iter().map(|a| (a.id, a.state, a.rule)).collect()
}

#[test]
fn silent_is_the_ninth_rule() {
    assert_eq!(AlarmRule::ALL[8], AlarmRule::Silent);
}

#[test]
fn raises_after_exactly_three_bad_intervals_and_clears_after_exactly_ten_good() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    assert!(e.judge(S, &bad(S), 0).is_empty());
    assert!(e.judge(2 * S, &bad(2 * S), 0).is_empty(), "not after 2");
    let out = e.judge(3 * S, &bad(3 * S), 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::MaxLossPct)]
    );
    let a = &out[0];
    assert_eq!((a.time, a.raised), (3 * S, 3 * S));
    assert_eq!((a.value, a.threshold), (Some(12.5), Some(5.0)));
    assert_eq!(a.flow, Some(name(0)));
    assert_eq!(a.group.as_deref(), Some("cams"));
    assert!(a.notify());
    assert_eq!(
        a.text,
        "max_loss_pct: 12.5 > 5 on 10.20.0.1:5004>239.1.0.1:5004/0x00000100 (group cams), 3 intervals in a row"
    );
    // Still bad: nothing new.
    assert!(e.judge(4 * S, &bad(4 * S), 0).is_empty());
    // 9 good, one bad (the run starts again), then 10 good.
    for k in 5..14 {
        assert!(e.judge(k * S, &good(k * S), 0).is_empty());
    }
    assert!(e.judge(14 * S, &bad(14 * S), 0).is_empty());
    for k in 15..24 {
        assert!(e.judge(k * S, &good(k * S), 0).is_empty(), "{k}");
    }
    let out = e.judge(24 * S, &good(24 * S), 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::MaxLossPct)]
    );
    assert_eq!((out[0].time, out[0].raised), (24 * S, 3 * S));
    assert_eq!(out[0].reason, Some(CLEARED_GOOD));
    assert_eq!(e.active_count(), 0);
    // A new episode gets a new id.
    for k in 25..28 {
        let out = e.judge(k * S, &bad(k * S), 0);
        if k == 27 {
            assert_eq!(
                states(&out),
                vec![(2, AlarmState::Raised, AlarmRule::MaxLossPct)]
            );
        }
    }
}

#[test]
fn a_good_interval_between_resets_the_bad_run_and_no_verdict_holds_it() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    let mut all = Vec::new();
    all.extend(e.judge(S, &bad(S), 0));
    all.extend(e.judge(2 * S, &bad(2 * S), 0));
    all.extend(e.judge(3 * S, &good(3 * S), 0));
    all.extend(e.judge(4 * S, &bad(4 * S), 0));
    all.extend(e.judge(5 * S, &bad(5 * S), 0));
    assert!(all.is_empty());
    // No record, and a record of no packets (a TS outage's): no verdict, the run of 2 holds.
    assert!(e.judge(6 * S, &[], 0).is_empty());
    let mut r = flow(0, 7 * S, None);
    if let Record::Flow(f) = &mut r {
        f.packets = 0;
    }
    assert!(e.judge(7 * S, &[r], 0).is_empty());
    assert_eq!(e.judge(8 * S, &bad(8 * S), 0).len(), 1);
}

/// A group's SLA removed by a reload, or the flow moved out of its group: its records have
/// packets and no `sla`, which keeps every limit, so its SLA alarms clear after
/// `clear_after` of them. Before: no verdict, the alarm stuck.
#[test]
fn records_with_packets_and_no_sla_clear_sla_alarms() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    for k in 1..3 {
        e.judge(k * S, &bad(k * S), 0);
    }
    let out = e.judge(3 * S, &bad(3 * S), 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::MaxLossPct)]
    );
    for k in 4..13 {
        assert!(e.judge(k * S, &[flow(0, k * S, None)], 0).is_empty());
    }
    let out = e.judge(13 * S, &[flow(0, 13 * S, None)], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::MaxLossPct)]
    );
    assert_eq!(out[0].reason, Some(CLEARED_GOOD));
    // And a bad run is broken by one: bad, bad, no SLA, bad raises nothing.
    let mut all = Vec::new();
    for (k, r) in [
        bad(14 * S),
        bad(15 * S),
        vec![flow(0, 16 * S, None)],
        bad(17 * S),
    ]
    .into_iter()
    .enumerate()
    {
        all.extend(e.judge((14 + k as i64) * S, &r, 0));
    }
    assert!(all.is_empty());
    assert_eq!((e.active_count(), e.flows_held()), (0, 1));
}

#[test]
fn a_limit_not_judged_is_no_verdict() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    e.judge(S, &bad(S), 0);
    e.judge(2 * S, &bad(2 * S), 0);
    let mut r = flow(0, 3 * S, Some(0.0));
    if let Record::Flow(f) = &mut r {
        f.sla.as_mut().unwrap().not_judged.push("max_loss_pct");
    }
    assert!(e.judge(3 * S, &[r], 0).is_empty());
    assert_eq!(e.judge(4 * S, &bad(4 * S), 0).len(), 1, "the run held at 2");
}

#[test]
fn tr101290_priority_1_only() {
    let mut e = AlarmEngine::new(AlarmSettings {
        raise_after: 1,
        clear_after: 1,
        ..AlarmSettings::default()
    });
    let with = |t, index: usize| {
        let mut r = flow(0, t, None);
        if let Record::Flow(f) = &mut r {
            let mut c = IndicatorCounts::default();
            c.0[index] = 4;
            f.tr101290 = Some(c);
        }
        r
    };
    // transport_error is priority 2: no alarm.
    assert!(e.judge(S, &[with(S, 6)], 0).is_empty());
    let out = e.judge(2 * S, &[with(2 * S, 3)], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::Tr101290P1)]
    );
    assert_eq!((out[0].value, out[0].threshold), (Some(4.0), None));
    let out = e.judge(3 * S, &[with(3 * S, 6)], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::Tr101290P1)]
    );
}

#[test]
fn silent_raises_once_silent_for_silent_s_and_clears_with_packets() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    e.judge(S, &[flow(0, S, None)], 0);
    // The run's silence event after 2 s: the last packet was at 0.7 s.
    assert!(e
        .judge(3 * S, &[event(0, 3 * S, FlowEvent::Silent, Some(2.3))], 0)
        .is_empty());
    assert!(e.judge(4 * S, &[], 0).is_empty());
    assert!(e.judge(5 * S, &[], 0).is_empty(), "4.3 s < 5 s");
    let out = e.judge(6 * S, &[], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::Silent)]
    );
    assert_eq!((out[0].value, out[0].threshold), (Some(5.3), Some(5.0)));
    assert_eq!(
        out[0].text,
        "silent: no packet for 5.3 s on 10.20.0.1:5004>239.1.0.1:5004/0x00000100 (group cams)"
    );
    assert!(e.judge(7 * S, &[], 0).is_empty());
    // Back: 10 intervals with packets clear it.
    let back = vec![
        event(0, 8 * S, FlowEvent::Resumed, Some(6.0)),
        flow(0, 8 * S, None),
    ];
    assert!(e.judge(8 * S, &back, 0).is_empty());
    for k in 9..17 {
        assert!(e.judge(k * S, &[flow(0, k * S, None)], 0).is_empty());
    }
    let out = e.judge(17 * S, &[flow(0, 17 * S, None)], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::Silent)]
    );
}

/// Flow 0's 4-tuple, sending SSRC `ssrc`.
fn with_ssrc(ssrc: u32) -> FlowName {
    FlowName {
        ssrc: Some(ssrc),
        ..name(0)
    }
}

/// The `ssrc_change` event of flow 0's stream (SSRC 0x100) replaced by `new`.
fn ssrc_change(t: i64, new: u32) -> Record {
    Record::Event(Box::new(EventRecord {
        schema: SCHEMA,
        kind_of_record: "event",
        time: t,
        event: FlowEvent::SsrcChange,
        name: name(0),
        silent_s: None,
        new_ssrc: Some(new),
        violations: None,
    }))
}

/// A camera that reboots while silent: the old SSRC's `silent` alarm clears with the
/// change (the change is an event, not an alarm), and its state goes.
#[test]
fn an_ssrc_change_clears_the_replaced_streams_silent_alarm() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    e.judge(S, &[flow(0, S, None)], 0);
    e.judge(3 * S, &[event(0, 3 * S, FlowEvent::Silent, Some(2.3))], 0);
    let out = e.judge(6 * S, &[], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::Silent)]
    );
    // Back with SSRC 0x200 (a new stream, its own state).
    let mut back = flow(0, 7 * S, None);
    if let Record::Flow(f) = &mut back {
        f.name = with_ssrc(0x200);
    }
    let out = e.judge(7 * S, &[ssrc_change(7 * S, 0x200), back], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::Silent)]
    );
    assert_eq!(out[0].flow, Some(name(0)));
    assert_eq!(out[0].reason, Some(CLEARED_SSRC_CHANGE));
    assert_eq!(
        out[0].text,
        "silent cleared on 10.20.0.1:5004>239.1.0.1:5004/0x00000100 (group cams): its SSRC changed (a new stream replaced it)"
    );
    // Only the new stream's state is held.
    assert_eq!((e.active_count(), e.flows_held()), (0, 1));
    for k in 8..30 {
        assert!(e.judge(k * S, &[], 0).is_empty());
    }
}

/// A camera that reboots while sending: the analyzer tells the replaced stream silent
/// later; no alarm is raised on it while its 4-tuple sends another SSRC.
#[test]
fn a_replaced_stream_told_silent_raises_nothing() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    e.judge(S, &[flow(0, S, None)], 0);
    let mut new = flow(0, 2 * S, None);
    if let Record::Flow(f) = &mut new {
        f.name = with_ssrc(0x200);
    }
    assert!(e
        .judge(2 * S, &[ssrc_change(2 * S, 0x200), new], 0)
        .is_empty());
    // The old stream's last packet at 1.9 s; the run tells it silent at 4 s.
    let silent = event(0, 4 * S, FlowEvent::Silent, Some(2.1));
    assert!(e.judge(4 * S, &[silent], 0).is_empty());
    for k in 5..400 {
        assert!(e.judge(k * S, &[], 0).is_empty(), "at {k} s");
    }
    assert_eq!((e.active_count(), e.flows_held()), (0, 1));
    // The new stream's own silence still raises.
    let silent = Record::Event(Box::new(EventRecord {
        name: with_ssrc(0x200),
        ..match event(0, 400 * S, FlowEvent::Silent, Some(2.0)) {
            Record::Event(e) => *e,
            Record::Flow(_) => unreachable!(),
        }
    }));
    e.judge(400 * S, &[silent], 0);
    let out = e.judge(403 * S, &[], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::Silent)]
    );
    assert_eq!(out[0].flow, Some(with_ssrc(0x200)));
}

#[test]
fn kernel_drops_are_a_probe_alarm() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    assert!(e.judge(S, &[], 5).is_empty());
    assert!(e.judge(2 * S, &[], 5).is_empty());
    let out = e.judge(3 * S, &[], 7);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Raised, AlarmRule::KernelDrops)]
    );
    assert_eq!(out[0].flow, None);
    assert_eq!(out[0].value, Some(7.0));
    for k in 4..13 {
        assert!(e.judge(k * S, &[], 0).is_empty());
    }
    let out = e.judge(13 * S, &[], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::KernelDrops)]
    );
}

#[test]
fn an_expired_flow_clears_its_alarms_and_leaves_no_state() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    for k in 1..4 {
        e.judge(k * S, &bad(k * S), 0);
    }
    assert_eq!(e.active_count(), 1);
    let out = e.judge(
        300 * S,
        &[event(0, 300 * S, FlowEvent::Expired, Some(297.0))],
        0,
    );
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::MaxLossPct)]
    );
    assert_eq!(out[0].reason, Some(CLEARED_EXPIRED));
    assert!(out[0]
        .text
        .ends_with("the flow expired (no packet for the flow timeout)"));
    assert_eq!((e.active_count(), e.flows_held()), (0, 0));
}

#[test]
fn forgotten_flows_clear_in_flow_order_whatever_order_the_workers_told() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    for k in 1..4 {
        let records: Vec<Record> = (0..3).map(|i| flow(i, k * S, Some(50.0))).collect();
        e.judge(k * S, &records, 0);
    }
    // Flows 0, 1, 2 raised ids 1, 2, 3; they end in the order 2, 0, 1.
    let t = 300 * S;
    let out = e.judge(
        t,
        &[
            event(2, t, FlowEvent::Evicted, None),
            event(0, t, FlowEvent::Evicted, None),
            event(1, t, FlowEvent::Evicted, None),
        ],
        0,
    );
    assert_eq!(
        states(&out),
        vec![
            (1, AlarmState::Cleared, AlarmRule::MaxLossPct),
            (2, AlarmState::Cleared, AlarmRule::MaxLossPct),
            (3, AlarmState::Cleared, AlarmRule::MaxLossPct),
        ]
    );
}

/// `n` flows breaking their loss limit for three intervals.
fn band(e: &mut AlarmEngine, n: u32) -> Vec<AlarmRecord> {
    let mut out = Vec::new();
    for k in 1..4 {
        let records: Vec<Record> = (0..n).map(|i| flow(i, k * S, Some(50.0))).collect();
        out.extend(e.judge(k * S, &records, 0));
    }
    out
}

#[test]
fn fifty_flows_are_fifty_messages_and_fifty_one_are_one_summary() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    let out = band(&mut e, 50);
    assert_eq!(out.len(), 50);
    assert!(out.iter().all(|a| a.notify() && a.summary.is_none()));
    let mut e = AlarmEngine::new(AlarmSettings::default());
    let out = band(&mut e, 51);
    assert_eq!(out.len(), 52, "every flow's alarm, and the summary");
    let summary = &out[51];
    assert_eq!(summary.id, 52);
    assert_eq!(summary.state, AlarmState::Raised);
    assert!(summary.notify() && summary.flow.is_none());
    let s = summary.summary.as_ref().unwrap();
    assert_eq!(s.count, 51);
    assert_eq!(s.shared.group.as_deref(), Some("cams"));
    assert_eq!(s.shared.vlan, Some(310));
    assert_eq!(s.shared.src_prefix.as_deref(), Some("10.20.0.0/26"));
    assert_eq!(s.shared.kind, Some(FlowKind::Rtp));
    assert_eq!(
        summary.text,
        "max_loss_pct raised on 51 flows at once: all group cams, from 10.20.0.0/26, to 239.1.0.0/26, VLAN 310, rtp"
    );
    let ids: Vec<u64> = out[..51].iter().map(|a| a.id).collect();
    assert_eq!(ids, (1..=51).collect::<Vec<u64>>());
    assert!(out[..51]
        .iter()
        .all(|a| a.summarised_in == Some(52) && !a.notify()));
    // All but one clear: the summary stays; the last one clears it.
    let mut cleared = Vec::new();
    for k in 4..14 {
        let records: Vec<Record> = (0..51)
            .map(|i| flow(i, k * S, Some(if i == 50 { 50.0 } else { 0.0 })))
            .collect();
        cleared.extend(e.judge(k * S, &records, 0));
    }
    assert_eq!(cleared.len(), 50);
    assert!(cleared
        .iter()
        .all(|a| a.state == AlarmState::Cleared && !a.notify()));
    let out = e.judge(
        14 * S,
        &[event(50, 14 * S, FlowEvent::Evicted, Some(1.0))],
        0,
    );
    assert_eq!(
        states(&out),
        vec![
            (51, AlarmState::Cleared, AlarmRule::MaxLossPct),
            (52, AlarmState::Cleared, AlarmRule::MaxLossPct)
        ]
    );
    assert_eq!(out[0].reason, Some(CLEARED_EVICTED));
    assert_eq!(out[1].reason, Some(CLEARED_FLOWS));
    assert!(out[1].notify() && !out[0].notify());
    assert_eq!(e.active_count(), 0);
}

#[test]
fn an_ack_records_who_once_and_the_alarm_stays_until_it_clears() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    for k in 1..4 {
        e.judge(k * S, &bad(k * S), 0);
    }
    let ack = AckRequest {
        id: 1,
        by: "alice".into(),
        time_ns: 1_800_000_000 * S,
        note: Some("looking".into()),
    };
    let out = e.acknowledge(4 * S, &ack).unwrap();
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Acknowledged, AlarmRule::MaxLossPct)]
    );
    assert_eq!(out[0].ack.as_ref().unwrap().by, "alice");
    assert_eq!(out[0].raised, 3 * S);
    assert_eq!(
        e.acknowledge(4 * S, &ack),
        Err(AckRefused::AlreadyAcknowledged)
    );
    assert_eq!(
        e.acknowledge(
            4 * S,
            &AckRequest {
                id: 9,
                ..ack.clone()
            }
        ),
        Err(AckRefused::NotActive)
    );
    assert_eq!(e.active_count(), 1);
    let mut last = Vec::new();
    for k in 4..14 {
        last = e.judge(k * S, &good(k * S), 0);
    }
    assert_eq!(
        states(&last),
        vec![(1, AlarmState::Cleared, AlarmRule::MaxLossPct)]
    );
    assert_eq!(
        last[0].ack.as_ref().unwrap().note.as_deref(),
        Some("looking")
    );
    assert_eq!(e.acknowledge(14 * S, &ack), Err(AckRefused::NotActive));
}

#[test]
fn acking_a_flood_summary_acks_its_flows_quietly() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    band(&mut e, 51);
    let out = e
        .acknowledge(
            4 * S,
            &AckRequest {
                id: 52,
                by: "bob".into(),
                time_ns: 0,
                note: None,
            },
        )
        .unwrap();
    assert_eq!(out.len(), 52);
    assert_eq!(out.iter().filter(|a| a.notify()).count(), 1);
    assert!(out.iter().all(|a| a.state == AlarmState::Acknowledged));
}

#[test]
fn ids_continue_after_the_stores() {
    let mut e = AlarmEngine::new(AlarmSettings::default()).continue_after(41);
    let out = band(&mut e, 1);
    assert_eq!(out[0].id, 42);
}

#[test]
fn the_record_is_written_as_the_schema_says() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    let out = band(&mut e, 1);
    let v = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(v["schema"], "streamprobe.alarm/1");
    assert_eq!(v["type"], "alarm");
    assert_eq!(v["state"], "raised");
    assert_eq!(v["rule"], "max_loss_pct");
    assert_eq!(v["flow"], "10.20.0.1:5004>239.1.0.1:5004/0x00000100");
    assert_eq!(v["time"], "1970-01-01T00:00:03.000000000Z");
    assert_eq!(v["raised"], v["time"]);
    assert!(v["reason"].is_null() && v["ack"].is_null() && v["summary"].is_null());
}

/// One interval of the property test: per flow, none (no record), good, bad, or expired;
/// kernel drops; and an ack of some id.
fn interval() -> impl Strategy<Value = (Vec<u8>, u64, Option<u64>)> {
    (
        proptest::collection::vec(0u8..5, 4),
        prop_oneof![Just(0u64), 1u64..3],
        proptest::option::of(1u64..20),
    )
}

proptest! {
    #[test]
    fn every_episode_is_raised_once_then_cleared_at_most_once(
        intervals in proptest::collection::vec(interval(), 1..80),
        raise_after in 1u32..4,
        clear_after in 1u32..4,
        flood_threshold in 1u32..4,
    ) {
        let mut e = AlarmEngine::new(AlarmSettings {
            raise_after,
            clear_after,
            silent_ns: 3 * S,
            flood_threshold,
        });
        let mut all: Vec<AlarmRecord> = Vec::new();
        for (k, (flows, drops, ack)) in intervals.iter().enumerate() {
            let t = (k as i64 + 1) * S;
            if let Some(id) = ack {
                if let Ok(out) = e.acknowledge(t, &AckRequest { id: *id, by: "p".into(), time_ns: t, note: None }) {
                    all.extend(out);
                }
            }
            let mut records = Vec::new();
            for (i, what) in flows.iter().enumerate() {
                let i = i as u32;
                match what {
                    0 => {}
                    1 => records.push(flow(i, t, Some(0.0))),
                    2 => records.push(flow(i, t, Some(9.0))),
                    3 => records.push(event(i, t, FlowEvent::Silent, Some(2.0))),
                    _ => records.push(event(i, t, FlowEvent::Expired, Some(9.0))),
                }
            }
            all.extend(e.judge(t, &records, *drops));
        }
        let mut by_id: BTreeMap<u64, Vec<&AlarmRecord>> = BTreeMap::new();
        for a in &all {
            by_id.entry(a.id).or_default().push(a);
        }
        for (id, records) in &by_id {
            prop_assert_eq!(records[0].state, AlarmState::Raised, "{}", id);
            let raised = records.iter().filter(|a| a.state == AlarmState::Raised).count();
            let cleared = records.iter().filter(|a| a.state == AlarmState::Cleared).count();
            prop_assert_eq!(raised, 1);
            prop_assert!(cleared <= 1);
            if cleared == 1 {
                prop_assert_eq!(records.last().unwrap().state, AlarmState::Cleared);
            }
            prop_assert!(records.windows(2).all(|w| w[0].time <= w[1].time));
            prop_assert!(records.iter().all(|a| a.raised == records[0].time && a.rule == records[0].rule));
        }
        let open = by_id.values().filter(|r| r.last().unwrap().state != AlarmState::Cleared).count();
        prop_assert_eq!(open, e.active_count());
    }
}

mod lost;
