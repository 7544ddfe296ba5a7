//! Accounting is an equality (issue 18): every frame read lands in exactly one counted bucket:
//! a media flow, other UDP, RTCP, a fragment reassembled into a datagram (which then lands
//! in a bucket of its own), a skip reason, or a 4-tuple refused by the flow cap.

use crate::interval::{Record, Tick};
use crate::report::AnalysisReport;
use crate::{AnalysisConfig, Analyzer};
use proptest::prelude::*;
use testbed::pcap_writer::{rtp_packet, udp_frame};
use wire::LinkType;

/// What one step of a capture sends.
#[derive(Clone, Debug)]
enum Send {
    /// RTP from host `h` (a 4-tuple), SSRC `s`.
    Rtp(u8, u8),
    /// An RTCP sender report from host `h`, to the RTP port.
    Rtcp(u8),
    /// A 1,200-byte RTCP datagram from host `h` in 2 fragments.
    RtcpFragmented(u8),
    /// 7 TS packets from host `h` to the TS port.
    Ts(u8),
    /// Bytes that are neither RTP nor TS, from host `h`.
    Junk(u8, Vec<u8>),
    /// A TCP segment (protocol 6).
    Tcp,
    /// An ARP frame.
    Arp,
    /// An RTP frame cut to `n` bytes.
    Cut(u8),
    /// A 3,000-byte RTP datagram from host `h` in 3 fragments; `drop` leaves one out,
    /// `twice` sends one twice (an overlap).
    Fragmented { h: u8, drop: bool, twice: bool },
    /// Time passes (ms), across reprobe, fragment and probation horizons.
    Wait(u16),
}

fn send() -> impl Strategy<Value = Send> {
    prop_oneof![
        6 => (0u8..8, 0u8..3).prop_map(|(h, s)| Send::Rtp(h, s)),
        1 => (0u8..8).prop_map(Send::Rtcp),
        1 => (0u8..8).prop_map(Send::RtcpFragmented),
        2 => (0u8..4).prop_map(Send::Ts),
        2 => (0u8..8, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(h, b)| Send::Junk(h, b)),
        1 => Just(Send::Tcp),
        1 => Just(Send::Arp),
        1 => (0u8..60).prop_map(Send::Cut),
        1 => (0u8..8, any::<bool>(), any::<bool>()).prop_map(|(h, drop, twice)| Send::Fragmented { h, drop, twice }),
        1 => (0u16..12_000).prop_map(Send::Wait),
    ]
}

