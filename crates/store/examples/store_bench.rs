//! Loads synthetic flows into a store as the probe would (one record per flow per interval of
//! 1 s) and reports what the store sustains: records/s, CPU of the store thread, write times,
//! bytes on disk per flow-second once packed, query latencies.
//!
//! `cargo run --release -p streamprobe-store --example store_bench -- --minutes 3`
//! Options: --flows N (55000), --minutes N (3, simulated), --paced (one interval per wall
//! second instead of as fast as the store takes them), --path FILE (/tmp/store-bench.db,
//! replaced), --keep (leave the file).

use analysis::frames::PayloadFormat;
use analysis::interval::{FlowName, FlowRecord, SCHEMA};
use analysis::kind::FlowKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};
use store::{Store, StoreSettings};

const SECOND: i64 = 1_000_000_000;
/// 2026-12-07T00:00:00Z.
const T0: i64 = 1_796_601_600 * SECOND;

struct Rng(u64);
impl Rng {
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo + 1)
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn name(i: u32) -> FlowName {
    FlowName {
        src: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 5000),
        dst: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xef00_0000 + i)), 5000),
        ssrc: Some(0x1000 + i),
        kind: FlowKind::Rtp,
    }
}

/// A steady healthy flow: packets 90±3, bytes ~120 kB ±5 %, jitter and DF a few ms
/// varying, 25 fps, zeros elsewhere.
fn steady(i: u32, time: i64, rng: &mut Rng) -> FlowRecord {
    let bytes = rng.range(114_000, 126_000);
    FlowRecord {
        schema: SCHEMA,
        kind_of_record: "flow",
        time,
        interval_s: 1.0,
        name: name(i),
        payload: PayloadFormat::H264,
        group: Some("cameras".to_string()),
        vlan: None,
        packets: rng.range(87, 93),
        bytes,
        bitrate_bps: round6(bytes as f64 * 8.0),
        lost: 0,
        recovered: Some(0),
        duplicates: 0,
        reordered: Some(0),
        jitter_ms: Some(round6(rng.range(1_000_000, 4_000_000) as f64 / 1e6)),
        clock_rate_source: Some("rfc3551"),
        fps: Some(25.0),
        df_ms: Some(round6(rng.range(2_000_000, 6_000_000) as f64 / 1e6)),
        mlr: Some(0.0),
        tr101290: None,
        tr101290_p1_open: None,
        sla: None,
        programs: None,
    }
}

