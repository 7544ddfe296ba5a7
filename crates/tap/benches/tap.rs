//! What a worker pays for the taps, per batch of 256 frames (the replay's batch): with no
//! mirror (the cost every probe pays: one branch per batch), with one mirror of another flow
//! (each frame decoded to its 4-tuple and compared), and with one mirror of every frame
//! (each datagram copied into the ring; the ring is emptied between batches, off the clock).
//!   cargo bench -p streamprobe-tap --bench tap

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tap::{Origin, TapSet};
use testbed::pcap_writer::udp_frame;
use wire::{Frame, LinkType};

fn bench(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = (0..256u32)
        .map(|i| {
            let payload = vec![0x47u8; 1316];
            udp_frame(
                [10, 0, 0, 1],
                4000 + (i % 8) as u16,
                [239, 1, 1, 1],
                5000,
                &payload,
            )
        })
        .collect();
    let batch: Vec<Frame<'_>> = frames
        .iter()
        .enumerate()
        .map(|(i, d)| Frame {
            arrival_ns: 1_700_000_000_000_000_000 + i as i64 * 100_000,
            link: LinkType::Ethernet,
            data: d,
            wire_len: d.len() as u32,
            vlan: None,
        })
        .collect();
    let mut group = c.benchmark_group("tap");
    group.throughput(Throughput::Elements(batch.len() as u64));

    let none = TapSet::new(1, tap::RING_BYTES);
    let mut worker = none.worker(0);
    group.bench_function("no mirror", |b| {
        b.iter(|| worker.on_frames(black_box(&batch)))
    });

    let other = TapSet::new(1, tap::RING_BYTES);
    other
        .add("239.9.9.9:5000", "127.0.0.1:9", None, Origin::Config, 0)
        .unwrap();
    let mut worker = other.worker(0);
    group.bench_function("one mirror of another flow", |b| {
        b.iter(|| worker.on_frames(black_box(&batch)))
    });

    // The ring emptied between batches, off the clock: the copy of a ring in use.
    let every = TapSet::new(1, tap::RING_BYTES);
    every
        .add("239.1.1.1:5000", "127.0.0.1:9", None, Origin::Config, 0)
        .unwrap();
    let mut worker = every.worker(0);
    let tapped = every.snapshot()[0].clone();
    group.bench_function("one mirror of every frame", |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                tapped.discard();
                let start = std::time::Instant::now();
                worker.on_frames(black_box(&batch));
                spent += start.elapsed();
            }
            spent
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
