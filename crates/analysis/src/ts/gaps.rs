//! The absence indicators of TR 101 290 (PAT_error, PMT_error, PID_error,
//! PCR_repetition_error, PTS_error, and NIT, SDT, EIT, TDT once seen): each gap is one event,
//! counted when it passes its limit (definitions.md: "in the interval in which the gap passes
//! its limit, live and offline alike"), not when the table comes back, so a live record shows
//! a missing PAT within the interval, not when the flow expires. Its length is kept when the
//! gap closes or the flow ends.

use super::*;

/// The SI tables timed once seen, in the order of `TsAnalyzer::si_timers`.
const SI_INDICATORS: [Indicator; 4] = [
    Indicator::NitError,
    Indicator::SdtError,
    Indicator::EitError,
    Indicator::TdtError,
];

/// One item that must recur within a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct GapTimer {
    /// Since when the item has been awaited (its last arrival, or when it became due); None:
    /// not awaited.
    since: Option<i64>,
    /// The gap since `since` passed its limit and was counted.
    counted: bool,
}

/// What a timer says at a given time.
enum Gap {
    /// Not awaited, or already counted.
    None,
    /// The gap passes its limit at this time, later.
    Due(i64),
    /// The gap passed its limit (at this time): one event.
    Passed(i64),
}

impl GapTimer {
    /// Awaited from `at`.
    pub(super) fn started(at: i64) -> Self {
        GapTimer {
            since: Some(at),
            counted: false,
        }
    }

    /// Whether the item is awaited.
    #[inline]
    pub(super) fn awaited(&self) -> bool {
        self.since.is_some()
    }

    /// Awaited from `at` unless it already is (a PMT refers to a PID).
    pub(super) fn start_if_idle(&mut self, at: i64) {
        if self.since.is_none() {
            *self = GapTimer::started(at);
        }
    }

    /// The item arrived at `at`: awaited again from there. Returns the length of the gap it
    /// closes when that gap was counted.
    #[inline]
    pub(super) fn arrive(&mut self, at: i64) -> Option<i64> {
        let closed = self
            .since
            .filter(|_| self.counted)
            .map(|since| (at - since).max(0));
        *self = GapTimer::started(at);
        closed
    }

    fn check(&mut self, now: i64, limit: i64) -> Gap {
        match self.since {
            Some(since) if !self.counted => {
                if now - since > limit {
                    self.counted = true;
                    Gap::Passed(since.saturating_add(limit))
                } else {
                    Gap::Due(since.saturating_add(limit))
                }
            }
            _ => Gap::None,
        }
    }

    /// A gap that passed its limit (counted) and has not closed.
    fn counted_open(&self) -> bool {
        self.since.is_some() && self.counted
    }

    /// The length of a counted gap still open at `end`.
    fn open_gap(&self, end: i64) -> Option<i64> {
        self.since
            .filter(|_| self.counted)
            .map(|since| (end - since).max(0))
    }
}

impl TsAnalyzer {
    /// An item of `indicator` arrived at `at` (its timer restarted there): the next check
    /// comes no later than its new deadline.
    #[inline]
    pub(super) fn arrived(&mut self, indicator: Indicator, at: i64) {
        let limit = self.gap_limit(indicator);
        self.next_gap_check_ns = self.next_gap_check_ns.min(at.saturating_add(limit));
    }

    /// Records the length of a gap closed by an arrival.
    pub(super) fn closed(&mut self, indicator: Indicator, length: Option<i64>) {
        if let Some(length) = length {
            self.indicators.gap_closed(indicator, length);
        }
    }

    fn gap_limit(&self, indicator: Indicator) -> i64 {
        let l = &self.limits;
        match indicator {
            Indicator::PatError | Indicator::PmtError => l.psi_interval_ns,
            Indicator::PidError => l.pid_interval_ns,
            Indicator::PcrRepetitionError => l.pcr_repetition_ns,
            Indicator::PtsError => l.pts_interval_ns,
            Indicator::NitError => l.nit_interval_ns,
            Indicator::SdtError => l.sdt_interval_ns,
            Indicator::EitError => l.eit_interval_ns,
            _ => l.tdt_interval_ns,
        }
    }

