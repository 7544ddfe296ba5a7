//! Tests of the TS analysis.

use super::psi::SectionAssembler;
use super::*;

const PMT_PID: u16 = 0x1000;
const VIDEO: u16 = 0x100;

/// A small muxer: one program, H.264 on 0x100 carrying the PCR.
struct Mux {
    cc: HashMap<u16, u8>,
}

fn crc(bytes: &[u8]) -> [u8; 4] {
    wire::ts::crc32_mpeg2(bytes).to_be_bytes()
}

fn section(table: u8, ext: u16, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len() + 4;
    let mut s = vec![table, 0xb0 | (len >> 8) as u8, len as u8];
    s.extend_from_slice(&ext.to_be_bytes());
    s.extend_from_slice(&[0xc1, 0, 0]);
    s.extend_from_slice(body);
    let c = crc(&s);
    s.extend_from_slice(&c);
    s
}

impl Mux {
    fn new() -> Self {
        Mux { cc: HashMap::new() }
    }

    fn packet(&mut self, pid: u16, pusi: bool, af: Option<Vec<u8>>, payload: &[u8]) -> Vec<u8> {
        let cc = self.cc.entry(pid).or_insert(15);
        let has_payload = !payload.is_empty() || af.is_none();
        if has_payload {
            *cc = (*cc + 1) & 15;
        }
        let control = match (&af, has_payload) {
            (Some(_), true) => 0x30,
            (Some(_), false) => 0x20,
            _ => 0x10,
        };
        let mut p = vec![
            0x47,
            (pid >> 8) as u8 | if pusi { 0x40 } else { 0 },
            pid as u8,
            control | *cc,
        ];
        if let Some(af) = af {
            // Stuff the adaptation field so the payload fills the packet.
            let room = 188 - 4 - 1 - payload.len();
            let mut field = af;
            field.resize(room, 0xff);
            p.push(field.len() as u8);
            p.extend_from_slice(&field);
            p.extend_from_slice(payload);
        } else {
            p.extend_from_slice(payload);
            p.resize(188, 0xff);
        }
        p
    }

    fn pat(&mut self) -> Vec<u8> {
        let s = section(
            TABLE_PAT,
            1,
            &[0, 1, 0xe0 | (PMT_PID >> 8) as u8, PMT_PID as u8],
        );
        let mut payload = vec![0];
        payload.extend_from_slice(&s);
        self.packet(PAT_PID, true, None, &payload)
    }

    fn pmt(&mut self) -> Vec<u8> {
        let body = [
            0xe0 | (VIDEO >> 8) as u8,
            VIDEO as u8,
            0xf0,
            0,
            0x1b,
            0xe0 | (VIDEO >> 8) as u8,
            VIDEO as u8,
            0xf0,
            0,
        ];
        let s = section(TABLE_PMT, 1, &body);
        let mut payload = vec![0];
        payload.extend_from_slice(&s);
        self.packet(PMT_PID, true, None, &payload)
    }

    /// A video packet starting a PES with a PTS, with a PCR at `ms`.
    fn video(&mut self, ms: i64, pcr: bool) -> Vec<u8> {
        let base = (ms * 90) as u64;
        let af = pcr.then(|| {
            let mut field = vec![0x10];
            field.extend_from_slice(&Pcr(base * 300).to_bytes());
            field
        });
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5];
        pes.extend_from_slice(&wire::ts::pts_bytes(base + 9_000));
        pes.resize(100, 0x55);
        self.packet(VIDEO, true, af, &pes)
    }
}

/// 2 s of a clean stream: every 20 ms one video packet with a PCR every other; PAT and
/// PMT every 100 ms. `edit` may change or drop (empty vec) the packet (index, ms).
fn run(edit: impl Fn(usize, i64, Vec<u8>) -> Vec<Vec<u8>>) -> TsAnalyzer {
    let mut ts = run_for(100, edit);
    ts.finish(1_990 * MS);
    ts
}

