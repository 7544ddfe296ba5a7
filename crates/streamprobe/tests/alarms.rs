//! Alarms end to end (issue 20): a replay whose stream breaks its group's loss limit for 5 s
//! and is healthy after gives exactly one `raised` and one `cleared` record, with the rule,
//! flow and times the capture sets, on standard output, through the API (live and from the
//! store), with an acknowledgement between (the token needed: 401 without); a second run on
//! the same store goes on with the next id. A replay runs in packet time moved to the wall
//! clock's whole second, so times are checked against the flow records' own: the k-th
//! interval's record ends k s into the capture.

mod common;

use common::parse_lines;
use common::probe::{fresh_dir, Probe};
use serde_json::Value;
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};
use testbed::pcap_writer::{rtp_packet, udp_frame, PcapWriter};

const S: i64 = 1_000_000_000;
/// 2026-12-07T00:00:00Z: the capture starts on a whole second.
const T0: i64 = 1_796_601_600 * S;
const FLOW: &str = "10.9.0.1:4000>239.9.0.1:5004/0x00001234";

/// A 90 kHz RTP stream of 50 packets a second (25 frames of 2 packets) for `seconds` s;
/// from 10 s to 15 s every odd sequence number is lost (50 % loss in those intervals).
fn write_capture(path: &Path, seconds: i64) {
    let file = std::fs::File::create(path).unwrap();
    let mut out = PcapWriter::new(BufWriter::new(file)).unwrap();
    let payload = [0u8; 1000];
    for i in 0..seconds * 50 {
        let t = T0 + i * 20_000_000;
        let lost = (10 * S..15 * S).contains(&(t - T0)) && i % 2 == 1;
        if lost {
            continue;
        }
        let ts = (i / 2) as u32 * 3600;
        let p = rtp_packet(96, i % 2 == 1, i as u16, ts, 0x1234, &payload);
        let f = udp_frame([10, 9, 0, 1], 4000, [239, 9, 0, 1], 5004, &p);
        out.write_frame(t, &f, f.len()).unwrap();
    }
    drop(out);
}

const CONFIG: &str =
    "[[group]]\nname = \"cams\"\nprefixes = [\"239.9.0.1/32\"]\nmedia_rate = \"400k\"\n\
    [group.sla]\nmax_loss_pct = 5\n\n[alarms]\nraise_after = 3\nclear_after = 10\n";

