//! Live end-to-end test: real ffmpeg and GStreamer senders in network namespaces, our
//! impairment relay in the middle, tcpdump on the receiver; streamprobe's figures on that
//! capture must equal what the relay did and a literal A.8 computation, and agree with tshark
//! as documented. Needs root and the tools that scripts/install-test-deps.sh installs.
//!
//! When they are missing the test fails if STREAMPROBE_REQUIRE_NETNS=1 (as in CI) and is
//! skipped with a message otherwise.

mod common;

use common::{analyze, check_against_reference, root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

fn prerequisites() -> Result<(), String> {
    common::namespace_prerequisites(&[
        "ip",
        "tcpdump",
        "tshark",
        "ffmpeg",
        "gst-launch-1.0",
        "python3",
        "ethtool",
    ])?;
    let relay = root().join("target/release/impair-relay");
    if !relay.exists() {
        return Err(format!(
            "{} missing (cargo build --release -p streamprobe-testbed)",
            relay.display()
        ));
    }
    Ok(())
}

/// One test at a time, from its harness run to its last check: senders, relays, tshark and
/// the reference scripts of parallel tests on two cores add scheduling stalls of their own,
/// which the Delay Factor test would measure.
fn turn() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs scripts/netns-harness.sh with `SENDERS=senders` and checks that neither the relay nor
/// tcpdump lost a frame. Returns the output directory, or None when the test is skipped.
fn harness(name: &str, senders: &str, secs: u32, relay_args: &[&str]) -> Option<PathBuf> {
    harness_with(name, senders, secs, relay_args, false)
}

/// [`harness`], with the live probes beside tcpdump when `probes`.
fn harness_with(
    name: &str,
    senders: &str,
    secs: u32,
    relay_args: &[&str],
    probes: bool,
) -> Option<PathBuf> {
    if !common::may_run(name, prerequisites()) {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sp-netns-{name}-{}", std::process::id()));
    let mut command = Command::new(root().join("scripts/netns-harness.sh"));
    command
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none");
    if probes {
        command.env("PROBE", env!("CARGO_BIN_EXE_streamprobe"));
    }
    let status = command
        .env("SENDERS", senders)
        .arg(&dir)
        .arg(secs.to_string())
        .args(relay_args)
        .status()
        .unwrap();
    assert!(status.success(), "harness failed");
    let drops = std::fs::read_to_string(dir.join("drops.txt")).unwrap();
    assert!(
        drops.contains("kernel_drops a=0 b=0"),
        "relay lost frames: {drops}"
    );
    assert!(
        drops.contains("0 packets dropped by kernel"),
        "tcpdump lost frames: {drops}"
    );
    // Every frame the kernel handed to tcpdump is in the file (the truth counts them all).
    let (captured, received) = drops
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("tcpdump: captured ")?;
            let (c, r) = rest.split_once(" of ")?;
            Some((c.to_string(), r.split(' ').next()?.to_string()))
        })
        .unwrap_or_default();
    assert!(
        !captured.is_empty() && captured == received,
        "tcpdump did not write every frame it received: {drops}"
    );
    if senders == "paced-ts" {
        let line = drops
            .lines()
            .find(|l| l.starts_with("sender side: "))
            .unwrap_or_default();
        let words: Vec<&str> = line.split(' ').collect();
        assert!(
            words.len() > 9 && words[3] == words[5] && words[9] == "0",
            "the sender's side capture lost frames: {drops}"
        );
    }
    Some(dir)
}