/// The first `steps` steps (20 ms each) of [`run`]'s stream, not finished.
fn run_for(steps: i64, edit: impl Fn(usize, i64, Vec<u8>) -> Vec<Vec<u8>>) -> TsAnalyzer {
    let mut mux = Mux::new();
    let mut ts = TsAnalyzer::new(TsLimits::default());
    let mut index = 0;
    for step in 0..steps {
        let ms = step * 20;
        // 3 packets every 20 ms, the video one (with the PCR) always last: a constant
        // rate, so every PCR is exactly where the rate puts it.
        let mut packets = Vec::new();
        if step % 5 == 0 {
            packets.push(mux.pat());
            packets.push(mux.pmt());
        } else {
            ts.on_packet(ms * MS, &null());
            ts.on_packet(ms * MS, &null());
        }
        packets.push(mux.video(ms, step % 2 == 0));
        for p in packets {
            for q in edit(index, ms, p) {
                ts.on_packet(ms * MS, &q);
            }
            index += 1;
        }
    }
    ts
}

fn counts(ts: &TsAnalyzer) -> Vec<(&'static str, u64)> {
    Indicator::ALL
        .iter()
        .map(|&i| (i.as_str(), ts.indicators.get(i).count))
        .filter(|&(_, n)| n > 0)
        .collect()
}

#[test]
fn a_clean_stream_has_no_event_and_its_tables_are_read() {
    let ts = run(|_, _, p| vec![p]);
    assert_eq!(counts(&ts), vec![]);
    assert_eq!(ts.programs.len(), 1);
    assert_eq!(ts.programs[0].pcr_pid, Some(VIDEO));
    assert_eq!(ts.programs[0].streams, vec![(VIDEO, 0x1b, "h264")]);
    let video = ts.pids().iter().find(|p| p.pid == VIDEO).unwrap();
    assert_eq!((video.figures.packets, video.figures.pcrs), (100, 50));
    assert_eq!(video.role.as_str(), "h264");
    assert_eq!(video.figures.pcr_jitter_ns_max, 0.0);
}

#[test]
fn drops_are_continuity_events_with_missing_packets() {
    // Drop video packets 30 and 31 (one event, 2 missing) and 60 (another, 1 missing).
    let ts = run(|i, _, p| {
        if [30, 31, 60].contains(&i) {
            vec![]
        } else {
            vec![p]
        }
    });
    assert_eq!(ts.indicators.get(Indicator::CcError).count, 2);
    let total_missing: u64 = ts.pids().iter().map(|p| p.figures.missing_packets).sum();
    assert_eq!(total_missing, 3);
}

#[test]
fn one_duplicate_is_legal_a_third_copy_is_not() {
    let ts = run(|i, _, p| match i {
        10 => vec![p.clone(), p],
        50 => vec![p.clone(), p.clone(), p],
        _ => vec![p],
    });
    assert_eq!(counts(&ts), vec![("cc_error", 1)]);
    let ts = run(|i, _, p| {
        if i == 10 {
            // Same CC, different content: an error.
            let mut q = p.clone();
            q[150] ^= 1;
            vec![p, q]
        } else {
            vec![p]
        }
    });
    assert_eq!(counts(&ts), vec![("cc_error", 1)]);
}

