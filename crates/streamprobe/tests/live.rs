//! `streamprobe run --interface` under a steady load: tcpreplay sends a fixture capture ten
//! times over a veth pair between two namespaces the test creates, at a fixed rate far below
//! what the probe handles; the probe (two fanout workers) must count every packet of every
//! flow with zero kernel drops. Needs root and tcpreplay; when missing the test fails if
//! STREAMPROBE_REQUIRE_NETNS=1 (as in CI) and is skipped otherwise.

mod common;

use common::{analyze, root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sh(command: &str) -> bool {
    Command::new("sh")
        .args(["-c", command])
        .status()
        .is_ok_and(|s| s.success())
}

fn prerequisites() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root".into());
    }
    for tool in ["ip", "tcpreplay"] {
        if !sh(&format!("command -v {tool} >/dev/null")) {
            return Err(format!("{tool} missing"));
        }
    }
    Ok(())
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Pair {
    tx: String,
    rx: String,
}

impl Pair {
    fn new() -> Pair {
        let id = std::process::id() % 100_000;
        let pair = Pair {
            tx: format!("splvtx{id}"),
            rx: format!("splvrx{id}"),
        };
        let script = format!(
            "set -e
             ip netns add {tx}; ip netns add {rx}
             ip link add lva{id} type veth peer name lvb{id}
             ip link set lva{id} netns {tx}; ip link set lvb{id} netns {rx}
             ip -n {tx} link set lva{id} up; ip -n {rx} link set lvb{id} up",
            tx = pair.tx,
            rx = pair.rx
        );
        assert!(sh(&script), "cannot create the namespaces");
        pair
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        sh(&format!(
            "ip netns del {} 2>/dev/null; ip netns del {} 2>/dev/null",
            self.tx, self.rx
        ));
    }
}

#[test]
fn interface_capture_counts_every_packet_with_no_kernel_drops() {
    if let Err(why) = prerequisites() {
        if std::env::var("STREAMPROBE_REQUIRE_NETNS").as_deref() == Ok("1") {
            panic!("live test cannot run: {why}");
        }
        eprintln!("skipping live test: {why}");
        return;
    }
    let pair = Pair::new();
    let id = std::process::id() % 100_000;
    let fixture = root().join("tests/fixtures/impaired/capture.pcap");
    let offline = analyze(&fixture);
    let mut probe = Command::new("ip")
        .args(["netns", "exec", &pair.rx, env!("CARGO_BIN_EXE_streamprobe")])
        .args(["run", "--interface", &format!("lvb{id}"), "--filter", "udp"])
        .args([
            "--workers",
            "2",
            "--promiscuous",
            "--json",
            "--duration",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready when the first probe record comes out: the rings are open.
    let mut lines = BufReader::new(probe.stdout.take().unwrap()).lines();
    let mut records: Vec<Value> = Vec::new();
    for line in lines.by_ref() {
        let r: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let is_probe = r["type"] == "probe";
        records.push(r);
        if is_probe {
            break;
        }
    }
    // 10 passes of 1,372 packets at 10,000 packets/s: 1.4 s.
    let started = Instant::now();
    let replay = Command::new("ip")
        .args([
            "netns",
            "exec",
            &pair.tx,
            "tcpreplay",
            "-q",
            "--pps",
            "10000",
            "--loop",
            "10",
        ])
        .arg(format!("--intf1=lva{id}"))
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let sent = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    sh(&format!("kill -INT {}", probe.id()));
    records.extend(lines.map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap()));
    let status = probe.wait().unwrap();
    assert!(status.success(), "probe exit {status}");

    let probes: Vec<&Value> = records.iter().filter(|r| r["type"] == "probe").collect();
    let total = |key: &str| -> u64 { probes.iter().map(|p| p[key].as_u64().unwrap()).sum() };
    let frames = offline["capture"]["packets"].as_u64().unwrap();
    eprintln!(
        "{} packets in {:.2} s, {} kernel drops, worker packets {:?}",
        total("packets"),
        sent.as_secs_f64(),
        total("kernel_drops"),
        probes
            .iter()
            .map(|p| p["workers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["packets"].as_u64().unwrap())
                .sum::<u64>())
            .collect::<Vec<_>>()
    );
    assert_eq!(total("kernel_drops"), 0);
    assert_eq!(total("packets"), 10 * frames);
    // Every flow's packets, each counted by one worker: ten times the capture's.
    let mut live: BTreeMap<&str, u64> = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "flow") {
        *live.entry(r["flow"].as_str().unwrap()).or_default() += r["packets"].as_u64().unwrap();
    }
    let flows = offline["flows"].as_array().unwrap();
    assert_eq!(live.len(), flows.len());
    for f in flows {
        let id = f["id"].as_str().unwrap();
        assert_eq!(live[id], 10 * f["packets"].as_u64().unwrap(), "{id}");
    }
    // Both workers took a share: the fanout spread the flows.
    let per_worker: Vec<u64> = (0..2)
        .map(|w| {
            probes
                .iter()
                .map(|p| p["workers"][w]["packets"].as_u64().unwrap())
                .sum()
        })
        .collect();
    assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");
}
