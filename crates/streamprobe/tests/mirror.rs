//! Mirroring end to end (docs/mirror.md): a real capture (ffmpeg's MPEG-TS over UDP and
//! RTP, through the impairment relay: tests/fixtures/impaired) replayed by `streamprobe run`,
//! its flows mirrored to UDP ports on loopback. Receivers in the test check the datagrams
//! against the capture's UDP payloads byte for byte and in order, ffprobe plays a mirror live,
//! and the rate limit drops exactly what the documented token bucket drops. Needs ffprobe
//! (scripts/install-deps.sh --test installs ffmpeg).

mod common;

use common::probe::{fresh_dir, Probe};
use common::root;
use serde_json::Value;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const TS_FLOW: &str = "239.1.1.1:5000";
const RTP_TS_FLOW: &str = "10.231.9.1:50297>239.1.1.2:5002/0x08745b0d";

fn capture() -> PathBuf {
    root().join("tests/fixtures/impaired/capture.pcap")
}

/// The capture's datagrams to `dst` (and from `src`, when given), in capture order: their
/// arrival times (never stepping back, as the replay stamps them) and UDP payloads.
///
/// Read by hand from the pcap file, not with the probe's own decoder (`wire`), so that a
/// decoder bug cannot agree with itself: the capture is a nanosecond pcap (magic a1b23c4d,
/// little-endian) of Ethernet frames, every one IPv4 + UDP, none fragmented or cut.
fn datagrams(dst: &str, src: Option<&str>) -> Vec<(i64, Vec<u8>)> {
    let dst: std::net::SocketAddr = dst.parse().unwrap();
    let src: Option<std::net::SocketAddr> = src.map(|s| s.parse().unwrap());
    let file = std::fs::read(capture()).unwrap();
    let u16_be = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let u32_le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    assert_eq!(u32_le(&file[0..4]), 0xa1b2_3c4d, "a nanosecond pcap");
    assert_eq!(u32_le(&file[20..24]), 1, "Ethernet (LINKTYPE_ETHERNET)");
    let mut out = Vec::new();
    let mut last = i64::MIN;
    let mut at = 24;
    while at < file.len() {
        let record = &file[at..at + 16];
        let arrival =
            i64::from(u32_le(&record[0..4])) * 1_000_000_000 + i64::from(u32_le(&record[4..8]));
        let (incl, orig) = (
            u32_le(&record[8..12]) as usize,
            u32_le(&record[12..16]) as usize,
        );
        assert_eq!(incl, orig, "a cut frame at byte {at}");
        let frame = &file[at + 16..at + 16 + incl];
        at += 16 + incl;
        last = last.max(arrival);
        // Ethernet II: EtherType at 12; IPv4 (RFC 791): IHL, protocol 17, no fragment.
        assert_eq!(u16_be(&frame[12..14]), 0x0800, "IPv4 frames only");
        let ip = &frame[14..];
        assert_eq!(ip[0] >> 4, 4);
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        assert_eq!(ip[9], 17, "UDP only");
        assert_eq!(u16_be(&ip[6..8]) & 0x3fff, 0, "no fragments");
        let addr = |b: &[u8], port: &[u8]| {
            std::net::SocketAddr::from(([b[0], b[1], b[2], b[3]], u16_be(port)))
        };
        // UDP (RFC 768): ports, then its length, header included.
        let udp = &ip[ihl..];
        let (from, to) = (addr(&ip[12..16], &udp[0..2]), addr(&ip[16..20], &udp[2..4]));
        let len = usize::from(u16_be(&udp[4..6]));
        if to == dst && src.is_none_or(|s| s == from) {
            out.push((last, udp[8..len].to_vec()));
        }
    }
    out
}