#[test]
fn duplicates_are_judged_the_same_within_and_across_datagrams() {
    // Each case: datagrams of video packets (by index into `packets`, `!` = one byte
    // changed), and the continuity errors expected.
    let mut mux = Mux::new();
    let packets: Vec<Vec<u8>> = (0..4).map(|i| mux.video(i * 20, i % 2 == 0)).collect();
    let cases: [(&[&[&str]], u64); 6] = [
        (&[&["0", "1", "1", "2"]], 0),         // a repeat in the same datagram
        (&[&["0", "1"], &["1", "2"]], 0),      // a repeat in the next datagram
        (&[&["0", "1"], &["1", "1", "2"]], 1), // a third copy
        (&[&["0", "1", "1!", "2"]], 1),        // same counter, other content
        (&[&["0", "1"], &["1!", "2"]], 1),     // the same across datagrams
        (&[&["0", "1", "2"], &["3", "2"]], 1), // a late packet is no repeat
    ];
    for (datagrams, expected) in cases {
        let mut ts = TsAnalyzer::new(TsLimits::default());
        for (n, datagram) in datagrams.iter().enumerate() {
            let mut bytes = Vec::new();
            for name in *datagram {
                let mut p = packets[usize::from(name.as_bytes()[0] - b'0')].clone();
                if name.ends_with('!') {
                    p[150] ^= 1;
                }
                bytes.extend_from_slice(&p);
            }
            ts.on_datagram(n as i64 * MS, &bytes, 188);
        }
        assert_eq!(
            ts.indicators.get(Indicator::CcError).count,
            expected,
            "{datagrams:?}"
        );
    }
}

#[test]
fn datagrams_of_up_to_348_packets_are_judged_like_short_ones() {
    // 348 TS packets fill the largest UDP payload (65,507 bytes). A PID whose packets sit
    // at slots both below and beyond 254 panicked once (the deferred copy of its last
    // packet lost track of the slot), and a repeat beyond 254 was compared with a stale
    // copy.
    let mut mux = Mux::new();
    let video: Vec<Vec<u8>> = (0..3).map(|i| mux.video(i * 20, false)).collect();
    let datagram = |slots: &[(usize, &Vec<u8>)]| {
        let mut bytes = null().repeat(348);
        for &(slot, packet) in slots {
            bytes[slot * 188..][..188].copy_from_slice(packet);
        }
        bytes
    };
    let mut ts = TsAnalyzer::new(TsLimits::default());
    // Fresh at slot 0 and 300, a legal repeat at 301, then the next one.
    ts.on_datagram(
        0,
        &datagram(&[(0, &video[0]), (300, &video[1]), (301, &video[1])]),
        188,
    );
    // A fresh packet in the last slot.
    ts.on_datagram(MS, &datagram(&[(347, &video[2])]), 188);
    // Its legal repeat in the next datagram, then a third copy: an error.
    ts.on_datagram(
        2 * MS,
        &datagram(&[(280, &video[2]), (290, &video[2])]),
        188,
    );
    assert_eq!(ts.packets, 3 * 348);
    assert_eq!(ts.indicators.get(Indicator::CcError).count, 1);
    let pid = ts.pids().iter().find(|p| p.pid == VIDEO).unwrap();
    assert_eq!((pid.figures.packets, pid.figures.missing_packets), (6, 0));
}

#[test]
fn a_missing_pat_is_one_event_per_gap() {
    // No PAT from 400 ms to 1.4 s: one gap of 1.1 s.
    let ts = run(|_, ms, p| {
        let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
        if pid == PAT_PID && (400..1_400).contains(&ms) {
            vec![null()]
        } else {
            vec![p]
        }
    });
    // The PAT's continuity counter shows the gap too. (The PCR accuracy check then
    // counts the 10 PAT packets the counter says are missing as lost bytes.)
    assert_eq!(ts.indicators.get(Indicator::PatError).count, 1);
    assert_eq!(ts.indicators.get(Indicator::CcError).count, 1);
    // Counted when the gap passed its 0.5 s limit (the last PAT came at 300 ms), not when
    // the PAT came back; the gap's length is kept when it closes.
    let pat = ts.indicators.get(Indicator::PatError);
    assert_eq!((pat.first_ns, pat.longest_gap_ns), (800 * MS, 1_100 * MS));
}

/// definitions.md: a gap counts in the interval in which it passes its limit. The PAT
/// stops after 300 ms: by 900 ms (the stream still sending, no PAT back yet) PAT_error is
/// counted, at 800 ms. Before: nothing until the PAT came back or the flow ended.
#[test]
fn a_gap_counts_when_it_passes_its_limit_not_when_it_closes() {
    let ts = run_for(46, |_, ms, p| {
        let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
        if pid == PAT_PID && ms >= 400 {
            vec![null()]
        } else {
            vec![p]
        }
    });
    let pat = ts.indicators.get(Indicator::PatError);
    assert_eq!(
        (pat.count, pat.first_ns, pat.longest_gap_ns),
        (1, 800 * MS, 0)
    );
}

