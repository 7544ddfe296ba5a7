//! The health wall: every flow's health, second by second, over the last minutes, as one byte
//! per flow-second ([`Health`] codes, `0` = no flow that second). A fault that hits many flows
//! in the same seconds shows as one vertical band (`GET /api/v1/wall`).
//!
//! Invariants:
//! - Memory is `rows x window` bytes and nothing per request: a row per flow the view holds,
//!   plus rows of flows forgotten less than a window ago (their past is still on the wall),
//!   recycled after that. 55,000 flows over 15 minutes: 49.5 MB.
//! - Each second is written once per interval, at the interval's end, with the health the flow
//!   had then (its alarms, silence and last SLA verdict: [`crate::live_view::LiveFlow::health`]);
//!   seconds the wall never heard of are `0`.
//! - Seconds are Unix seconds; a cell's index is `second % window`, so the ring needs no
//!   moving and a stale cell is told by the row's own span.

use crate::live_view::Health;

/// Minutes of history the wall holds by default.
pub const WALL_MINUTES: u32 = 15;

/// One row: a flow's ring of health codes.
#[derive(Clone, Debug)]
struct Row {
    cells: Box<[u8]>,
    /// The seconds written: `[first, last]`, Unix seconds; `last < first` when none.
    first: i64,
    last: i64,
    /// When its flow was forgotten (Unix second), if it was: the row is free once this
    /// leaves the window.
    gone: Option<i64>,
}

/// The rows of every flow, by the index each [`crate::live_view::LiveFlow`] keeps.
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

    /// Bytes its rows take.
    pub fn bytes(&self) -> usize {
        self.rows.len() * self.window
    }

    /// A row for a new flow: a free one (of a flow forgotten a window ago, see
    /// [`HealthWall::recycle`]) or a new one.
    pub fn open(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            let row = &mut self.rows[i as usize];
            row.cells.fill(0);
            row.first = 0;
            row.last = -1;
            row.gone = None;
            return i;
        }
        self.rows.push(Row {
            cells: vec![0; self.window].into_boxed_slice(),
            first: 0,
            last: -1,
            gone: None,
        });
        (self.rows.len() - 1) as u32
    }

    /// The flow of `row` was forgotten at second `at`: its row is kept for a window, then
    /// reused.
    pub fn close(&mut self, row: u32, at: i64) {
        if let Some(r) = self.rows.get_mut(row as usize) {
            r.gone = Some(at);
        }
    }

    /// Writes `health` in `row` for the seconds `(end - seconds, end]`.
    pub fn mark(&mut self, row: u32, end: i64, seconds: u32, health: Health) {
        let window = self.window as i64;
        let Some(r) = self.rows.get_mut(row as usize) else {
            return;
        };
        let seconds = i64::from(seconds.max(1)).min(window);
        let from = end - seconds + 1;
        if r.last < r.first || end - r.last >= window {
            // Nothing written yet, or all of it older than a window: start afresh.
            r.cells.fill(0);
            r.first = from;
        } else if from > r.last + 1 {
            // Seconds not heard of between the last interval and this one.
            for s in r.last + 1..from {
                r.cells[s.rem_euclid(window) as usize] = 0;
            }
        }
        for s in from..=end {
            r.cells[s.rem_euclid(window) as usize] = health as u8;
        }
        r.last = r.last.max(end);
        r.first = r.first.max(r.last - window + 1);
        self.end = Some(self.end.map_or(end, |e| e.max(end)));
    }

    /// Frees the rows of flows forgotten more than a window before `now`.
    pub fn recycle(&mut self, now: i64) {
        let window = self.window as i64;
        for (i, r) in self.rows.iter_mut().enumerate() {
            if r.gone.is_some_and(|g| now - g >= window) {
                r.gone = None;
                r.first = 0;
                r.last = -1;
                self.free.push(i as u32);
            }
        }
    }

    /// The code of `row` at Unix second `s` (`0`: no flow then, or outside the window).
    pub fn cell(&self, row: u32, s: i64) -> u8 {
        let Some(r) = self.rows.get(row as usize) else {
            return 0;
        };
        let window = self.window as i64;
        let end = self.end.unwrap_or(i64::MIN);
        if s < r.first || s > r.last || end - s >= window {
            return 0;
        }
        r.cells[s.rem_euclid(window) as usize]
    }

    /// Writes into `out` the worst code of `rows` for each second of `[from, to]`, `out`
    /// being `to - from + 1` long.
    pub fn worst_of(&self, rows: &[u32], from: i64, out: &mut [u8]) {
        for &row in rows {
            for (k, o) in out.iter_mut().enumerate() {
                let c = self.cell(row, from + k as i64);
                if c > *o {
                    *o = c;
                }
            }
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
    }

    #[test]
    fn the_worst_of_many_rows_and_rows_reused_a_window_after_their_flow_left() {
        let mut w = HealthWall::new(1);
        let (a, b) = (w.open(), w.open());
        for s in 100..110 {
            w.mark(a, s, 1, Health::Green);
            w.mark(b, s, 1, if s == 105 { Health::Red } else { Health::Amber });
        }
        let mut out = vec![0; 12];
        w.worst_of(&[a, b], 99, &mut out);
        assert_eq!(out, [0, 2, 2, 2, 2, 2, 4, 2, 2, 2, 2, 0]);
        w.close(a, 109);
        w.recycle(168);
        assert_eq!(w.open(), 2, "a's row is kept for a window");
        w.recycle(169);
        assert_eq!(w.open(), a, "then reused, blank");
        assert_eq!(w.cell(a, 105), 0);
        assert_eq!(w.bytes(), 3 * 60);
    }
}
