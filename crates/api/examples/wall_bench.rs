//! The health wall's cost at scale: a live view of FLOWS flows (default 55,000) in 20 groups,
//! every one with 15 minutes of health on the wall, served on a loopback port; times
//! `GET /api/v1/wall` (300 rows, 15 min), a row per flow over 1 minute, and a band of 60 s,
//! each the median of 5, and how long a writer of the live view waits behind a wall request.
//! Run by scripts/bench-wall.sh (release).

use analysis::frames::PayloadFormat;
use analysis::interval::{FlowName, FlowRecord, Record, SCHEMA};
use analysis::kind::FlowKind;
use api::{AppState, Server};
use outputs::live_view::{GroupInfo, Health};
use outputs::{IntervalBatch, LiveView, ProbeRecord, WorkerReport};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_800_000_000;

struct NoConfig;
impl api::ConfigControl for NoConfig {
    fn current(&self) -> String {
        String::new()
    }
    fn apply(&self, _: &str) -> Result<api::routes::ConfigOutcome, String> {
        Err("no config".into())
    }
}

fn record(i: u32, end: i64) -> Record {
    Record::Flow(Box::new(FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time: end,
        interval_s: 1.0,
        name: FlowName {
            src: format!("10.{}.{}.{}:4000", i >> 16, (i >> 8) & 255, i & 255)
                .parse()
                .unwrap(),
            dst: format!("239.1.{}.{}:5000", (i >> 8) & 255, i & 255)
                .parse()
                .unwrap(),
            ssrc: Some(i),
            kind: FlowKind::Rtp,
        },
        payload: PayloadFormat::H264,
        group: Some(format!("g{}", i % 20)),
        vlan: Some(300),
        packets: 3,
        bytes: 4000,
        bitrate_bps: 32000.0,
        lost: 0,
        recovered: Some(0),
        duplicates: 0,
        reordered: Some(0),
        jitter_ms: Some(1.0),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: Some(10.0),
        mlr: Some(0.0),
        tr101290: None,
        tr101290_p1_open: None,
        sla: None,
        programs: None,
    }))
}

fn get(addr: std::net::SocketAddr, path: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..200.min(answer.len())])
    );
    (started.elapsed(), answer.len())
}

fn median(addr: std::net::SocketAddr, path: &str) -> (f64, usize) {
    let mut runs: Vec<(Duration, usize)> = (0..5).map(|_| get(addr, path)).collect();
    runs.sort();
    (runs[2].0.as_secs_f64() * 1e3, runs[2].1)
}

fn main() {
    let flows: u32 = std::env::args()
        .nth(1)
        .map_or(55_000, |a| a.parse().unwrap());
    let groups = (0..20)
        .map(|g| GroupInfo {
            name: format!("g{g}"),
            media_rate_bps: None,
            prefixes: vec![],
        })
        .collect();
    let view = LiveView::new(groups);
    let end = (T0 + 900) * S;
    view.write().apply(&IntervalBatch {
        alarms: Vec::new(),
        end_ns: end,
        records: (0..flows).map(|i| record(i, end)).collect(),
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns: end,
            length_ns: S,
            ..WorkerReport::default()
        }]),
        published: None,
    });
    {
        // 15 minutes of health: green, a band of red over a tenth of the flows.
        let mut v = view.write();
        let rows: Vec<(u32, u32)> = v
            .flows
            .values()
            .map(|f| (f.wall_row, f.name.ssrc.unwrap_or(0)))
            .collect();
        for s in T0..T0 + 900 {
            for &(row, i) in &rows {
                let h = if (T0 + 400..T0 + 430).contains(&s) && i % 10 == 0 {
                    Health::Red
                } else {
                    Health::Green
                };
                v.wall.mark(row, s, 1, h);
            }
        }
    }
    let server = Server::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        AppState {
            view: Arc::clone(&view),
            history: None,
            config: Arc::new(NoConfig),
            token: "0123456789abcdef0123456789abcdef".into(),
            read_token: false,
            max_flow_series: 10,
            started_ns: 0,
            mirror: tap::TapSet::new(1, tap::RING_BYTES),
            alarm_desk: Arc::default(),
        },
    )
    .unwrap();
    let addr = server.local_addr;
    println!(
        "{flows} flows, wall {} MB",
        view.read().wall.bytes() / 1_000_000
    );
    for (what, path) in [
        (
            "GET /api/v1/wall (15 min, 300 rows)",
            "/api/v1/wall".to_string(),
        ),
        (
            "GET /api/v1/wall?minutes=1&rows=FLOWS (a row per flow)",
            format!("/api/v1/wall?minutes=1&rows={flows}"),
        ),
        (
            "GET /api/v1/wall/band (60 s, every flow read)",
            format!(
                "/api/v1/wall/band?from={}&to={}&limit=100",
                T0 + 390,
                T0 + 449
            ),
        ),
    ] {
        let (ms, bytes) = median(addr, &path);
        println!("{what}: {ms:.1} ms, {bytes} bytes");
    }
    // A writer of the live view behind a wall request: how long it waits.
    let v = Arc::clone(&view);
    let wall = std::thread::spawn(move || get(addr, "/api/v1/wall"));
    std::thread::sleep(Duration::from_millis(20));
    let started = Instant::now();
    drop(v.write());
    let waited = started.elapsed();
    wall.join().unwrap();
    println!(
        "a live-view writer behind a wall request waited {:.1} ms",
        waited.as_secs_f64() * 1e3
    );
}