/// A full outage (no packet at all from 1,000 to 2,500 ms): the PAT gap passes its limit at
/// 1,400 ms (last PAT at 900 ms) and is counted then by a live tick's judgement, with no
/// packet to tell it; the packets after the outage do not count it again, and the PAT of
/// 2,500 ms closes it, 1,600 ms long.
#[test]
fn a_gap_in_a_full_outage_counts_when_it_passes_its_limit() {
    let mut mux = Mux::new();
    let mut ts = TsAnalyzer::new(TsLimits::default());
    let pat = |ts: &TsAnalyzer| {
        let p = ts.indicators.get(Indicator::PatError);
        (p.count, p.first_ns)
    };
    for step in (0..50).chain(125..130) {
        let ms = step * 20;
        if step == 125 {
            // The ticks of the outage: not yet at 1,400 ms, then counted.
            ts.judge_gaps(1_400 * MS);
            assert_eq!(pat(&ts).0, 0);
            ts.judge_gaps(2_000 * MS);
            assert_eq!(pat(&ts), (1, 1_400 * MS));
        }
        if step % 5 == 0 {
            ts.on_packet(ms * MS, &mux.pat());
            ts.on_packet(ms * MS, &mux.pmt());
        } else {
            ts.on_packet(ms * MS, &null());
        }
        ts.on_packet(ms * MS, &mux.video(ms, step % 2 == 0));
    }
    assert_eq!(pat(&ts), (1, 1_400 * MS));
    assert_eq!(
        ts.indicators.get(Indicator::PatError).longest_gap_ns,
        1_600 * MS
    );
}

/// The video PID (which carries the PCR and the PTS) stops at 1 s of a 2 s stream: its PCR
/// and PTS gaps, still open at the end, count once each at finish, with their lengths.
/// Before: finish closed PAT, PMT and PID gaps, not PCR or PTS ones.
#[test]
fn pcr_and_pts_gaps_open_at_the_end_count_once() {
    let ts = run(|_, ms, p| {
        let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
        if pid == VIDEO && ms >= 1_000 {
            vec![null()]
        } else {
            vec![p]
        }
    });
    let pcr = ts.indicators.get(Indicator::PcrRepetitionError);
    let pts = ts.indicators.get(Indicator::PtsError);
    // Last PCR and PTS at 960 and 980 ms; the flow ends at 1,990 ms.
    assert_eq!(
        (pcr.count, pcr.first_ns, pcr.longest_gap_ns),
        (1, 1_060 * MS, 1_030 * MS)
    );
    assert_eq!(
        (pts.count, pts.first_ns, pts.longest_gap_ns),
        (1, 1_680 * MS, 1_010 * MS)
    );
    let video = ts.pids().iter().find(|p| p.pid == VIDEO).unwrap();
    assert_eq!(
        (
            video.figures.pcr_repetition_errors,
            video.figures.pts_errors
        ),
        (1, 1)
    );
}

