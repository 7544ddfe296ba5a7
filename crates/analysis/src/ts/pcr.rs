//! PCR checks (TR 101 290 2.2 and 2.3) and the PCR-derived transport rate.

use super::*;

/// PCRs remembered for the accuracy check.
pub(super) const PCR_WINDOW: usize = 16;

/// The PCR history of one PID: the last PCR and a window for the constant-rate estimate.
#[derive(Clone, Debug)]
pub(super) struct PcrClock {
    pub(super) last: Pcr,
    /// PCR_repetition_error's timer.
    pub(super) timer: super::gaps::GapTimer,
    /// (packet index, PCR) of the last PCRs, oldest first, at most [`PCR_WINDOW`].
    pub(super) window: VecDeque<(u64, u64)>,
}

/// A PCR and the packet position it was read at, for the PCR-derived rate between two marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrMark {
    /// Packets (188 bytes each) before this PCR's packet, counting those estimated missing.
    pub position: u64,
    /// The PCR.
    pub pcr: Pcr,
    /// Bumped at every PCR discontinuity: marks of different epochs give no rate.
    pub epoch: u32,
}

impl PcrMark {
    /// The transport rate in bit/s between an earlier mark and this one (ISO/IEC 13818-1
    /// 2.4.2.2: bytes between PCRs over the PCR difference), if both are of one epoch.
    pub fn rate_bps_since(&self, earlier: &PcrMark) -> Option<f64> {
        let ticks = self.pcr.ticks_since(earlier.pcr);
        (self.epoch == earlier.epoch && self.position > earlier.position && ticks > 0).then(|| {
            (self.position - earlier.position) as f64 * (PACKET_LEN as f64 * 8.0) * 27e6
                / ticks as f64
        })
    }
}

impl TsAnalyzer {
    /// Starts PCR accuracy over on every PCR PID: the byte positions between the PCRs kept
    /// so far and the next ones are no longer known.
    pub(super) fn restart_pcr_accuracy(&mut self) {
        for pid in &mut self.pids {
            if let Some(clock) = &mut pid.pcr {
                clock.window.clear();
            }
        }
    }

    pub(super) fn on_pcr(&mut self, index: usize, pcr: Pcr, discontinuity: bool, at: i64) {
        let position = self.position;
        let limits = self.limits;
        let state = &mut self.pids[index];
        let pid = state.pid;
        state.figures.pcrs += 1;
        let mut events = [None; 3];
        // PCR_repetition_error is an absence: counted when the gap passes its limit
        // (gaps.rs); an arrival closes it.
        let mut closed = None;
        match &mut state.pcr {
            None => {
                state.pcr = Some(PcrClock {
                    last: pcr,
                    timer: super::gaps::GapTimer::started(at),
                    window: VecDeque::from([(position, pcr.0)]),
                });
            }
            Some(clock) => {
                closed = clock.timer.arrive(at);
                if discontinuity {
                    clock.window.clear();
                } else {
                    // PCR(i+1) - PCR(i) outside 0..100 ms; a step backwards wraps to a huge
                    // forward one.
                    let step = pcr.ticks_since(clock.last);
                    if step as i64 > limits.pcr_discontinuity_ns * 27 / 1_000 {
                        state.figures.pcr_discontinuity_errors += 1;
                        events[1] = Some(Indicator::PcrDiscontinuityError);
                        clock.window.clear();
                    } else if let (Some(&(p0, c0)), Some(&(p1, c1))) =
                        (clock.window.front(), clock.window.back())
                    {
                        // Where the constant rate over the window puts this PCR.
                        if p1 > p0 && position > p1 {
                            let span = Pcr(c1).ticks_since(Pcr(c0)) as f64;
                            let per_packet = span / (p1 - p0) as f64;
                            let expected = c1 as f64 + per_packet * (position - p1) as f64;
                            let actual = c1 as f64 + Pcr(pcr.0).ticks_since(Pcr(c1)) as f64;
                            let error_ns = (actual - expected).abs() * 1_000.0 / 27.0;
                            state.figures.pcr_jitter_ns_max =
                                state.figures.pcr_jitter_ns_max.max(error_ns);
                            if error_ns > limits.pcr_accuracy_ns as f64 {
                                state.figures.pcr_accuracy_errors += 1;
                                events[2] = Some(Indicator::PcrAccuracyError);
                            }
                        }
                    }
                }
                if clock.window.len() == PCR_WINDOW {
                    clock.window.pop_front();
                }
                clock.window.push_back((position, pcr.0));
                clock.last = pcr;
            }
        }
        if *self.rate_pid.get_or_insert(pid) == pid {
            // A PCR discontinuity, flagged or not (events[1]), starts a new epoch of marks.
            let epoch = self.rate_mark.map_or(0, |m| m.epoch);
            self.rate_mark = Some(PcrMark {
                // The sender's rate: packets estimated missing took their place on the wire.
                position: position + self.missing_packets,
                pcr,
                epoch: epoch + u32::from(discontinuity || events[1].is_some()),
            });
        }
        self.closed(Indicator::PcrRepetitionError, closed);
        self.arrived(Indicator::PcrRepetitionError, at);
        for event in events.into_iter().flatten() {
            self.indicators.add(event, at);
        }
    }
}
