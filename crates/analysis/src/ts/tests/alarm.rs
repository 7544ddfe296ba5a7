//! A PID that stops for good, from the TS analysis through the live records to the alarm
//! engine: the absence counts once in `tr101290`, and its intervals stay bad while it is
//! open (`tr101290_p1_open`), so `tr101290_p1` raises after `raise_after` of them and clears
//! only `clear_after` intervals after the PID came back.

use super::*;
use crate::alarm::{AlarmEngine, AlarmSettings, AlarmState};
use crate::interval::{Record, Tick};
use crate::{AnalysisConfig, Analyzer};

const AUDIO: u16 = 0x101;

/// A PMT of video 0x100 (the PCR) and MPEG-1 audio 0x101.
fn pmt(mux: &mut Mux) -> Vec<u8> {
    let [vh, vl] = (0xe000 | VIDEO).to_be_bytes();
    let [ah, al] = (0xe000 | AUDIO).to_be_bytes();
    let body = [
        vh, vl, 0xf0, 0, 0x1b, vh, vl, 0xf0, 0, 0x03, ah, al, 0xf0, 0,
    ];
    let mut payload = vec![0];
    payload.extend_from_slice(&section(TABLE_PMT, 1, &body));
    mux.packet(PMT_PID, true, None, &payload)
}

#[test]
fn an_audio_pid_that_stops_raises_once_and_clears_after_it_is_back() {
    let mut mux = Mux::new();
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let mut engine = AlarmEngine::new(AlarmSettings::default());
    let base = 1_700_000_000_000_000_000i64;
    let pid_error = Indicator::ALL
        .iter()
        .position(|&i| i == Indicator::PidError)
        .unwrap();
    // Audio from 0 to 1,980 ms, then none until 20,000 ms; 40 s in all.
    let audio = |ms: i64| !(2_000..20_000).contains(&ms);
    let (mut records, mut alarms) = (Vec::new(), Vec::new());
    let mut next_tick = 1_000i64;
    for step in 0..2_000 {
        let ms = step * 20;
        while next_tick <= ms {
            let tick = Tick {
                end_ns: base + next_tick * MS,
                interval_ns: 1_000 * MS,
                silent_after_ns: 2_000 * MS,
                expire_after_ns: 60_000 * MS,
                source_ended: false,
            };
            let mut batch = Vec::new();
            analyzer.tick(&tick, &mut |r| batch.push(r));
            for r in &batch {
                if let Record::Flow(f) = r {
                    let errors = f.tr101290.unwrap().0[pid_error];
                    let open = f.tr101290_p1_open.unwrap();
                    if errors + open > 0 {
                        records.push((next_tick / 1_000, errors, open));
                    }
                }
            }
            for a in engine.judge(tick.end_ns, &batch, 0) {
                alarms.push(((a.time - base) / 1_000_000_000, a.state, a.rule, a.value));
            }
            next_tick += 1_000;
        }
        let mut payload = Vec::new();
        if step % 5 == 0 {
            payload.extend(mux.pat());
            payload.extend(pmt(&mut mux));
        } else {
            payload.extend(null());
            payload.extend(null());
        }
        payload.extend(mux.video(ms, step % 2 == 0));
        if audio(ms) {
            payload.extend(mux.packet(AUDIO, false, None, &[0x55; 184]));
        }
        let f =
            testbed::pcap_writer::udp_frame([10, 0, 0, 1], 4000, [239, 1, 1, 1], 5000, &payload);
        analyzer.on_frame(base + ms * MS, wire::LinkType::Ethernet, &f, f.len() as u32);
    }
    // The last audio packet at 1,980 ms; its 5 s limit passes at 6,980 ms: one PID_error
    // in the interval ending at 7 s, open at its end and at every one up to 20 s.
    let mut expected = vec![(7, 1, 1)];
    expected.extend((8..=20).map(|s| (s, 0, 1)));
    assert_eq!(records, expected);
    let rule = crate::alarm::AlarmRule::Tr101290P1;
    assert_eq!(
        alarms,
        vec![
            // Bad at 7, 8, 9 s: raised at the third; value: the open absence.
            (9, AlarmState::Raised, rule, Some(1.0)),
            // Audio back at 20,000 ms: good from the interval ending at 21 s, ten of them.
            (30, AlarmState::Cleared, rule, Some(1.0)),
        ]
    );
}