#[test]
fn crc_sync_tei_and_pcr_faults() {
    // A PMT with a bad CRC (its PMT gap stays under 0.5 s).
    let ts = run(|i, _, mut p| {
        if i == 1 {
            p[10] ^= 0x20;
        }
        vec![p]
    });
    assert_eq!(counts(&ts), vec![("crc_error", 1)]);
    // One broken sync byte; then two in a row (a sync loss).
    let ts = run(|i, _, mut p| match i {
        20 => {
            p[0] = 0x46;
            vec![p]
        }
        40 => {
            let mut broken = null();
            broken[0] = 0x07;
            vec![broken.clone(), broken, p]
        }
        _ => vec![p],
    });
    let got = counts(&ts);
    assert_eq!(
        ts.indicators.get(Indicator::SyncByteError).count,
        3,
        "{got:?}"
    );
    assert_eq!(ts.indicators.get(Indicator::SyncLoss).count, 1, "{got:?}");
    // TEI on one packet.
    let ts = run(|i, _, mut p| {
        if i == 7 {
            p[1] |= 0x80;
        }
        vec![p]
    });
    assert_eq!(counts(&ts), vec![("transport_error", 1)]);
    // PCRs missing from 500 ms to 700 ms: one gap of 240 ms.
    let ts = run(|_, ms, mut p| {
        let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
        if pid == VIDEO && (500..700).contains(&ms) && p[3] & 0x20 != 0 {
            p[5] &= !0x10;
        }
        vec![p]
    });
    assert_eq!(
        counts(&ts),
        vec![("pcr_repetition_error", 1), ("pcr_discontinuity_error", 1)]
    );
}

#[test]
fn unreferenced_and_absent_pids() {
    let ts = run(|i, _, p| {
        if i % 3 == 0 {
            vec![p, mux_packet(0x200, i / 3)]
        } else {
            vec![p]
        }
    });
    let got = counts(&ts);
    assert!(got.contains(&("unreferenced_pid", 1)), "{got:?}");
    assert!(!got.iter().any(|(name, _)| *name == "cc_error"), "{got:?}");
    // Video silent from 400 to 800 ms, against a PID_error limit of 300 ms.
    let mut mux = Mux::new();
    let mut ts = TsAnalyzer::new(TsLimits {
        pid_interval_ns: 300 * MS,
        ..TsLimits::default()
    });
    for step in 0..50i64 {
        let ms = step * 20;
        if step % 5 == 0 {
            ts.on_packet(ms * MS, &mux.pat());
            ts.on_packet(ms * MS, &mux.pmt());
        }
        if !(20..40).contains(&step) {
            ts.on_packet(ms * MS, &mux.video(ms, step % 2 == 0));
        }
    }
    ts.finish(990 * MS);
    let got = counts(&ts);
    assert!(got.contains(&("pid_error", 1)), "{got:?}");
}

fn null() -> Vec<u8> {
    let mut p = vec![0x47, 0x1f, 0xff, 0x10];
    p.resize(188, 0xff);
    p
}

fn mux_packet(pid: u16, n: usize) -> Vec<u8> {
    let mut p = vec![0x47, (pid >> 8) as u8, pid as u8, 0x10 | (n as u8 & 15)];
    p.resize(188, 0);
    p
}

#[test]
fn sections_span_packets_and_share_them() {
    let mut a = SectionAssembler::default();
    let long = section(0x42, 7, &[0xaa; 300]);
    let mut got = Vec::new();
    let mut first = vec![0u8];
    first.extend_from_slice(&long[..183]);
    a.feed(&first, true, |s| got.push(s.to_vec()));
    assert!(got.is_empty());
    // The rest, then a short section in the same packet, then stuffing.
    let short = section(0x42, 8, &[1, 2, 3]);
    let mut second = long[183..].to_vec();
    second.extend_from_slice(&short);
    second.resize(184, 0xff);
    a.feed(&second, false, |s| got.push(s.to_vec()));
    assert_eq!(got, vec![long.clone(), short]);
    // A pointer field: the tail of an unfinished section is dropped when the next starts.
    let mut third = vec![0u8];
    third.extend_from_slice(&long[..100]);
    a.feed(&third, true, |s| got.push(s.to_vec()));
    let mut fourth = vec![5u8, 1, 2, 3, 4, 5];
    fourth.extend_from_slice(&long[..178]);
    a.feed(&fourth, true, |s| got.push(s.to_vec()));
    assert_eq!(got.len(), 2);
}

/// Datagrams of 5 video packets and 2 null packets; the first also carries PAT and PMT.
fn datagrams(n: usize) -> Vec<Vec<u8>> {
    let mut mux = Mux::new();
    (0..n)
        .map(|k| {
            let mut d = Vec::new();
            if k == 0 {
                d.extend(mux.pat());
                d.extend(mux.pmt());
            } else {
                d.extend(null());
                d.extend(null());
            }
            for i in 0..5 {
                d.extend(mux.video((k * 5 + i) as i64 * 4, false));
            }
            d
        })
        .collect()
}

