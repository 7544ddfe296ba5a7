//! Minute and hour points equal the sums, maxima and weighted means of the records they
//! cover, computed here from the records themselves; from the rolled-up tables and from the
//! finer tier alike.

mod common;

use analysis::interval::FlowRecord;
use common::*;
use std::collections::BTreeMap;
use store::{HistoryPoint, Store, StoreSettings};

const FLOWS: u32 = 4;

/// The test's own roll-up of records into buckets of `step_ns`, in integers of millionths
/// as exact sums must be (intervals here are whole seconds): the whole buckets that start in
/// [from, to).
fn expected_points(records: &[FlowRecord], step_ns: i64, from: i64, to: i64) -> Vec<HistoryPoint> {
    all_points(records, step_ns)
        .into_iter()
        .filter(|p| p.time_ns >= from && p.time_ns < to)
        .collect()
}

fn all_points(records: &[FlowRecord], step_ns: i64) -> Vec<HistoryPoint> {
    let mut buckets: BTreeMap<i64, Vec<&FlowRecord>> = BTreeMap::new();
    for r in records {
        buckets
            .entry(r.time.div_euclid(step_ns) * step_ns)
            .or_default()
            .push(r);
    }
    let u = |x: f64| (x * 1e6).round() as i64;
    buckets
        .into_iter()
        .map(|(start, rs)| {
            let secs: i64 = rs.iter().map(|r| r.interval_s as i64).sum();
            let sum_opt = |f: &dyn Fn(&FlowRecord) -> Option<u64>| {
                rs.iter()
                    .filter_map(|r| f(r))
                    .fold(None, |a: Option<u64>, v| Some(a.unwrap_or(0) + v))
            };
            let max_opt = |f: &dyn Fn(&FlowRecord) -> Option<f64>| {
                rs.iter()
                    .filter_map(|r| f(r))
                    .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
            };
            let weighted = |f: &dyn Fn(&FlowRecord) -> Option<f64>| {
                let with: Vec<(i64, i64)> = rs
                    .iter()
                    .filter_map(|r| f(r).map(|v| (u(v), r.interval_s as i64)))
                    .collect();
                let den: i64 = with.iter().map(|(_, s)| s * 1_000_000).sum();
                let num: i64 = with.iter().map(|(v, s)| v * s).sum();
                (!with.is_empty()).then(|| round6(num as f64 / den as f64))
            };
            let bytes: u64 = rs.iter().map(|r| r.bytes).sum();
            let tr = rs
                .iter()
                .filter_map(|r| r.tr101290)
                .fold(None, |a: Option<[u64; 19]>, c| {
                    let mut a = a.unwrap_or([0; 19]);
                    for (x, y) in a.iter_mut().zip(c.0) {
                        *x += y;
                    }
                    Some(a)
                });
            HistoryPoint {
                time_ns: start,
                records: rs.len() as u64,
                seconds: secs as f64,
                packets: rs.iter().map(|r| r.packets).sum(),
                bytes,
                bitrate_bps: round6(bytes as f64 * 8.0 / secs as f64),
                lost: rs.iter().map(|r| r.lost).sum(),
                recovered: sum_opt(&|r| r.recovered),
                duplicates: rs.iter().map(|r| r.duplicates).sum(),
                reordered: sum_opt(&|r| r.reordered),
                jitter_ms_max: max_opt(&|r| r.jitter_ms),
                jitter_ms_mean: weighted(&|r| r.jitter_ms),
                fps: weighted(&|r| r.fps),
                df_ms_max: max_opt(&|r| r.df_ms),
                mlr_max: max_opt(&|r| r.mlr),
                tr101290: tr,
                sla_broken_s: rs
                    .iter()
                    .filter(|r| r.sla.as_ref().is_some_and(|s| !s.violations.is_empty()))
                    .map(|r| r.interval_s)
                    .sum(),
            }
        })
        .collect()
}

