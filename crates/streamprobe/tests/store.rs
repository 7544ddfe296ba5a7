//! The history store through the probe, end to end: history from the store via the API and
//! `show --flow` equal to the records printed, `kill -9` then a clean reopen with at most one
//! interval lost, a second probe on the same store refused, and a store that fails (a full
//! file system) counted as a dead sink without slowing capture.

mod common;

use common::probe::{fresh_dir, Probe};
use common::{may_run, parse_lines, root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const FLOW: &str = "10.231.9.1:36564>10.231.9.2:5004/0xd07c5ed2";
const FLOW_PATH: &str = "10.231.9.1:36564%3E10.231.9.2:5004%2F0xd07c5ed2";

fn capture() -> String {
    root()
        .join("tests/fixtures/impaired/capture.pcap")
        .display()
        .to_string()
}

/// The flow's records by time.
fn records_of(records: &[Value], flow: &str) -> BTreeMap<String, Value> {
    records
        .iter()
        .filter(|r| r["type"] == "flow" && r["flow"] == flow)
        .map(|r| (r["time"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[test]
fn the_stores_history_through_the_api_and_show_is_every_record_exactly() {
    let dir = fresh_dir("store-history");
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--loop",
            "--speed",
            "8",
            "--json",
            "--duration",
            "60",
        ],
    );
    probe.wait_for(Duration::from_secs(30), |h| {
        h["store"]["intervals_written"].as_u64() >= Some(70)
    });
    // The last hour: raw records of the seconds tier.
    let history = probe.get(&format!("/api/v1/flows/{FLOW_PATH}/history?since=1h"));
    assert_eq!(history["schema"], "streamprobe.history/1");
    assert_eq!(history["tier"], "seconds");
    let show = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args([
            "show",
            "--api",
            &format!("http://{}", probe.api),
            "--flow",
            FLOW,
            "--since",
            "1h",
        ])
        .output()
        .unwrap();
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let table = String::from_utf8(show.stdout).unwrap();
    // Minute buckets, asked by step and chosen by range: the first minute is partial.
    let by_step = probe.get(&format!(
        "/api/v1/flows/{FLOW_PATH}/history?since=1h&step=60"
    ));
    let by_range = probe.get(&format!("/api/v1/flows/{FLOW_PATH}/history?since=2d"));
    // Events page by page (one at a time, from a fixed time) are the whole list, in order,
    // nothing lost or repeated.
    let all = probe.get("/api/v1/events?since=0&limit=100000");
    let all = all["events"].as_array().unwrap().clone();
    assert!(all.len() >= 4, "{all:?}");
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let page = probe.get(&format!("/api/v1/events?since=0&limit=1&offset={offset}"));
        paged.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_offset"].as_u64() {
            Some(next) if paged.len() < all.len() => offset = next as usize,
            _ => break,
        }
    }
    assert_eq!(paged[..], all[..paged.len()]);
    assert_eq!(paged.len(), all.len());
    let (stdout, _) = probe.stop();
    let records = records_of(&parse_lines(&stdout), FLOW);
    let points = history["points"].as_array().unwrap();
    assert!(points.len() >= 10, "{history}");
    for p in points {
        let r = &records[p["time"].as_str().unwrap()];
        for (point_key, record_key) in [
            ("packets", "packets"),
            ("bytes", "bytes"),
            ("bitrate_bps", "bitrate_bps"),
            ("lost", "lost"),
            ("recovered", "recovered"),
            ("duplicates", "duplicates"),
            ("reordered", "reordered"),
            ("jitter_ms_max", "jitter_ms"),
            ("fps", "fps"),
            ("df_ms_max", "df_ms"),
            ("mlr_max", "mlr"),
            ("seconds", "interval_s"),
        ] {
            assert_eq!(p[point_key], r[record_key], "{point_key} at {}", p["time"]);
        }
        // show --flow prints the same row.
        let row = table
            .lines()
            .find(|l| l.starts_with(p["time"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], p["packets"].to_string(), "{row}");
        assert_eq!(cells[3], p["lost"].to_string(), "{row}");
    }
    // Per minute: counts summed, maxima of maxima, over the records of that minute.
    let mut minutes: BTreeMap<String, (u64, u64, u64, f64)> = BTreeMap::new();
    for (t, r) in &records {
        let m = minutes
            .entry(format!("{}:00.000000000Z", &t[..16]))
            .or_default();
        m.0 += 1;
        m.1 += r["packets"].as_u64().unwrap();
        m.2 += r["lost"].as_u64().unwrap();
        m.3 = m.3.max(r["df_ms"].as_f64().unwrap_or(0.0));
    }
    let mut checked = 0;
    for doc in [&by_step, &by_range] {
        assert_eq!(doc["tier"], "minutes", "{doc}");
        let got = doc["points"].as_array().unwrap();
        // The first minute, partial, is there.
        assert_eq!(
            got[0]["time"].as_str().unwrap(),
            minutes.keys().next().unwrap(),
            "{doc}"
        );
        for p in got {
            let want = minutes[p["time"].as_str().unwrap()];
            if p["records"].as_u64().unwrap() != want.0 {
                // The minute the probe was still writing when the query ran.
                continue;
            }
            let figures = (
                p["packets"].as_u64().unwrap(),
                p["lost"].as_u64().unwrap(),
                p["df_ms_max"].as_f64().unwrap(),
            );
            assert_eq!(figures, (want.1, want.2, want.3), "{p}");
            checked += 1;
        }
    }
    // 70 s of records: at least the first minute is over, in both documents.
    assert!(checked >= 2, "{checked}");
}

#[test]
fn a_second_probe_on_the_same_store_is_refused_at_start() {
    let dir = fresh_dir("store-lock");
    let first = Probe::start(
        &dir,
        &["--replay", &capture(), "--loop", "--duration", "30"],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .current_dir(&dir)
        .env_remove("STREAMPROBE_STORE")
        .args(["run", "--replay", &capture(), "--api-listen", "none"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: streamprobe.db: locked by another streamprobe (pid "),
        "{err}"
    );
    assert!(err.contains(&format!("pid {})", first.child.id())), "{err}");
}

#[test]
fn after_kill_9_the_store_opens_clean_with_at_most_the_last_interval_lost() {
    let dir = fresh_dir("store-kill");
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--loop",
            "--speed",
            "4",
            "--json",
            "--duration",
            "60",
        ],
    );
    probe.wait_for(Duration::from_secs(30), |h| {
        h["store"]["intervals_written"].as_u64() >= Some(10)
    });
    let mut probe = probe;
    probe.signal(libc::SIGKILL);
    let _ = probe.child.wait();
    let (stdout, _) = probe.stop_killed();
    // Every interval printed (its probe record was published to every sink at once) is in
    // the store, but at most the last one.
    let printed: Vec<String> = parse_lines(&stdout)
        .iter()
        .filter(|r| r["type"] == "probe")
        .map(|r| r["time"].as_str().unwrap().to_string())
        .collect();
    assert!(printed.len() >= 10);
    let check = Command::new("sqlite3")
        .arg(dir.join("streamprobe.db"))
        .arg("PRAGMA integrity_check")
        .output()
        .expect("sqlite3 (Debian sqlite3)");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
    // A new probe opens the store and serves what the killed one wrote.
    let reopened = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--speed",
            "0.001",
            "--json",
            "--duration",
            "30",
        ],
    );
    let history = reopened.get(&format!(
        "/api/v1/flows/{FLOW_PATH}/history?from=0&to=4000000000&step=1s"
    ));
    let stored: Vec<&str> = history["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["time"].as_str().unwrap())
        .collect();
    let flow_times: Vec<String> = records_of(&parse_lines(&stdout), FLOW)
        .into_keys()
        .collect();
    let missing: Vec<&String> = flow_times
        .iter()
        .filter(|t| !stored.contains(&t.as_str()))
        .collect();
    assert!(missing.len() <= 1, "lost {missing:?}");
    if let Some(m) = missing.first() {
        assert_eq!(
            *m,
            flow_times.last().unwrap(),
            "only the last interval may be lost"
        );
    }
}

/// A store on a file system that fills up: its writes fail, the sink retries with back-off,
/// its drops are counted in the probe records, and capture goes on at its pace with every
/// record on standard output.
#[test]
fn a_dead_store_is_counted_and_never_slows_capture() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let root_user = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    if !may_run(
        "store on a full tmpfs",
        if root_user {
            Ok(())
        } else {
            Err("needs root to mount a tmpfs".into())
        },
    ) {
        return;
    }
    let dir = fresh_dir("store-full");
    let mount = dir.join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let store = mount.join("full.db").display().to_string();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .current_dir(&dir)
        .args([
            "run",
            "--replay",
            &capture(),
            "--loop",
            "--speed",
            "16",
            "--duration",
            "12",
            "--json",
            "--api-listen",
            "none",
            "--store",
            &store,
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = parse_lines(&out.stdout);
    let probes: Vec<&Value> = records.iter().filter(|r| r["type"] == "probe").collect();
    // 12 s of wall clock at 16x: about 192 intervals of packet time, every one printed,
    // more than the store's queue holds (120).
    assert!(probes.len() >= 180, "{}", probes.len());
    assert!(took < Duration::from_secs(16), "took {took:?}");
    let last = probes.last().unwrap();
    let store_sink = last["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "store")
        .unwrap();
    assert!(store_sink["errors"].as_u64().unwrap() > 0, "{store_sink}");
    assert!(
        store_sink["dropped_records"].as_u64().unwrap() > 0,
        "{store_sink}"
    );
    assert!(
        store_sink["last_error"]
            .as_str()
            .unwrap()
            .contains("full.db"),
        "{store_sink}"
    );
    // Standard output lost nothing.
    let stdout_sink = last["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "stdout")
        .unwrap();
    assert_eq!(stdout_sink["dropped_records"], 0);
    // Every interval published to the store is written, dropped, queued, or the one in the
    // sink's hands while it retries.
    let n = |k: &str| store_sink[k].as_u64().unwrap();
    assert_eq!(store_sink["state"], "retrying");
    assert_eq!(
        n("received_intervals"),
        n("written_intervals") + n("dropped_intervals") + n("queued_intervals") + 1,
        "{store_sink}"
    );
    assert!(n("dropped_intervals") > 0, "{store_sink}");
}
