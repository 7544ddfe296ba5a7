//! Files that are not stores of this version are refused with one clear line, and nothing
//! panics on a bad file.

mod common;

use store::{Store, StoreError, StoreReader, StoreSettings};

fn open_err(path: &std::path::Path) -> StoreError {
    Store::open(path, StoreSettings::default()).expect_err("must be refused")
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.db");
    drop(Store::open(&path, StoreSettings::default()).expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch("PRAGMA user_version = 7")
        .expect("set version");
    drop(conn);
    let want = format!(
        "{}: schema version 7 is newer than this streamprobe's (2): upgrade streamprobe",
        path.display()
    );
    assert_eq!(open_err(&path).to_string(), want);
    assert_eq!(
        StoreReader::open(&path).expect_err("refused").to_string(),
        want
    );
}

#[test]
fn another_programs_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.db");
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch(
        "CREATE TABLE meta (a, b); INSERT INTO meta VALUES (1, 2); PRAGMA user_version = 3;",
    )
    .expect("other schema");
    drop(conn);
    let before = std::fs::read(&path).expect("read");
    let want = format!(
        "{}: not a streamprobe store (no streamprobe schema)",
        path.display()
    );
    assert_eq!(open_err(&path).to_string(), want);
    assert_eq!(
        StoreReader::open(&path).expect_err("refused").to_string(),
        want
    );
    assert_eq!(std::fs::read(&path).expect("read"), before, "not written");
}

#[test]
fn a_text_file_is_not_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.db");
    std::fs::write(&path, "hello, I am text\n".repeat(100)).expect("write");
    let want = format!("{}: file is not a database", path.display());
    assert_eq!(open_err(&path).to_string(), want);
    assert_eq!(
        StoreReader::open(&path).expect_err("refused").to_string(),
        want
    );
}

#[test]
fn a_missing_store_for_a_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("none.db");
    assert_eq!(
        StoreReader::open(&path).expect_err("missing").to_string(),
        format!("{}: no such store", path.display())
    );
    assert!(!path.exists(), "a reader creates nothing");
}

/// A store whose pages are overwritten with garbage: every call gives a value or an error,
/// never a panic.
#[test]
fn damaged_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("good.db");
    {
        let mut store = Store::open(&path, StoreSettings::default()).expect("create");
        let mut rng = common::Rng(5);
        for s in 0..130 {
            let t = common::T0 + s * common::SECOND;
            let records: Vec<_> = (0..20).map(|i| common::varied(i, t, &mut rng)).collect();
            store.write_interval(t, &records, &[]).expect("write");
        }
    }
    let good = std::fs::read(&path).expect("read");
    let mut rng = common::Rng(99);
    for trial in 0..40 {
        let bad_path = dir.path().join(format!("bad{trial}.db"));
        let mut bytes = good.clone();
        // Keep the header for half of the trials so that SQLite reads into the pages.
        let from = if trial % 2 == 0 { 100 } else { 0 };
        for _ in 0..(1 + trial * 3) {
            let at = from + (rng.next() as usize) % (bytes.len() - from);
            bytes[at] = rng.next() as u8;
        }
        std::fs::write(&bad_path, &bytes).expect("write");
        let flow = common::name(2, true).id();
        if let Ok(r) = StoreReader::open(&bad_path) {
            let _ = r.samples(&flow, 0, i64::MAX);
            let _ = r.history(&flow, 0, i64::MAX, None);
            let _ = r.history(
                &flow,
                common::T0,
                common::T0 + 3_600 * common::SECOND,
                Some(60),
            );
            let _ = r.flows();
            let _ = r.events(0, None, 10);
        }
        if let Ok(mut s) = Store::open(&bad_path, StoreSettings::default()) {
            let t = common::T0 + 200 * common::SECOND;
            let _ = s.write_interval(t, &[common::varied(2, t, &mut rng)], &[]);
        }
    }
}

/// Query arguments out of any sensible range are errors or empty answers.
#[test]
fn odd_query_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.db");
    let mut store = Store::open(&path, StoreSettings::default()).expect("create");
    let mut rng = common::Rng(5);
    let t = common::T0;
    store
        .write_interval(t, &[common::steady(0, t, &mut rng)], &[])
        .expect("write");
    let r = store.reader().expect("reader");
    let flow = common::name(0, false).id();
    assert!(r.history(&flow, 0, i64::MAX, Some(0)).is_err());
    assert!(r.history(&flow, 0, i64::MAX, Some(-5)).is_err());
    assert!(r
        .history(&flow, i64::MIN, i64::MAX, Some(i64::MAX))
        .is_err());
    assert_eq!(
        r.history(&flow, i64::MIN, i64::MAX, None)
            .expect("ok")
            .points
            .len(),
        1
    );
    assert_eq!(
        r.history(&flow, i64::MAX, i64::MIN, None)
            .expect("ok")
            .points
            .len(),
        0
    );
    assert_eq!(
        r.history("nope", 0, i64::MAX, Some(1))
            .expect("ok")
            .points
            .len(),
        0
    );
    assert_eq!(
        r.events(i64::MIN, Some("nope"), usize::MAX)
            .expect("ok")
            .len(),
        0
    );
    drop(store);
    // Every i64 time has keys in every tier (year 1677 to 2262).
    for (i, far) in [i64::MAX - 5, i64::MIN + 5].into_iter().enumerate() {
        let path = dir.path().join(format!("far{i}.db"));
        let mut store = Store::open(&path, StoreSettings::default()).expect("create");
        let r = store.reader().expect("reader");
        store
            .write_interval(far, &[common::steady(0, far, &mut rng)], &[])
            .expect("writes");
        let got = r
            .samples(&flow, far.saturating_sub(1), far.saturating_add(1))
            .expect("reads");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].time_ns, far);
    }
}
