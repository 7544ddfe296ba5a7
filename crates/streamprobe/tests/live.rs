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

/// A probe running in a namespace, its JSON records read as they come.
struct LiveProbe {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    records: Vec<Value>,
}

impl LiveProbe {
    /// Starts `streamprobe run --json --duration 30 ARGS` in namespace `ns` and waits for its
    /// first probe record: its sources are open.
    fn start(ns: &str, args: &[&str]) -> LiveProbe {
        let mut child = Command::new("ip")
            .env("STREAMPROBE_API_LISTEN", "none")
            .env("STREAMPROBE_STORE", "none")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_streamprobe")])
            .args(["run", "--json", "--duration", "30"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut probe = LiveProbe {
            lines: BufReader::new(child.stdout.take().unwrap()).lines(),
            child,
            records: Vec::new(),
        };
        for line in probe.lines.by_ref() {
            let r: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let is_probe = r["type"] == "probe";
            probe.records.push(r);
            if is_probe {
                break;
            }
        }
        probe
    }

    /// Stops it with SIGINT 300 ms from now (the last packets read); it must exit 0. All
    /// its records.
    fn stop(mut self) -> Vec<Value> {
        std::thread::sleep(Duration::from_millis(300));
        sh(&format!("kill -INT {}", self.child.id()));
        self.records.extend(
            self.lines
                .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap()),
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "probe exit {status}");
        self.records
    }
}

/// Packets per flow id in the flow records.
fn packets_per_flow(records: &[Value]) -> BTreeMap<String, u64> {
    let mut flows = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "flow") {
        *flows
            .entry(r["flow"].as_str().unwrap().to_string())
            .or_default() += r["packets"].as_u64().unwrap();
    }
    flows
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Pair {
    tx: String,
    rx: String,
    /// The sender's and the receiver's interface.
    a: String,
    b: String,
}

impl Pair {
    /// `tag` (one letter) keeps the names of tests running at once apart.
    fn new(tag: char) -> Pair {
        let id = std::process::id() % 100_000;
        let pair = Pair {
            tx: format!("spl{tag}tx{id}"),
            rx: format!("spl{tag}rx{id}"),
            a: format!("l{tag}a{id}"),
            b: format!("l{tag}b{id}"),
        };
        let script = format!(
            "set -e
             ip netns add {tx}; ip netns add {rx}
             ip link add {a} type veth peer name {b}
             ip link set {a} netns {tx}; ip link set {b} netns {rx}
             ip -n {tx} link set {a} up; ip -n {rx} link set {b} up",
            tx = pair.tx,
            rx = pair.rx,
            a = pair.a,
            b = pair.b
        );
        assert!(sh(&script), "cannot create the namespaces");
        pair
    }

