//! `streamprobe run --replay`: the live records of a replayed capture add up to what
//! `analyze` reports for the same capture, and the probe stops cleanly on --duration and on
//! SIGINT, flushing the interval in progress.

mod common;

use common::{analyze, root};
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn parse_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

#[test]
fn replayed_records_add_up_to_the_offline_figures() {
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args(["run", "--json", "--speed", "100", "--replay"])
        .arg(&capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = parse_lines(&out.stdout);
    assert!(records
        .iter()
        .all(|r| r["schema"] == "streamprobe.interval/1"));
    let offline = analyze(&capture);

    // The probe's own records: one per interval, 1 s apart, every packet counted once.
    let probes = of_type(&records, "probe");
    let packets: u64 = probes.iter().map(|p| p["packets"].as_u64().unwrap()).sum();
    assert_eq!(packets, offline["capture"]["packets"].as_u64().unwrap());
    assert!(probes.iter().all(|p| p["output_dropped"] == 0));
    assert!(
        (8..=10).contains(&probes.len()),
        "{} intervals",
        probes.len()
    );

    // Every flow appears once, first.
    let events = of_type(&records, "event");
    let appeared: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "appeared")
        .map(|e| e["flow"].as_str().unwrap())
        .collect();
    assert_eq!(appeared.len(), 4);
    assert!(
        events.iter().all(|e| e["event"] == "appeared"),
        "{events:?}"
    );

    let mut by_flow: HashMap<&str, Vec<&Value>> = HashMap::new();
    for r in of_type(&records, "flow") {
        by_flow
            .entry(r["flow"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    assert_eq!(by_flow.len(), 4);
    for flow in offline["flows"].as_array().unwrap() {
        let id = flow["id"].as_str().unwrap();
        let live = &by_flow[id];
        assert!(appeared.contains(&id));
        let sum = |key: &str| -> i64 { live.iter().map(|r| r[key].as_i64().unwrap()).sum() };
        let max = |key: &str| {
            live.iter()
                .filter_map(|r| r[key].as_f64())
                .fold(f64::MIN, f64::max)
        };
        assert_eq!(sum("packets"), flow["packets"].as_i64().unwrap(), "{id}");
        assert_eq!(sum("bytes"), flow["bytes"].as_i64().unwrap(), "{id}");
        if let Some(rtp) = flow["rtp"].as_object() {
            for key in ["lost", "duplicates", "reordered"] {
                assert_eq!(sum(key), rtp[key].as_i64().unwrap(), "{id} {key}");
            }
            assert!((max("jitter_ms") - rtp["jitter_ms_max"].as_f64().unwrap()).abs() < 2e-6);
            if flow["kind"] == "rtp" {
                let frames: f64 = live
                    .iter()
                    .map(|r| r["fps"].as_f64().unwrap() * r["interval_s"].as_f64().unwrap())
                    .sum();
                assert!(
                    (frames - rtp["frames"].as_f64().unwrap()).abs() < 1e-3,
                    "{id}: {frames} frames"
                );
            }
        }
        let mdi = &flow["mdi"];
        assert!(
            (max("df_ms") - mdi["df_ms_max"].as_f64().unwrap()).abs() < 2e-6,
            "{id}: DF {} live, {} offline",
            max("df_ms"),
            mdi["df_ms_max"]
        );
        assert!((max("mlr") - mdi["mlr_max"].as_f64().unwrap()).abs() < 2e-6);
        if let Some(ts) = flow["ts"].as_object() {
            for (key, events) in ts["tr101290"].as_object().unwrap() {
                let live_count: i64 = live
                    .iter()
                    .map(|r| r["tr101290"][key].as_i64().unwrap())
                    .sum();
                assert_eq!(live_count, events["count"].as_i64().unwrap(), "{id} {key}");
            }
        }
    }
}

#[test]
fn a_looped_replay_stops_on_duration_and_on_sigint_with_a_last_interval() {
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    // 8.1 s of capture at 20x: a pass takes 0.4 s, so 1.5 s of wall time is several passes.
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args([
            "run",
            "--json",
            "--speed",
            "20",
            "--loop",
            "--duration",
            "1.5",
            "--replay",
        ])
        .arg(&capture)
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert!(out.status.success());
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let records = parse_lines(&out.stdout);
    let probes = of_type(&records, "probe");
    let passes = probes.last().unwrap()["pass"].as_u64().unwrap();
    assert!(passes >= 3, "{passes} passes");
    // The stop flushed a partial interval, and probe times only move forward.
    let last = probes.last().unwrap();
    assert!(last["interval_s"].as_f64().unwrap() <= 1.0);
    let times: Vec<&str> = probes.iter().map(|p| p["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");

    // SIGINT: the probe ends at once with status 0, its last line a probe record.
    let child = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args(["run", "--json", "--loop", "--replay"])
        .arg(&capture)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2_500));
    let t0 = Instant::now();
    // SAFETY: sending a signal to our own child process.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let records = parse_lines(&out.stdout);
    assert_eq!(records.last().unwrap()["type"], "probe");
    assert!(of_type(&records, "flow").len() >= 4);
}

#[test]
fn a_recording_or_a_missing_file_is_one_clear_error() {
    for (file, says) in [
        (
            "tests/fixtures/ts/two-programs.ts",
            "has no arrival times to replay",
        ),
        ("tests/fixtures/no-such.pcap", "cannot read"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
            .args(["run", "--replay"])
            .arg(root().join(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(file) && stderr.contains(says), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}
