//! `streamprobe run --replay`: the live records of a replayed capture add up to what
//! `analyze` reports for the same capture, and the probe stops cleanly on --duration and on
//! SIGINT, flushing the interval in progress.

mod common;

use common::{analyze, error_first_line, one_error_line, parse_lines, root, run_records};
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

/// The flow records of a run, by flow id.
fn flow_records(records: &[Value]) -> HashMap<&str, Vec<&Value>> {
    let mut by_flow: HashMap<&str, Vec<&Value>> = HashMap::new();
    for r in of_type(records, "flow") {
        by_flow
            .entry(r["flow"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    by_flow
}

#[test]
fn replayed_records_add_up_to_the_offline_figures() {
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    let unix_s = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let before = unix_s();
    let records = run_records([
        "run",
        "--json",
        "--speed",
        "100",
        "--replay",
        capture.to_str().unwrap(),
    ]);
    let after = unix_s();
    // Interval records, and alarm records (docs/alarms.md: the capture's continuity errors
    // last long enough to raise `tr101290_p1`).
    assert!(records
        .iter()
        .all(|r| r["schema"] == "streamprobe.interval/1"
            || (r["schema"] == "streamprobe.alarm/1" && r["type"] == "alarm")));
    // No store: ids start after the start's Unix seconds x 1,000,000 (docs/alarms.md "Ids"),
    // not at 1 at every start.
    let first_id = of_type(&records, "alarm")
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .min()
        .expect("alarm records");
    let (seed, rest) = ((first_id - 1) / 1_000_000, (first_id - 1) % 1_000_000);
    assert_eq!(rest, 0, "first id {first_id}");
    assert!((before..=after).contains(&seed), "first id {first_id}");
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

    let by_flow = flow_records(&records);
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
            for key in ["duplicates", "reordered"] {
                assert_eq!(sum(key), rtp[key].as_i64().unwrap(), "{id} {key}");
            }
            // definitions.md: an interval's lost is never negative; late packets are
            // recovered, and lost - recovered sums to the offline lost.
            assert!(live.iter().all(|r| r["lost"].as_i64().unwrap() >= 0));
            assert_eq!(
                sum("lost") - sum("recovered"),
                rtp["lost"].as_i64().unwrap(),
                "{id} lost"
            );
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
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
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
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
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
        let path = root().join(file);
        let line = one_error_line(&["run", "--replay", path.to_str().unwrap()], file);
        assert!(line.contains(says), "{line}");
    }
}

/// The README's main command: the demo config replays the bundled capture in a loop; its
/// four streams appear and are reported every second.
#[test]
fn the_demo_config_replays_the_bundled_capture() {
    let config = root().join("examples/demo.toml");
    let records = run_records([
        "run",
        "--json",
        "--duration",
        "2.5",
        "--config",
        config.to_str().unwrap(),
    ]);
    let appeared = of_type(&records, "event")
        .iter()
        .filter(|e| e["event"] == "appeared")
        .count();
    assert_eq!(appeared, 4);
    let probes = of_type(&records, "probe");
    // Started mid-second: a partial interval, two whole ones at most, the flushed rest.
    assert!(
        (3..=4).contains(&probes.len()),
        "{} probe records",
        probes.len()
    );
    for p in &probes {
        assert_eq!(p["pass"], 1, "{p}");
        assert!(p["workers"][0]["load"].as_f64().unwrap() < 1.0, "{p}");
    }
    // At the recorded pace: 2.5 s of a capture of 169 packets/s on average.
    let packets: u64 = probes.iter().map(|p| p["packets"].as_u64().unwrap()).sum();
    assert!((250..=600).contains(&packets), "{packets} packets in 2.5 s");
}

/// Bad sources and settings: a first line naming what is wrong, exit status 2, before
/// anything is opened.
#[test]
fn bad_run_settings_are_one_clear_error() {
    let dir = std::env::temp_dir().join(format!("sp-run-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_key = dir.join("bad-key.toml");
    std::fs::write(&bad_key, "[run]\ninterface = \"eth0\"\nworkers = 0\n").unwrap();
    let bad_join = dir.join("bad-join.toml");
    std::fs::write(
        &bad_join,
        "[run]\njoin = [\"239.1.1.1:5000\", \"10.1.1.1:5000\"]\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run"], "no source: give --interface"),
        (
            vec!["run", "--filter", "udp", "--join", "239.1.1.1:5000"],
            "--filter applies to --interface",
        ),
        (
            vec!["run", "--join", "10.0.0.1:5000"],
            "not a multicast address",
        ),
        (
            vec!["run", "--interface", "nosuch0"],
            "nosuch0: interface: ",
        ),
        (
            vec![
                "run",
                "--interface",
                "lo",
                "--filter",
                "udp and dst nett 1.2.3.4",
            ],
            "lo: filter \"udp and dst nett 1.2.3.4\": ",
        ),
        (
            vec!["run", "--interface", "lo", "--replay", "x.pcap"],
            "--replay runs alone",
        ),
        (
            vec!["run", "--config", bad_key.to_str().unwrap()],
            "bad-key.toml:3:11: run.workers = 0: must be 1 to 256",
        ),
        (
            vec!["run", "--config", bad_join.to_str().unwrap()],
            "bad-join.toml:2:27: run.join: 10.1.1.1:5000: the group is not a multicast address",
        ),
    ];
    for (args, expected) in cases {
        error_first_line(&args, expected);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Without CAP_NET_RAW the probe says which capability it needs and how to grant it.
#[test]
fn capture_without_cap_net_raw_says_what_is_missing() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let as_nobody: Vec<&str> = if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        // Root: drop to nobody, with no capabilities.
        vec![
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
    } else {
        vec![]
    };
    let mut command = Command::new(
        as_nobody
            .first()
            .copied()
            .unwrap_or(env!("CARGO_BIN_EXE_streamprobe")),
    );
    if !as_nobody.is_empty() {
        command
            .args(&as_nobody[1..])
            .arg(env!("CARGO_BIN_EXE_streamprobe"));
    }
    let out = command
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
        .args(["run", "--interface", "lo", "--duration", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lo: AF_PACKET socket: ") && stderr.contains("capture needs CAP_NET_RAW"),
        "{stderr}"
    );
}

/// Standard output closed under the probe (`| head -1`): it stops at once with one error
/// line saying why, instead of measuring on unseen. Before: it went on for the whole
/// --duration and exited 0.
#[test]
fn a_closed_standard_output_stops_the_probe_with_one_error_line() {
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
        .args([
            "run",
            "--json",
            "--loop",
            "--speed",
            "4",
            "--duration",
            "30",
            "--replay",
        ])
        .arg(&capture)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    // The exit status of every error.
    assert_eq!(out.status.code(), Some(2));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("standard output was closed"), "{stderr}");
}

/// A truncated capture replayed warns as `analyze` does.
#[test]
fn a_replayed_truncated_capture_warns_as_analyze_does() {
    let capture = root().join("tests/fixtures/variants/truncated.pcap");
    let warning = |args: &[&str]| -> Vec<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
            .env("STREAMPROBE_API_LISTEN", "none")
            .env("STREAMPROBE_STORE", "none")
            .args(args)
            .arg(&capture)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .map(str::to_string)
            .collect()
    };
    let offline = warning(&["analyze", "--json"]);
    assert_eq!(offline.len(), 1);
    assert!(offline[0].contains("truncated capture"));
    assert_eq!(
        warning(&["run", "--json", "--speed", "100", "--replay"]),
        offline
    );
}

/// Every capture fixture replayed through `run` gives `analyze`'s figures: per flow the sums
/// of its interval records (packets, bytes, lost - recovered, duplicates, reordered, frames,
/// every TR 101 290 indicator), the largest jitter, and the MDI seconds both have (one per
/// record): how many, and their DF's and MLR's smallest, largest and mean. (`analyze` gives
/// no per-second list to compare second by second.)
#[test]
fn every_fixture_replayed_gives_the_figures_of_analyze() {
    let mut fixtures: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["impaired", "burst", "variants", "fuzz"] {
        for entry in std::fs::read_dir(root().join("tests/fixtures").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext == "pcap" || ext == "pcapng" {
                fixtures.push(path);
            }
        }
    }
    fixtures.sort();
    assert!(fixtures.len() >= 12, "{fixtures:?}");
    let mut compared = 0;
    for capture in &fixtures {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let offline = analyze(capture);
        let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
            .env("STREAMPROBE_API_LISTEN", "none")
            .env("STREAMPROBE_STORE", "none")
            .args(["run", "--json", "--speed", "1000", "--replay"])
            .arg(capture)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        let records = parse_lines(&out.stdout);
        let probes = of_type(&records, "probe");
        let packets: u64 = probes.iter().map(|p| p["packets"].as_u64().unwrap()).sum();
        assert_eq!(
            packets,
            offline["capture"]["packets"].as_u64().unwrap(),
            "{name}"
        );
        // Live accounting: every packet read is in exactly one bucket (docs/live.md).
        let total = |key: &str| -> u64 { probes.iter().map(|p| p[key].as_u64().unwrap()).sum() };
        let last = |key: &str| probes.last().map_or(0, |p| p[key].as_u64().unwrap());
        let recorded: u64 = of_type(&records, "flow")
            .iter()
            .map(|r| r["packets"].as_u64().unwrap())
            .sum();
        // Records the source could not hand over never became packets.
        let source = ["record_corrupt", "record_truncated", "source_invalid"];
        let skipped: u64 = probes
            .iter()
            .flat_map(|p| p["skipped"].as_object().unwrap())
            .filter(|(reason, _)| !source.contains(&reason.as_str()))
            .map(|(_, n)| n.as_u64().unwrap())
            .sum();
        assert_eq!(total("output_dropped"), 0, "{name}");
        assert_eq!(
            recorded
                + total("refused")
                + total("refused_state")
                + skipped
                + total("rtcp_packets")
                + total("other_udp_packets")
                + total("fragments")
                + last("fragments_held")
                + last("probation_packets"),
            packets,
            "{name}: live accounting"
        );
        let c = &offline["capture"];
        assert_eq!(total("rtcp_packets"), c["rtcp_packets"], "{name}");
        // What is still on probation at the end, `analyze` rejects into other UDP.
        assert_eq!(
            total("other_udp_packets") + last("probation_packets"),
            c["other_udp"]["packets"],
            "{name}"
        );
        let by_flow = flow_records(&records);
        let media: Vec<&Value> = offline["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] != "udp")
            .collect();
        assert_eq!(by_flow.len(), media.len(), "{name}");
        for flow in media {
            let id = flow["id"].as_str().unwrap();
            let live = &by_flow[id];
            let what = format!("{name} {id}");
            let sum = |key: &str| -> i64 { live.iter().map(|r| r[key].as_i64().unwrap()).sum() };
            assert_eq!(sum("packets"), flow["packets"].as_i64().unwrap(), "{what}");
            assert_eq!(sum("bytes"), flow["bytes"].as_i64().unwrap(), "{what}");
            if let Some(rtp) = flow["rtp"].as_object() {
                assert_eq!(
                    sum("lost") - sum("recovered"),
                    rtp["lost"].as_i64().unwrap(),
                    "{what}"
                );
                for key in ["duplicates", "reordered"] {
                    assert_eq!(sum(key), rtp[key].as_i64().unwrap(), "{what} {key}");
                }
                let jitter = live
                    .iter()
                    .filter_map(|r| r["jitter_ms"].as_f64())
                    .fold(0.0, f64::max);
                assert!(
                    (jitter - rtp["jitter_ms_max"].as_f64().unwrap()).abs() < 2e-6,
                    "{what} jitter {jitter}"
                );
                assert!(
                    live.iter()
                        .all(|r| r["clock_rate_source"] == rtp["clock_rate_source"]
                            || r["clock_rate_source"] == "assumed"),
                    "{what}"
                );
                if flow["kind"] == "rtp" {
                    let frames: f64 = live
                        .iter()
                        .map(|r| r["fps"].as_f64().unwrap() * r["interval_s"].as_f64().unwrap())
                        .sum();
                    assert!(
                        (frames - rtp["frames"].as_f64().unwrap()).abs() < 1e-3,
                        "{what} frames"
                    );
                }
            } else {
                // MPEG-TS over UDP: lost is TS packets missing by continuity.
                let ts = &flow["ts"];
                assert_eq!(
                    sum("lost"),
                    ts["missing_packets"].as_i64().unwrap(),
                    "{what}"
                );
                assert_eq!(
                    sum("duplicates"),
                    ts["duplicate_datagrams"].as_i64().unwrap(),
                    "{what}"
                );
                // No sequence numbers: reordering and recovery are not measured.
                assert!(
                    live.iter()
                        .all(|r| r["reordered"].is_null() && r["recovered"].is_null()),
                    "{what}: reordered/recovered must be null for udp-ts"
                );
            }
            if let Some(ts) = flow["ts"].as_object() {
                for (key, events) in ts["tr101290"].as_object().unwrap() {
                    let count: i64 = live
                        .iter()
                        .map(|r| r["tr101290"][key].as_i64().unwrap())
                        .sum();
                    assert_eq!(count, events["count"].as_i64().unwrap(), "{what} {key}");
                }
            }
            // MDI: one 1-s interval per record, the same seconds as `analyze`'s.
            let mdi = &flow["mdi"];
            let series =
                |key: &str| -> Vec<f64> { live.iter().filter_map(|r| r[key].as_f64()).collect() };
            let (df, mlr) = (series("df_ms"), series("mlr"));
            assert_eq!(
                mlr.len() as u64,
                mdi["intervals"].as_u64().unwrap(),
                "{what} intervals"
            );
            let close = |a: f64, b: &Value| (a - b.as_f64().unwrap()).abs() < 1e-5;
            let stats = |v: &[f64]| {
                let min = v.iter().cloned().fold(f64::MAX, f64::min);
                let max = v.iter().cloned().fold(f64::MIN, f64::max);
                (min, max, v.iter().sum::<f64>() / v.len() as f64)
            };
            if !df.is_empty() {
                let (min, max, avg) = stats(&df);
                assert!(
                    close(min, &mdi["df_ms_min"])
                        && close(max, &mdi["df_ms_max"])
                        && close(avg, &mdi["df_ms_avg"]),
                    "{what}: DF live {min} {max} {avg}, offline {mdi}"
                );
            } else {
                assert!(mdi["df_ms_max"].is_null(), "{what}");
            }
            let (min, max, avg) = stats(&mlr);
            assert!(
                close(min, &mdi["mlr_min"])
                    && close(max, &mdi["mlr_max"])
                    && close(avg, &mdi["mlr_avg"]),
                "{what}: MLR live {min} {max} {avg}, offline {mdi}"
            );
            compared += 1;
        }
    }
    // Two impaired captures of 4 streams and 10 link-layer variants of the same ones.
    assert!(compared >= 40, "{compared} flows compared");
}

/// The live table keeps its columns: in every flow row the kind starts under KIND and the
/// packet count ends under PKTS (a kind printed without its padding shifted every `rtp` row).
#[test]
fn live_table_rows_keep_to_the_header_columns() {
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
        .args(["run", "--speed", "1000", "--replay"])
        .arg(&capture)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = 0;
    let mut header: Option<(usize, usize)> = None;
    for line in text.lines() {
        if line.starts_with("FLOW ") {
            let kind = line.find("KIND").unwrap();
            header = Some((kind, line.find("PKTS").unwrap() + 4));
            continue;
        }
        let Some((kind, pkts_end)) = header else {
            continue;
        };
        if line.is_empty() || line.starts_with("probe:") {
            header = None;
            continue;
        }
        // A flow row (a long flow name on its own line has no kind after it).
        let Some(rest) = line.get(kind..) else {
            continue;
        };
        if !["rtp ", "rtp-ts ", "udp-ts "]
            .iter()
            .any(|k| rest.starts_with(k))
        {
            continue;
        }
        assert_eq!(&line[kind - 1..kind], " ", "{line}");
        let b = line.as_bytes();
        assert!(
            b[pkts_end - 1].is_ascii_digit() && b.get(pkts_end) == Some(&b' '),
            "PKTS column: {line}"
        );
        rows += 1;
    }
    assert!(rows >= 8, "{rows} rows checked:\n{text}");
}