fn video_figures(ts: &TsAnalyzer) -> PidFigures {
    ts.pids().iter().find(|p| p.pid == VIDEO).unwrap().figures
}

/// definitions.md: a datagram byte-identical to one of the flow's last 8 is a duplicate:
/// its packets count, each PID it repeats gets one continuity event, nothing is missing.
/// Before: two continuity jumps (into the copy and out of it), 11 video packets "missing".
#[test]
fn a_repeated_udp_datagram_is_a_duplicate_not_loss() {
    let sent = datagrams(10);
    let mut ts = TsAnalyzer::new(TsLimits::default());
    let mut order: Vec<usize> = (0..10).collect();
    order.insert(6, 3); // d3 again after d5: two datagrams between them
    for (i, &k) in order.iter().enumerate() {
        ts.on_udp_datagram(i as i64 * 20 * MS, &sent[k], 188);
    }
    assert_eq!(ts.duplicate_datagrams, 1);
    assert_eq!(ts.packets, 11 * 7);
    assert_eq!(ts.missing_packets, 0);
    let video = video_figures(&ts);
    assert_eq!(
        (video.packets, video.cc_errors, video.missing_packets),
        (55, 1, 0)
    );
    assert_eq!(counts(&ts), vec![("cc_error", 1)]);
    let pid_packets: u64 = ts.pids().iter().map(|p| p.figures.packets).sum();
    assert_eq!(pid_packets, 11 * 7);
}

/// All-null datagrams (stuffing) are alike by nature: no duplicate, no event.
#[test]
fn repeated_stuffing_datagrams_are_not_duplicates() {
    let stuffing: Vec<u8> = (0..7).flat_map(|_| null()).collect();
    let mut ts = TsAnalyzer::new(TsLimits::default());
    for i in 0..4 {
        ts.on_udp_datagram(i * MS, &stuffing, 188);
    }
    assert_eq!((ts.duplicate_datagrams, ts.packets), (0, 28));
    assert_eq!(counts(&ts), vec![]);
}

/// A copy 9 datagrams after its original is beyond the 8 remembered: continuity judges it.
#[test]
fn a_copy_beyond_the_last_8_datagrams_is_judged_by_continuity() {
    let sent = datagrams(10);
    let mut ts = TsAnalyzer::new(TsLimits::default());
    for (i, d) in sent.iter().chain([&sent[1]]).enumerate() {
        ts.on_udp_datagram(i as i64 * 20 * MS, d, 188);
    }
    assert_eq!(ts.duplicate_datagrams, 0);
    let video = video_figures(&ts);
    // Video counters 0..49 sent; d1 starts at 5 after 49 (expected 50 mod 16 = 2): 3 missing.
    assert_eq!((video.cc_errors, video.missing_packets), (1, 3));
}

/// A still picture coded as skipped frames repeats datagrams byte for byte once the counters
/// have gone round: 2 video packets a datagram, so datagram k + 8 equals datagram k, and its
/// counters continue. Not a duplicate, no event (a real CBR ffmpeg stream of testsrc does this).
#[test]
fn an_identical_datagram_that_continues_the_counters_is_no_duplicate() {
    let mut mux = Mux::new();
    let mut ts = TsAnalyzer::new(TsLimits::default());
    let mut sent = Vec::new();
    for k in 0..40i64 {
        let mut d = Vec::new();
        for _ in 0..2 {
            d.extend(mux.packet(VIDEO, false, None, &[0x55; 184]));
        }
        for _ in 0..5 {
            d.extend(null());
        }
        ts.on_udp_datagram(k * 10 * MS, &d, 188);
        sent.push(d);
    }
    assert_eq!(sent[0], sent[8]);
    assert_eq!(ts.duplicate_datagrams, 0);
    assert_eq!(counts(&ts), vec![]);
    // The same datagram sent twice in a row is one.
    let last = sent.last().unwrap().clone();
    ts.on_udp_datagram(400 * MS, &last, 188);
    assert_eq!(ts.duplicate_datagrams, 1);
    assert_eq!(counts(&ts), vec![("cc_error", 1)]);
    assert_eq!(ts.missing_packets, 0);
}