    /// The pair with IPv6 addresses: fd00::1 and fd00::3 on the sender, fd00::2 on the
    /// receiver.
    fn new_v6(tag: char) -> Pair {
        let pair = Pair::new(tag);
        let script = format!(
            "set -e
             ip -n {tx} addr add fd00::1/64 dev {a} nodad
             ip -n {tx} addr add fd00::3/64 dev {a} nodad
             ip -n {rx} addr add fd00::2/64 dev {b} nodad",
            tx = pair.tx,
            rx = pair.rx,
            a = pair.a,
            b = pair.b
        );
        assert!(sh(&script), "cannot address the namespaces");
        pair
    }
}

impl Pair {
    /// tcpreplay sends `capture` `loops` times from the sender's interface at `pps`.
    fn replay(&self, capture: &std::path::Path, pps: u32, loops: u32) {
        let replay = Command::new("ip")
            .args(["netns", "exec", &self.tx, "tcpreplay", "-q"])
            .arg(format!("--pps={pps}"))
            .arg(format!("--loop={loops}"))
            .arg(format!("--intf1={}", self.a))
            .arg(capture)
            .output()
            .unwrap();
        assert!(
            replay.status.success(),
            "{}",
            String::from_utf8_lossy(&replay.stderr)
        );
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
    if !common::may_run(
        "interface",
        common::namespace_prerequisites(&["ip", "tcpreplay"]),
    ) {
        return;
    }
    let pair = Pair::new('r');
    let fixture = root().join("tests/fixtures/impaired/capture.pcap");
    let offline = analyze(&fixture);
    let probe = LiveProbe::start(
        &pair.rx,
        &[
            "--interface",
            &pair.b,
            "--filter",
            "udp",
            "--workers",
            "2",
            "--promiscuous",
        ],
    );
    // 10 passes of 1,372 packets at 10,000 packets/s: 1.4 s.
    let started = Instant::now();
    pair.replay(&fixture, 10_000, 10);
    let sent = started.elapsed();
    let records = probe.stop();

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
    let live = packets_per_flow(&records);
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

/// Which capabilities a running process holds (CapEff of /proc/PID/status), hex.
fn effective_capabilities(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or("?")
        .trim()
        .to_string()
}

/// IPv6 joins: an any-source group and a source-specific channel. Every datagram of the
/// joined source is counted; the channel's group sent to from another source is not (SSM
/// filters by source); the probe holds no capability once its sockets are open.
#[test]
fn ipv6_asm_and_ssm_joins() {
    if !common::may_run(
        "ipv6 joins",
        common::namespace_prerequisites(&["ip", "python3"]),
    ) {
        return;
    }
    let pair = Pair::new_v6('m');
    let probe = LiveProbe::start(
        &pair.rx,
        &[
            "--join",
            "[ff3e::8000:1]:5004",
            "--join",
            "[fd00::1]@[ff3e::8000:2]:5006",
            "--join-interface",
            &pair.b,
        ],
    );
    assert_eq!(effective_capabilities(probe.child.id()), "0000000000000000");
    // 100 RTP packets to each group from fd00::1, and 50 (consecutive numbers, SSRC 3) to
    // the source-specific group from fd00::3.
    let sender = r#"
import socket, struct, sys, time
idx = socket.if_nametoindex(sys.argv[1])
def sock(src):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    s.bind((src, 0))
    return s
a, b = sock("fd00::1"), sock("fd00::3")
for i in range(100):
    for s, port, grp, ssrc in [(a, 5004, "ff3e::8000:1", 1), (a, 5006, "ff3e::8000:2", 2), (b, 5006, "ff3e::8000:2", 3)]:
        if ssrc == 3 and i % 2:
            continue
        seq = i // 2 if ssrc == 3 else i
        s.sendto(struct.pack("!BBHII", 0x80, 96, seq, seq * 3600, ssrc) + b"A" * 200, (grp, port, 0, idx))
    time.sleep(0.005)
"#;
    let sent = Command::new("ip")
        .args(["netns", "exec", &pair.tx, "python3", "-c", sender, &pair.a])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let live = packets_per_flow(&probe.stop());
    let groups: Vec<(String, u64)> = live
        .iter()
        .map(|(flow, n)| (flow.split('>').nth(1).unwrap().to_string(), *n))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("[ff3e::8000:1]:5004/0x00000001".to_string(), 100),
            ("[ff3e::8000:2]:5006/0x00000002".to_string(), 100)
        ],
        "{live:?}"
    );
    assert!(live.keys().all(|f| f.starts_with("[fd00::1]:")), "{live:?}");
}

/// A frame with `tags` (TPID, VID) in front of its EtherType, outermost first.
fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for &(tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        // Priority 5 in the TCI: the VID is its low 12 bits.
        f.extend_from_slice(&(0xa000 | vid).to_be_bytes());
    }
    f.extend_from_slice(&frame[12..]);
    f
}

/// Flows keep their outer VLAN id from a live capture too, where the kernel takes the outer
/// tag out of the frame and gives it beside it (TP_STATUS_VLAN_VALID): a single 802.1Q tag
/// (VID 310), 802.1ad QinQ (outer 100, inner 310: the inner tag stays in the bytes) and an
/// untagged flow, sent by tcpreplay over a veth pair.
#[test]
fn live_flows_keep_the_outer_vlan_id() {
    if !common::may_run(
        "vlan",
        common::namespace_prerequisites(&["ip", "tcpreplay"]),
    ) {
        return;
    }
    use testbed::pcap_writer::{rtp_packet, udp_frame, PcapWriter};
    let dir = std::env::temp_dir().join(format!("sp-vlan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("vlans.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&capture).unwrap()).unwrap();
    for seq in 0..50u16 {
        for (port, tags) in [
            (5000u16, vec![(0x8100, 310)]),
            (5002, vec![(0x88a8, 100), (0x8100, 310)]),
            (5004, vec![]),
        ] {
            let p = rtp_packet(
                96,
                false,
                seq,
                u32::from(seq) * 3600,
                u32::from(port),
                &[0x41; 400],
            );
            let f = tagged(
                &udp_frame([10, 9, 0, 1], 4000, [239, 9, 0, 1], port, &p),
                &tags,
            );
            w.write_frame(i64::from(seq) * 20_000_000, &f, f.len())
                .unwrap();
        }
    }
    w.into_inner().unwrap();
    let pair = Pair::new('v');
    let probe = LiveProbe::start(&pair.rx, &["--interface", &pair.b, "--promiscuous"]);
    pair.replay(&capture, 1000, 1);
    let records = probe.stop();
    let mut vlans = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "flow") {
        vlans.insert(r["dst"].as_str().unwrap().to_string(), r["vlan"].clone());
    }
    assert_eq!(
        vlans,
        BTreeMap::from([
            ("239.9.0.1:5000".to_string(), Value::from(310)),
            ("239.9.0.1:5002".to_string(), Value::from(100)),
            ("239.9.0.1:5004".to_string(), Value::Null),
        ])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
