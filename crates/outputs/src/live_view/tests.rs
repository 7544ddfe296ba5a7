use super::*;
use crate::probe::WorkerReport;
use analysis::frames::PayloadFormat;
use analysis::interval::{Record, SCHEMA};
use analysis::kind::FlowKind;

const S: i64 = 1_000_000_000;

fn name(port: u16) -> FlowName {
    FlowName {
        src: format!("10.0.0.1:{port}").parse().unwrap(),
        dst: "239.1.1.1:5000".parse().unwrap(),
        ssrc: Some(u32::from(port)),
        kind: FlowKind::Rtp,
    }
}

fn flow(port: u16, time: i64, lost: u64, recovered: u64, df_ms: f64, group: &str) -> Record {
    Record::Flow(Box::new(FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time,
        interval_s: 1.0,
        name: name(port),
        payload: PayloadFormat::H264,
        group: Some(group.to_string()),
        vlan: None,
        packets: 90,
        bytes: 120_000,
        bitrate_bps: 960_000.0,
        lost,
        recovered: Some(recovered),
        duplicates: 1,
        reordered: Some(0),
        jitter_ms: Some(2.5),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: Some(df_ms),
        mlr: Some(lost as f64),
        tr101290: None,
        tr101290_p1_open: None,
        sla: None,
        programs: None,
    }))
}

fn event(port: u16, time: i64, event: FlowEvent) -> Record {
    Record::Event(Box::new(EventRecord {
        schema: SCHEMA,
        kind_of_record: "event",
        time,
        event,
        name: name(port),
        silent_s: None,
        new_ssrc: None,
        violations: None,
    }))
}

fn batch(end_ns: i64, records: Vec<Record>) -> IntervalBatch {
    IntervalBatch {
        alarms: Vec::new(),
        end_ns,
        records,
        published: None,
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns,
            length_ns: S,
            ..WorkerReport::default()
        }]),
    }
}

#[test]
fn totals_and_mdi_follow_the_records_and_clear_zeroes_only_what_show_prints() {
    let mut view = View::default();
    view.apply(&batch(
        S,
        vec![
            event(1, S, FlowEvent::Appeared),
            flow(1, S, 2, 0, 10.0, "a"),
            flow(2, S, 0, 0, 4.0, "b"),
        ],
    ));
    view.apply(&batch(
        2 * S,
        vec![
            flow(1, 2 * S, 0, 1, 30.0, "a"),
            flow(2, 2 * S, 0, 0, 6.0, "b"),
        ],
    ));
    view.apply(&batch(3 * S, vec![flow(1, 3 * S, 3, 0, 20.0, "a")]));
    let f = &view.flows["10.0.0.1:1>239.1.1.1:5000/0x00000001"];
    assert_eq!(f.since_clear.intervals, 3);
    assert_eq!(f.since_clear.packets, 270);
    assert_eq!((f.since_clear.lost, f.since_clear.recovered), (5, 1));
    assert_eq!(f.since_clear.net_lost(), 4);
    let mdi = &f.since_clear.mdi;
    assert_eq!(
        (mdi.last_df_ms, mdi.max_df_ms, mdi.min_df_ms, mdi.mean_df_ms),
        (Some(20.0), Some(30.0), Some(10.0), Some(20.0))
    );
    assert_eq!(
        (mdi.last_mlr, mdi.max_mlr, mdi.min_mlr, mdi.mean_mlr),
        (
            Some(3.0),
            Some(3.0),
            Some(0.0),
            Some(5.0 / 3.0 * 1e6).map(|x: f64| x.round() / 1e6)
        )
    );
    assert_eq!((f.first_seen_ns, f.last_seen_ns), (S, 3 * S));
    assert_eq!(view.events.len(), 1);
    assert_eq!(view.clear(Some("a"), 3 * S), 1);
    let f = &view.flows["10.0.0.1:1>239.1.1.1:5000/0x00000001"];
    assert_eq!(f.since_clear, FlowTotals::default());
    assert_eq!(f.cleared_ns, 3 * S);
    assert_eq!(f.lifetime.packets, 270, "lifetime counters survive a clear");
    assert_eq!(
        view.flows["10.0.0.1:2>239.1.1.1:5000/0x00000002"]
            .since_clear
            .packets,
        180,
        "another group's totals stay"
    );
    assert_eq!(view.clear(None, 4 * S), 2);
}

#[test]
fn silent_flows_stay_until_forgotten_and_forgotten_ones_leave() {
    let mut view = View::default();
    view.apply(&batch(
        S,
        vec![flow(1, S, 0, 0, 1.0, "a"), flow(2, S, 0, 0, 1.0, "a")],
    ));
    view.apply(&batch(4 * S, vec![event(1, 4 * S, FlowEvent::Silent)]));
    assert_eq!(
        view.flows["10.0.0.1:1>239.1.1.1:5000/0x00000001"].state,
        FlowState::Silent
    );
    view.apply(&batch(
        5 * S,
        vec![
            event(1, 5 * S, FlowEvent::Resumed),
            flow(1, 5 * S, 0, 0, 1.0, "a"),
        ],
    ));
    assert_eq!(
        view.flows["10.0.0.1:1>239.1.1.1:5000/0x00000001"].state,
        FlowState::Active
    );
    view.apply(&batch(300 * S, vec![event(2, 300 * S, FlowEvent::Expired)]));
    assert_eq!(view.flows.len(), 1);
    assert_eq!(view.forgotten, 1);
    assert_eq!(view.time_ns, Some(300 * S));
}

