//! Alarm records in the store: written with their interval, read back as the JSON the bus
//! carried, filtered and paged; ids go on after a restart; a version-1 file is upgraded.

mod common;

use analysis::alarm::{AlarmEngine, AlarmRecord, AlarmSettings};
use analysis::interval::Record;
use common::{steady, Rng, SECOND, T0};
use store::{AlarmQuery, Store, StoreReader, StoreSettings};

/// Two flows, flow 1 losing 40 % for intervals 1-3, then healthy until it clears at 13;
/// each interval's records and alarms.
fn intervals() -> Vec<(i64, Vec<Record>, Vec<AlarmRecord>)> {
    let mut engine = AlarmEngine::new(AlarmSettings::default());
    let mut rng = Rng(7);
    let mut out = Vec::new();
    for k in 1..=14 {
        let t = T0 + k * SECOND;
        let records: Vec<Record> = (0..2)
            .map(|i| {
                let mut r = steady(i, t, &mut rng);
                r.group = Some("cams".into());
                r.sla = Some(analysis::report::SlaReport {
                    violations: if i == 1 && k <= 3 {
                        vec![analysis::report::SlaViolation {
                            limit: "max_loss_pct",
                            threshold: 1.0,
                            value: 40.0,
                        }]
                    } else {
                        vec![]
                    },
                    not_judged: vec![],
                });
                Record::Flow(Box::new(r))
            })
            .collect();
        let alarms = engine.judge(t, &records, 0);
        out.push((t, records, alarms));
    }
    out
}

fn write(store: &mut Store, intervals: &[(i64, Vec<Record>, Vec<AlarmRecord>)]) {
    for (t, records, alarms) in intervals {
        let flows: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Flow(f) => Some(&**f),
                _ => None,
            })
            .collect();
        let alarms: Vec<&AlarmRecord> = alarms.iter().collect();
        store
            .write_interval_with_alarms(*t, &flows, &[], &alarms)
            .expect("write");
    }
}

fn all(from_ns: i64, to_ns: i64) -> AlarmQuery {
    AlarmQuery {
        from_ns,
        to_ns,
        limit: 100,
        ..AlarmQuery::default()
    }
}

#[test]
fn alarms_are_stored_with_their_interval_and_read_back_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    assert_eq!(store.max_alarm_id().unwrap(), 0);
    let intervals = intervals();
    let written: Vec<&AlarmRecord> = intervals.iter().flat_map(|i| &i.2).collect();
    assert_eq!(written.len(), 2, "one raised, one cleared");
    write(&mut store, &intervals);
    let reader = StoreReader::open(&path).expect("reader");
    let got = reader.alarms(&all(0, i64::MAX)).unwrap();
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(&written) {
        assert_eq!(g.record, serde_json::to_string(w).unwrap());
        assert_eq!((g.id, g.time_ns, g.raised_ns), (1, w.time, T0 + 3 * SECOND));
        assert_eq!(g.flow.as_deref(), Some(w.flow.unwrap().id().as_str()));
        assert_eq!(g.group.as_deref(), Some("cams"));
    }
    assert_eq!(
        (got[0].state.as_str(), got[1].state.as_str()),
        ("raised", "cleared")
    );
    assert_eq!(got[1].time_ns, T0 + 13 * SECOND);
    // Filters, the time range [from, to), paging, open episodes.
    let q = |f: &dyn Fn(&mut AlarmQuery)| {
        let mut q = all(0, i64::MAX);
        f(&mut q);
        reader.alarms(&q).unwrap().len()
    };
    assert_eq!(q(&|q| q.rule = Some("max_df_ms".into())), 0);
    assert_eq!(q(&|q| q.rule = Some("max_loss_pct".into())), 2);
    assert_eq!(q(&|q| q.group = Some("other".into())), 0);
    assert_eq!(q(&|q| q.flow = Some(got[0].flow.clone().unwrap())), 2);
    assert_eq!(q(&|q| q.to_ns = T0 + 13 * SECOND), 1);
    assert_eq!(q(&|q| q.from_ns = T0 + 13 * SECOND), 1);
    assert_eq!(q(&|q| q.offset = 1), 1);
    assert_eq!(q(&|q| q.limit = 1), 1);
    assert_eq!(q(&|q| q.open_only = true), 0);
    assert_eq!(q(&|q| q.to_ns = T0 + 13 * SECOND), 1);
    let mut open = all(0, T0 + 13 * SECOND);
    open.open_only = true;
    assert_eq!(
        reader.alarms(&open).unwrap().len(),
        1,
        "open before its clear"
    );
    assert_eq!(reader.alarm(1).unwrap().unwrap().state, "cleared");
    assert_eq!(reader.alarm(2).unwrap(), None);
    drop(store);
    // A restart: ids go on after the store's largest.
    let store = Store::open(&path, StoreSettings::default()).expect("reopen");
    assert_eq!(store.max_alarm_id().unwrap(), 1);
}

#[test]
fn a_version_1_store_is_upgraded_by_the_writer_and_refused_by_a_reader_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    let mut rng = Rng(3);
    {
        let mut store = Store::open(&path, StoreSettings::default()).expect("create");
        let r = steady(0, T0 + SECOND, &mut rng);
        store.write_interval(T0 + SECOND, &[r], &[]).expect("write");
    }
    // Back to version 1 as it was made: no alarm table.
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch(
        "DROP TABLE alarm; UPDATE meta SET value = 'streamprobe.store/1' WHERE key = 'schema';
         PRAGMA user_version = 1;",
    )
    .expect("downgrade");
    drop(conn);
    let refused = StoreReader::open(&path).expect_err("a reader cannot upgrade");
    assert!(
        refused
            .to_string()
            .contains("streamprobe.store/1, upgraded to 2"),
        "{refused}"
    );
    let mut store = Store::open(&path, StoreSettings::default()).expect("upgrade");
    write(&mut store, &intervals());
    let reader = StoreReader::open(&path).expect("reader after the upgrade");
    assert_eq!(reader.alarms(&all(0, i64::MAX)).unwrap().len(), 2);
    let history = reader
        .history(&common::name(0, false).id(), T0, T0 + 20 * SECOND, None)
        .unwrap();
    assert!(!history.points.is_empty(), "the old data is still there");
}
