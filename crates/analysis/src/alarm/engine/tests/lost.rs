//! Forgotten flows whose `silent` episode stays active (the lost flows).

use super::*;

/// Flow `i` sent at 1 s, the run told it silent at 3 s (last packet at 1 s): `silent`
/// raised at 6 s.
fn silent_from_6_s(e: &mut AlarmEngine, flows: std::ops::Range<u32>) -> Vec<AlarmRecord> {
    let mut out = Vec::new();
    out.extend(e.judge(
        S,
        &flows.clone().map(|i| flow(i, S, None)).collect::<Vec<_>>(),
        0,
    ));
    let silent: Vec<Record> = flows
        .map(|i| event(i, 3 * S, FlowEvent::Silent, Some(2.0)))
        .collect();
    out.extend(e.judge(3 * S, &silent, 0));
    for k in 4..7 {
        out.extend(e.judge(k * S, &[], 0));
    }
    out
}

/// A dead camera is no less dead for being forgotten: its `silent` episode stays active
/// (no `cleared` at the expiry), its other alarms clear `expired`, and the episode clears
/// by good intervals once the flow is back.
#[test]
fn a_forgotten_silent_flow_stays_raised_until_it_is_back() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    // max_loss_pct raised at 3 s (id 1), then silent from 3 s: raised at 8 s (id 2).
    for k in 1..4 {
        e.judge(k * S, &bad(k * S), 0);
    }
    e.judge(5 * S, &[event(0, 5 * S, FlowEvent::Silent, Some(2.0))], 0);
    let out = e.judge(8 * S, &[], 0);
    assert_eq!(
        states(&out),
        vec![(2, AlarmState::Raised, AlarmRule::Silent)]
    );
    let out = e.judge(
        303 * S,
        &[event(0, 303 * S, FlowEvent::Expired, Some(300.0))],
        0,
    );
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::MaxLossPct)]
    );
    assert_eq!(out[0].reason, Some(CLEARED_EXPIRED));
    assert_eq!((e.active_count(), e.flows_held(), e.lost_held()), (1, 0, 1));
    for k in 304..400 {
        assert!(e.judge(k * S, &[], 0).is_empty());
    }
    // Acknowledged while lost.
    let ack = AckRequest {
        id: 2,
        by: "noc".into(),
        time_ns: 350 * S,
        note: None,
    };
    let acked = e.acknowledge(400 * S, &ack).unwrap();
    assert_eq!(
        states(&acked),
        vec![(2, AlarmState::Acknowledged, AlarmRule::Silent)]
    );
    // Back at 400 s: the tenth interval with packets clears it.
    for k in 400..409 {
        assert!(e.judge(k * S, &[flow(0, k * S, None)], 0).is_empty());
    }
    let out = e.judge(409 * S, &[flow(0, 409 * S, None)], 0);
    assert_eq!(
        states(&out),
        vec![(2, AlarmState::Cleared, AlarmRule::Silent)]
    );
    assert_eq!((out[0].reason, out[0].raised), (Some(CLEARED_GOOD), 8 * S));
    assert_eq!(out[0].ack.as_ref().map(|a| a.by.as_str()), Some("noc"));
    assert_eq!((e.active_count(), e.flows_held(), e.lost_held()), (0, 1, 0));
}

/// Past the cap of lost flows, the oldest lost is cleared `expired`.
#[test]
fn lost_flows_past_the_cap_clear_the_oldest() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    e.lost_cap = 2;
    let out = silent_from_6_s(&mut e, 0..3);
    assert_eq!(
        states(&out),
        vec![
            (1, AlarmState::Raised, AlarmRule::Silent),
            (2, AlarmState::Raised, AlarmRule::Silent),
            (3, AlarmState::Raised, AlarmRule::Silent),
        ]
    );
    // Flows 1, 2 expire at 300 s; flow 0 at 301 s: flow 1 is the oldest lost.
    let expired = |i, t| event(i, t, FlowEvent::Expired, Some(299.0));
    assert!(e
        .judge(300 * S, &[expired(1, 300 * S), expired(2, 300 * S)], 0)
        .is_empty());
    let out = e.judge(301 * S, &[expired(0, 301 * S)], 0);
    assert_eq!(
        states(&out),
        vec![(2, AlarmState::Cleared, AlarmRule::Silent)]
    );
    assert_eq!(out[0].flow, Some(name(1)));
    assert_eq!(out[0].reason, Some(CLEARED_EXPIRED));
    assert_eq!((e.active_count(), e.lost_held()), (2, 2));
}

/// A lost RTP stream whose 4-tuple comes back with another SSRC (a camera that rebooted
/// after it expired) was replaced: its `silent` clears `ssrc_change`.
#[test]
fn a_lost_stream_replaced_by_another_ssrc_clears() {
    let mut e = AlarmEngine::new(AlarmSettings::default());
    silent_from_6_s(&mut e, 0..1);
    assert!(e
        .judge(
            300 * S,
            &[event(0, 300 * S, FlowEvent::Expired, Some(299.0))],
            0
        )
        .is_empty());
    let mut new = flow(0, 500 * S, None);
    if let Record::Flow(f) = &mut new {
        f.name = with_ssrc(0x200);
    }
    let out = e.judge(500 * S, &[new], 0);
    assert_eq!(
        states(&out),
        vec![(1, AlarmState::Cleared, AlarmRule::Silent)]
    );
    assert_eq!(
        (out[0].flow, out[0].reason),
        (Some(name(0)), Some(CLEARED_SSRC_CHANGE))
    );
    assert_eq!((e.active_count(), e.flows_held(), e.lost_held()), (0, 1, 0));
}