/// Each datagram is whole MPEG-TS packets (ISO/IEC 13818-1 2.4.3.2): 188 bytes each, each
/// starting with the sync byte 0x47.
fn is_ts(datagram: &[u8]) -> bool {
    !datagram.is_empty() && datagram.len() % 188 == 0 && datagram.chunks(188).all(|p| p[0] == 0x47)
}

/// A receiver on a free loopback port: its port and what it receives, as it comes.
fn receiver() -> (u16, Receiver<Vec<u8>>) {
    let (port, rx) = timed_receiver();
    let (tx, untimed) = channel();
    std::thread::spawn(move || {
        while let Ok((_, d)) = rx.recv() {
            if tx.send(d).is_err() {
                return;
            }
        }
    });
    (port, untimed)
}

/// A receiver on a free loopback port: its port and what it receives, each datagram with
/// the instant the receiving thread had it.
fn timed_receiver() -> (u16, Receiver<(Instant, Vec<u8>)>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        socket
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        while let Ok(n) = socket.recv(&mut buf) {
            if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// Everything received until nothing more comes for `quiet`.
fn collect(rx: &Receiver<Vec<u8>>, quiet: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while let Ok(d) = rx.recv_timeout(quiet) {
        got.push(d);
    }
    got
}

/// Everything received until `until`, whether or not it keeps coming.
fn collect_until<T>(rx: &Receiver<T>, until: Instant) -> Vec<T> {
    let mut got = Vec::new();
    while let Ok(d) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        got.push(d);
    }
    got
}

/// The probe's stderr lines until it exits (the replay ran to its end).
fn wait_for_exit(mut probe: Probe) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = probe.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the replay did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let mut lines = Vec::new();
    while let Ok(l) = probe.stderr.recv_timeout(Duration::from_secs(2)) {
        lines.push(l);
    }
    lines
}

fn mirror_line<'a>(lines: &'a [String], flow: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with("streamprobe: mirror ") && l.contains(&format!(" {flow} -> ")))
        .unwrap_or_else(|| panic!("no mirror line for {flow}: {lines:?}"))
}