/// CPU time of the calling thread, s (Linux: /proc/thread-self/stat, clock ticks of 10 ms).
fn thread_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return f64::NAN;
    };
    // Fields after the command's closing parenthesis: utime is the 14th field overall.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn used_bytes(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("sqlite");
    let q = |p: &str| -> i64 { conn.query_row(p, [], |r| r.get(0)).expect("pragma") };
    ((q("PRAGMA page_count") - q("PRAGMA freelist_count")) * q("PRAGMA page_size")) as u64
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut flows, mut minutes, mut paced, mut keep) = (55_000u32, 3i64, false, false);
    let mut path = std::path::PathBuf::from("/tmp/store-bench.db");
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match a.as_str() {
            "--flows" => flows = value().parse().expect("--flows N"),
            "--minutes" => minutes = value().parse().expect("--minutes N"),
            "--path" => path = value().into(),
            "--paced" => paced = true,
            "--keep" => keep = true,
            other => panic!("unknown option {other}"),
        }
    }
    for suffix in ["", "-wal", "-shm", "-lock"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let seconds = minutes * 60;
    println!(
        "store_bench: {flows} flows x {seconds} s simulated, {}",
        if paced {
            "paced at 1 interval/s"
        } else {
            "unpaced"
        }
    );
    // Records are made in another thread, as the probe's workers would, two intervals ahead.
    let (tx, rx) = sync_channel::<(i64, Vec<FlowRecord>)>(2);
    let generator = std::thread::spawn(move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for s in 0..seconds {
            let t = T0 + s * SECOND;
            let records: Vec<FlowRecord> = (0..flows).map(|i| steady(i, t, &mut rng)).collect();
            if tx.send((t, records)).is_err() {
                return;
            }
        }
    });
    let mut store = Store::open(&path, StoreSettings::default()).expect("open");
    let mut times = Vec::with_capacity(seconds as usize);
    let mut inserts = Vec::with_capacity(seconds as usize);
    let (wall0, cpu0) = (Instant::now(), thread_cpu_s());
    let mut busy = Duration::ZERO;
    let mut last_t = T0;
    for (i, (t, records)) in rx.iter().enumerate() {
        if paced {
            let due = wall0 + Duration::from_secs(i as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let at = Instant::now();
        let stats = store.write_interval(t, &records, &[]).expect("write");
        busy += at.elapsed();
        times.push(stats.took_ns);
        inserts.push(stats.insert_ns);
        last_t = t;
        if (i + 1) % 60 == 0 {
            let worst = times[times.len() - 60..].iter().max().copied().unwrap_or(0);
            println!(
                "  minute {:>3}: worst write {:.1} ms, {} MB in use",
                (i + 1) / 60,
                ms(worst),
                used_bytes(&path) / 1_000_000
            );
        }
    }
    let (wall, cpu) = (wall0.elapsed().as_secs_f64(), thread_cpu_s() - cpu0);
    generator.join().expect("generator");
    let records = f64::from(flows) * seconds as f64;
    let mut sorted = times.clone();
    sorted.sort_unstable();
    let pct = |v: &[u64], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    let mut ins = inserts.clone();
    ins.sort_unstable();
    println!("ingest: {:.0} records/s sustained ({:.1} s wall for {seconds} intervals; store busy {:.1} s)", records / busy.as_secs_f64(), wall, busy.as_secs_f64());
    println!(
        "store thread CPU: {:.2} s per wall second ({cpu:.1} s CPU in {wall:.1} s)",
        cpu / wall
    );
    println!("write_interval: worst {:.1} ms, p99 {:.1} ms, p50 {:.1} ms (the interval's own transaction: worst {:.1}, p99 {:.1}, p50 {:.1} ms)",
        ms(sorted[sorted.len() - 1]), ms(pct(&sorted, 0.99)), ms(pct(&sorted, 0.5)), ms(ins[ins.len() - 1]), ms(pct(&ins, 0.99)), ms(pct(&ins, 0.5)));
    // Pack the last minute: one interval a minute later, then until no work is left.
    let settle = Instant::now();
    let end = last_t + 60 * SECOND;
    while store
        .write_interval(end, &[], &[])
        .expect("write")
        .work_pending
    {}
    println!(
        "settle (pack the last minute): {:.2} s",
        settle.elapsed().as_secs_f64()
    );
    let used = used_bytes(&path);
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let blobs: i64 = conn
        .query_row(
            "SELECT coalesce(sum(length(blob)), 0) FROM seconds",
            [],
            |r| r.get(0),
        )
        .expect("sum");
    drop(conn);
    println!("on disk: {:.2} bytes a flow-second ({} bytes in use for {records:.0} flow-seconds; {:.2} B of it in the seconds blobs); size_bytes() = {}",
        used as f64 / records, used, blobs as f64 / records, store.size_bytes());
    let reader = store.reader().expect("reader");
    let id = name(flows / 2).id();
    let mut lat = Vec::new();
    for _ in 0..20 {
        let at = Instant::now();
        let h = reader
            .history(&id, last_t + SECOND - 3_600 * SECOND, last_t + SECOND, None)
            .expect("history");
        lat.push(at.elapsed());
        assert_eq!(
            (h.tier, h.points.len() as i64),
            ("seconds", seconds.min(3_600))
        );
    }
    lat.sort();
    println!(
        "history(one flow, last hour, seconds tier): p50 {:.2} ms, worst {:.2} ms",
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );
    let mut lat = Vec::new();
    for _ in 0..5 {
        let at = Instant::now();
        let all = reader.flows().expect("flows");
        lat.push(at.elapsed());
        assert_eq!(all.len(), flows as usize);
    }
    lat.sort();
    println!(
        "flows() of {flows}: p50 {:.1} ms, worst {:.1} ms",
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );
    let at = Instant::now();
    let h = reader
        .history(&id, T0, last_t + SECOND, Some(60))
        .expect("history");
    println!(
        "history(one flow, all, 60 s step): {} points in {:.2} ms",
        h.points.len(),
        at.elapsed().as_secs_f64() * 1e3
    );
    drop(reader);
    drop(store);
    if !keep {
        for suffix in ["", "-wal", "-shm", "-lock"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}
