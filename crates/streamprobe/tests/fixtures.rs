//! End-to-end tests on committed captures of real impaired streams (no root, no tools).
//! The fixtures and their reference figures come from scripts/make-fixtures.sh.

mod common;

use common::{
    analyze, analyze_with, check_against_reference, flow, one_error_line, root, streamprobe,
};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

fn reference(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("{name}/reference.json"))).unwrap(),
    )
    .unwrap()
}

#[test]
fn impaired_streams_match_ground_truth_and_a8() {
    let doc = analyze(&fixture("impaired/capture.pcap"));
    assert_eq!(doc["schema"], "streamprobe.analyze/1");
    assert_eq!(
        check_against_reference(&doc, &reference("impaired"), 2e-6),
        3
    );
    // Every kind of impairment happened in this capture.
    let flows = doc["flows"].as_array().unwrap();
    let sum = |k: &str| {
        flows
            .iter()
            .filter_map(|f| f["rtp"][k].as_u64())
            .sum::<u64>()
    };
    assert!(sum("lost") > 0 && sum("duplicates") > 0 && sum("reordered") > 0);
}

#[test]
fn burst_loss_and_outage_match_ground_truth_and_a8() {
    let doc = analyze(&fixture("burst/capture.pcap"));
    assert_eq!(check_against_reference(&doc, &reference("burst"), 2e-6), 3);
}

#[test]
fn streams_kinds_payloads_and_frame_rates() {
    let doc = analyze(&fixture("impaired/capture.pcap"));
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 4, "GStreamer RTP, ffmpeg RTP, TS/UDP, TS/RTP");
    let kinds: Vec<(&str, &str)> = flows
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["payload"].as_str().unwrap()))
        .collect();
    for expected in [("rtp", "h264"), ("udp-ts", "mp2t"), ("rtp-ts", "mp2t")] {
        assert!(kinds.contains(&expected), "{expected:?} in {kinds:?}");
    }
    for f in flows.iter().filter(|f| f["payload"] == "h264") {
        // 25 fps senders; losses can remove a few marker packets.
        let fps = f["rtp"]["fps"].as_f64().unwrap();
        assert!((23.5..=25.5).contains(&fps), "{}: fps {fps}", f["id"]);
        assert_eq!(f["rtp"]["clock_rate"], 90000);
        assert!(f["bitrate_bps"].as_u64().unwrap() > 100_000);
    }
    // Stable order: by destination, then source.
    let dsts: Vec<&str> = flows.iter().map(|f| f["dst"].as_str().unwrap()).collect();
    assert_eq!(
        dsts,
        [
            "10.231.9.2:5004",
            "10.231.9.2:5006",
            "239.1.1.1:5000",
            "239.1.1.2:5002"
        ]
    );
}

