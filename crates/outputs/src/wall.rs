//! The health wall: every flow's health, second by second, over the last minutes, as one byte
//! per flow-second ([`Health`] codes, `0` = no flow that second). A fault that hits many flows
//! in the same seconds shows as one vertical band (`GET /api/v1/wall`).
//!
//! Invariants:
//! - Memory is `rows x window` bytes and nothing per request: a row per flow the view holds,
//!   plus rows of flows forgotten less than a window ago (their past is still on the wall; at
//!   most [`MAX_GONE_ROWS`] of them, the oldest freed first), reused after that. 55,000 flows
//!   over 15 minutes: 49.5 MB.
//! - Each second is written once per interval, at the interval's end, with the health the flow
//!   had then (its alarms, silence and last SLA verdict: [`crate::live_view::LiveFlow::health`]);
//!   seconds the wall never heard of are `0`.
//! - Seconds are Unix seconds; a cell's index is `second % window`, so the ring needs no
//!   moving and a stale cell is told by the row's own span `[first, last]`, which never spans
//!   more than a window.

use crate::live_view::Health;

/// Minutes of history the wall holds by default.
pub const WALL_MINUTES: u32 = 15;

/// Rows of forgotten flows kept at most: a churn of short-lived flows (per-call streams,
/// flapping ports) cannot grow the wall past this many rows beyond the flows held.
pub const MAX_GONE_ROWS: usize = 65_536;

/// One row: a flow's ring of health codes.
#[derive(Clone, Debug)]
struct Row {
    cells: Box<[u8]>,
    /// The seconds written: `[first, last]`, Unix seconds; `last < first` when none.
    first: i64,
    last: i64,
}

/// The rows of every flow, by the index each flow keeps.
#[derive(Clone, Debug)]
pub struct HealthWall {
    window: usize,
    rows: Vec<Row>,
    free: Vec<u32>,
    /// The newest second written, Unix seconds.
    end: Option<i64>,
}

impl Default for HealthWall {
    fn default() -> Self {
        HealthWall::new(WALL_MINUTES)
    }
}

impl HealthWall {
    /// A wall of `minutes` (at least 1).
    pub fn new(minutes: u32) -> HealthWall {
        HealthWall {
            window: minutes.max(1) as usize * 60,
            rows: Vec::new(),
            free: Vec::new(),
            end: None,
        }
    }

    /// Seconds it holds.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The newest second written, Unix seconds.
    pub fn end(&self) -> Option<i64> {
        self.end
    }

    /// Rows it holds (in use or free).
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Bytes its rows take.
    pub fn bytes(&self) -> usize {
        self.rows.len() * self.window
    }