/// IPv4 fragments of `frame` (Ethernet + IPv4 without options), `pieces` of them, each a
/// multiple of 8 bytes but the last.
fn fragments(frame: &[u8], id: u16, pieces: usize) -> Vec<Vec<u8>> {
    let (head, data) = frame.split_at(14 + 20);
    let step = (data.len() / pieces).div_ceil(8) * 8;
    data.chunks(step)
        .enumerate()
        .map(|(i, chunk)| {
            let mut f = head.to_vec();
            let more = (i + 1) * step < data.len();
            let offset = (i * step / 8) as u16 | if more { 0x2000 } else { 0 };
            f[14 + 2..14 + 4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
            f[14 + 4..14 + 6].copy_from_slice(&id.to_be_bytes());
            f[14 + 6..14 + 8].copy_from_slice(&offset.to_be_bytes());
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

/// Frames read = media flows' packets + other UDP + RTCP + skipped + fragments folded into
/// datagrams + refused.
fn check(r: &AnalysisReport, frames: u64) -> Result<(), TestCaseError> {
    let c = &r.capture;
    let media: u64 = r
        .flows
        .iter()
        .filter(|f| f.kind.is_media())
        .map(|f| f.packets)
        .sum();
    let other: u64 = r
        .flows
        .iter()
        .filter(|f| !f.kind.is_media())
        .map(|f| f.packets)
        .sum();
    // Other UDP: its flows, and the single datagrams of SSRCs that another one confirmed.
    prop_assert_eq!(other + c.stray.packets, c.other_udp.packets);
    let skipped: u64 = c.skipped.values().sum();
    prop_assert_eq!(c.packets, frames);
    prop_assert_eq!(
        media + c.other_udp.packets + c.rtcp_packets + skipped + c.fragments.frames
            - c.fragments.datagrams
            + c.refused
            + c.refused_state,
        frames,
        "media {} other {} rtcp {} skipped {:?} fragments {:?} refused {}",
        media,
        other,
        c.rtcp_packets,
        c.skipped,
        c.fragments,
        c.refused
    );
    Ok(())
}

/// Builds the frames of each step, as captured.
#[derive(Default)]
struct Sender {
    t: i64,
    seq: [u16; 32],
    cc: [u8; 8],
    id: u16,
}

impl Sender {
    fn new() -> Self {
        Sender {
            t: 1_700_000_000_000_000_000,
            ..Sender::default()
        }
    }

    fn rtp(&mut self, h: u8, s: u8, payload: usize) -> Vec<u8> {
        let i = usize::from(h) * 3 + usize::from(s);
        self.seq[i] = self.seq[i].wrapping_add(1);
        let seq = self.seq[i];
        let p = rtp_packet(
            96,
            false,
            seq,
            u32::from(seq) * 3000,
            u32::from(s),
            &vec![0x41; payload],
        );
        udp_frame([10, 0, 0, h + 1], 4000, [10, 0, 1, 1], 5004, &p)
    }

    /// The frames of one step, 20 ms after the last (a wait adds its time).
    fn frames(&mut self, s: Send) -> Vec<Vec<u8>> {
        self.t += 20_000_000;
        match s {
            Send::Rtp(h, s) => vec![self.rtp(h, s, 100)],
            Send::Rtcp(h) => {
                let mut p = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
                p.resize(28, 0);
                vec![udp_frame([10, 0, 0, h + 1], 4000, [10, 0, 1, 1], 5004, &p)]
            }
            Send::RtcpFragmented(h) => {
                self.id = self.id.wrapping_add(1);
                let mut p = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
                p.resize(1200, 0);
                let whole = udp_frame([10, 0, 0, h + 1], 4000, [10, 0, 1, 1], 5004, &p);
                fragments(&whole, self.id, 2)
            }
            Send::Ts(h) => {
                let mut payload = Vec::new();
                for _ in 0..7 {
                    let cc = &mut self.cc[usize::from(h)];
                    *cc = (*cc + 1) & 15;
                    let mut p = vec![0x47, 0x01, 0x00, 0x10 | *cc];
                    p.resize(188, 0xaa);
                    payload.extend(p);
                }
                vec![udp_frame(
                    [10, 0, 2, h + 1],
                    4000,
                    [239, 1, 1, 1],
                    5000,
                    &payload,
                )]
            }
            Send::Junk(h, bytes) => {
                vec![udp_frame(
                    [10, 0, 0, h + 1],
                    4000,
                    [10, 0, 1, 1],
                    5004,
                    &bytes,
                )]
            }
            Send::Tcp => {
                let mut f = udp_frame([10, 0, 3, 1], 80, [10, 0, 1, 1], 80, &[0; 20]);
                f[14 + 9] = 6;
                vec![f]
            }
            Send::Arp => {
                let mut f = vec![0xff; 12];
                f.extend_from_slice(&[0x08, 0x06]);
                f.resize(42, 0);
                vec![f]
            }
            Send::Cut(n) => {
                let f = self.rtp(0, 0, 100);
                vec![f[..usize::from(n).min(f.len())].to_vec()]
            }
            Send::Fragmented { h, drop, twice } => {
                self.id = self.id.wrapping_add(1);
                let whole = self.rtp(h, 0, 3_000);
                let mut out = Vec::new();
                for (i, piece) in fragments(&whole, self.id, 3).into_iter().enumerate() {
                    if drop && i == 1 {
                        continue;
                    }
                    if twice && i == 0 {
                        out.push(piece.clone());
                    }
                    out.push(piece);
                }
                out
            }
            Send::Wait(ms) => {
                self.t += i64::from(ms) * 1_000_000;
                Vec::new()
            }
        }
    }
}

/// Sends `sends` through an analyzer with a flow cap of `cap`: its report and the frames.
fn run(sends: Vec<Send>, cap: usize, budget: usize) -> (AnalysisReport, u64) {
    let config = AnalysisConfig {
        max_flows: cap,
        max_state_bytes: budget,
        ..AnalysisConfig::default()
    };
    let mut analyzer = Analyzer::new(config);
    let mut sender = Sender::new();
    let mut frames = 0u64;
    for s in sends {
        for f in sender.frames(s) {
            analyzer.on_frame(sender.t, LinkType::Ethernet, &f, f.len() as u32);
            frames += 1;
        }
    }
    (analyzer.finish(), frames)
}

/// A live run: the steps with interval ticks among them (`Some(e)`: a tick forgetting flows
/// idle for e x 100 ms). At every tick, each frame read is in exactly one bucket of the
/// interval figures (docs/live.md).
fn run_live(
    steps: Vec<Option<Send>>,
    config: AnalysisConfig,
    expire: &[u16],
) -> Result<(), TestCaseError> {
    let mut analyzer = Analyzer::new(config);
    let mut sender = Sender::new();
    let (mut frames, mut counted, mut last_end, mut ticks) = (0u64, 0u64, sender.t, 0usize);
    for step in steps {
        let Some(s) = step else {
            let e = expire[ticks % expire.len()];
            ticks += 1;
            sender.t += 20_000_000;
            let tick = Tick {
                end_ns: sender.t,
                interval_ns: (sender.t - last_end).max(1),
                silent_after_ns: 100_000_000,
                expire_after_ns: i64::from(e) * 100_000_000,
                source_ended: false,
            };
            last_end = sender.t;
            let mut recorded = 0;
            let o = analyzer.tick(&tick, &mut |r| {
                if let Record::Flow(f) = r {
                    recorded += f.packets;
                }
            });
            counted += recorded + o.counted_outside_records();
            let skipped: u64 = analyzer.skipped().iter().sum();
            prop_assert_eq!(counted + skipped + o.held(), frames, "{:?}", o);
            continue;
        };
        for f in sender.frames(s) {
            analyzer.on_frame(sender.t, LinkType::Ethernet, &f, f.len() as u32);
            frames += 1;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    /// Live: ticks among the steps that expire and evict flows (probes again, strays, RTCP in
    /// fragments, the SSRC limit, the flow cap and the state budget all reached).
    #[test]
    fn every_frame_lands_in_exactly_one_live_bucket(
        steps in proptest::collection::vec(
            prop_oneof![6 => send().prop_map(Some), 1 => Just(None)], 1..400),
        expire in proptest::collection::vec(0u16..40, 1..8),
        cap in 3usize..40,
        budget in proptest::option::of(12_000usize..60_000),
        probation in 1u8..5,
        ssrcs in 1usize..4,
    ) {
        let config = AnalysisConfig {
            max_flows: cap,
            max_state_bytes: budget.unwrap_or(usize::MAX),
            probation,
            max_ssrcs_per_tuple: ssrcs,
            ..AnalysisConfig::default()
        };
        run_live(steps, config, &expire)?;
    }

    #[test]
    fn every_frame_lands_in_exactly_one_bucket(
        sends in proptest::collection::vec(send(), 1..400),
        cap in 3usize..40,
        budget in proptest::option::of(12_000usize..60_000),
    ) {
        let (report, frames) = run(sends, cap, budget.unwrap_or(usize::MAX));
        check(&report, frames)?;
    }
}

/// One capture with every bucket filled: the equality is not met by empty terms.
#[test]
fn every_bucket_is_reached() {
    // A 4-tuple that is other UDP first (it stays so: nothing follows it).
    let mut sends: Vec<Send> = vec![Send::Junk(20, vec![9; 30])];
    for h in 0..8 {
        for _ in 0..5 {
            sends.push(Send::Rtp(h, 0));
        }
        sends.push(Send::Rtp(h, 1));
        sends.push(Send::Rtcp(h));
        sends.push(Send::Junk(h, vec![1, 2, 3]));
    }
    sends.extend([
        Send::Ts(0),
        Send::Ts(0),
        Send::Ts(0),
        Send::Ts(0),
        Send::Tcp,
        Send::Arp,
        Send::Cut(20),
    ]);
    sends.push(Send::Fragmented {
        h: 0,
        drop: false,
        twice: false,
    });
    sends.push(Send::Fragmented {
        h: 1,
        drop: true,
        twice: false,
    });
    sends.push(Send::Fragmented {
        h: 2,
        drop: false,
        twice: true,
    });
    let (r, frames) = run(sends.clone(), 6, usize::MAX);
    check(&r, frames).unwrap();
    // A state budget that fills: new flows refused, every frame still counted once.
    let (tight, frames) = run(sends, 60, 14_000);
    check(&tight, frames).unwrap();
    assert!(tight.capture.refused_state > 0, "{:?}", tight.capture);
    let c = &r.capture;
    assert!(
        c.refused > 0 && c.rtcp_packets > 0 && c.fragments.frames >= 3,
        "{c:?}"
    );
    for reason in [
        "non_udp",
        "non_ip",
        "fragment_incomplete",
        "fragment_invalid",
    ] {
        assert!(c.skipped[reason] > 0, "{reason}: {:?}", c.skipped);
    }
    assert!(r.flows.iter().any(|f| f.kind == crate::kind::FlowKind::Rtp));
    assert!(
        c.other_udp.packets > 0 && c.skipped["rtp_invalid"] > 0,
        "{c:?}"
    );
}