/// 3 hours across midnight (so that a day is rolled into the hours table), 4 flows of
/// varied records (RTP and TS, Nones, SLA verdicts), 1- and 2-s intervals.
#[test]
fn minute_and_hour_points_are_honest_roll_ups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiers.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    let mut rng = Rng(21);
    let start = T0 - 2 * 3_600 * SECOND;
    let mut all: Vec<Vec<FlowRecord>> = vec![Vec::new(); FLOWS as usize];
    let mut t = start;
    while t < start + 3 * 3_600 * SECOND + 90 * SECOND {
        let mut records: Vec<FlowRecord> = (0..FLOWS).map(|i| varied(i, t, &mut rng)).collect();
        let interval = if rng.next() % 7 == 0 { 2 } else { 1 };
        for r in &mut records {
            r.interval_s = interval as f64;
            r.bitrate_bps = round6(r.bytes as f64 * 8.0 / r.interval_s);
        }
        // A flow silent now and then: buckets with fewer records.
        records
            .retain(|r| !(r.name.src.port() == 5000 && rng.next() % 11 == 0 && r.packets % 3 == 0));
        store.write_interval(t, &records, &[]).expect("write");
        for r in records {
            let i = (0..FLOWS)
                .position(|i| name(i, true) == r.name)
                .expect("known");
            all[i].push(r);
        }
        t += interval * SECOND;
    }
    // Let the tier work finish.
    for _ in 0..200 {
        if !store
            .write_interval(t, &[], &[])
            .expect("write")
            .work_pending
        {
            break;
        }
    }
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    };
    assert!(
        count("minutes") >= i64::from(FLOWS) * 3,
        "hours rolled into minutes"
    );
    assert!(
        count("hours") >= i64::from(FLOWS),
        "a day rolled into hours"
    );
    let reader = store.reader().expect("reader");
    let (from, to) = (start, t);
    for records in &all {
        let id = records[0].name.id();
        // Minutes: the range picks them (<= 3 days); rolled hours and the unrolled last one.
        let h = reader.history(&id, from, to, None).expect("history");
        assert_eq!((h.tier, h.step_s), ("minutes", 60));
        assert_eq!(
            h.points,
            expected_points(records, 60 * SECOND, from, to),
            "{id} minutes"
        );
        // Hours: from the hours table (yesterday), from minutes (today).
        let h = reader.history(&id, from, to, Some(3_600)).expect("history");
        assert_eq!(h.tier, "hours");
        assert_eq!(
            h.points,
            expected_points(records, 3_600 * SECOND, from, to),
            "{id} hours"
        );
        let h = reader
            .history(&id, from - 10 * 86_400 * SECOND, to + 86_400 * SECOND, None)
            .expect("history");
        assert_eq!((h.tier, h.step_s), ("hours", 3_600));
        assert_eq!(
            h.points,
            expected_points(records, 3_600 * SECOND, from, to),
            "{id} hours by range"
        );
        // Other steps: buckets of the step from the finest tier that fits.
        for (step, tier) in [(300, "minutes"), (7, "seconds"), (7_200, "hours")] {
            let h = reader.history(&id, from, to, Some(step)).expect("history");
            assert_eq!(h.tier, tier);
            assert_eq!(
                h.points,
                expected_points(records, step * SECOND, from, to),
                "{id} step {step}"
            );
        }
        // A sub-range: buckets that start in it.
        let (a, b) = (start + 3_000 * SECOND, start + 9_000 * SECOND);
        let h = reader.history(&id, a, b, Some(600)).expect("history");
        assert_eq!(
            h.points,
            expected_points(records, 600 * SECOND, a, b),
            "{id} sub-range"
        );
        let (a, b) = (start + 3_001 * SECOND, start + 9_001 * SECOND);
        let h = reader.history(&id, a, b, Some(600)).expect("history");
        assert_eq!(
            h.points,
            expected_points(records, 600 * SECOND, a, b),
            "{id} unaligned"
        );
        let h = reader.history(&id, a, b, Some(13)).expect("history");
        assert_eq!(
            h.points,
            expected_points(records, 13 * SECOND, a, b),
            "{id} unaligned 13 s"
        );
    }
}

/// Records that arrive after their hour and day were rolled up (the probe's clock stepped
/// back) are in every tier: packed with the rest, their minute's and hour's summaries
/// updated.
#[test]
fn late_records_update_rolled_summaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("late.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    let mut rng = Rng(8);
    let start = T0 - 2 * 3_600 * SECOND;
    let gap = (start + 600 * SECOND)..(start + 700 * SECOND);
    let mut all: Vec<FlowRecord> = Vec::new();
    let write = |store: &mut Store, t: i64, rng: &mut Rng, all: &mut Vec<FlowRecord>| {
        let mut records: Vec<FlowRecord> = (0..2).map(|i| varied(i * 2, t, rng)).collect();
        // Whole-second intervals: the test's own roll-up sums seconds as integers.
        for r in &mut records {
            r.interval_s = 1.0;
            r.bitrate_bps = round6(r.bytes as f64 * 8.0);
        }
        let stats = store.write_interval(t, &records, &[]).expect("write");
        assert_eq!(stats.tier_error, None);
        all.extend(records);
    };
    let end = start + 2 * 3_600 * SECOND + 300 * SECOND;
    let mut t = start;
    while t < end {
        if !gap.contains(&t) {
            write(&mut store, t, &mut rng, &mut all);
        }
        t += SECOND;
    }
    for _ in 0..200 {
        if !store
            .write_interval(end, &[], &[])
            .expect("write")
            .work_pending
        {
            break;
        }
    }
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let hours: i64 = conn
        .query_row("SELECT count(*) FROM hours", [], |r| r.get(0))
        .expect("count");
    assert!(
        hours > 0,
        "the first day was rolled before the late records come"
    );
    // The clock steps back: the gap's records now, then the present again.
    for t in gap.clone().step_by(SECOND as usize) {
        write(&mut store, t, &mut rng, &mut all);
    }
    for s in 0..120 {
        write(&mut store, end + s * SECOND, &mut rng, &mut all);
    }
    for _ in 0..200 {
        if !store
            .write_interval(end + 200 * SECOND, &[], &[])
            .expect("write")
            .work_pending
        {
            break;
        }
    }
    let reader = store.reader().expect("reader");
    let last = end + 200 * SECOND;
    for i in [0u32, 2] {
        let records: Vec<FlowRecord> = all
            .iter()
            .filter(|r| r.name == name(i, true))
            .cloned()
            .collect();
        let mut sorted = records.clone();
        sorted.sort_by_key(|r| r.time);
        let id = records[0].name.id();
        let got = reader.samples(&id, 0, i64::MAX).expect("samples");
        assert_eq!(got.len(), sorted.len());
        let h = reader.history(&id, start, last, Some(60)).expect("minutes");
        assert_eq!(
            h.points,
            expected_points(&sorted, 60 * SECOND, start, last),
            "{id} minutes"
        );
        let h = reader
            .history(&id, start, last, Some(3_600))
            .expect("hours");
        assert_eq!(
            h.points,
            expected_points(&sorted, 3_600 * SECOND, start, last),
            "{id} hours"
        );
    }
}
