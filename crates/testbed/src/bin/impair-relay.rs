//! impair-relay: an AF_PACKET bridge between two interfaces that impairs UDP going from the
//! first to the second, with seeded randomness, and logs what it did to every packet.
//!
//! It replaces a Linux bridge in the middle namespace (never both, or frames would cross
//! twice), and skips frames it sent itself (PACKET_IGNORE_OUTGOING, and PACKET_OUTGOING as a
//! fallback) so it cannot loop. Frames going back (B to A) and non-UDP frames pass untouched.
//!
//! Impairments apply to a UDP flow after its first `--warmup` packets (so the receiver has a
//! known start) and are exclusive per packet: drop (random or Gilbert-Elliott burst), outage
//! (drop everything in a time window), duplicate, hold for reordering (released after 1 to
//! `--reorder-depth` later packets of the same flow), or pass with a random extra delay
//! (order kept within the flow).
//!
//! Truth log, one line per event: `ACTION FLOW SEQ [N]` where FLOW is
//! `src:port>dst:port` and SEQ the RTP sequence number (or `-`), ACTION one of
//! `pass`, `drop`, `dup`, `hold`, `release N` (N = later packets of the flow sent before it).
//! On exit it prints counters, including the kernel's drops on its sockets, to stderr.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use testbed::rng::SplitMix64;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Where to relay and where to log.
#[derive(Debug, Default)]
struct Options {
    a: String,
    b: String,
    truth: String,
    imp: Impairments,
}

/// What to do to the frames: plain `Copy` data, read once per frame.
#[derive(Debug, Default, Clone, Copy)]
struct Impairments {
    seed: u64,
    loss: f64,
    burst_enter: f64,
    burst_exit: f64,
    dup: f64,
    reorder: f64,
    reorder_depth: u64,
    delay_ms: f64,
    outage: Option<(f64, f64)>,
    warmup: u64,
}

fn parse_args() -> Options {
    let mut o = Options {
        imp: Impairments {
            reorder_depth: 3,
            warmup: 30,
            burst_exit: 0.5,
            ..Default::default()
        },
        ..Default::default()
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let f = || {
            v.parse::<f64>()
                .unwrap_or_else(|_| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--a" => o.a = v.clone(),
            "--b" => o.b = v.clone(),
            "--seed" => o.imp.seed = f() as u64,
            "--loss" => o.imp.loss = f(),
            "--burst-enter" => o.imp.burst_enter = f(),
            "--burst-exit" => o.imp.burst_exit = f(),
            "--dup" => o.imp.dup = f(),
            "--reorder" => o.imp.reorder = f(),
            "--reorder-depth" => o.imp.reorder_depth = f() as u64,
            "--delay-ms" => o.imp.delay_ms = f(),
            "--warmup" => o.imp.warmup = f() as u64,
            "--truth" => o.truth = v.clone(),
            "--outage" => {
                let (s, d) = v.split_once(':').expect("--outage START_S:DURATION_S");
                o.imp.outage = Some((s.parse().unwrap(), d.parse().unwrap()));
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    assert!(
        !o.a.is_empty() && !o.b.is_empty() && !o.truth.is_empty(),
        "usage: impair-relay --a IF --b IF --truth FILE [impairments]"
    );
    o
}

struct Port {
    fd: i32,
}

impl Port {
    fn open(name: &str) -> Port {
        let cname = std::ffi::CString::new(name).unwrap();
        // SAFETY: plain socket syscalls on values we own; errors are checked.
        unsafe {
            let ifindex = libc::if_nametoindex(cname.as_ptr());
            assert!(ifindex != 0, "no interface {name}");
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK,
                i32::from(proto),
            );
            assert!(
                fd >= 0,
                "socket: {} (needs CAP_NET_RAW)",
                std::io::Error::last_os_error()
            );
            let one: libc::c_int = 1;
            // PACKET_IGNORE_OUTGOING (23): never see our own transmissions.
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                23,
                &one as *const _ as *const libc::c_void,
                4,
            );
            let size: libc::c_int = 32 << 20;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const _ as *const libc::c_void,
                4,
            );
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUFFORCE,
                &size as *const _ as *const libc::c_void,
                4,
            );
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            let rc = libc::bind(
                fd,
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert!(rc == 0, "bind {name}: {}", std::io::Error::last_os_error());
            Port { fd }
        }
    }

    /// Receives one frame that was not sent by this host, or None when nothing is waiting.
    fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            // SAFETY: buf and addr outlive the call; lengths are theirs.
            unsafe {
                let mut addr: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    self.fd,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                    &mut addr as *mut _ as *mut libc::sockaddr,
                    &mut len,
                );
                if n < 0 {
                    return None;
                }
                if addr.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                return Some(n as usize);
            }
        }
    }

    fn send(&self, frame: &[u8]) {
        for _ in 0..1000 {
            // SAFETY: frame is a valid slice.
            let n = unsafe {
                libc::send(
                    self.fd,
                    frame.as_ptr() as *const libc::c_void,
                    frame.len(),
                    0,
                )
            };
            if n >= 0 {
                return;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        eprintln!(
            "impair-relay: send failed: {}",
            std::io::Error::last_os_error()
        );
    }

    fn kernel_drops(&self) -> u32 {
        // SAFETY: tpacket_stats is two u32s; PACKET_STATISTICS = 6.
        unsafe {
            let mut stats = [0u32; 2];
            let mut len = 8u32;
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                6,
                stats.as_mut_ptr() as *mut libc::c_void,
                &mut len,
            );
            stats[1]
        }
    }
}