#[test]
fn the_event_ring_keeps_the_last_events() {
    let mut view = View::default();
    for i in 0..(EVENTS_KEPT as i64 + 5) {
        view.apply(&batch(i * S, vec![event(1, i * S, FlowEvent::SlaOk)]));
    }
    assert_eq!(view.events.len(), EVENTS_KEPT);
    assert_eq!(view.events.front().unwrap().time, 5 * S);
}

/// A forgotten flow's row stays on the wall for a window, then is freed and reused; a flow
/// found again within the window goes on in its own row.
#[test]
fn forgotten_flows_stay_on_the_wall_for_a_window() {
    let mut view = View::default();
    let t0 = 1_800_000_000 * S;
    view.apply(&batch(
        t0,
        vec![flow(1, t0, 0, 0, 10.0, "g"), flow(2, t0, 0, 0, 10.0, "g")],
    ));
    let (row1, row2) = (
        view.flows[&name(1).id()].wall_row,
        view.flows[&name(2).id()].wall_row,
    );
    view.apply(&batch(
        t0 + S,
        vec![
            flow(2, t0 + S, 0, 0, 10.0, "g"),
            event(1, t0 + S, FlowEvent::Expired),
        ],
    ));
    assert_eq!(view.wall_gone.len(), 1);
    assert_eq!(view.wall_gone[&name(1).id()].wall_row, row1);
    assert_eq!(view.wall.cell(row1, 1_800_000_000 - 1), Health::Green as u8);
    assert_eq!(
        view.wall.cell(row1, 1_800_000_000),
        0,
        "forgotten: no health"
    );
    // Flow 2 forgotten, then back 10 s later: the same row, its past kept.
    view.apply(&batch(
        t0 + 2 * S,
        vec![event(2, t0 + 2 * S, FlowEvent::Expired)],
    ));
    view.apply(&batch(
        t0 + 12 * S,
        vec![flow(2, t0 + 12 * S, 0, 0, 10.0, "g")],
    ));
    assert_eq!(view.flows[&name(2).id()].wall_row, row2);
    assert_eq!(view.wall.cell(row2, 1_800_000_000), Health::Green as u8);
    assert_eq!(view.wall_gone.len(), 1);
    // A window (15 min) after flow 1 left, its row is freed, and a new flow takes it.
    let later = t0 + S + 900 * S;
    view.apply(&batch(later, vec![flow(2, later, 0, 0, 10.0, "g")]));
    assert!(view.wall_gone.is_empty());
    view.apply(&batch(later + S, vec![flow(3, later + S, 0, 0, 10.0, "g")]));
    assert_eq!(view.flows[&name(3).id()].wall_row, row1);
    assert_eq!(view.wall.rows(), 2);
}

/// A forgotten flow's `silent` episode stays active (the engine keeps it, docs/alarms.md):
/// the view keeps it in `active_alarms` while the flow is gone from `flows`, and the flow
/// found again is red until the episode clears.
#[test]
fn a_forgotten_flows_silent_alarm_stays_active_in_the_view() {
    use analysis::alarm::{AlarmEngine, AlarmSettings};
    let mut view = View::default();
    let mut engine = AlarmEngine::new(AlarmSettings::default());
    let t0 = 1_800_000_000 * S;
    let mut step = |view: &mut View, t: i64, records: Vec<Record>| {
        let mut b = batch(t, records);
        b.alarms = engine.judge(t, &b.records, 0);
        view.apply(&b);
        b.alarms.len()
    };
    step(&mut view, t0, vec![flow(1, t0, 0, 0, 10.0, "g")]);
    // Told silent at 2 s (its last packet then): raised at 7 s.
    step(
        &mut view,
        t0 + 2 * S,
        vec![event(1, t0 + 2 * S, FlowEvent::Silent)],
    );
    for k in 3..7 {
        assert_eq!(step(&mut view, t0 + k * S, vec![]), 0);
    }
    assert_eq!(step(&mut view, t0 + 7 * S, vec![]), 1);
    let id = name(1).id();
    assert_eq!(view.flows[&id].health(), Health::Red);
    // Expired at 300 s: no record, the alarm stays active, the flow leaves.
    assert_eq!(
        step(
            &mut view,
            t0 + 300 * S,
            vec![event(1, t0 + 300 * S, FlowEvent::Expired)]
        ),
        0
    );
    assert!(!view.flows.contains_key(&id));
    assert_eq!(
        view.active_alarms.keys().copied().collect::<Vec<_>>(),
        vec![1]
    );
    // Back at 400 s: red until the tenth interval with packets clears it.
    for k in 400..409 {
        assert_eq!(
            step(
                &mut view,
                t0 + k * S,
                vec![flow(1, t0 + k * S, 0, 0, 10.0, "g")]
            ),
            0
        );
        assert_eq!(view.flows[&id].health(), Health::Red, "at {k} s");
    }
    assert_eq!(
        step(
            &mut view,
            t0 + 409 * S,
            vec![flow(1, t0 + 409 * S, 0, 0, 10.0, "g")]
        ),
        1
    );
    assert!(view.active_alarms.is_empty());
    assert_eq!(
        (view.flows[&id].active_alarms, view.flows[&id].health()),
        (0, Health::Green)
    );
}