    /// A blank row for a new flow: a freed one, or a new one.
    pub fn open(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            let row = &mut self.rows[i as usize];
            row.cells.fill(0);
            row.first = 0;
            row.last = -1;
            return i;
        }
        self.rows.push(Row {
            cells: vec![0; self.window].into_boxed_slice(),
            first: 0,
            last: -1,
        });
        (self.rows.len() - 1) as u32
    }

    /// Gives `row` back: a later [`HealthWall::open`] reuses it.
    pub fn free(&mut self, row: u32) {
        if (row as usize) < self.rows.len() && !self.free.contains(&row) {
            self.free.push(row);
        }
    }

    /// Writes `health` in `row` for the seconds `(end - seconds, end]`. A mark a window or
    /// more older than the row's newest second is ignored (a clock stepped back): it would
    /// overwrite newer seconds.
    pub fn mark(&mut self, row: u32, end: i64, seconds: u32, health: Health) {
        let window = self.window as i64;
        let Some(r) = self.rows.get_mut(row as usize) else {
            return;
        };
        if r.last >= r.first && end <= r.last - window {
            return;
        }
        let seconds = i64::from(seconds.max(1)).min(window);
        let from = end - seconds + 1;
        if r.last < r.first || end - r.last >= window {
            // Nothing written yet, or all of it a window older than this: start afresh.
            r.cells.fill(0);
            r.first = from;
        } else if from > r.last + 1 {
            // Seconds not heard of between the last interval and this one.
            for s in r.last + 1..from {
                r.cells[s.rem_euclid(window) as usize] = 0;
            }
        } else if end + 1 < r.first {
            // An earlier interval, late: the seconds between it and the row's span are none.
            for s in (end + 1).max(r.last - window + 1)..r.first {
                r.cells[s.rem_euclid(window) as usize] = 0;
            }
        }
        for s in from.max(r.last.max(end) - window + 1)..=end {
            r.cells[s.rem_euclid(window) as usize] = health as u8;
        }
        r.last = r.last.max(end);
        r.first = r.first.min(from).max(r.last - window + 1);
        self.end = Some(self.end.map_or(end, |e| e.max(end)));
    }

    /// The code of `row` at Unix second `s` (`0`: no flow then, or outside the window).
    pub fn cell(&self, row: u32, s: i64) -> u8 {
        let mut out = [0];
        self.read(row, s, &mut out);
        out[0]
    }

    /// Copies the codes of `row` for the seconds from `from` on into `out` (one per second;
    /// `0` where the row has nothing). Two slice copies at most: a wall of 55,000 flows is
    /// read in one pass over its bytes.
    pub fn read(&self, row: u32, from: i64, out: &mut [u8]) {
        out.fill(0);
        let Some(r) = self.rows.get(row as usize) else {
            return;
        };
        let window = self.window as i64;
        let end = self.end.unwrap_or(i64::MIN);
        // The seconds both asked for and held: the row's span, within the wall's window.
        let lo = from.max(r.first).max(end.saturating_sub(window - 1));
        let hi = (from + out.len() as i64 - 1).min(r.last);
        if lo > hi {
            return;
        }
        let mut s = lo;
        while s <= hi {
            let at = s.rem_euclid(window) as usize;
            let run = ((hi - s + 1) as usize).min(self.window - at);
            let to = (s - from) as usize;
            out[to..to + run].copy_from_slice(&r.cells[at..at + run]);
            s += run as i64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_hold_each_second_once_and_age_out() {
        let mut w = HealthWall::new(1);
        let a = w.open();
        for s in 1000..1010 {
            w.mark(a, s, 1, Health::Green);
        }
        w.mark(a, 1012, 2, Health::Red);
        assert_eq!(w.cell(a, 999), 0);
        assert_eq!(w.cell(a, 1005), Health::Green as u8);
        assert_eq!(w.cell(a, 1010), 0, "a second no interval covered");
        assert_eq!(w.cell(a, 1011), Health::Red as u8);
        assert_eq!(w.cell(a, 1012), Health::Red as u8);
        // A minute later, the first seconds are gone from the 60 s window.
        w.mark(a, 1065, 1, Health::Amber);
        assert_eq!(w.cell(a, 1005), 0);
        assert_eq!(w.cell(a, 1006), Health::Green as u8);
        assert_eq!(w.cell(a, 1065), Health::Amber as u8);
        assert_eq!(w.cell(a, 1064), 0);
        // Far later: nothing of the old seconds shows through.
        w.mark(a, 5000, 1, Health::Grey);
        assert_eq!(
            (1000..1070).map(|s| w.cell(a, s)).sum::<u8>(),
            0,
            "old seconds"
        );
        assert_eq!(w.cell(a, 5000), Health::Grey as u8);
        assert_eq!(w.cell(a, 4999), 0);
        // A clock stepped back more than a window: ignored, the newer seconds stay.
        w.mark(a, 4900, 1, Health::Red);
        assert_eq!(w.cell(a, 5000), Health::Grey as u8);
        assert_eq!(w.cell(a, 4900), 0);
    }

    #[test]
    fn a_long_interval_writes_each_of_its_seconds_and_reads_cross_the_ring_end() {
        let mut w = HealthWall::new(1);
        let a = w.open();
        // 10-s intervals ending at 1055 and 1065: seconds 1046-1065, across index 59 -> 0.
        w.mark(a, 1055, 10, Health::Green);
        w.mark(a, 1065, 10, Health::Amber);
        let mut out = vec![9; 24];
        w.read(a, 1044, &mut out);
        let mut want = vec![0, 0];
        want.extend([1; 10]);
        want.extend([2; 10]);
        want.extend([0, 0]);
        assert_eq!(out, want);
        // An interval longer than the window keeps its last window only.
        w.mark(a, 2000, 100, Health::Red);
        let mut out = vec![9; 62];
        w.read(a, 1940, &mut out);
        assert_eq!(out[0], 0, "1940: 61 s before the end");
        assert!(out[1..61].iter().all(|&c| c == 4), "{out:?}");
        assert_eq!(out[61], 0, "after the end");
    }

    #[test]
    fn freed_rows_are_reused_blank() {
        let mut w = HealthWall::new(1);
        let (a, b) = (w.open(), w.open());
        for s in 100..110 {
            w.mark(a, s, 1, Health::Green);
            w.mark(b, s, 1, Health::Amber);
        }
        w.free(a);
        w.free(a);
        assert_eq!(w.open(), a);
        assert_eq!(w.cell(a, 105), 0);
        assert_eq!(w.open(), 2, "freed once, however often it was given back");
        assert_eq!(w.bytes(), 3 * 60);
    }
}
