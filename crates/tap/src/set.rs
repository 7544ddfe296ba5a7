//! [`TapSet`]: the taps in force, shared by the API, the config, the workers and the
//! sender; [`Tap`]: one mirror's rings and figures.
//!
//! A change (a tap added or removed) publishes a new list and bumps a generation number;
//! each worker compares the generation once per batch of frames and takes the new list only
//! when it changed (a lock then, never per packet).

use crate::limit::MirrorLimit;
use crate::matcher::{destination, FlowMatch, FlowSpec};
use crate::ring::TapRing;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Each worker's ring for one tap, bytes: at 100 Mbit/s, 0.3 s of datagrams.
pub const RING_BYTES: usize = 4 << 20;
/// Taps at once, at most: the worker compares each tapped batch's datagrams with each.
pub const MAX_TAPS: usize = 64;
/// The rates a mirror may be limited to, bit/s.
pub const RATE_RANGE: std::ops::RangeInclusive<u64> = 10_000..=100_000_000_000;

/// Who made a tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A `[[mirror]]` table of the config file.
    Config,
    /// `POST /api/v1/mirror`.
    Api,
}

impl Origin {
    /// `config` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Api => "api",
        }
    }
}

/// The sender's side of a tap: only the sender thread locks it (and `list`, briefly, for
/// nothing but reading).
pub(crate) struct SenderState {
    pub(crate) socket: UdpSocket,
    pub(crate) limit: MirrorLimit,
    /// Each ring's head when the sender began draining it (kept to reuse its memory).
    pub(crate) heads: Vec<usize>,
}

/// One mirror: what it takes, where it sends, its rings (one per worker) and figures.
pub struct Tap {
    pub id: u64,
    pub flow: FlowSpec,
    pub(crate) matcher: FlowMatch,
    pub to: SocketAddr,
    /// The configured limit; None: twice the measured rate.
    pub rate_bps: Option<u64>,
    pub origin: Origin,
    /// When it was made, ns since the epoch.
    pub created_ns: i64,
    pub(crate) rings: Box<[TapRing]>,
    pub(crate) sent_packets: AtomicU64,
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) dropped_rate: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    /// Datagrams the capture's snap length cut: not sent (they are not as sent).
    pub(crate) cut: AtomicU64,
    /// Datagrams thrown away from the rings unsent ([`Tap::discard`]).
    pub(crate) discarded: AtomicU64,
    /// The limit in force, bit/s; 0: none yet.
    pub(crate) limit_bps: AtomicU64,
    /// The last whole second's rate; u64::MAX: none measured yet.
    pub(crate) measured_bps: AtomicU64,
    pub(crate) sender: Mutex<SenderState>,
    /// Ended: the sender, which may hold an older list, sends nothing more.
    pub(crate) removed: AtomicBool,
}

/// A tap's figures, as the API lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorInfo {
    pub id: u64,
    pub flow: String,
    pub to: String,
    pub rate_bps: Option<u64>,
    /// The limit in force (None: the first second of a default-rate mirror).
    pub limit_bps: Option<u64>,
    pub measured_bps: Option<u64>,
    pub origin: &'static str,
    pub created_ns: i64,
    /// `waiting` (no datagram of the flow seen yet), `mirroring`, or `ended` (the figures
    /// [`TapSet::remove`] returns).
    pub state: &'static str,
    /// Datagrams of the flow the workers saw (copied or dropped at the ring, or cut). Once
    /// ended: `packets_sent + dropped_ring + dropped_rate + cut + send_errors + discarded`.
    pub matched: u64,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub dropped_ring: u64,
    pub dropped_rate: u64,
    pub cut: u64,
    pub send_errors: u64,
    /// Datagrams thrown away unsent from the rings: those still there when it was ended.
    pub discarded: u64,
}

impl Tap {
    /// Throws away what its rings hold, unsent; how many datagrams. Holds the sender's lock,
    /// so it is the rings' one consumer meanwhile.
    pub fn discard(&self) -> u64 {
        let _consumer = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for ring in self.rings.iter() {
            // SAFETY: the sender lock is held: this thread is the ring's one consumer, and the
            // slice is not used after the pop.
            #[allow(unsafe_code)]
            unsafe {
                while let Some((_, payload)) = ring.front() {
                    let len = payload.len();
                    ring.pop(len);
                    n += 1;
                }
            }
        }
        self.discarded.fetch_add(n, Ordering::Relaxed);
        n
    }

    /// Its figures now.
    pub fn info(&self) -> MirrorInfo {
        let pushed: u64 = self.rings.iter().map(TapRing::pushed).sum();
        self.info_with(pushed, self.discarded.load(Ordering::Relaxed))
    }

    /// Its final figures, once `removed` is set and the sender's lock `_consumer` is held
    /// (nothing more is sent): what the rings still hold is counted discarded. Each ring's
    /// `pushed` is read once, so matched = sent + dropped + cut + errors + discarded exactly:
    /// every popped datagram was counted sent, over the rate, in error or discarded before
    /// its pop, and a datagram a worker still copies after this read is in neither side.
    fn final_info(&self, _consumer: &SenderState) -> MirrorInfo {
        let mut pushed = 0;
        let mut left = 0;
        for ring in self.rings.iter() {
            let p = ring.pushed();
            pushed += p;
            left += p.saturating_sub(ring.popped());
        }
        let mut info = self.info_with(pushed, self.discarded.load(Ordering::Relaxed) + left);
        info.state = "ended";
        info
    }