/// Flow label and RTP sequence number of a UDP-in-IPv4/IPv6 Ethernet frame.
fn classify(frame: &[u8]) -> Option<(String, Option<u16>)> {
    let sliced = etherparse::SlicedPacket::from_ethernet(frame).ok()?;
    let (src, dst) = match sliced.net? {
        etherparse::NetSlice::Ipv4(v4) => (
            v4.header().source_addr().to_string(),
            v4.header().destination_addr().to_string(),
        ),
        etherparse::NetSlice::Ipv6(v6) => (
            format!("[{}]", v6.header().source_addr()),
            format!("[{}]", v6.header().destination_addr()),
        ),
        _ => return None,
    };
    let etherparse::TransportSlice::Udp(udp) = sliced.transport? else {
        return None;
    };
    let p = udp.payload();
    let seq = (p.len() >= 12 && p[0] >> 6 == 2 && !(192..=223).contains(&p[1]))
        .then(|| u16::from_be_bytes([p[2], p[3]]));
    Some((
        format!(
            "{src}:{}>{dst}:{}",
            udp.source_port(),
            udp.destination_port()
        ),
        seq,
    ))
}

/// A frame held back to be reordered.
struct Held {
    frame: Vec<u8>,
    /// Later frames of the flow still to send before it.
    remaining: u64,
    /// Later frames of the flow sent so far.
    after: u64,
    seq: Option<u16>,
    /// Its arrival index in the flow.
    index: u64,
}

#[derive(Default)]
struct FlowState {
    seen: u64,
    bad: bool,
    last_release: Option<Instant>,
    held: Vec<Held>,
}

struct Relay {
    o: Impairments,
    rng: SplitMix64,
    flows: HashMap<String, FlowState>,
    /// Frames waiting for their release time, per flow in order: (due, flow, frame, arrival index).
    delayed: VecDeque<(Instant, String, Vec<u8>, u64)>,
    truth: std::io::BufWriter<std::fs::File>,
    start: Instant,
    counts: [u64; 5],
}

impl Relay {
    fn log(&mut self, action: &str, flow: &str, seq: Option<u16>) {
        let seq = seq.map_or("-".to_string(), |s| s.to_string());
        writeln!(self.truth, "{action} {flow} {seq}").unwrap();
    }

