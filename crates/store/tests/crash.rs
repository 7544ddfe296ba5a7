//! kill -9 of a writing probe loses at most the interval being written: the file is intact
//! and holds every interval the child reported committed.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use store::{Store, StoreReader, StoreSettings};

const CHILD: &str = "STORE_TEST_CRASH_CHILD";
const FLOWS: u32 = 200;

/// The child: writes intervals as fast as it can and prints each committed end (does
/// nothing when run on its own).
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let mut store =
        Store::open(std::path::Path::new(&path), StoreSettings::default()).expect("open");
    let mut rng = Rng(11);
    for s in 0.. {
        let t = T0 + s * SECOND;
        let records: Vec<_> = (0..FLOWS).map(|i| steady(i, t, &mut rng)).collect();
        store.write_interval(t, &records, &[]).expect("write");
        println!("committed {t}");
    }
}

#[test]
fn kill_9_loses_at_most_the_interval_being_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..3u32 {
        let path = dir.path().join(format!("crash{round}.db"));
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("child runs");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut committed = Vec::new();
        // Past a minute or two, so that packing and roll-up slices are under way: the kill
        // lands wherever the child is.
        let wanted = 150 + 37 * round as usize;
        while committed.len() < wanted {
            let line = lines.next().expect("child alive").expect("line");
            if let Some((_, t)) = line.split_once("committed ") {
                committed.push(t.parse::<i64>().expect("time"));
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        for line in lines {
            if let Some((_, t)) = line.expect("line").split_once("committed ") {
                committed.push(t.parse::<i64>().expect("time"));
            }
        }
        let conn = rusqlite::Connection::open(&path).expect("sqlite opens");
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok");
        drop(conn);
        let reader = StoreReader::open(&path).expect("reader");
        let last = *committed.last().expect("some committed");
        for i in [0, FLOWS / 2, FLOWS - 1] {
            let samples = reader
                .samples(&name(i, false).id(), 0, i64::MAX)
                .expect("samples");
            let distinct: Vec<i64> = samples.iter().map(|s| s.time_ns).collect();
            let reported: Vec<i64> = (0..=((last - T0) / SECOND))
                .map(|s| T0 + s * SECOND)
                .collect();
            assert!(
                distinct.len() == reported.len() || distinct.len() == reported.len() + 1,
                "round {round}: {} intervals stored, {} reported",
                distinct.len(),
                reported.len()
            );
            assert_eq!(&distinct[..reported.len()], &reported[..]);
            if distinct.len() > reported.len() {
                assert_eq!(distinct[reported.len()], last + SECOND);
            }
        }
        // The lock went with the process: a new writer opens, and writes.
        let mut store = Store::open(&path, StoreSettings::default()).expect("reopen after kill");
        store
            .write_interval(last + 3_600 * SECOND, &[], &[])
            .expect("writes");
        drop(store);
    }
}
