//! Size: bytes on disk per flow-second of steady flows, and the size cap.

mod common;

use common::*;
use store::{Store, StoreSettings};

/// Pages in use x page size, as pruning counts them (the WAL is apart).
fn used_bytes(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("sqlite");
    let q = |p: &str| -> i64 { conn.query_row(p, [], |r| r.get(0)).expect("pragma") };
    ((q("PRAGMA page_count") - q("PRAGMA freelist_count")) * q("PRAGMA page_size")) as u64
}

/// Writes `seconds` intervals of `flows` steady flows from `start`, then one interval a
/// minute later and lets the tier work finish (the last minute packed).
fn write_steady(store: &mut Store, flows: u32, start: i64, seconds: i64, rng: &mut Rng) {
    for s in 0..seconds {
        let t = start + s * SECOND;
        let records: Vec<_> = (0..flows).map(|i| steady(i, t, rng)).collect();
        store.write_interval(t, &records, &[]).expect("write");
    }
}

fn settle(store: &mut Store, t: i64) {
    for _ in 0..1000 {
        if !store
            .write_interval(t, &[], &[])
            .expect("write")
            .work_pending
        {
            return;
        }
    }
    panic!("tier work never finished");
}

/// 1,000 steady healthy flows x 10 minutes: at most 20 bytes on disk per flow-second once
/// packed, everything in the file counted (flow table, indexes, free pages excluded).
#[test]
fn steady_flows_take_at_most_20_bytes_a_flow_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("size.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    let mut rng = Rng(1);
    let (flows, seconds) = (1_000u32, 600i64);
    write_steady(&mut store, flows, T0, seconds, &mut rng);
    settle(&mut store, T0 + (seconds + 60) * SECOND);
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let recent: i64 = conn
        .query_row("SELECT count(*) FROM recent", [], |r| r.get(0))
        .expect("count");
    assert_eq!(recent, 0, "every minute packed");
    let blobs: i64 = conn
        .query_row("SELECT sum(length(blob)) FROM seconds", [], |r| r.get(0))
        .expect("sum");
    drop(conn);
    let per = used_bytes(&path) as f64 / (f64::from(flows) * seconds as f64);
    let blob_per = blobs as f64 / (f64::from(flows) * seconds as f64);
    println!("{per:.2} bytes on disk a flow-second ({blob_per:.2} in blobs)");
    assert!(per <= 20.0, "{per:.2} bytes a flow-second");
}

/// A cap a few times the data's unprunable part (the hour not yet rolled up): writing 4
/// hours past it prunes the oldest per-second detail first, keeps the pages in use under
/// the cap plus one pruning slice, and never stops inserts.
#[test]
fn the_size_cap_prunes_oldest_detail_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cap.db");
    let cap = 3_000_000u64;
    let settings = StoreSettings {
        max_size_bytes: cap,
        ..StoreSettings::default()
    };
    let mut store = Store::open(&path, settings).expect("open");
    let mut rng = Rng(2);
    let flows = 40u32;
    let hours = 4i64;
    let mut pruned = 0;
    // Slack: one pruning slice frees its pages only once done, and a minute's packing adds
    // before it prunes: 10 % of the cap.
    let slack = cap / 10;
    for s in 0..hours * 3_600 {
        let t = T0 + s * SECOND;
        let records: Vec<_> = (0..flows).map(|i| steady(i, t, &mut rng)).collect();
        let stats = store
            .write_interval(t, &records, &[])
            .expect("inserts keep working");
        pruned += stats.pruned_rows;
        if s % 600 == 599 {
            let used = used_bytes(&path);
            assert!(used <= cap + slack, "{used} bytes in use at {s} s");
        }
    }
    assert!(pruned > 0, "the cap pruned");
    let reader = store.reader().expect("reader");
    let id = name(0, false).id();
    let samples = reader.samples(&id, 0, i64::MAX).expect("samples");
    let first = samples.first().expect("some detail kept").time_ns;
    assert!(first > T0 + 3_600 * SECOND, "the oldest detail went first");
    assert_eq!(
        samples.last().expect("latest").time_ns,
        T0 + (hours * 3_600 - 1) * SECOND
    );
    // Minutes still reach back to the start: the detail went, its summaries stayed.
    let h = reader
        .history(&id, T0, T0 + 3_600 * SECOND, None)
        .expect("history");
    assert_eq!(
        h.tier, "minutes",
        "the pruned range is answered by a coarser tier"
    );
    assert_eq!(h.points.first().expect("points").time_ns, T0);
    assert_eq!(h.points.len(), 60);
    assert!(h.points.iter().all(|p| p.records == 60));
    let file = std::fs::metadata(&path).expect("file").len();
    assert!(
        file <= cap + cap / 2,
        "{file} bytes of file: free pages given back"
    );
}
