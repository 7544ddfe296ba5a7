//! Per-packet cost of the analysis path (decode + flow lookup + RTP state), without file I/O:
//! frames of N interleaved H.264/RTP cameras, already in memory, fed one by one
//! (`on_frame`) and in groups (`on_frames`, as `streamprobe analyze` does).
//!
//! Steady state: each iteration starts from an analyzer that has already seen
//! [`WARM_ROUNDS`] packets of every camera (untimed), so every flow is confirmed and the
//! timed packets are the per-packet path a long capture runs, not flow creation.

use analysis::{AnalysisConfig, Analyzer};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use testbed::pcap_writer::udp_frame;
use wire::{Frame, LinkType};

fn frames(cameras: u32, per_camera: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity((cameras * per_camera) as usize);
    let mut payload = vec![0u8; 12 + 200];
    for round in 0..per_camera {
        for c in 0..cameras {
            payload[0] = 0x80;
            payload[1] = 96 | if round % 4 == 3 { 0x80 } else { 0 };
            payload[2..4].copy_from_slice(&(round as u16).to_be_bytes());
            payload[4..8].copy_from_slice(&((round / 4) * 3600).to_be_bytes());
            payload[8..12].copy_from_slice(&(0x1000_0000 + c).to_be_bytes());
            payload[12] = 0x7c;
            payload[13] = if round % 4 == 0 { 0x81 } else { 0x01 };
            let src = [10, 1 + (c >> 16) as u8, (c >> 8) as u8, c as u8];
            out.push(udp_frame(src, 5004, [10, 0, 0, 1], 5004, &payload));
        }
    }
    out
}

/// Packets per camera fed before timing starts: discovery confirms a flow at its third.
const WARM_ROUNDS: u32 = 3;

fn to_frames(frames: &[Vec<u8>], first: usize) -> Vec<Frame<'_>> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| Frame {
            arrival_ns: (first + i) as i64 * 200,
            link: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
            vlan: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze");
    for cameras in [1_000u32, 55_000] {
        let per_camera = WARM_ROUNDS + 1_000_000 / cameras;
        let frames = frames(cameras, per_camera);
        let warm = (cameras * WARM_ROUNDS) as usize;
        let warm_frames = to_frames(&frames[..warm], 0);
        let timed = to_frames(&frames[warm..], warm);
        let warmed = || {
            let mut analyzer = Analyzer::new(AnalysisConfig::default());
            for group in warm_frames.chunks(analysis::analyzer::LANES) {
                analyzer.on_frames(group);
            }
            analyzer
        };
        group.throughput(Throughput::Elements(timed.len() as u64));
        group.sample_size(10);
        group.bench_function(format!("{cameras}_cameras_in_groups"), |b| {
            b.iter_batched(
                warmed,
                |mut analyzer| {
                    for group in timed.chunks(analysis::analyzer::LANES) {
                        analyzer.on_frames(group);
                    }
                    analyzer
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{cameras}_cameras"), |b| {
            b.iter_batched(
                warmed,
                |mut analyzer| {
                    for f in &timed {
                        analyzer.on_frame(f.arrival_ns, f.link, f.data, f.wire_len);
                    }
                    analyzer
                },
                BatchSize::PerIteration,
            )
        });
    }
    bench_ts(&mut group);
    let frames = frames(1, 1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_frame", |b| {
        b.iter(|| wire::decode_frame(LinkType::Ethernet, std::hint::black_box(&frames[0])))
    });
    group.finish();
}

/// MPEG-TS over UDP: datagrams of 7 x 188 bytes from a real two-program constant-rate ffmpeg
/// mux (`tests/fixtures/ts/two-programs.ts`), sent by 8 flows interleaved, through the whole
/// path: decode, flow lookup, TS analysis with PSI sections, continuity, PCR checks, and MDI.
/// The file is sent 20 times over; each repeat is one continuity error per PID and a PCR
/// jump (a few events per 950 datagrams, as a stream with rare faults has).
fn bench_ts(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    const FLOWS: u8 = 8;
    const REPEATS: usize = 20;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/ts/two-programs.ts"
    );
    let ts = std::fs::read(path).expect("the TS fixture");
    let mut datagrams = Vec::new();
    for _ in 0..REPEATS {
        for chunk in ts.chunks_exact(7 * 188) {
            for flow in 0..FLOWS {
                datagrams.push(udp_frame(
                    [10, 0, 0, 1],
                    5000,
                    [239, 1, 1, flow],
                    5000,
                    chunk,
                ));
            }
        }
    }
    // 7 packets at 2 Mbit/s: 5.264 ms per datagram of each flow.
    let frames: Vec<Frame<'_>> = datagrams
        .iter()
        .enumerate()
        .map(|(i, f)| Frame {
            arrival_ns: (i / usize::from(FLOWS)) as i64 * 5_264_000,
            link: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
            vlan: None,
        })
        .collect();
    let warm = usize::from(FLOWS) * 16;
    let warmed = || {
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        analyzer.on_frames(&frames[..warm]);
        analyzer
    };
    group.throughput(Throughput::Elements((frames.len() - warm) as u64));
    group.sample_size(10);
    group.bench_function("ts_datagrams_8_flows", |b| {
        b.iter_batched(
            warmed,
            |mut analyzer| {
                for chunk in frames[warm..].chunks(analysis::analyzer::LANES) {
                    analyzer.on_frames(chunk);
                }
                analyzer
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
