//! Tests of the live interval records and events.
use super::*;
use crate::analyzer::TickOutcome;
use crate::{AnalysisConfig, Analyzer};
use testbed::pcap_writer::{rtp_packet, udp_frame};
use wire::LinkType;

const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let p = rtp_packet(96, false, seq, u32::from(seq) * 3600, ssrc, &[0x41; 1000]);
    udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, &p)
}

/// An event as (tick second, name, SSRC, new SSRC).
type Seen = (i64, &'static str, Option<u32>, Option<u32>);

/// The events and the packets of flow records, for RTP packets (time, sequence number,
/// SSRC) ticked every second.
fn camera_events(sends: &[(i64, u16, u32)], until: i64) -> (Vec<Seen>, u64) {
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let base = 1_700_000_000 * S;
    let mut events = Vec::new();
    let mut flow_packets = 0;
    let mut next_tick = base + S;
    let mut tick_until = |analyzer: &mut Analyzer, until: i64, events: &mut Vec<_>| {
        while next_tick <= until {
            let tick = Tick {
                end_ns: next_tick,
                interval_ns: S,
                silent_after_ns: 2 * S,
                expire_after_ns: i64::MAX,
                source_ended: false,
            };
            analyzer.tick(&tick, &mut |r| match r {
                Record::Event(e) => events.push((
                    (next_tick - base) / S,
                    e.event.as_str(),
                    e.name.ssrc,
                    e.new_ssrc,
                )),
                Record::Flow(f) => flow_packets += f.packets,
            });
            next_tick += S;
        }
    };
    for &(at, seq, ssrc) in sends {
        tick_until(&mut analyzer, base + at, &mut events);
        let frame = rtp(seq, ssrc);
        analyzer.on_frame(base + at, LinkType::Ethernet, &frame, frame.len() as u32);
    }
    tick_until(&mut analyzer, base + until, &mut events);
    (events, flow_packets)
}

/// 25 packets/s of SSRC `ssrc` from `from`, `count` of them, numbered from `seq`.
fn sends(from: i64, count: u16, seq: u16, ssrc: u32) -> Vec<(i64, u16, u32)> {
    (0..count)
        .map(|k| (from + i64::from(k) * 40 * MS, seq + k, ssrc))
        .collect()
}

/// A camera that sends 25 packets/s for 2 s, stops for 3 s, comes back for 2 s, then
/// reboots with a new SSRC. Ticks every second.
#[test]
fn a_camera_appears_goes_silent_resumes_and_changes_ssrc() {
    let mut all = sends(100 * MS, 50, 0, 7);
    all.extend(sends(5_100 * MS, 50, 50, 7));
    all.extend(sends(7_100 * MS, 25, 1_000, 8));
    let (events, flow_packets) = camera_events(&all, 9 * S);
    assert_eq!(
        events,
        vec![
            // The first packets wait in probation: the stream is known from second 1.
            (1, "appeared", Some(7), None),
            // Last packet at 2.06 s: 2 s without one is first seen at the 5 s tick.
            (5, "silent", Some(7), None),
            (6, "resumed", Some(7), None),
            (8, "ssrc_change", Some(7), Some(8)),
            (8, "appeared", Some(8), None),
        ]
    );
    assert_eq!(flow_packets, 125);
}

/// A camera that reboots: silent for 3 s, then back with a new SSRC. The old stream
/// sends nothing in the interval of the change, which is told all the same, with the new
/// SSRC. Before: `silent`, then `appeared` of the new SSRC, no change.
#[test]
fn a_reboot_after_silence_is_an_ssrc_change() {
    let mut all = sends(100 * MS, 50, 0, 7);
    all.extend(sends(5_100 * MS, 25, 9_000, 8));
    let (events, flow_packets) = camera_events(&all, 7 * S);
    assert_eq!(
        events,
        vec![
            (1, "appeared", Some(7), None),
            (5, "silent", Some(7), None),
            (6, "ssrc_change", Some(7), Some(8)),
            (6, "appeared", Some(8), None),
        ]
    );
    assert_eq!(flow_packets, 75);
}

/// 0 1 2 3 5 in the first second, 4 (late) and 6 in the second: the first interval
/// lost 1; the second lost nothing and recovered 1 (before: lost -1).
#[test]
fn a_late_packet_is_recovered_not_negative_loss() {
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let base = 1_700_000_000 * S;
    let mut seen = Vec::new();
    let tick = |analyzer: &mut Analyzer, end: i64, seen: &mut Vec<(u64, u64)>| {
        analyzer.tick(&tick_at(end, i64::MAX), &mut |r| {
            if let Record::Flow(f) = r {
                seen.push((f.lost, f.recovered.unwrap()));
            }
        });
    };
    for (k, seq) in [0u16, 1, 2, 3, 5].into_iter().enumerate() {
        let f = rtp(seq, 7);
        analyzer.on_frame(
            base + k as i64 * 40 * MS,
            LinkType::Ethernet,
            &f,
            f.len() as u32,
        );
    }
    tick(&mut analyzer, base + S, &mut seen);
    for (k, seq) in [4u16, 6].into_iter().enumerate() {
        let f = rtp(seq, 7);
        let at = base + S + k as i64 * 40 * MS;
        analyzer.on_frame(at, LinkType::Ethernet, &f, f.len() as u32);
    }
    tick(&mut analyzer, base + 2 * S, &mut seen);
    assert_eq!(seen, vec![(1, 0), (0, 1)]);
}

/// A group with `max_loss_pct = 5` judges every interval: a stream that loses half of
/// its packets in its third second breaks it there and keeps it again in the fourth.
#[test]
fn live_records_carry_the_sla_verdict_with_broken_and_ok_events() {
    use crate::group::{MonitorGroup, MonitorGroups, SlaLimits};
    let group = MonitorGroup {
        name: "cameras".into(),
        prefixes: vec!["10.0.0.2".parse().unwrap()],
        media_rate_bps: 0,
        sla: SlaLimits {
            max_loss_pct: Some(5.0),
            ..SlaLimits::default()
        },
    };
    let config = AnalysisConfig {
        groups: MonitorGroups::new(vec![group]).unwrap(),
        ..AnalysisConfig::default()
    };
    let mut analyzer = Analyzer::new(config);
    let base = 1_700_000_000 * S;
    let mut seen = Vec::new();
    for second in 0..4i64 {
        for k in 0..25u16 {
            let seq = second as u16 * 25 + k;
            if second == 2 && k % 2 == 1 {
                continue;
            }
            let f = rtp(seq, 7);
            let at = base + second * S + i64::from(k) * 40 * MS;
            analyzer.on_frame(at, LinkType::Ethernet, &f, f.len() as u32);
        }
        analyzer.tick(
            &tick_at(base + (second + 1) * S, i64::MAX),
            &mut |r| match r {
                Record::Flow(f) => {
                    let sla = f.sla.unwrap();
                    seen.push(format!("{second} flow {} {}", f.lost, sla.violations.len()))
                }
                Record::Event(e) => {
                    let broken: Vec<_> = e
                        .violations
                        .iter()
                        .flatten()
                        .map(|v| (v.limit, v.value))
                        .collect();
                    seen.push(format!("{second} {} {broken:?}", e.event))
                }
            },
        );
    }
    assert_eq!(
        seen,
        [
            "0 appeared []",
            "0 flow 0 0",
            "1 flow 0 0",
            // 12 of the 25 numbers 50..74 missing: 48 %.
            "2 sla_broken [(\"max_loss_pct\", 48.0)]",
            "2 flow 12 1",
            "3 sla_ok []",
            "3 flow 0 0",
        ]
    );
}

fn camera(host: u8, seq: u16) -> Vec<u8> {
    let p = rtp_packet(96, false, seq, u32::from(seq) * 3600, 256, &[0x41; 200]);
    udp_frame([10, 0, 1, host], 4000, [10, 0, 0, 2], 5004, &p)
}

fn tick_at(end: i64, expire_after_ns: i64) -> Tick {
    Tick {
        end_ns: end,
        interval_ns: S,
        silent_after_ns: 2 * S,
        expire_after_ns,
        source_ended: false,
    }
}

/// Names of the events a tick gives, with the flow's source host.
fn tick_events(analyzer: &mut Analyzer, tick: &Tick) -> (Vec<(&'static str, String)>, TickOutcome) {
    let mut events = Vec::new();
    let outcome = analyzer.tick(tick, &mut |r| {
        if let Record::Event(e) = r {
            events.push((e.event.as_str(), e.name.src.to_string()));
        }
    });
    (events, outcome)
}

/// A flow idle past the expiry time is forgotten with an `expired` event, and found
/// again as a new flow when it comes back; one still sending stays.
#[test]
fn idle_flows_expire_and_come_back_as_new() {
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let base = 1_700_000_000 * S;
    for seq in 0..5u16 {
        for host in [1, 2] {
            let f = camera(host, seq);
            analyzer.on_frame(
                base + i64::from(seq) * 40 * MS,
                LinkType::Ethernet,
                &f,
                f.len() as u32,
            );
        }
    }
    let (events, _) = tick_events(&mut analyzer, &tick_at(base + S, 10 * S));
    assert_eq!(events.len(), 2);
    // Host 2 keeps sending, host 1 stops: 11 s later host 1 is over the 10 s expiry.
    for k in 0..10i64 {
        let f = camera(2, 5 + k as u16);
        analyzer.on_frame(base + (k + 2) * S, LinkType::Ethernet, &f, f.len() as u32);
    }
    let (events, outcome) = tick_events(&mut analyzer, &tick_at(base + 12 * S, 10 * S));
    assert_eq!(
        events,
        vec![
            ("silent", "10.0.1.1:4000".into()),
            ("expired", "10.0.1.1:4000".into())
        ]
    );
    assert_eq!((outcome.expired, outcome.evicted), (1, 0));
    assert_eq!(analyzer.totals().2, 1);
    // Host 2's figures are intact after the rebuild: its next packet is in sequence.
    let f = camera(2, 15);
    analyzer.on_frame(base + 12_500 * MS, LinkType::Ethernet, &f, f.len() as u32);
    for seq in 100..104u16 {
        let f = camera(1, seq);
        analyzer.on_frame(
            base + 12_600 * MS + i64::from(seq) * MS,
            LinkType::Ethernet,
            &f,
            f.len() as u32,
        );
    }
    let mut lost = Vec::new();
    let outcome = analyzer.tick(&tick_at(base + 13 * S, 10 * S), &mut |r| match r {
        Record::Flow(f) => lost.push((f.name.src.to_string(), f.packets, f.lost)),
        Record::Event(e) => assert_eq!(
            (e.event.as_str(), e.name.src.to_string().as_str()),
            ("appeared", "10.0.1.1:4000")
        ),
    });
    let flows = (
        outcome.expired,
        outcome.evicted,
        outcome.refused,
        outcome.refused_state,
    );
    assert_eq!(flows, (0, 0, 0, 0));
    lost.sort();
    assert_eq!(
        lost,
        vec![
            ("10.0.1.1:4000".into(), 4, 0),
            ("10.0.1.2:4000".into(), 1, 0)
        ]
    );
}

/// Past the flow cap new 4-tuples are refused (counted), and the tick evicts the
/// longest-idle flows down to 90 % of the cap, so later newcomers find room.
#[test]
fn the_flow_cap_refuses_then_evicts_the_longest_idle() {
    let config = AnalysisConfig {
        max_flows: 20,
        ..AnalysisConfig::default()
    };
    let mut analyzer = Analyzer::new(config);
    let base = 1_700_000_000 * S;
    // 30 cameras, host h starting h ms in: 20 get in, 10 are refused (4 packets each).
    for seq in 0..4u16 {
        for host in 1..=30u8 {
            let f = camera(host, seq);
            let t = base + i64::from(host) * MS + i64::from(seq) * 40 * MS;
            analyzer.on_frame(t, LinkType::Ethernet, &f, f.len() as u32);
        }
    }
    let (events, outcome) = tick_events(&mut analyzer, &tick_at(base + S, 300 * S));
    assert_eq!(outcome.refused, 40);
    assert_eq!(outcome.evicted, 2);
    assert_eq!(analyzer.totals().2, 18);
    // The two evicted sent their last packet earliest: hosts 1 and 2.
    let evicted: Vec<&str> = events
        .iter()
        .filter(|e| e.0 == "evicted")
        .map(|e| e.1.as_str())
        .collect();
    assert_eq!(evicted, vec!["10.0.1.1:4000", "10.0.1.2:4000"]);
    assert_eq!(events.iter().filter(|e| e.0 == "appeared").count(), 20);
    // Host 30 now finds room.
    for seq in 10..14u16 {
        let f = camera(30, seq);
        analyzer.on_frame(
            base + 1_100 * MS + i64::from(seq) * MS,
            LinkType::Ethernet,
            &f,
            f.len() as u32,
        );
    }
    let (events, outcome) = tick_events(&mut analyzer, &tick_at(base + 2 * S, 300 * S));
    let flows = (
        outcome.expired,
        outcome.evicted,
        outcome.refused,
        outcome.refused_state,
    );
    assert_eq!(flows, (0, 0, 0, 0));
    assert!(events.contains(&("appeared", "10.0.1.30:4000".into())));
    assert_eq!(analyzer.totals().2, 19);
}

/// The payload vote may settle on a codec after an interval counted frames by the marker
/// bit alone: the next interval's frames are the codec's count then and now, not one
/// reading's count less another's (that underflowed: a panic in debug builds, 1.8e19 fps
/// in release).
#[test]
fn fps_stays_right_when_the_payload_vote_changes_between_intervals() {
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let base = 1_700_000_000 * S;
    let send = |analyzer: &mut Analyzer, seq: u16, marker: bool, payload: &[u8]| {
        let p = rtp_packet(96, marker, seq, u32::from(seq) * 3600, 9, payload);
        let f = udp_frame([10, 0, 0, 1], 4000, [10, 0, 0, 2], 5004, &p);
        let at = base + i64::from(seq) * 20 * MS;
        analyzer.on_frame(at, LinkType::Ethernet, &f, f.len() as u32);
    };
    // First 10 SPS-only access units (no frame as H.264) and 10 unreadable ones
    // (frames every way), each ended by the marker: half the packets read as H.264, so
    // the vote says unknown, and 20 frames count by the marker.
    for seq in 0..20u16 {
        let payload: &[u8] = if seq % 2 == 0 {
            &[0x67, 0x42, 0]
        } else {
            &[0xff; 3]
        };
        send(&mut analyzer, seq, true, payload);
    }
    let mut fps = Vec::new();
    let mut tick = |analyzer: &mut Analyzer, end: i64| {
        analyzer.tick(&tick_at(end, 300 * S), &mut |r| {
            if let Record::Flow(f) = r {
                fps.push((f.payload, f.fps));
            }
        });
    };
    tick(&mut analyzer, base + 390 * MS);
    // Then 100 IDR slices, 5 ending an access unit: the vote turns to H.264
    // (110 of 120 packets), whose count is 10 + 5.
    for seq in 20..120u16 {
        send(&mut analyzer, seq, seq % 20 == 19, &[0x65, 0x88, 0]);
    }
    tick(&mut analyzer, base + 2_400 * MS);
    assert_eq!(
        fps,
        vec![
            (PayloadFormat::Unknown, Some(20.0)),
            (PayloadFormat::H264, Some(5.0))
        ]
    );
}

/// A camera's frame with an 802.1Q tag in front of its EtherType.
fn tagged(frame: &[u8], tci: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// Flow records carry the outer VLAN id of their 4-tuple's first frame (the VID, without
/// the priority bits), none for an untagged one; a 4-tuple forgotten and found again
/// untagged has none.
#[test]
fn flow_records_carry_the_outer_vlan_id() {
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let base = 1_700_000_000 * S;
    let send = |analyzer: &mut Analyzer, t: i64, seq: u16, vlan: bool| {
        for host in [1, 2] {
            let frame = camera(host, seq);
            // Priority 5 and VID 310 on camera 1's frames.
            let frame = if host == 1 && vlan {
                tagged(&frame, 0xa136)
            } else {
                frame
            };
            analyzer.on_frame(t, LinkType::Ethernet, &frame, frame.len() as u32);
        }
    };
    let vlans = |analyzer: &mut Analyzer, tick: &Tick| {
        let mut seen = Vec::new();
        analyzer.tick(tick, &mut |r| {
            if let Record::Flow(f) = r {
                seen.push((f.name.src.to_string(), f.vlan));
            }
        });
        seen.sort();
        seen
    };
    for k in 0..20 {
        send(&mut analyzer, base + k * 40 * MS, k as u16, true);
    }
    assert_eq!(
        vlans(&mut analyzer, &tick_at(base + S, 10 * S)),
        [
            ("10.0.1.1:4000".to_string(), Some(310)),
            ("10.0.1.2:4000".to_string(), None)
        ]
    );
    // Both idle past the expiry time, then back untagged: new flows, no VLAN.
    vlans(&mut analyzer, &tick_at(base + 20 * S, 10 * S));
    for k in 0..20 {
        send(
            &mut analyzer,
            base + 21 * S + k * 40 * MS,
            100 + k as u16,
            false,
        );
    }
    assert_eq!(
        vlans(&mut analyzer, &tick_at(base + 22 * S, 10 * S)),
        [
            ("10.0.1.1:4000".to_string(), None),
            ("10.0.1.2:4000".to_string(), None)
        ]
    );
}

/// The frames of a classic pcap file of nanosecond timestamps (tests/fixtures), as
/// (time ns, frame).
fn pcap_frames(path: &str) -> Vec<(i64, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        bytes[..4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        "{path}: not a ns pcap"
    );
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let ns = i64::from(u32_at(at)) * S + i64::from(u32_at(at + 4));
        let len = u32_at(at + 8) as usize;
        frames.push((ns, bytes[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    frames
}

/// The TS flows of a real capture (ffmpeg's mux, tests/fixtures/impaired: 2 % loss) carry
/// their programs only in the records whose interval changed them: the first, which
/// completed PAT + PMT, and the second, in which ffmpeg's first SDT named the service, with
/// the PIDs and stream types `analyze --json` reports; no other record repeats them.
#[test]
fn ts_flow_records_carry_their_programs_once() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/impaired/capture.pcap"
    );
    let frames = pcap_frames(path);
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let mut next_tick = (frames[0].0 / S + 1) * S;
    // Per flow: records, and (record number, programs) of those that carried them.
    type Carried = Vec<(usize, Box<[ProgramReport]>)>;
    let mut seen: Vec<(String, usize, Carried)> = Vec::new();
    let mut tick = |analyzer: &mut Analyzer, end_ns: i64, ended: bool| {
        let tick = Tick {
            end_ns,
            interval_ns: S,
            silent_after_ns: 2 * S,
            expire_after_ns: i64::MAX,
            source_ended: ended,
        };
        analyzer.tick(&tick, &mut |r| {
            if let Record::Flow(f) = r {
                let dst = f.name.dst.to_string();
                let i = match seen.iter().position(|s| s.0 == dst) {
                    Some(i) => i,
                    None => {
                        seen.push((dst, 0, Vec::new()));
                        seen.len() - 1
                    }
                };
                let s = &mut seen[i];
                s.1 += 1;
                if let Some(p) = &f.programs {
                    s.2.push((s.1, p.clone()));
                }
            }
        });
    };
    for (ns, frame) in &frames {
        while next_tick <= *ns {
            tick(&mut analyzer, next_tick, false);
            next_tick += S;
        }
        analyzer.on_frame(*ns, LinkType::Ethernet, frame, frame.len() as u32);
    }
    tick(&mut analyzer, next_tick, true);
    // (record number, [(program, PMT PID, PCR PID, service, [(PID, type, codec)])]).
    let programs = |dst: &str| {
        let s = seen.iter().find(|s| s.0 == dst).expect(dst);
        assert!(s.1 > 3, "{dst}: {} records", s.1);
        s.2.iter()
            .map(|(record, p)| {
                let p: Vec<_> = p
                    .iter()
                    .map(|p| {
                        let streams: Vec<_> = p
                            .streams
                            .iter()
                            .map(|e| (e.pid, e.stream_type, e.codec))
                            .collect();
                        (
                            p.number,
                            p.pmt_pid,
                            p.pcr_pid,
                            p.service_name.clone(),
                            streams,
                        )
                    })
                    .collect();
                (*record, p)
            })
            .collect::<Vec<_>>()
    };
    let udp_ts = vec![(256, 0x1b, "h264"), (257, 0x0f, "aac")];
    let service = Some("Service01".to_string());
    assert_eq!(
        programs("239.1.1.1:5000"),
        [
            (1, vec![(1, 4096, Some(256), None, udp_ts.clone())]),
            (2, vec![(1, 4096, Some(256), service.clone(), udp_ts)]),
        ]
    );
    let rtp_ts = vec![(256, 0x1b, "h264")];
    assert_eq!(
        programs("239.1.1.2:5002"),
        [
            (1, vec![(1, 4096, Some(256), None, rtp_ts.clone())]),
            (2, vec![(1, 4096, Some(256), service, rtp_ts)]),
        ]
    );
}