#[test]
fn output_is_deterministic() {
    let file = fixture("impaired/capture.pcap");
    let a = streamprobe(&["analyze", "--json", file.to_str().unwrap()]);
    let b = streamprobe(&["analyze", "--json", file.to_str().unwrap()]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

/// `--timing` counts the packets the report counts, and its rates are those packets over the
/// wall and CPU seconds it prints (to the printed precision).
#[test]
fn timing_reports_wall_and_cpu_rates_of_the_packets_read() {
    let file = fixture("impaired/capture.pcap");
    let out = streamprobe(&["analyze", "--timing", "--json", file.to_str().unwrap()]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packets = doc["capture"]["packets"].as_u64().unwrap();
    assert!(packets > 1_000, "{packets}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr.lines().find(|l| l.starts_with("timing: ")).unwrap();
    // "timing: N packets read and analysed in W s = R packets/s; C s of CPU = Q packets per
    // CPU second; report in T s"
    let between = |start: &str, end: &str| -> f64 {
        let (_, rest) = line.split_once(start).unwrap();
        rest.split_once(end).unwrap().0.trim().parse().unwrap()
    };
    assert_eq!(between("timing: ", " packets") as u64, packets, "{line}");
    let wall_s = between("analysed in ", " s =");
    let wall_rate = between(" s = ", " packets/s;");
    let cpu_s = between("packets/s; ", " s of CPU");
    let cpu_rate = between("s of CPU = ", " packets per CPU second");
    // A small capture may take under half a millisecond, printed as 0.000.
    assert!(
        wall_s >= 0.0 && cpu_s >= 0.0 && wall_rate > 0.0 && cpu_rate > 0.0,
        "{line}"
    );
    // One thread reads and analyses: its CPU time is not more than the wall time.
    assert!(cpu_s <= wall_s + 0.002, "{line}");
    // Seconds are printed to the millisecond, rates to the packet.
    let agrees = |rate: f64, seconds: f64| {
        let fastest = packets as f64 / (seconds - 0.0005).max(1e-9);
        let slowest = packets as f64 / (seconds + 0.0005);
        rate >= slowest.floor() && rate <= fastest.ceil()
    };
    assert!(agrees(wall_rate, wall_s), "{line}");
    assert!(agrees(cpu_rate, cpu_s), "{line}");
}

fn without_file_fields(mut doc: Value) -> Value {
    doc["capture"]["file"] = Value::Null;
    // Only the link header differs between variants, so the wire bytes differ too.
    doc["capture"]["bytes"] = Value::Null;
    doc
}

#[test]
fn every_link_layer_variant_gives_the_same_figures() {
    let base = analyze(&fixture("impaired/capture.pcap"));
    for v in ["sll", "sll2", "raw", "vlan", "qinq"] {
        let doc = analyze(&fixture(&format!("variants/{v}.pcap")));
        assert_eq!(doc["flows"], base["flows"], "{v}");
        assert_eq!(
            without_file_fields(doc.clone())["capture"],
            without_file_fields(base.clone())["capture"],
            "{v}"
        );
    }
}

#[test]
fn microsecond_pcap_gives_the_same_counts_and_jitter_within_a_microsecond() {
    let base = analyze(&fixture("impaired/capture.pcap"));
    let usec = analyze(&fixture("variants/usec.pcap"));
    for (a, b) in base["flows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(usec["flows"].as_array().unwrap())
    {
        assert_eq!(a["id"], b["id"]);
        for k in ["lost", "duplicates", "reordered", "expected", "frames"] {
            assert_eq!(a["rtp"][k], b["rtp"][k], "{} {k}", a["id"]);
        }
        if !a["rtp"].is_null() {
            let d = (a["rtp"]["jitter_ms_max"].as_f64().unwrap()
                - b["rtp"]["jitter_ms_max"].as_f64().unwrap())
            .abs();
            assert!(d < 1e-3, "{} jitter differs by {d} ms", a["id"]);
        }
    }
}

#[test]
fn pcapng_with_two_interfaces_and_resolutions() {
    let doc = analyze(&fixture("variants/two-interfaces.pcapng"));
    assert_eq!(doc["flows"].as_array().unwrap().len(), 8);
    // Interface 0 has nanosecond timestamps: the impaired flows are exact.
    assert_eq!(
        check_against_reference(&doc, &reference("impaired"), 2e-6),
        3
    );
    // Interface 1 has microsecond timestamps: the burst flows' counts are exact.
    for (key, r) in reference("burst")["flows"].as_object().unwrap() {
        let f = flow(&doc, key);
        assert_eq!(f["rtp"]["lost"], r["truth"]["lost"], "{key}");
        let d = (f["rtp"]["jitter_ms_max"].as_f64().unwrap()
            - r["a8"]["jitter_ms_max"].as_f64().unwrap())
        .abs();
        assert!(d < 1e-3, "{key}: {d}");
    }
}

#[test]
fn truncated_capture_keeps_what_was_read_and_says_so() {
    let file = fixture("variants/truncated.pcap");
    let out = streamprobe(&["analyze", "--json", file.to_str().unwrap()]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["capture"]["skipped"]["record_truncated"], 1);
    assert!(doc["capture"]["packets"].as_u64().unwrap() > 300);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("truncated") && err.contains("truncated.pcap"),
        "{err}"
    );
}

#[test]
fn unreadable_files_and_bad_configs_give_one_clear_line() {
    let dir = std::env::temp_dir().join(format!("sp-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.join("garbage.pcap");
    std::fs::write(
        &garbage,
        b"this is not a capture file at all, just text\n".repeat(10),
    )
    .unwrap();
    let missing = dir.join("missing.pcap");
    let bad_config = dir.join("bad.toml");
    std::fs::write(
        &bad_config,
        "[discovery]\nprobation = 3\npayload_typos = [96]\n",
    )
    .unwrap();
    one_error_line(&["analyze", empty.to_str().unwrap()], "empty.pcap");
    one_error_line(
        &["analyze", garbage.to_str().unwrap()],
        "not a pcap or pcapng",
    );
    one_error_line(&["analyze", missing.to_str().unwrap()], "missing.pcap");
    let capture = fixture("impaired/capture.pcap");
    one_error_line(
        &[
            "analyze",
            "--config",
            bad_config.to_str().unwrap(),
            capture.to_str().unwrap(),
        ],
        "bad.toml:3:",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_changes_discovery() {
    let dir = std::env::temp_dir().join(format!("sp-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Only PT 33 may start a stream: the H.264 flows (PT 96) become other UDP.
    let config = dir.join("ts-only.toml");
    std::fs::write(&config, "[discovery]\npayload_types = [33]\n").unwrap();
    let capture = fixture("impaired/capture.pcap");
    let config = config.to_str().unwrap();
    let doc = analyze_with(&["--config", config], &capture);
    let kinds: Vec<&str> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["udp-ts", "rtp-ts"]);
    assert_eq!(doc["capture"]["other_udp"]["flows"], 2);
    // --all-flows lists them.
    let doc = analyze_with(&["--all-flows", "--config", config], &capture);
    assert_eq!(
        doc["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "udp")
            .count(),
        2
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn table_output_lists_every_flow() {
    let capture = fixture("impaired/capture.pcap");
    let out = streamprobe(&["analyze", capture.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("10.231.9.1:"))
            .count(),
        4,
        "{text}"
    );
    assert!(text.contains("skipped: none"));
}

#[test]
fn inputs_found_by_fuzzing_do_not_crash() {
    // Each file once crashed a fuzz target; each must now be analysed or refused cleanly.
    for entry in std::fs::read_dir(fixture("fuzz")).unwrap() {
        let path = entry.unwrap().path();
        let out = streamprobe(&["analyze", "--json", path.to_str().unwrap()]);
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{}: {:?}",
            path.display(),
            out.status
        );
        if out.status.success() {
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(doc["capture"]["duration_s"].as_f64().unwrap() >= 0.0);
        }
    }
}

/// TS flows made by ffmpeg: the PSI is read (one program, the service name ffmpeg writes, the
/// codecs), a clean stretch has no priority-1 event, and every analysed datagram's 7 TS
/// packets are counted once: RTP duplicates are left out of the TS analysis.
#[test]
fn ts_flows_show_programs_tables_and_priority_one_events() {
    for (name, clean) in [
        ("variants/truncated.pcap", true),
        ("impaired/capture.pcap", false),
    ] {
        let file = fixture(name);
        let doc = analyze(&file);
        let ts_flows: Vec<&Value> = doc["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "udp-ts" || f["kind"] == "rtp-ts")
            .collect();
        assert_eq!(ts_flows.len(), 2, "{name}");
        for f in ts_flows {
            let ts = &f["ts"];
            let program = &ts["programs"][0];
            assert_eq!(program["service_name"], "Service01", "{name}");
            assert_eq!(program["provider"], "FFmpeg", "{name}");
            let codecs: Vec<&str> = program["streams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["codec"].as_str().unwrap())
                .collect();
            let expected: &[&str] = if f["kind"] == "udp-ts" {
                &["h264", "aac"]
            } else {
                &["h264"]
            };
            assert_eq!(codecs, expected, "{name}");
            assert_eq!(ts["tables"]["pat"], true);
            assert_eq!(ts["tables"]["sdt"], true);
            assert_eq!(ts["tables"]["cat"], false);
            let packets = ts["packets"].as_u64().unwrap();
            let datagrams = f["packets"].as_u64().unwrap();
            if f["kind"] == "udp-ts" {
                assert_eq!(packets * 188, f["bytes"].as_u64().unwrap(), "{name}");
            } else {
                let duplicates = f["rtp"]["duplicates"].as_u64().unwrap();
                assert_eq!(packets, 7 * (datagrams - duplicates), "{name}");
                // TS in RTP has no frames to count: no frame rate, as the table's `-`.
                assert!(f["rtp"]["fps"].is_null(), "{name}");
            }
            let pid_packets: u64 = ts["pids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["packets"].as_u64().unwrap())
                .sum();
            // No sync byte was broken: every TS packet belongs to a PID.
            assert_eq!(pid_packets, packets, "{name}");
            let p1 = |key: &str| ts["tr101290"][key]["count"].as_u64().unwrap();
            for key in [
                "sync_loss",
                "sync_byte_error",
                "pat_error",
                "pmt_error",
                "pid_error",
            ] {
                assert_eq!(p1(key), 0, "{name} {key}");
                assert_eq!(ts["tr101290"][key]["priority"], 1);
            }
            let missing: u64 = ts["pids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["missing_packets"].as_u64().unwrap())
                .sum();
            let mdi_lost = f["mdi"]["lost_total"].as_u64().unwrap();
            if clean {
                assert_eq!(p1("cc_error"), 0, "{name}");
                assert_eq!(mdi_lost, 0, "{name}");
            } else if f["kind"] == "udp-ts" {
                // Datagrams were lost: continuity shows it, and MDI counts what it shows.
                assert!(p1("cc_error") > 0, "{name}");
                assert!(ts["tr101290"]["cc_error"]["first_s"].as_f64().unwrap() > 0.0);
                assert_eq!(mdi_lost, missing, "{name}");
                assert_eq!(ts["missing_packets"].as_u64().unwrap(), missing, "{name}");
                // definitions.md: the datagrams the relay sent twice are duplicates, not loss.
                let truth = std::fs::read_to_string(fixture("impaired/truth.log")).unwrap();
                let sent_twice = truth
                    .lines()
                    .filter(|l| l.starts_with("dup ") && l.contains(">239.1.1.1:5000"))
                    .count() as u64;
                assert_eq!(sent_twice, 2);
                assert_eq!(
                    ts["duplicate_datagrams"].as_u64().unwrap(),
                    sent_twice,
                    "{name}"
                );
            } else {
                // RTP order is restored before continuity is judged: only lost datagrams are
                // continuity errors; MDI adds the 7 TS packets of each reordered datagram.
                let rtp = &f["rtp"];
                let lost = rtp["lost"].as_u64().unwrap();
                assert_eq!(p1("cc_error") > 0, lost > 0, "{name}");
                let reordered = rtp["reordered"].as_u64().unwrap();
                assert_eq!(mdi_lost, missing + 7 * reordered, "{name}");
            }
        }
        for f in doc["flows"].as_array().unwrap() {
            if f["kind"] == "rtp" {
                // RFC 4445: each missing number counts once, lost or late.
                let rtp = &f["rtp"];
                assert_eq!(
                    f["mdi"]["lost_total"].as_u64().unwrap(),
                    rtp["lost"].as_u64().unwrap() + rtp["reordered"].as_u64().unwrap(),
                    "{name} {}",
                    f["id"]
                );
                assert_eq!(f["mdi"]["rate_source"], "measured");
            }
            if f["kind"] == "udp-ts" || f["kind"] == "rtp-ts" {
                assert_eq!(f["mdi"]["rate_source"], "pcr");
            }
            assert_eq!(f["group"], Value::Null);
        }
    }
}

#[test]
fn ts_recording_is_one_flow_timed_by_its_pcrs() {
    let file = fixture("ts/two-programs.ts");
    let size = std::fs::metadata(&file).unwrap().len();
    let doc = analyze(&file);
    assert_eq!(doc["capture"]["start"], Value::Null);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(
        (f["kind"].as_str(), f["src"].clone()),
        (Some("file-ts"), Value::Null)
    );
    assert_eq!(f["packets"].as_u64().unwrap() * 188, size);
    // ffmpeg muxed it at -muxrate 2000000: the PCR-derived time gives exactly that rate.
    let rate = f["bitrate_bps"].as_u64().unwrap();
    assert!(rate.abs_diff(2_000_000) <= 2_000, "{rate}");
    let ts = &f["ts"];
    let programs = ts["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 2);
    assert_eq!(programs[0]["service_name"], "One");
    assert_eq!(programs[1]["service_name"], "Two");
    for (name, indicator) in ts["tr101290"].as_object().unwrap() {
        assert_eq!(indicator["count"], 0, "{name}");
    }
    assert_eq!(ts["skipped_bytes"], 0);
    assert_eq!(f["mdi"], Value::Null);
}

#[test]
fn monitor_groups_set_the_media_rate_and_judge_the_sla() {
    let dir = std::env::temp_dir().join(format!("sp-groups-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("groups.toml");
    std::fs::write(
        &config,
        "[[group]]\nname = \"iptv\"\nprefixes = [\"239.1.1.0/24\"]\nmedia_rate = \"400k\"\n\
         [group.sla]\nmax_df_ms = 100\nmin_fps = 20\nmax_loss_pct = 50\n\n\
         [[group]]\nname = \"channel-two\"\nprefixes = [\"239.1.1.2\"]\nmedia_rate = 250000\n",
    )
    .unwrap();
    let doc = analyze_with(
        &["--config", config.to_str().unwrap()],
        &fixture("impaired/capture.pcap"),
    );
    for f in doc["flows"].as_array().unwrap() {
        let dst = f["dst"].as_str().unwrap();
        let (group, rate) = match dst {
            "239.1.1.1:5000" => ("iptv", 400_000),
            "239.1.1.2:5002" => ("channel-two", 250_000),
            _ => {
                // Cameras to 10.231.9.2 are in no group: measured rate, no SLA.
                assert_eq!(f["group"], Value::Null);
                assert_eq!(f["mdi"]["rate_source"], "measured");
                assert!(f.get("sla").is_none());
                continue;
            }
        };
        assert_eq!(f["group"], group, "{dst}");
        assert_eq!(f["mdi"]["rate_source"], "group");
        assert_eq!(f["mdi"]["rate_bps"], rate);
        if group == "iptv" {
            // The SLA verdict follows the figures: DF over 100 ms breaks it, min_fps cannot be
            // judged on TS, and the loss (a few TS packets) stays under 50 %.
            let df = f["mdi"]["df_ms_max"].as_f64().unwrap();
            let sla = &f["sla"];
            let broken: Vec<&str> = sla["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["limit"].as_str().unwrap())
                .collect();
            assert!(df > 100.0, "the impaired flow's DF is {df} ms");
            assert_eq!(broken, ["max_df_ms"]);
            assert_eq!(sla["not_judged"], serde_json::json!(["min_fps"]));
        } else {
            assert!(f.get("sla").is_none(), "channel-two sets no limits");
        }
    }
    let dup = dir.join("dup.toml");
    std::fs::write(
        &dup,
        "[[group]]\nname = \"a\"\nprefixes = [\"239.1.1.0/24\"]\nmedia_rate = 1000000\n\
         [[group]]\nname = \"b\"\nprefixes = [\"239.1.1.0/24\"]\nmedia_rate = 1000000\n",
    )
    .unwrap();
    let capture = fixture("impaired/capture.pcap");
    one_error_line(
        &[
            "analyze",
            "--config",
            dup.to_str().unwrap(),
            capture.to_str().unwrap(),
        ],
        "dup.toml:7:13: group.prefixes: prefix 239.1.1.0/24 is in groups \"a\" and \"b\"",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