fn config(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("probe.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Starts a replay of the capture with `config`, at 4 times its pace, no store.
fn replay(dir: &std::path::Path, config: &str, extra: &[&str]) -> Probe {
    let capture = capture().display().to_string();
    let mut args = vec!["--replay", &capture, "--config", config, "--store", "none"];
    args.extend_from_slice(extra);
    Probe::start(dir, &args)
}

#[test]
fn config_mirrors_send_every_datagram_of_their_flow_byte_identical_and_in_order() {
    let dir = fresh_dir("mirror-config");
    let (ts_port, ts_rx) = receiver();
    let (rtp_port, rtp_rx) = receiver();
    let file = config(
        &dir,
        &format!(
            "[[mirror]]\nflow = \"{TS_FLOW}\"\nto = \"127.0.0.1:{ts_port}\"\n\n[[mirror]]\nflow = \"{RTP_TS_FLOW}\"\nto = \"127.0.0.1:{rtp_port}\"\n"
        ),
    );
    let probe = replay(&dir, &file, &["--speed", "4", "--json"]);
    let lines = wait_for_exit(probe);
    let ts_want: Vec<Vec<u8>> = datagrams(TS_FLOW, None).into_iter().map(|d| d.1).collect();
    let rtp_want: Vec<Vec<u8>> = datagrams("239.1.1.2:5002", Some("10.231.9.1:50297"))
        .into_iter()
        .map(|d| d.1)
        .collect();
    // The capture's own figures (analyze: 282 and 156 datagrams, duplicates included).
    assert_eq!((ts_want.len(), rtp_want.len()), (282, 156));
    let ts_got = collect(&ts_rx, Duration::from_secs(2));
    let rtp_got = collect(&rtp_rx, Duration::from_secs(1));
    assert_eq!(ts_got.len(), ts_want.len());
    assert!(
        ts_got == ts_want,
        "the TS mirror's payloads differ from the capture's"
    );
    assert!(
        ts_got.iter().all(|d| is_ts(d)),
        "the TS mirror's datagrams are not whole TS packets"
    );
    assert_eq!(rtp_got.len(), rtp_want.len());
    assert!(
        rtp_got == rtp_want,
        "the RTP mirror's payloads differ from the capture's"
    );
    // RTP as received: version 2, the flow's SSRC, MPEG-TS (PT 33) after the 12-byte header.
    assert!(rtp_got
        .iter()
        .all(|d| d[0] >> 6 == 2 && d[8..12] == 0x0874_5b0du32.to_be_bytes() && d[12] == 0x47));
    let bytes: usize = ts_want.iter().map(Vec::len).sum();
    let line = mirror_line(&lines, TS_FLOW);
    assert!(
        line.contains(&format!(
            ": 282 of 282 datagrams sent ({bytes} bytes), 0 dropped at the ring, 0 over the rate limit"
        )),
        "{line}"
    );
    assert!(
        mirror_line(&lines, RTP_TS_FLOW).contains(": 156 of 156 datagrams sent"),
        "{lines:?}"
    );
}

/// The documented limit (docs/mirror.md): a bucket of max(rate x 250 ms, 64 KiB), full at the
/// start, filled at `rate` in arrival time; a datagram passes if its bytes are in it.
fn token_bucket(datagrams: &[(i64, Vec<u8>)], rate_bps: u64) -> Vec<bool> {
    let capacity = (rate_bps as u128 * 250 / 1000 / 8).max(65_536) * 8_000_000_000;
    let mut tokens = capacity;
    let mut last = datagrams[0].0;
    datagrams
        .iter()
        .map(|(t, payload)| {
            tokens = (tokens + (t - last) as u128 * rate_bps as u128).min(capacity);
            last = *t;
            let cost = payload.len() as u128 * 8_000_000_000;
            let pass = cost <= tokens;
            if pass {
                tokens -= cost;
            }
            pass
        })
        .collect()
}

#[test]
fn a_rate_limited_mirror_drops_exactly_what_the_token_bucket_drops_and_counts_them() {
    let dir = fresh_dir("mirror-rate");
    let (port, rx) = receiver();
    // The flow runs at ~280 kbit/s: 100 kbit/s keeps about a third once the burst is spent.
    let file = config(
        &dir,
        &format!(
            "[[mirror]]\nflow = \"{TS_FLOW}\"\nto = \"127.0.0.1:{port}\"\nrate = \"100 kbit/s\"\n"
        ),
    );
    let probe = replay(&dir, &file, &["--speed", "8"]);
    let lines = wait_for_exit(probe);
    let all = datagrams(TS_FLOW, None);
    let verdicts = token_bucket(&all, 100_000);
    let want: Vec<Vec<u8>> = all
        .iter()
        .zip(&verdicts)
        .filter(|(_, pass)| **pass)
        .map(|(d, _)| d.1.clone())
        .collect();
    let dropped = all.len() - want.len();
    assert!((100..200).contains(&dropped), "{dropped} of {}", all.len());
    let got = collect(&rx, Duration::from_secs(2));
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the datagrams kept are not the bucket's");
    // At most the burst plus the rate over the flow's span went out.
    let bytes: usize = want.iter().map(Vec::len).sum();
    let span_s = (all.last().unwrap().0 - all[0].0) as f64 / 1e9;
    assert!(
        bytes as f64 <= 65_536.0 + 100_000.0 / 8.0 * span_s,
        "{bytes}"
    );
    let line = mirror_line(&lines, TS_FLOW);
    assert!(
        line.contains(&format!(
            ": {} of 282 datagrams sent ({bytes} bytes), 0 dropped at the ring, {dropped} over the rate limit (100000 bit/s)",
            want.len()
        )),
        "{line}"
    );
}

/// ffprobe reading `udp://127.0.0.1:PORT` as the mirror arrives: its programs and streams.
fn ffprobe_live(port: u16) -> std::process::Child {
    Command::new("ffprobe")
        .args(["-v", "quiet", "-of", "json"])
        .args([
            "-show_entries",
            "stream=codec_name,codec_type:program=program_id",
        ])
        .arg("-i")
        .arg(format!("udp://127.0.0.1:{port}?timeout=30000000"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffprobe must be installed (scripts/install-deps.sh --test installs ffmpeg)")
}

/// Where `got` sits in the capture's datagrams replayed over and over: the start index if
/// `got` is a run of them, in order, none missing.
fn run_in_loop(want: &[Vec<u8>], got: &[Vec<u8>]) -> Option<usize> {
    (0..want.len()).find(|&k| {
        got.iter()
            .enumerate()
            .all(|(i, d)| *d == want[(k + i) % want.len()])
    })
}

#[test]
fn an_api_mirror_plays_in_ffprobe_is_exact_and_ends_with_delete() {
    let dir = fresh_dir("mirror-api");
    let file = config(&dir, "# no mirror at start\n");
    let probe = replay(&dir, &file, &["--loop", "--duration", "90"]);
    let token = probe.token();
    // A free UDP port for ffprobe, which binds it itself.
    let ffprobe_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ffprobe = ffprobe_live(ffprobe_port);
    std::thread::sleep(Duration::from_millis(300));
    let body = |to: u16| format!("{{\"flow\": \"{TS_FLOW}\", \"to\": \"127.0.0.1:{to}\"}}");
    // Without the token: refused, and nothing made.
    let (status, text) = probe.http(
        "POST",
        "/api/v1/mirror",
        None,
        body(ffprobe_port).as_bytes(),
    );
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        probe.get("/api/v1/mirror")["mirrors"],
        serde_json::json!([])
    );
    // Bad bodies: one clear error each.
    for (bad, names) in [
        (
            "{\"flow\": \"239.1.1.1:5000\", \"to\": \"239.2.2.2:6000\"}",
            "multicast",
        ),
        ("{\"flow\": \"239.1.1.1:5000\"}", "missing field `to`"),
        (
            "{\"to\": \"127.0.0.1:6000\", \"flow\": \"a>b\"}",
            "flow \"a>b\"",
        ),
    ] {
        let (status, text) = probe.http("POST", "/api/v1/mirror", Some(&token), bad.as_bytes());
        assert_eq!(status, 400, "{bad}: {text}");
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert!(doc["error"].as_str().unwrap().contains(names), "{text}");
    }
    let (status, text) = probe.http(
        "POST",
        "/api/v1/mirror",
        Some(&token),
        body(ffprobe_port).as_bytes(),
    );
    assert_eq!(status, 201, "{text}");
    let (port, rx) = timed_receiver();
    let (status, text) = probe.http(
        "POST",
        "/api/v1/mirror",
        Some(&token),
        body(port).as_bytes(),
    );
    assert_eq!(status, 201, "{text}");
    let made: Value = serde_json::from_str(&text).unwrap();
    let id = made["id"].as_u64().unwrap();
    assert_eq!(made["flow"], TS_FLOW);

    // (b) ffprobe finds the program and its H.264 video and AAC audio in the mirrored stream.
    let out = ffprobe.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ffprobe found no stream in the mirror"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut codecs: Vec<String> = doc["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["codec_type"].as_str().unwrap(),
                s["codec_name"].as_str().unwrap()
            )
        })
        .collect();
    codecs.sort();
    assert_eq!(codecs, ["audio:aac", "video:h264"], "{doc}");
    assert_eq!(doc["programs"][0]["program_id"], 1, "{doc}");

    // (a) and (d): what arrived until DELETE is a run of the capture's payloads, DELETE says
    // so in its final figures, and nothing arrives after it.
    let listed = probe.get("/api/v1/mirror");
    let ours = listed["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(ours["state"], "mirroring");
    assert_eq!(ours["origin"], "api");
    assert_eq!(
        (ours["dropped_ring"].as_u64(), ours["dropped_rate"].as_u64()),
        (Some(0), Some(0))
    );
    let path = format!("/api/v1/mirror/{id}");
    assert_eq!(probe.http("DELETE", &path, None, b"").0, 401);
    let (status, text) = probe.http("DELETE", &path, Some(&token), b"");
    // DELETE returns once the sender has let go of the mirror: nothing is sent after.
    let deleted = Instant::now();
    assert_eq!(status, 200, "{text}");
    let ended: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&ended["id"], &ended["state"]),
        (&id.into(), &"ended".into())
    );
    let figure = |key: &str| {
        ended[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {ended}"))
    };
    assert_eq!(
        figure("matched"),
        figure("packets_sent")
            + figure("dropped_ring")
            + figure("dropped_rate")
            + figure("cut")
            + figure("send_errors")
            + figure("discarded"),
        "{ended}"
    );
    assert_eq!(probe.http("DELETE", &path, Some(&token), b"").0, 404);
    // Whatever comes in the 1.5 s after DELETE, stamped as it comes (the flow goes on: the
    // replay loops for 90 s).
    let timed = collect_until(&rx, deleted + Duration::from_millis(1500));
    // Loopback delivers a datagram at its sendto; the receiving thread may be scheduled a
    // little later on a busy machine, hence the 25 ms.
    let late = timed
        .iter()
        .filter(|(at, _)| *at > deleted + Duration::from_millis(25))
        .count();
    assert_eq!(late, 0, "{late} datagrams arrived after DELETE returned");
    let got: Vec<Vec<u8>> = timed.into_iter().map(|(_, d)| d).collect();
    // Every datagram the mirror sent arrived (loopback), no more.
    assert_eq!(got.len() as u64, figure("packets_sent"), "{ended}");
    assert!(got.len() > 100, "{}", got.len());
    let want: Vec<Vec<u8>> = datagrams(TS_FLOW, None).into_iter().map(|d| d.1).collect();
    assert!(
        run_in_loop(&want, &got).is_some(),
        "the {} datagrams received are not a run of the capture's",
        got.len()
    );
    assert!(got.iter().all(|d| is_ts(d)), "not whole TS packets");
    let left = probe.get("/api/v1/mirror");
    assert_eq!(left["mirrors"].as_array().unwrap().len(), 1, "{left}");
    let (_, status) = probe.stop();
    assert!(status.success());
}