    fn info_with(&self, pushed: u64, discarded: u64) -> MirrorInfo {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let dropped_ring: u64 = self.rings.iter().map(TapRing::dropped).sum();
        let matched = pushed + dropped_ring + get(&self.cut);
        MirrorInfo {
            id: self.id,
            flow: self.flow.to_string(),
            to: self.to.to_string(),
            rate_bps: self.rate_bps,
            limit_bps: Some(get(&self.limit_bps)).filter(|&l| l > 0),
            measured_bps: Some(get(&self.measured_bps)).filter(|&m| m != u64::MAX),
            origin: self.origin.as_str(),
            created_ns: self.created_ns,
            state: if matched == 0 { "waiting" } else { "mirroring" },
            matched,
            packets_sent: get(&self.sent_packets),
            bytes_sent: get(&self.sent_bytes),
            dropped_ring,
            dropped_rate: get(&self.dropped_rate),
            cut: get(&self.cut),
            send_errors: get(&self.send_errors),
            discarded,
        }
    }
}

/// The taps in force.
pub struct TapSet {
    workers: usize,
    ring_bytes: usize,
    generation: AtomicU64,
    taps: RwLock<Arc<Vec<Arc<Tap>>>>,
    next_id: AtomicU64,
    /// Worker indexes handed out: each ring has one producer.
    claimed: Box<[AtomicBool]>,
    /// The sender thread, woken when a tap is added.
    pub(crate) sender: Mutex<Option<std::thread::Thread>>,
}

impl TapSet {
    /// No taps, for `workers` workers, each tap's rings `ring_bytes` each.
    pub fn new(workers: usize, ring_bytes: usize) -> Arc<TapSet> {
        Arc::new(TapSet {
            workers,
            ring_bytes,
            generation: AtomicU64::new(0),
            taps: RwLock::new(Arc::new(Vec::new())),
            next_id: AtomicU64::new(1),
            claimed: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            sender: Mutex::new(None),
        })
    }

    /// The taps now.
    pub fn snapshot(&self) -> Arc<Vec<Arc<Tap>>> {
        Arc::clone(&self.taps.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Worker `index`'s side. Each index is handed out once: a ring has one producer.
    pub fn worker(self: &Arc<Self>, index: usize) -> crate::WorkerTap {
        assert!(
            index < self.workers,
            "tap: worker {index} of {}",
            self.workers
        );
        assert!(
            !self.claimed[index].swap(true, Ordering::SeqCst),
            "tap: worker {index} claimed twice"
        );
        crate::WorkerTap::new(Arc::clone(self), index)
    }

    /// Starts mirroring `flow` to `to`, limited to `rate_bps` (None: twice the measured
    /// rate). One error line naming what is wrong.
    pub fn add(
        &self,
        flow: &str,
        to: &str,
        rate_bps: Option<u64>,
        origin: Origin,
        now_ns: i64,
    ) -> Result<MirrorInfo, String> {
        let spec: FlowSpec = flow.parse()?;
        let to = destination(to)?;
        if let Some(rate) = rate_bps.filter(|r| !RATE_RANGE.contains(r)) {
            return Err(format!(
                "rate {rate} bit/s: give {} to {} bit/s, or none for twice the flow's rate",
                RATE_RANGE.start(),
                RATE_RANGE.end()
            ));
        }
        let local: SocketAddr = if to.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let socket = UdpSocket::bind(local)
            .map_err(|e| format!("to {to}: cannot open a socket to send from: {e}"))?;
        let mut taps = self.taps.write().unwrap_or_else(|e| e.into_inner());
        if taps.len() >= MAX_TAPS {
            return Err(format!(
                "{MAX_TAPS} mirrors already: end one (DELETE /api/v1/mirror/ID) first"
            ));
        }
        let tap = Arc::new(Tap {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            matcher: FlowMatch::from(&spec),
            flow: spec,
            to,
            rate_bps,
            origin,
            created_ns: now_ns,
            rings: (0..self.workers)
                .map(|_| TapRing::new(self.ring_bytes))
                .collect(),
            sent_packets: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            dropped_rate: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            limit_bps: AtomicU64::new(rate_bps.unwrap_or(0)),
            measured_bps: AtomicU64::new(u64::MAX),
            sender: Mutex::new(SenderState {
                socket,
                limit: MirrorLimit::new(rate_bps),
                heads: Vec::with_capacity(self.workers),
            }),
            removed: AtomicBool::new(false),
        });
        let info = tap.info();
        let mut next = Vec::clone(&taps);
        next.push(tap);
        *taps = Arc::new(next);
        self.generation.fetch_add(1, Ordering::Release);
        drop(taps);
        if let Some(t) = self
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            t.unpark();
        }
        Ok(info)
    }

    /// Ends mirror `id`: its final figures (state `ended`), None when there is none. What its
    /// rings still hold is not sent: counted `discarded`.
    pub fn remove(&self, id: u64) -> Option<MirrorInfo> {
        let mut taps = self.taps.write().unwrap_or_else(|e| e.into_inner());
        let at = taps.iter().position(|t| t.id == id)?;
        let mut next = Vec::clone(&taps);
        let gone = next.remove(at);
        *taps = Arc::new(next);
        self.generation.fetch_add(1, Ordering::Release);
        // The sender may be sending a datagram: once it lets go, nothing more is sent.
        gone.removed.store(true, Ordering::SeqCst);
        let consumer = gone.sender.lock().unwrap_or_else(|e| e.into_inner());
        Some(gone.final_info(&consumer))
    }

    /// Every tap's figures, oldest first.
    pub fn list(&self) -> Vec<MirrorInfo> {
        self.snapshot().iter().map(|t| t.info()).collect()
    }

    /// One tap's figures.
    pub fn get(&self, id: u64) -> Option<MirrorInfo> {
        self.snapshot()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.info())
    }
}