/// A flow with more PIDs than the short list holds moves to the full table and finds every
/// PID again, before and after the move.
#[test]
fn many_pids_are_found_before_and_after_the_full_table() {
    let mut mux = Mux::new();
    let mut ts = TsAnalyzer::new(TsLimits::default());
    let pids: Vec<u16> = (0..100u16).map(|k| 0x20 + k * 81).collect();
    for round in 0..3 {
        for &pid in &pids {
            ts.on_packet(round * MS, &mux.packet(pid, false, None, &[0x55; 184]));
        }
    }
    assert_eq!(ts.pids().len(), 100);
    for (state, &pid) in ts.pids().iter().zip(&pids) {
        assert_eq!(
            (state.pid, state.figures.packets, state.figures.cc_errors),
            (pid, 3, 0)
        );
    }
}

/// Live, MPEG-TS over UDP with a full outage from 1,000 to 3,500 ms and ticks every second:
/// the PAT gap (limit passed at 1,400 ms) is told in the interval ending at 2 s, in a record
/// of no packets, not when the flow sends again; the flow is `silent` at 3 s; `analyze` of
/// the same packets counts the same one PAT_error.
#[test]
fn live_records_tell_a_gap_of_a_full_outage_in_its_interval() {
    use crate::interval::{Record, Tick};
    use crate::{AnalysisConfig, Analyzer};
    let mut mux = Mux::new();
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let mut offline = Analyzer::new(AnalysisConfig::default());
    let base = 1_700_000_000_000_000_000i64;
    let pat_index = Indicator::ALL
        .iter()
        .position(|&i| i == Indicator::PatError)
        .unwrap();
    let mut seen = Vec::new();
    let mut next_tick = 1_000i64;
    for step in (0..50).chain(175..230) {
        let ms = step * 20;
        while next_tick <= ms {
            let tick = Tick {
                end_ns: base + next_tick * MS,
                interval_ns: 1_000 * MS,
                silent_after_ns: 2_000 * MS,
                expire_after_ns: 60_000 * MS,
                source_ended: false,
            };
            analyzer.tick(&tick, &mut |r| match r {
                Record::Flow(f) => seen.push(format!(
                    "{next_tick} packets {} pat {}",
                    f.packets,
                    f.tr101290.unwrap().0[pat_index]
                )),
                Record::Event(e) => seen.push(format!("{next_tick} {}", e.event)),
            });
            next_tick += 1_000;
        }
        let mut payload = Vec::new();
        if step % 5 == 0 {
            payload.extend(mux.pat());
            payload.extend(mux.pmt());
        } else {
            payload.extend(null());
            payload.extend(null());
        }
        payload.extend(mux.video(ms, step % 2 == 0));
        let f =
            testbed::pcap_writer::udp_frame([10, 0, 0, 1], 4000, [239, 1, 1, 1], 5000, &payload);
        for a in [&mut analyzer, &mut offline] {
            a.on_frame(base + ms * MS, wire::LinkType::Ethernet, &f, f.len() as u32);
        }
    }
    assert_eq!(
        seen,
        vec![
            "1000 appeared",
            "1000 packets 50 pat 0",
            "2000 packets 0 pat 1",
            "3000 silent",
            "4000 resumed",
            "4000 packets 25 pat 0",
        ]
    );
    let report = offline.finish();
    let pat = &report.flows[0].ts.as_ref().unwrap().tr101290;
    let count = pat
        .0
        .iter()
        .find(|(k, _)| *k == "pat_error")
        .map(|(_, e)| e.count);
    assert_eq!(count, Some(1));
}

mod alarm;