#[test]
fn bad_mirror_tables_are_refused_at_start_naming_the_key_and_line() {
    let dir = fresh_dir("mirror-bad-config");
    for (table, names) in [
        (
            "flow = \"239.1.1.1:5000\"\nto = \"224.0.0.1:6000\"\n",
            "probe.toml:3:6: mirror.to \"224.0.0.1:6000\": a multicast address",
        ),
        (
            "flow = \"239.1.1\"\nto = \"127.0.0.1:6000\"\n",
            "probe.toml:2:8: mirror.flow \"239.1.1\"",
        ),
        (
            "flow = \"239.1.1.1\"\nto = \"127.0.0.1:6000\"\nrate = \"fast\"\n",
            "probe.toml:4:8: mirror.rate:",
        ),
        (
            "flow = \"239.1.1.1\"\nto = \"127.0.0.1:6000\"\nrate = 10\n",
            "mirror.rate: 10 bit/s is outside",
        ),
        ("flow = \"239.1.1.1\"\n", "missing field `to`"),
    ] {
        let file = config(&dir, &format!("[[mirror]]\n{table}"));
        let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
            .args([
                "run",
                "--replay",
                &capture().display().to_string(),
                "--config",
                &file,
            ])
            .args(["--store", "none", "--api-listen", "none"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{table}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(names), "{table}: {err}");
    }
}