    /// Counts every gap that passed its limit by `now` and sets the next check to the
    /// earliest deadline left. Runs only when a deadline may have passed, not per packet.
    #[cold]
    pub(super) fn check_gaps(&mut self, now: i64) {
        let limits = self.limits;
        let mut next = i64::MAX;
        let mut passed: Vec<(Indicator, i64, Option<usize>)> = Vec::new();
        let mut judge =
            |timer: &mut GapTimer, limit: i64, indicator, pid: Option<usize>| match timer
                .check(now, limit)
            {
                Gap::Passed(at) => passed.push((indicator, at, pid)),
                Gap::Due(at) => next = next.min(at),
                Gap::None => {}
            };
        judge(
            &mut self.pat_timer,
            limits.psi_interval_ns,
            Indicator::PatError,
            None,
        );
        for program in &mut self.programs {
            judge(
                &mut program.pmt_timer,
                limits.psi_interval_ns,
                Indicator::PmtError,
                None,
            );
        }
        for (index, state) in self.pids.iter_mut().enumerate() {
            judge(
                &mut state.pid_timer,
                limits.pid_interval_ns,
                Indicator::PidError,
                Some(index),
            );
            judge(
                &mut state.pts_timer,
                limits.pts_interval_ns,
                Indicator::PtsError,
                Some(index),
            );
            if let Some(clock) = &mut state.pcr {
                judge(
                    &mut clock.timer,
                    limits.pcr_repetition_ns,
                    Indicator::PcrRepetitionError,
                    Some(index),
                );
            }
        }
        for (timer, indicator) in self.si_timers.iter_mut().zip(SI_INDICATORS) {
            let limit = match indicator {
                Indicator::NitError => limits.nit_interval_ns,
                Indicator::SdtError => limits.sdt_interval_ns,
                Indicator::EitError => limits.eit_interval_ns,
                _ => limits.tdt_interval_ns,
            };
            judge(timer, limit, indicator, None);
        }
        self.next_gap_check_ns = next;
        passed.sort_by_key(|&(_, at, _)| at);
        for (indicator, at, pid) in passed {
            if let Some(index) = pid {
                let figures = &mut self.pids[index].figures;
                match indicator {
                    Indicator::PidError => figures.pid_errors += 1,
                    Indicator::PtsError => figures.pts_errors += 1,
                    _ => figures.pcr_repetition_errors += 1,
                }
            }
            self.indicators.add(indicator, at);
        }
    }

    /// The priority 1 absences (1.3 PAT_error, 1.5 PMT_error, 1.6 PID_error; ETSI TR 101 290
    /// 5.2.1) that passed their limit and are still open: each was counted once, in the
    /// interval its gap passed the limit, and every later interval it stays open in still
    /// lacks the table or PID (the alarm engine judges such an interval bad).
    pub fn p1_gaps_open(&self) -> u64 {
        let programs = self.programs.iter().filter(|p| p.pmt_timer.counted_open());
        let pids = self.pids.iter().filter(|s| s.pid_timer.counted_open());
        u64::from(self.pat_timer.counted_open()) + programs.count() as u64 + pids.count() as u64
    }

    /// The flow ended at `end`: gaps that passed their limit by then are counted, and every
    /// counted gap still open gets its length up to `end`.
    pub(super) fn close_gaps(&mut self, end: i64) {
        self.check_gaps(end);
        let mut open = vec![(Indicator::PatError, self.pat_timer.open_gap(end))];
        open.extend(
            self.programs
                .iter()
                .map(|p| (Indicator::PmtError, p.pmt_timer.open_gap(end))),
        );
        for state in &self.pids {
            open.push((Indicator::PidError, state.pid_timer.open_gap(end)));
            open.push((Indicator::PtsError, state.pts_timer.open_gap(end)));
            if let Some(clock) = &state.pcr {
                open.push((Indicator::PcrRepetitionError, clock.timer.open_gap(end)));
            }
        }
        for (timer, indicator) in self.si_timers.iter().zip(SI_INDICATORS) {
            open.push((indicator, timer.open_gap(end)));
        }
        for (indicator, length) in open {
            self.closed(indicator, length);
        }
    }
}
