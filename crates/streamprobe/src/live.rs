//! Live sources and their workers.
//!
//! Each worker owns a shard of the flows and everything it reads them from: its own socket in
//! the interface's fanout group (the kernel hashes every packet's flow to one socket, so a
//! flow's packets all reach the same worker) and its share of the joined groups' sockets
//! (a group's socket is read by one worker). A worker never shares its flow table: no lock
//! on the packet path, and one `poll` per wake-up, then whole ring blocks or `recvmmsg`
//! batches. Intervals end on the wall clock, aligned to whole intervals; a worker closes one
//! a little after its end ([`GRACE_NS`]), once the kernel has handed over the packets
//! stamped before it.

use crate::output::{IntervalCloser, Line};
use crate::run::{cpu_time_ns, thread_cpu_since, wall_ns, Settings};
use crate::service::Service;
use analysis::Analyzer;
use capture::multicast::{MulticastSocket, ReceiveBatch, BATCH};
use capture::packet_ring::{interface_index, PacketRing, RingOptions};
use outputs::WorkerReport;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::TrySendError;
use std::sync::Arc;
use std::time::Duration;
use wire::{Frame, SkipReason};

/// An interval is closed this long after its end: the ring hands over a block that is not
/// full after 8 ms (`BLOCK_TIMEOUT_MS`), so by then every packet stamped before the end has
/// been read.
const GRACE_NS: i64 = 50_000_000;
/// Longest sleep in `poll`, so that a stop is seen promptly.
const POLL_MS: i64 = 50;
/// `recvmmsg` batches read from one socket per wake-up before the next socket's turn.
const BATCHES_PER_TURN: usize = 16;

/// What one worker reads.
#[derive(Default)]
struct Sources {
    rings: Vec<PacketRing>,
    sockets: Vec<MulticastSocket>,
}

/// Opens every source on the calling thread (which holds the capabilities), dealt out to
/// `settings.workers` workers.
fn open_sources(settings: &Settings) -> Result<Vec<Sources>, String> {
    let mut shares: Vec<Sources> = (0..settings.workers).map(|_| Sources::default()).collect();
    if let Some(interface) = &settings.interface {
        // One fanout group per probe process: two probes on one interface each see all.
        let group = (std::process::id() & 0xffff) as u16;
        for share in &mut shares {
            let ring = PacketRing::open(&RingOptions {
                interface: interface.name.clone(),
                filter: interface.filter.clone(),
                promiscuous: interface.promiscuous,
                ring_bytes: interface.ring_bytes,
                fanout_group: (settings.workers > 1).then_some(group),
            })
            .map_err(|e| e.to_string())?;
            share.rings.push(ring);
        }
    }
    let index = match &settings.join_interface {
        Some(name) => interface_index(name).map_err(|e| format!("--join-interface {name}: {e}"))?,
        None => 0,
    };
    for (i, join) in settings.joins.iter().enumerate() {
        let socket =
            MulticastSocket::open(*join, index, settings.rcvbuf).map_err(|e| e.to_string())?;
        shares[i % settings.workers].sockets.push(socket);
    }
    Ok(shares)
}

/// Runs the live probe until SIGINT/SIGTERM (`stop`) or --duration.
pub fn run(settings: &Settings, stop: Arc<AtomicBool>) -> Result<(), String> {
    let shares = open_sources(settings)?;
    // Everything is open: the probe needs no privilege any more (capabilities are per
    // thread; the workers, started below, inherit the empty sets).
    capture::privileges::drop_all().map_err(|e| format!("cannot drop privileges: {e}"))?;
    let workers = shares.len();
    let service = Service::start(settings, workers)?;
    let start = wall_ns();
    let finish = Arc::new(AtomicBool::new(false));
    let stop_at = Arc::new(AtomicI64::new(0));
    let per_worker_cap = settings.max_flows.div_ceil(workers);
    let mut handles = Vec::new();
    for (index, sources) in shares.into_iter().enumerate() {
        let mut config = settings.analysis.clone();
        config.max_flows = per_worker_cap;
        // The budget is shared out like the flow cap: each worker holds its own flows.
        config.max_state_bytes = settings.analysis.max_state_bytes / workers;
        let worker = Worker {
            index,
            analyzer: Analyzer::new(config),
            tap: service.taps.worker(index),
            batch: (!sources.sockets.is_empty()).then(|| Box::new(ReceiveBatch::default())),
            sources,
            closer: IntervalCloser::new(
                index,
                service.tx.clone(),
                settings.silent_after_ns,
                settings.expire_after_ns,
            )
            .follow(Arc::clone(&service.config)),
            waiting: VecDeque::new(),
            interval_ns: settings.interval_ns,
            floor: start,
            next_end: start - start.rem_euclid(settings.interval_ns) + settings.interval_ns,
            cpu_ns: 0,
            late: 0,
        };
        let (finish, stop_at) = (Arc::clone(&finish), Arc::clone(&stop_at));
        handles.push(
            std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || worker.run(&finish, &stop_at))
                .map_err(|e| format!("cannot start a worker: {e}"))?,
        );
    }
    let deadline = settings.duration.map(|d| start + (d * 1e9) as i64);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = wall_ns();
        let ended = handles.iter().any(|h| h.is_finished());
        if stop.load(Ordering::Relaxed) || ended || deadline.is_some_and(|d| now >= d) {
            stop_at.store(deadline.map_or(now, |d| d.min(now)), Ordering::SeqCst);
            finish.store(true, Ordering::SeqCst);
            break;
        }
    }
    let mut dropped = 0;
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(d)) => dropped += d,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a worker failed".to_string()),
        }
    }
    let written = service.finish(dropped);
    match failure {
        Some(e) => Err(e),
        None => written,
    }
}

