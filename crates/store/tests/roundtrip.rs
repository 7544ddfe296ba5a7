//! Every figure of a record comes back from the per-second tier as written, from the
//! current minute's rows and from packed minutes alike; None stays None.

mod common;

use analysis::event::FlowEvent;
use common::*;
use store::{Store, StoreReader, StoreSettings};

fn write_varied(
    store: &mut Store,
    flows: u32,
    seconds: i64,
    seed: u64,
) -> Vec<Vec<analysis::interval::FlowRecord>> {
    let mut rng = Rng(seed);
    let mut all = vec![Vec::new(); flows as usize];
    for s in 0..seconds {
        let t = T0 + 30 * SECOND + s * SECOND;
        let records: Vec<_> = (0..flows).map(|i| varied(i, t, &mut rng)).collect();
        for (i, r) in records.iter().enumerate() {
            all[i].push(r.clone());
        }
        store.write_interval(t, &records, &[]).expect("write");
    }
    all
}

fn check(reader: &StoreReader, all: &[Vec<analysis::interval::FlowRecord>]) {
    for records in all {
        let id = records[0].name.id();
        let got = reader
            .samples(&id, T0, T0 + 86_400 * SECOND)
            .expect("samples");
        let want: Vec<store::Sample> = records.iter().map(expected).collect();
        assert_eq!(got.len(), want.len(), "{id}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{id}");
            // Bit-for-bit, not only ==.
            assert_eq!(g.bitrate_bps.to_bits(), w.bitrate_bps.to_bits());
            assert_eq!(g.interval_s.to_bits(), w.interval_s.to_bits());
        }
        // Raw history points carry the same figures.
        let h = reader
            .history(&id, records[0].time, records[0].time + 3_000 * SECOND, None)
            .expect("history");
        assert_eq!(h.tier, "seconds");
        assert_eq!(h.points.len(), want.len().min(3_000));
        for (p, r) in h.points.iter().zip(records) {
            assert_eq!(p.time_ns, r.time);
            assert_eq!(p.packets, r.packets);
            assert_eq!(p.bytes, r.bytes);
            assert_eq!(p.bitrate_bps, r.bitrate_bps);
            assert_eq!(p.lost, r.lost);
            assert_eq!(p.recovered, r.recovered);
            assert_eq!(p.duplicates, r.duplicates);
            assert_eq!(p.reordered, r.reordered);
            assert_eq!(p.jitter_ms_max, r.jitter_ms);
            assert_eq!(p.fps, r.fps);
            assert_eq!(p.df_ms_max, r.df_ms);
            assert_eq!(p.mlr_max, r.mlr);
            assert_eq!(p.tr101290, r.tr101290.map(|c| c.0));
            assert_eq!(p.seconds, r.interval_s);
            let broken = r.sla.as_ref().is_some_and(|s| !s.violations.is_empty());
            assert_eq!(p.sla_broken_s, if broken { r.interval_s } else { 0.0 });
        }
    }
}

/// 150 s of varied records: two packed minutes and the current one, read back exactly,
/// then again after the store is closed and opened.
#[test]
fn every_figure_round_trips_through_the_seconds_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rt.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    let all = write_varied(&mut store, 40, 150, 7);
    let reader = store.reader().expect("reader");
    check(&reader, &all);
    drop(reader);
    drop(store);
    let reader = StoreReader::open(&path).expect("reader");
    check(&reader, &all);
    // Reopening the writer packs the last minute too (a later minute is written).
    let mut store = Store::open(&path, StoreSettings::default()).expect("reopen");
    let t = T0 + 400 * SECOND;
    store.write_interval(t, &[], &[]).expect("write");
    check(&reader, &all);
}

/// Flow identities and events come back as written.
#[test]
fn flows_and_events_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ev.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    let mut rng = Rng(3);
    let t = T0 + 5 * SECOND;
    let records: Vec<_> = (0..3).map(|i| steady(i, t, &mut rng)).collect();
    let events = vec![
        event(0, t, FlowEvent::Appeared),
        event(1, t, FlowEvent::SlaBroken),
        event(2, t, FlowEvent::SsrcChange),
        event(7, t + SECOND, FlowEvent::Silent),
    ];
    store.write_interval(t, &records, &events).expect("write");
    let r = store.reader().expect("reader");
    let got = r.events(0, None, 100).expect("events");
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].flow, records[0].name.id());
    assert_eq!(got[0].event, "appeared");
    let v = got[1].violations.as_ref().expect("violations");
    assert_eq!(
        (v[0].limit.as_str(), v[0].threshold, v[0].value),
        ("min_fps", 24.0, 12.5)
    );
    assert_eq!(got[2].new_ssrc, Some(0xdead_beef));
    assert_eq!(got[3].silent_s, Some(2.5));
    assert_eq!(r.events(t + SECOND, None, 100).expect("events").len(), 1);
    assert_eq!(
        r.events(0, Some(&records[1].name.id()), 100)
            .expect("events")
            .len(),
        1
    );
    assert_eq!(r.events(0, None, 2).expect("events").len(), 2);
    let flows = r.flows().expect("flows");
    assert_eq!(
        flows.len(),
        4,
        "three records' flows and one known by its event"
    );
    let f = r.flow(&records[0].name.id()).expect("flow").expect("known");
    assert_eq!((f.kind.as_str(), f.payload.as_str()), ("rtp", "h264"));
    assert_eq!(f.group.as_deref(), Some("cameras"));
    assert_eq!(f.clock_rate_source.as_deref(), Some("rfc3551"));
    assert_eq!((f.first_seen_ns, f.last_seen_ns), (t, t));
    assert_eq!(f.ssrc, Some(0x1000));
    let silent = r.flow(&name(7, false).id()).expect("flow").expect("known");
    assert_eq!(silent.payload, "unknown");
    // last_seen follows the current minute's records.
    let t2 = t + 10 * SECOND;
    store
        .write_interval(t2, &[steady(0, t2, &mut rng)], &[])
        .expect("write");
    assert_eq!(
        r.flow(&records[0].name.id())
            .expect("flow")
            .expect("known")
            .last_seen_ns,
        t2
    );
    let all = r.flows().expect("flows");
    let f0 = all
        .iter()
        .find(|f| f.flow == records[0].name.id())
        .expect("listed");
    assert_eq!(f0.last_seen_ns, t2);
    assert!(r.flow("10.9.9.9:1>10.9.9.9:2").expect("flow").is_none());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    /// Random records at random times (within a few minutes, out of order at times).
    #[test]
    fn random_records_round_trip(seed in 1u64.., flows in 1u32..20, steps in proptest::collection::vec(0i64..200, 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        let mut store = Store::open(&path, StoreSettings::default()).expect("open");
        let mut rng = Rng(seed);
        let mut all: Vec<Vec<analysis::interval::FlowRecord>> = vec![Vec::new(); flows as usize];
        let mut used = std::collections::BTreeSet::new();
        for s in steps {
            // One record per flow per time, as the probe gives.
            if !used.insert(s) { continue; }
            let t = T0 + s * SECOND;
            let records: Vec<_> = (0..flows).map(|i| varied(i, t, &mut rng)).collect();
            for (i, r) in records.iter().enumerate() { all[i].push(r.clone()); }
            store.write_interval(t, &records, &[]).expect("write");
        }
        for records in &mut all { records.sort_by_key(|r| r.time); }
        let reader = store.reader().expect("reader");
        for records in &all {
            let got = reader.samples(&records[0].name.id(), 0, i64::MAX).expect("samples");
            let want: Vec<store::Sample> = records.iter().map(expected).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