/// Runs `scripts/SCRIPT ARGS` (an independent reference computation) and parses its JSON.
fn reference_script(script: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(root().join("scripts").join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_scenario(name: &str, secs: u32, relay_args: &[&str], probes: bool) {
    let _turn = turn();
    let Some(dir) = harness_with(name, "all", secs, relay_args, probes) else {
        return;
    };
    let reference = reference_script(
        "rtp_reference.py",
        &[
            dir.join("capture.pcap").as_os_str(),
            dir.join("truth.log").as_os_str(),
            "--ports".as_ref(),
            "5004,5006,5002".as_ref(),
        ],
    );
    let doc = analyze(&dir.join("capture.pcap"));
    assert_eq!(
        check_against_reference(&doc, &reference, 2e-6),
        3,
        "three RTP streams expected"
    );
    assert_eq!(doc["flows"].as_array().unwrap().len(), 4);
    if probes {
        let capture_packets = doc["capture"]["packets"].as_u64().unwrap();
        // The interface probe sees every frame tcpdump saw: all four flows.
        let seen = check_live_probe(&dir.join("probe-interface.ndjson"), &doc, 4);
        assert_eq!(seen, capture_packets, "the interface probe's packets");
        // The multicast probe receives its two groups: the TS over UDP (any source) and the
        // TS over RTP (source-specific).
        check_live_probe(&dir.join("probe-multicast.ndjson"), &doc, 2);
        assert!(
            !dir.join("probe-exit.txt").exists(),
            "a probe did not exit cleanly"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The records of a live probe (`run --json`) in `file`: every flow's per-interval counts
/// add up to what `analyze` (itself checked against the relay's truth) reports for the same
/// traffic captured by tcpdump, its largest interval jitter is the capture's largest (unless
/// the probe read packets late), the kernel dropped nothing, and the last record is a probe
/// record. Returns the packets the probe analysed.
fn check_live_probe(file: &Path, doc: &serde_json::Value, flows: usize) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", file.display())))
        .collect();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(
        records.last().unwrap()["type"],
        "probe",
        "{name}: last record"
    );
    let probes: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "probe").collect();
    let total = |key: &str| -> u64 { probes.iter().map(|p| p[key].as_u64().unwrap()).sum() };
    assert_eq!(total("kernel_drops"), 0, "{name}: kernel drops");
    // Packets the probe read after their interval had closed (the VM held the worker or the
    // kernel's delivery past the 50 ms grace) are counted at the next interval's start: every
    // count still adds up, but their arrival times, so the jitter, are not the capture's.
    let late = total("late");
    if late > 0 {
        eprintln!("{name}: {late} packets read late: jitter not compared");
    }
    assert_eq!(total("output_dropped"), 0, "{name}: output drops");
    let mut live: std::collections::BTreeMap<String, Vec<&serde_json::Value>> = Default::default();
    for r in records.iter().filter(|r| r["type"] == "flow") {
        live.entry(r["flow"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    assert_eq!(live.len(), flows, "{name}: flows {:?}", live.keys());
    for (id, intervals) in &live {
        let offline = doc["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name}: {id} is not in the capture"));
        let sum = |key: &str| -> i64 { intervals.iter().map(|r| r[key].as_i64().unwrap()).sum() };
        assert_eq!(
            sum("packets"),
            offline["packets"].as_i64().unwrap(),
            "{name} {id} packets"
        );
        assert_eq!(
            sum("bytes"),
            offline["bytes"].as_i64().unwrap(),
            "{name} {id} bytes"
        );
        if let Some(rtp) = offline.get("rtp").filter(|r| !r.is_null()) {
            for key in ["duplicates", "reordered"] {
                assert_eq!(sum(key), rtp[key].as_i64().unwrap(), "{name} {id} {key}");
            }
            // Late packets are recovered, never negative loss (definitions.md).
            assert_eq!(
                sum("lost") - sum("recovered"),
                rtp["lost"].as_i64().unwrap(),
                "{name} {id} lost - recovered"
            );
            let jitter = intervals
                .iter()
                .filter_map(|r| r["jitter_ms"].as_f64())
                .fold(0.0, f64::max);
            let offline_jitter = rtp["jitter_ms_max"].as_f64().unwrap();
            assert!(
                late > 0 || (jitter - offline_jitter).abs() < 1e-5,
                "{name} {id} jitter max {jitter} ms, capture {offline_jitter} ms"
            );
        }
        if let Some(ts) = offline.get("ts").filter(|t| !t.is_null()) {
            let cc: i64 = intervals
                .iter()
                .map(|r| r["tr101290"]["cc_error"].as_i64().unwrap())
                .sum();
            assert_eq!(
                cc,
                ts["tr101290"]["cc_error"]["count"].as_i64().unwrap(),
                "{name} {id} CC errors"
            );
        }
    }
    total("packets")
}

#[test]
fn random_loss_duplication_reordering_and_delay_variation() {
    run_scenario(
        "mixed",
        8,
        &[
            "--seed",
            "101",
            "--loss",
            "0.03",
            "--dup",
            "0.02",
            "--reorder",
            "0.03",
            "--reorder-depth",
            "4",
            "--delay-ms",
            "8",
        ],
        true,
    );
}

#[test]
fn burst_loss_and_outage() {
    run_scenario(
        "burst",
        8,
        &[
            "--seed",
            "202",
            "--burst-enter",
            "0.02",
            "--burst-exit",
            "0.25",
            "--outage",
            "3:0.7",
        ],
        false,
    );
}

/// The paced TS flow's MDI in `dir`'s capture `pcap`, with the group's 2 Mbit/s rate,
/// checked against the independent virtual buffer of scripts/mdi_reference.py on the same
/// capture. Returns the DF average over its intervals, ms.
fn paced_delay_factor(dir: &Path, pcap: &str) -> f64 {
    let capture = dir.join(pcap);
    let config = dir.join("group.toml");
    std::fs::write(
        &config,
        "[[group]]\nname = \"paced\"\nprefixes = [\"239.1.1.3/32\"]\nmedia_rate = \"2 Mbit/s\"\n",
    )
    .unwrap();
    let doc = common::analyze_with(&["--config", config.to_str().unwrap()], &capture);
    let flow = common::flow(&doc, "10.231.9.1:");
    assert_eq!(flow["dst"], "239.1.1.3:5000");
    assert_eq!(flow["kind"], "udp-ts");
    assert_eq!(flow["group"], "paced");
    let mdi = &flow["mdi"];
    assert_eq!(mdi["rate_source"], "group");
    assert_eq!(mdi["rate_bps"], 2_000_000);
    // The relay only delays (order kept): nothing is lost or out of order.
    assert_eq!(mdi["lost_total"], 0, "{pcap}: {mdi}");
    assert_eq!(flow["ts"]["tr101290"]["cc_error"]["count"], 0, "{pcap}");
    let reference = reference_script(
        "mdi_reference.py",
        &[
            capture.as_os_str(),
            "239.1.1.3:5000".as_ref(),
            "2000000".as_ref(),
        ],
    );
    assert_eq!(
        mdi["intervals"].as_u64().unwrap() as usize,
        reference["intervals"].as_array().unwrap().len()
    );
    for key in ["df_ms_min", "df_ms_max", "df_ms_avg", "df_ms_last"] {
        let (ours, theirs) = (mdi[key].as_f64().unwrap(), reference[key].as_f64().unwrap());
        assert!(
            (ours - theirs).abs() < 1e-5,
            "{pcap} {key}: streamprobe {ours} ms, reference {theirs} ms"
        );
    }
    mdi["df_ms_avg"].as_f64().unwrap()
}

/// RFC 4445's Delay Factor on a real paced stream (ffmpeg CBR TS, GStreamer paced by PCR)
/// equals an independent virtual buffer on both sides of the relay, and rises when the relay
/// adds up to 300 ms of delay variation. What the relay adds is the receiver's DF less the
/// sender's on the same packets, which leaves out the sender's own scheduling stalls on this
/// VM (undisturbed sender-side DF: 5.3 ms, one datagram's time, up to 80 ms when stalled).
#[test]
fn delay_factor_rises_with_delay_variation() {
    let _turn = turn();
    let Some(calm) = harness("mdi-calm", "paced-ts", 5, &["--seed", "303"]) else {
        return;
    };
    let shaken = harness(
        "mdi-delay",
        "paced-ts",
        5,
        &["--seed", "303", "--delay-ms", "300"],
    )
    .unwrap();
    let [calm_tx, calm_rx, shaken_tx, shaken_rx] = [
        (&calm, "sender.pcap"),
        (&calm, "capture.pcap"),
        (&shaken, "sender.pcap"),
        (&shaken, "capture.pcap"),
    ]
    .map(|(dir, pcap)| paced_delay_factor(dir, pcap));
    eprintln!(
        "DF avg, sender side > receiver side: undisturbed {calm_tx:.1} > {calm_rx:.1} ms, \
         0-300 ms delay {shaken_tx:.1} > {shaken_rx:.1} ms"
    );
    assert!(calm_tx >= 5.2, "below one datagram's time: {calm_tx}");
    let (calm_added, shaken_added) = (calm_rx - calm_tx, shaken_rx - shaken_tx);
    assert!(
        shaken_added > 60.0 && shaken_added > calm_added + 50.0,
        "the relay added {shaken_added} ms of DF with delay variation, {calm_added} ms without"
    );
    std::fs::remove_dir_all(&calm).ok();
    std::fs::remove_dir_all(&shaken).ok();
}