struct Worker {
    index: usize,
    analyzer: Analyzer,
    /// The mirrors' side of this worker (crates/tap): offered each batch first.
    tap: tap::WorkerTap,
    sources: Sources,
    batch: Option<Box<ReceiveBatch>>,
    closer: IntervalCloser,
    /// Interval reports the output had no room for yet.
    waiting: VecDeque<Box<WorkerReport>>,
    interval_ns: i64,
    /// Start of the interval in progress: a packet stamped earlier (handed over after its
    /// interval closed) counts in this one.
    floor: i64,
    next_end: i64,
    /// This thread's CPU time at the last close: what it used since is its load.
    cpu_ns: i64,
    /// Packets read after their interval closed since the last close (counted in the
    /// interval in progress, at its start).
    late: u64,
}

/// Hands a ring block's frames to the analyzer. Frames stamped before `floor`, the start of
/// the interval in progress (the kernel held the block past the grace time, or the worker
/// was stalled), are analysed at `floor` and counted in `late`: their own interval has been
/// reported already. Rare: a copy.
fn analyse_block(analyzer: &mut Analyzer, frames: &[Frame<'_>], floor: i64, late: &mut u64) {
    if frames.iter().all(|f| f.arrival_ns >= floor) {
        analyzer.on_frames(frames);
        return;
    }
    *late += frames.iter().filter(|f| f.arrival_ns < floor).count() as u64;
    let lifted: Vec<Frame<'_>> = frames
        .iter()
        .map(|f| Frame {
            arrival_ns: f.arrival_ns.max(floor),
            ..*f
        })
        .collect();
    analyzer.on_frames(&lifted);
}

impl Worker {
    /// Reads and analyses until told to finish; returns the records the output dropped.
    fn run(mut self, finish: &AtomicBool, stop_at: &AtomicI64) -> Result<u64, String> {
        self.cpu_ns = cpu_time_ns(libc::CLOCK_THREAD_CPUTIME_ID);
        let mut fds: Vec<libc::pollfd> = self
            .sources
            .rings
            .iter()
            .map(|r| r.fd())
            .chain(self.sources.sockets.iter().map(|s| s.fd()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        loop {
            let now = wall_ns();
            let wait_ms = ((self.next_end + GRACE_NS - now) / 1_000_000 + 1).clamp(0, POLL_MS);
            // SAFETY: `fds` is a live array of pollfd of the length passed.
            let r =
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms as i32) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("worker {}: poll: {e}", self.index));
                }
            }
            self.read_all()?;
            if finish.load(Ordering::SeqCst) {
                let end = stop_at.load(Ordering::SeqCst);
                self.read_all()?;
                while self.next_end <= end {
                    self.close(self.next_end, self.next_end - self.floor);
                }
                if end > self.floor {
                    self.close(end, end - self.floor);
                }
                // The last reports wait for the output: nothing else is left to do.
                while let Some(r) = self.waiting.pop_front() {
                    let _ = self.closer.out.send(Line::Report(r));
                }
                return Ok(self.closer.dropped);
            }
            let now = wall_ns();
            while now >= self.next_end + GRACE_NS {
                self.close(self.next_end, self.next_end - self.floor);
            }
            self.send_waiting();
            if self.closer.output_closed {
                // Standard output failed: the main thread stops the probe and says why.
                return Ok(self.closer.dropped);
            }
        }
    }

    /// Reads what every source has ready.
    fn read_all(&mut self) -> Result<(), String> {
        let floor = self.floor;
        let analyzer = &mut self.analyzer;
        let late = &mut self.late;
        let tap = &mut self.tap;
        for ring in &mut self.sources.rings {
            ring.read_blocks(|frames| {
                tap.on_frames(frames);
                analyse_block(analyzer, frames, floor, late)
            });
        }
        if let Some(batch) = self.batch.as_deref_mut() {
            tap.sync();
            for socket in &self.sources.sockets {
                for _ in 0..BATCHES_PER_TURN {
                    let n = socket
                        .receive(batch, |t, d, wire_len| {
                            *late += u64::from(t < floor);
                            tap.on_received(t, d);
                            analyzer.on_received(t.max(floor), d, wire_len)
                        })
                        .map_err(|e| format!("worker {}: {}: {e}", self.index, socket.join()))?;
                    if n < BATCH {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Closes the interval ending at `end`.
    fn close(&mut self, end: i64, length: i64) {
        for socket in &self.sources.sockets {
            self.analyzer
                .skip_many(SkipReason::SourceInvalid, socket.take_invalid_sources());
        }
        let mut report = self.closer.close(&mut self.analyzer, end, length, false);
        for ring in &self.sources.rings {
            if let Ok(stats) = ring.stats() {
                report.kernel_drops += stats.drops;
            }
        }
        for socket in &self.sources.sockets {
            report.kernel_drops += socket.take_drops();
        }
        report.busy_ns = thread_cpu_since(&mut self.cpu_ns);
        report.late = std::mem::take(&mut self.late);
        self.waiting.push_back(Box::new(report));
        self.floor = end;
        self.next_end = end - end.rem_euclid(self.interval_ns) + self.interval_ns;
        self.send_waiting();
    }

    /// Hands the waiting reports to the output while it has room.
    fn send_waiting(&mut self) {
        while let Some(r) = self.waiting.pop_front() {
            match self.closer.out.try_send(Line::Report(r)) {
                Ok(()) => {}
                Err(TrySendError::Full(Line::Report(r))) => {
                    self.waiting.push_front(r);
                    return;
                }
                Err(_) => {
                    self.closer.output_closed = true;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analysis::AnalysisConfig;
    use testbed::pcap_writer::{rtp_packet, udp_frame};
    use wire::LinkType;

    /// A block whose first frames were stamped before the interval in progress: they count
    /// as late and are analysed at the interval's start, the rest at their own times.
    #[test]
    fn frames_stamped_before_the_interval_count_as_late_at_its_start() {
        const MS: i64 = 1_000_000;
        let floor = 1_700_000_000_000 * MS;
        let datagrams: Vec<Vec<u8>> = (0..6u16)
            .map(|i| {
                let rtp = rtp_packet(96, false, i, u32::from(i) * 3600, 256, &[0x65; 100]);
                udp_frame([10, 0, 0, 1], 5004, [239, 1, 1, 1], 5004, &rtp)
            })
            .collect();
        // 40 ms apart, the first two before the floor.
        let frames: Vec<Frame<'_>> = datagrams
            .iter()
            .enumerate()
            .map(|(i, d)| Frame {
                arrival_ns: floor + (i as i64 - 2) * 40 * MS,
                link: LinkType::Ethernet,
                data: d,
                wire_len: d.len() as u32,
                vlan: None,
            })
            .collect();
        let mut analyzer = Analyzer::new(AnalysisConfig::default());
        let mut late = 0;
        analyse_block(&mut analyzer, &frames[..3], floor, &mut late);
        assert_eq!(late, 2);
        analyse_block(&mut analyzer, &frames[3..], floor, &mut late);
        assert_eq!(late, 2, "a block all in the interval adds none");
        let report = analyzer.finish();
        let flow = &report.flows[0];
        assert_eq!(flow.packets, 6);
        // Times count from the capture's first packet: the floor, not 80 ms before it.
        assert_eq!((flow.first_s, flow.last_s), (0.0, 0.12));
        // The two late ones and the one at the floor arrive together: 0, 0, 0, 40, 80, 120.
        let rtp = flow.rtp.as_ref().unwrap();
        assert_eq!(rtp.max_delta_ms, 40.0);
    }
}