/// Polls `path` until `ready` passes.
fn wait(probe: &Probe, path: &str, within: Duration, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let doc = probe.get(path);
        if ready(&doc) {
            return doc;
        }
        assert!(Instant::now() < deadline, "{path} not ready: {doc}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_loss_burst_is_one_episode_raised_acknowledged_cleared_and_stored() {
    let dir = fresh_dir("alarms-e2e");
    let pcap = dir.join("burst.pcap");
    write_capture(&pcap, 36);
    let config = dir.join("probe.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let store = dir.join("store.db");
    let args = |speed: &'static str| {
        vec![
            "--replay".to_string(),
            pcap.display().to_string(),
            "--speed".into(),
            speed.into(),
            "--json".into(),
            "--config".into(),
            config.display().to_string(),
            "--store".into(),
            store.display().to_string(),
        ]
    };
    let first = args("4");
    let probe = Probe::start(&dir, &first.iter().map(String::as_str).collect::<Vec<_>>());
    // Raised at the end of the third bad interval: 13 s into the capture.
    let active = wait(&probe, "/api/v1/alarms", Duration::from_secs(20), |d| {
        d["active"] == 1
    });
    assert_eq!(active["schema"], "streamprobe.alarms/1");
    assert_eq!(active["state"], "active");
    assert_eq!(active["source"], "live");
    let a = &active["alarms"][0];
    let id = a["id"].as_u64().unwrap();
    assert_eq!(id, 1);
    assert_eq!(a["state"], "raised");
    assert_eq!(a["rule"], "max_loss_pct");
    assert_eq!(a["flow"], FLOW);
    assert_eq!(a["group"], "cams");
    let raised_at = a["raised"].as_str().unwrap().to_string();
    assert_eq!(a["threshold"], 5.0);
    assert_eq!(a["value"], 50.0);
    // The flow is red while it lasts.
    let flow = probe.get(&format!(
        "/api/v1/flows/{}",
        FLOW.replace('>', "%3E").replace('/', "%2F")
    ));
    assert_eq!(
        (flow["health"].as_str(), flow["active_alarms"].as_u64()),
        (Some("red"), Some(1))
    );
    let (status, metrics) = probe.http("GET", "/metrics", None, b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("streamprobe_alarms_active{rule=\"max_loss_pct\"} 1")
            && metrics.contains("streamprobe_alarms_active{rule=\"silent\"} 0"),
        "{metrics}"
    );
    // Acknowledged: the token is needed.
    let path = format!("/api/v1/alarms/{id}/ack");
    let body = br#"{"by": "tester", "note": "burst seen"}"#;
    let (status, text) = probe.http("POST", &path, None, body);
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["schema"],
        "streamprobe.error/1"
    );
    let token = probe.token();
    let (status, text) = probe.http("POST", &path, Some(&token), body);
    assert_eq!(status, 202, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["schema"], "streamprobe.alarm_ack/1");
    assert_eq!(
        (answer["id"].as_u64(), answer["status"].as_str()),
        (Some(id), Some("queued"))
    );
    let (status, _) = probe.http("POST", "/api/v1/alarms/999/ack", Some(&token), b"");
    assert_eq!(status, 404);
    let acked = wait(&probe, "/api/v1/alarms", Duration::from_secs(10), |d| {
        d["alarms"][0]["state"] == "acknowledged"
    });
    assert_eq!(acked["alarms"][0]["ack"]["by"], "tester");
    assert_eq!(acked["alarms"][0]["ack"]["note"], "burst seen");
    // Cleared at the end of the tenth good interval: 25 s into the capture.
    wait(&probe, "/api/v1/alarms", Duration::from_secs(20), |d| {
        d["active"] == 0
    });
    let (status, text) = probe.http("POST", &path, Some(&token), b"");
    assert_eq!(status, 409, "{text}");
    let all = probe.get("/api/v1/alarms?state=all");
    assert_eq!(all["source"], "store");
    let states: Vec<&str> = all["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["raised", "acknowledged", "cleared"]);
    let cleared = &all["alarms"][2];
    assert_eq!(cleared["id"].as_u64(), Some(id));
    let cleared_at = cleared["time"].as_str().unwrap().to_string();
    assert_eq!(cleared["raised"].as_str(), Some(raised_at.as_str()));
    assert_eq!(cleared["reason"], "good");
    assert_eq!(cleared["ack"]["by"], "tester");
    // Filters.
    assert_eq!(
        probe.get("/api/v1/alarms?state=all&rule=silent")["alarms"],
        serde_json::json!([])
    );
    let later = probe.get(&format!("/api/v1/alarms?state=all&from={cleared_at}"));
    assert_eq!(later["alarms"].as_array().unwrap().len(), 1);
    let (status, _) = probe.http("GET", "/api/v1/alarms?state=open", None, b"");
    assert_eq!(status, 400);
    let (stdout, status) = probe.stop();
    assert!(status.success());
    // Standard output carries the same records.
    let records = parse_lines(&stdout);
    let alarms: Vec<&Value> = records.iter().filter(|r| r["type"] == "alarm").collect();
    assert_eq!(alarms.len(), 3, "{alarms:?}");
    assert_eq!(alarms[0]["schema"], "streamprobe.alarm/1");
    assert_eq!(
        alarms
            .iter()
            .map(|a| a["state"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["raised", "acknowledged", "cleared"]
    );
    // Raised at the end of the third bad interval (13 s into the capture), cleared at the
    // end of the tenth good one (25 s: the interval ending at 15 s lost the last gap's
    // packet, 1 of 50, 2 %, within the limit).
    let flow_times: Vec<&str> = records
        .iter()
        .filter(|r| r["type"] == "flow")
        .map(|r| r["time"].as_str().unwrap())
        .collect();
    // Stopped (SIGTERM) soon after the clear: the intervals up to it at least.
    assert!(flow_times.len() >= 25, "{}", flow_times.len());
    assert_eq!(raised_at, flow_times[12]);
    assert_eq!(cleared_at, flow_times[24]);
    assert_eq!(alarms[0]["time"].as_str(), Some(flow_times[12]));
    assert_eq!(alarms[2]["time"].as_str(), Some(flow_times[24]));
    let loss: Vec<bool> = records
        .iter()
        .filter(|r| r["type"] == "flow")
        .map(|r| !r["sla"]["violations"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(
        loss.iter()
            .enumerate()
            .filter(|(_, broken)| **broken)
            .map(|(i, _)| i)
            .collect::<Vec<usize>>(),
        (10..15).collect::<Vec<usize>>(),
        "the intervals ending 11 to 15 s broke the limit"
    );

    // A second run on the same store: the records of the first are there, and the new
    // episode's id follows them.
    let second = args("20");
    let probe = Probe::start(&dir, &second.iter().map(String::as_str).collect::<Vec<_>>());
    let all = wait(
        &probe,
        "/api/v1/alarms?state=all",
        Duration::from_secs(20),
        |d| d["alarms"].as_array().unwrap().len() >= 4,
    );
    // By id: a replay's packet time starts at the wall clock's second and runs ahead of it
    // at speed 4, so the first run's records may be later than the second's.
    let mut ids: Vec<u64> = all["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(&ids[..4], [1, 1, 1, 2]);
    drop(probe);
}

/// The engine's alarms reach a receiver from the binary: a webhook (a local HTTP server, the
/// user's side of it) gets exactly the episode's `raised` and `cleared` records, in that order,
/// as the store and standard output have them.
#[test]
fn the_episode_reaches_a_webhook_raised_then_cleared() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = fresh_dir("alarms-webhook");
    let pcap = dir.join("burst.pcap");
    write_capture(&pcap, 36);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = dir.join("probe.toml");
    std::fs::write(
        &config,
        format!("{CONFIG}webhook = [\"http://127.0.0.1:{port}/hook\"]\n"),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .unwrap();
            if tx
                .send(serde_json::from_slice::<Value>(&body).unwrap())
                .is_err()
            {
                return;
            }
        }
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args(["run", "--replay"])
        .arg(&pcap)
        .args([
            "--speed",
            "8",
            "--json",
            "--store",
            "none",
            "--api-listen",
            "none",
        ])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<Value> = parse_lines(&out.stdout)
        .into_iter()
        .filter(|r| r["type"] == "alarm")
        .collect();
    // Whatever arrived: at most a few seconds after the probe ended, nothing more is coming.
    let mut bodies = Vec::new();
    while let Ok(b) = rx.recv_timeout(Duration::from_secs(3)) {
        bodies.push(b);
    }
    let states: Vec<(&str, u64, &str, &str)> = bodies
        .iter()
        .map(|b| {
            (
                b["state"].as_str().unwrap(),
                b["id"].as_u64().unwrap(),
                b["rule"].as_str().unwrap(),
                b["flow"].as_str().unwrap(),
            )
        })
        .collect();
    // No store: the first id follows the start's Unix seconds x 1,000,000 (docs/alarms.md).
    let id = states.first().map_or(0, |s| s.1);
    assert_eq!(id % 1_000_000, 1, "{states:?}");
    assert_eq!(
        states,
        [
            ("raised", id, "max_loss_pct", FLOW),
            ("cleared", id, "max_loss_pct", FLOW)
        ]
    );
    assert!(bodies.iter().all(|b| b["schema"] == "streamprobe.alarm/1"));
    assert_eq!(
        bodies, printed,
        "the receiver gets what standard output prints"
    );
}
