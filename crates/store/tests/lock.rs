//! One writer per store file: a second `Store` on the same path fails, in this process and
//! from another.

mod common;

use std::process::Command;
use store::{Store, StoreError, StoreSettings};

const CHILD: &str = "STORE_TEST_LOCK_CHILD";

/// The child half of `a_second_process_is_refused`: tries to open the store named by the
/// environment and prints what happened (does nothing when run on its own).
#[test]
fn lock_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    match Store::open(std::path::Path::new(&path), StoreSettings::default()) {
        Ok(_) => println!("child: opened"),
        Err(e) => println!("child: {e}"),
    }
}

#[test]
fn a_second_store_in_this_process_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("streamprobe.db");
    let first = Store::open(&path, StoreSettings::default()).expect("first");
    let err = Store::open(&path, StoreSettings::default()).expect_err("second must fail");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: locked by another streamprobe (pid {}): one probe per store file",
            path.display(),
            std::process::id()
        )
    );
    // Readers are not writers: they open while the lock is held.
    first.reader().expect("reader");
    drop(first);
    Store::open(&path, StoreSettings::default()).expect("free again once the first is dropped");
}

#[test]
fn a_second_process_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("streamprobe.db");
    let held = Store::open(&path, StoreSettings::default()).expect("open");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("child: ").map(|(_, r)| r))
        .expect("child reported");
    assert_eq!(
        line,
        format!(
            "{}: locked by another streamprobe (pid {}): one probe per store file",
            path.display(),
            std::process::id()
        )
    );
    drop(held);
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .output()
        .expect("child runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("child: opened"));
}