    /// Sends a frame of a flow now, and releases held frames whose turn has come.
    /// `index` is the frame's arrival index in its flow: only frames that arrived after a held
    /// one count towards its release.
    fn transmit(&mut self, out: &Port, flow: &str, frame: &[u8], index: u64) {
        out.send(frame);
        let mut released = Vec::new();
        if let Some(st) = self.flows.get_mut(flow) {
            for h in st.held.iter_mut().filter(|h| h.index < index) {
                h.after += 1;
                h.remaining = h.remaining.saturating_sub(1);
            }
            let mut i = 0;
            while i < st.held.len() {
                if st.held[i].remaining == 0 {
                    released.push(st.held.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        for h in released {
            out.send(&h.frame);
            self.log(&format!("release {}", h.after), flow, h.seq);
        }
    }

    fn forward(&mut self, out: &Port, frame: &[u8]) {
        let Some((flow, seq)) = classify(frame) else {
            out.send(frame);
            return;
        };
        let now = Instant::now();
        let o = self.o;
        let st = self.flows.entry(flow.clone()).or_default();
        st.seen += 1;
        let index = st.seen;
        let warm = st.seen > o.warmup;
        let elapsed = now.duration_since(self.start).as_secs_f64();
        let in_outage = o
            .outage
            .is_some_and(|(s, d)| elapsed >= s && elapsed < s + d);
        if warm {
            st.bad = if st.bad {
                !self.rng.chance(o.burst_exit)
            } else {
                self.rng.chance(o.burst_enter)
            };
        }
        let bad = st.bad;
        let action = if !warm {
            "pass"
        } else if in_outage || bad || self.rng.chance(o.loss) {
            "drop"
        } else if self.rng.chance(o.dup) {
            "dup"
        } else if self.rng.chance(o.reorder) {
            "hold"
        } else {
            "pass"
        };
        match action {
            "drop" => {
                self.counts[1] += 1;
                self.log("drop", &flow, seq);
            }
            "hold" => {
                self.counts[3] += 1;
                let depth = self.rng.range(1, o.reorder_depth.max(1));
                self.flows.get_mut(&flow).unwrap().held.push(Held {
                    frame: frame.to_vec(),
                    remaining: depth,
                    after: 0,
                    seq,
                    index,
                });
                self.log("hold", &flow, seq);
            }
            "dup" => {
                self.counts[2] += 1;
                self.log("dup", &flow, seq);
                self.send_in_order(out, flow, frame, 2, warm, index);
            }
            _ => {
                self.counts[0] += 1;
                self.log("pass", &flow, seq);
                self.send_in_order(out, flow, frame, 1, warm, index);
            }
        }
    }

    /// Sends `copies` of a frame, after a random extra delay when one is configured, and
    /// always behind the frames of its flow still waiting: delay never reorders a flow.
    fn send_in_order(
        &mut self,
        out: &Port,
        flow: String,
        frame: &[u8],
        copies: usize,
        warm: bool,
        index: u64,
    ) {
        let now = Instant::now();
        let extra = if self.o.delay_ms > 0.0 && warm {
            Duration::from_secs_f64(self.rng.unit() * self.o.delay_ms / 1000.0)
        } else {
            Duration::ZERO
        };
        let waiting = self.delayed.iter().any(|d| d.1 == flow);
        if extra.is_zero() && !waiting {
            for _ in 0..copies {
                self.transmit(out, &flow, frame, index);
            }
            return;
        }
        let st = self.flows.get_mut(&flow).unwrap();
        let due = (now + extra).max(st.last_release.unwrap_or(now));
        st.last_release = Some(due);
        for _ in 0..copies {
            self.delayed
                .push_back((due, flow.clone(), frame.to_vec(), index));
        }
    }

    fn release_due(&mut self, out: &Port, all: bool) {
        let now = Instant::now();
        // Frames of one flow are queued in due order; release every frame whose time has come
        // and that has no earlier frame of its flow still waiting.
        let mut i = 0;
        let mut blocked: Vec<String> = Vec::new();
        while i < self.delayed.len() {
            let due = self.delayed[i].0;
            let flow_blocked = blocked.contains(&self.delayed[i].1);
            if (all || due <= now) && !flow_blocked {
                let (_, flow, frame, index) = self.delayed.remove(i).unwrap();
                self.transmit(out, &flow, &frame, index);
            } else {
                if !flow_blocked {
                    blocked.push(self.delayed[i].1.clone());
                }
                i += 1;
            }
        }
    }
}

fn main() {
    let o = parse_args();
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let a = Port::open(&o.a);
    let b = Port::open(&o.b);
    let truth = std::io::BufWriter::new(std::fs::File::create(&o.truth).expect("truth file"));
    let mut relay = Relay {
        rng: SplitMix64::new(o.imp.seed),
        o: o.imp,
        flows: HashMap::new(),
        delayed: VecDeque::new(),
        truth,
        start: Instant::now(),
        counts: [0; 5],
    };
    eprintln!("impair-relay: ready");
    let mut buf = vec![0u8; 65536];
    let mut fds = [
        libc::pollfd {
            fd: a.fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b.fd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    while !STOP.load(Ordering::SeqCst) {
        let timeout = if relay.delayed.is_empty() { 20 } else { 1 };
        // SAFETY: fds is a valid array of two pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        while let Some(n) = a.recv(&mut buf) {
            let frame = buf[..n].to_vec();
            relay.forward(&b, &frame);
            relay.counts[4] += 1;
        }
        while let Some(n) = b.recv(&mut buf) {
            a.send(&buf[..n]);
        }
        relay.release_due(&b, false);
    }
    relay.release_due(&b, true);
    let flows: Vec<String> = relay.flows.keys().cloned().collect();
    for flow in flows {
        let held = std::mem::take(&mut relay.flows.get_mut(&flow).unwrap().held);
        for h in held {
            b.send(&h.frame);
            relay.log(&format!("release {}", h.after), &flow, h.seq);
        }
    }
    relay.truth.flush().unwrap();
    let c = relay.counts;
    eprintln!(
        "impair-relay: udp {} pass {} drop {} dup {} hold {} kernel_drops a={} b={}",
        c[4],
        c[0],
        c[1],
        c[2],
        c[3],
        a.kernel_drops(),
        b.kernel_drops()
    );
}
