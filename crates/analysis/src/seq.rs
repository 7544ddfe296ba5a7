//! RTP sequence accounting: RFC 3550 A.1's validity and restart logic, with loss, duplicates
//! and reordering counted as `docs/figures.md` defines them.

/// A.1: a forward jump of this many or more is not a gap but a possible restart.
pub const MAX_DROPOUT: u16 = 3000;
/// A.1: a packet this far or less behind the highest is late, not a restart.
pub const MAX_MISORDER: u16 = 100;

/// What one arrival was, for the sequence space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    /// The first packet of the stream.
    First,
    /// Higher than every number so far, `skipped` numbers after the highest before it (a gap
    /// when not 0).
    InOrder {
        /// Numbers between the previous highest and this one, missing when it arrived.
        skipped: u16,
    },
    /// Lower than the highest so far and new: a reordered packet.
    Late,
    /// A number already received.
    Duplicate,
    /// A jump beyond MAX_DROPOUT / MAX_MISORDER not (yet) confirmed: left out of the figures.
    Stray,
    /// The packet confirmed a restart: a new sequence space begins with the stray packet
    /// before it and this one.
    Restart,
}

/// Extended sequence numbers start here so packets late before the first one stay positive.
const BASE: i64 = 1 << 40;
const WINDOW_BITS: u16 = 128;
/// `bad_seq` when no restart is pending.
const NO_BAD_SEQ: u32 = u32::MAX;

/// Sequence state of one RTP stream read and written for every packet: 40 bytes. What
/// changes only on a gap, a late packet, a duplicate or a restart lives in
/// [`SequenceEvents`], which the caller keeps apart (out of the per-packet cache lines of
/// 55,000 streams).
#[derive(Clone, Debug)]
pub struct SequenceTracker {
    /// Bit i set = (highest - i) received, as a u128 in two halves (low first): eight-byte
    /// alignment keeps the stream's per-packet state free of padding. Covers MAX_MISORDER,
    /// the farthest a late packet is.
    window: [u64; 2],
    /// Highest extended number of the current space; 0 before the first packet.
    highest: i64,
    /// Distinct numbers received in the current space.
    unique: u64,
    /// A.1's bad_seq: the number that would confirm a restart, or [`NO_BAD_SEQ`].
    bad_seq: u32,
}

impl Default for SequenceTracker {
    fn default() -> Self {
        SequenceTracker {
            window: [0; 2],
            highest: 0,
            unique: 0,
            bad_seq: NO_BAD_SEQ,
        }
    }
}

/// The rarely changed half of a stream's sequence state (see [`SequenceTracker`]).
#[derive(Clone, Debug, Default)]
pub struct SequenceEvents {
    lowest: i64,
    closed_expected: u64,
    closed_lost: u64,
    duplicates: u64,
    reordered: u64,
    restarts: u64,
    /// The current space's [lowest, highest] when the last live interval closed (0, 0: no
    /// interval closed in this space): a late packet in it fills a gap an earlier interval
    /// counted as lost.
    marked: (i64, i64),
    /// Late packets that filled a gap of an earlier interval (definitions.md, live records).
    recovered: u64,
}

/// A stream's sequence figures, read from both halves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceFigures {
    /// Highest - lowest + 1 over every sequence space.
    pub expected: u64,
    /// Numbers in [lowest, highest] never received, over every sequence space.
    pub lost: u64,
    /// Second and later copies of a number.
    pub duplicates: u64,
    /// New numbers that arrived after a higher one.
    pub reordered: u64,
    /// Confirmed restarts (A.1 bad_seq logic).
    pub restarts: u64,
    /// Late packets that filled a gap open at an earlier [`SequenceTracker::mark_interval`]:
    /// with them an interval's lost (change of `lost` + change of `recovered`) is never
    /// negative, and the sum over intervals of lost - recovered is `lost`.
    pub recovered: u64,
}

impl SequenceTracker {
    fn window(&self) -> u128 {
        u128::from(self.window[0]) | u128::from(self.window[1]) << 64
    }

    fn set_window(&mut self, window: u128) {
        self.window = [window as u64, (window >> 64) as u64];
    }

    /// Accounts one arrival; `events` is the stream's rare half, written only when the
    /// arrival is not in order (or is the first).
    #[inline]
    pub fn update(&mut self, events: &mut SequenceEvents, seq: u16) -> SeqVerdict {
        if self.highest == 0 {
            self.start_space(events, seq);
            return SeqVerdict::First;
        }
        let forward = seq.wrapping_sub(self.highest as u16);
        if forward == 0 {
            events.duplicates += 1;
            return SeqVerdict::Duplicate;
        }
        if forward < MAX_DROPOUT {
            let window = if forward >= WINDOW_BITS {
                0
            } else {
                self.window() << forward
            };
            self.set_window(window | 1);
            self.highest += i64::from(forward);
            self.unique += 1;
            self.bad_seq = NO_BAD_SEQ;
            return SeqVerdict::InOrder {
                skipped: forward - 1,
            };
        }
        let back = 0u16.wrapping_sub(forward);
        if back <= MAX_MISORDER {
            self.bad_seq = NO_BAD_SEQ;
            let bit = 1u128 << back;
            let window = self.window();
            if window & bit != 0 {
                events.duplicates += 1;
                return SeqVerdict::Duplicate;
            }
            self.set_window(window | bit);
            self.unique += 1;
            events.reordered += 1;
            let n = self.highest - i64::from(back);
            if (events.marked.0..=events.marked.1).contains(&n) {
                events.recovered += 1;
            }
            events.lowest = events.lowest.min(n);
            return SeqVerdict::Late;
        }
        // A.1: a big jump is believed only when the next packet follows it.
        if self.bad_seq == u32::from(seq) {
            events.closed_expected += self.space_expected(events);
            events.closed_lost += self.space_lost(events);
            events.restarts += 1;
            self.start_space(events, seq.wrapping_sub(1));
            self.update(events, seq);
            return SeqVerdict::Restart;
        }
        self.bad_seq = u32::from(seq.wrapping_add(1));
        SeqVerdict::Stray
    }

    fn start_space(&mut self, events: &mut SequenceEvents, seq: u16) {
        self.highest = BASE + i64::from(seq);
        events.lowest = self.highest;
        // The closed space's gaps can no longer be filled.
        events.marked = (0, 0);
        self.set_window(1);
        self.unique = 1;
        self.bad_seq = NO_BAD_SEQ;
    }

    fn space_expected(&self, events: &SequenceEvents) -> u64 {
        (self.highest - events.lowest + 1) as u64
    }

    fn space_lost(&self, events: &SequenceEvents) -> u64 {
        self.space_expected(events).saturating_sub(self.unique)
    }

    /// A live interval closes: the gaps open now belong to it, so a packet that fills one
    /// later is `recovered`, not negative loss.
    pub fn mark_interval(&self, events: &mut SequenceEvents) {
        if self.highest != 0 {
            events.marked = (events.lowest, self.highest);
        }
    }

    /// The figures so far.
    pub fn figures(&self, events: &SequenceEvents) -> SequenceFigures {
        let started = self.highest != 0;
        SequenceFigures {
            expected: if started {
                events.closed_expected + self.space_expected(events)
            } else {
                0
            },
            lost: if started {
                events.closed_lost + self.space_lost(events)
            } else {
                0
            },
            duplicates: events.duplicates,
            reordered: events.reordered,
            restarts: events.restarts,
            recovered: events.recovered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Both halves of a stream's sequence state, as a stream keeps them, and the numbers
    /// in-order arrivals skipped (what MDI counts as lost).
    #[derive(Default)]
    struct Tracked(SequenceTracker, SequenceEvents, u64);

    impl Tracked {
        fn update(&mut self, seq: u16) -> SeqVerdict {
            let verdict = self.0.update(&mut self.1, seq);
            if let SeqVerdict::InOrder { skipped } = verdict {
                self.2 += u64::from(skipped);
            }
            verdict
        }
        fn figures(&self) -> SequenceFigures {
            self.0.figures(&self.1)
        }
    }

    fn run(seqs: &[u16]) -> Tracked {
        let mut t = Tracked::default();
        for &s in seqs {
            t.update(s);
        }
        t
    }

    #[test]
    fn loss_duplicate_reorder() {
        let t = run(&[1, 2, 4, 5, 5, 3, 7, 8]);
        let f = t.figures();
        assert_eq!(
            (f.expected, f.lost, f.duplicates, f.reordered),
            (8, 1, 1, 1)
        );
        // 3 and 6 were missing when 4 and 7 came; 3 came late.
        assert_eq!(t.2, 2);
    }

    #[test]
    fn late_packet_before_the_first_widens_the_range() {
        let t = run(&[10, 11, 9, 12]);
        let f = t.figures();
        assert_eq!((f.expected, f.lost, f.reordered), (4, 0, 1));
    }

    #[test]
    fn wraps_around() {
        let t = run(&[65534, 65535, 0, 2, 1]);
        let f = t.figures();
        assert_eq!((f.expected, f.lost, f.reordered), (5, 0, 1));
    }

    #[test]
    fn restart_needs_two_packets_and_gap_is_not_loss() {
        let mut t = run(&[100, 101, 102]);
        assert_eq!(t.update(40_000), SeqVerdict::Stray);
        assert_eq!(t.update(40_001), SeqVerdict::Restart);
        t.update(40_003);
        let f = t.figures();
        assert_eq!((f.restarts, f.expected, f.lost), (1, 3 + 4, 1));
        // A single stray packet is ignored.
        let mut u = run(&[100, 101]);
        assert_eq!(u.update(9_000), SeqVerdict::Stray);
        assert_eq!(u.update(102), SeqVerdict::InOrder { skipped: 0 });
        let f = u.figures();
        assert_eq!((f.restarts, f.expected, f.lost), (0, 3, 0));
    }

    #[test]
    fn duplicate_of_a_late_packet() {
        let t = run(&[1, 3, 2, 2, 3]);
        let f = t.figures();
        assert_eq!((f.lost, f.duplicates, f.reordered), (0, 2, 1));
    }

    proptest! {
        /// Any delivery of a set of numbers (shuffled within MAX_MISORDER, some duplicated,
        /// some dropped) gives lost = dropped-inside-the-range and duplicates = copies.
        #[test]
        fn accounting_matches_the_delivery(start in any::<u16>(), n in 5usize..400,
                                           drops in proptest::collection::vec(any::<bool>(), 400),
                                           dups in proptest::collection::vec(0u8..8, 400),
                                           swaps in proptest::collection::vec(0usize..400, 0..40)) {
            let mut delivered: Vec<i64> = (0..n as i64).filter(|&i| !drops[i as usize] || i == 0 || i == n as i64 - 1).collect();
            for &s in &swaps {
                let i = s % delivered.len();
                let j = (i + 1 + s % 7).min(delivered.len() - 1);
                // Keep the first and last in place so the range is known.
                if i > 0 && j < delivered.len() - 1 { delivered.swap(i, j); }
            }
            let mut copies = 0u64;
            let mut stream = Vec::new();
            for (k, &d) in delivered.iter().enumerate() {
                stream.push(d);
                if dups[k % dups.len()] == 0 { stream.push(d); copies += 1; }
            }
            let t = run(&stream.iter().map(|&i| start.wrapping_add(i as u16)).collect::<Vec<_>>());
            let lost = n as u64 - delivered.len() as u64;
            let f = t.figures();
            prop_assert_eq!(f.lost, lost);
            prop_assert_eq!(f.duplicates, copies);
            prop_assert_eq!(f.expected, n as u64);
            // reordered = arrivals below the running maximum, not counting copies.
            let mut max = -1i64; let mut late = 0u64;
            for &d in &delivered { if d < max { late += 1 } else { max = d } }
            prop_assert_eq!(f.reordered, late);
        }

        /// Live intervals closed at any points of any such delivery: each interval's lost
        /// (change of lost + change of recovered) is never negative (the sum of lost - the
        /// sum of recovered is the flow's lost by construction), and no more packets are
        /// recovered than came late.
        #[test]
        fn interval_loss_is_never_negative_and_sums_to_the_flow_loss(
            start in any::<u16>(), n in 5usize..400,
            drops in proptest::collection::vec(any::<bool>(), 400),
            swaps in proptest::collection::vec(0usize..400, 0..60),
            closes in proptest::collection::vec(any::<bool>(), 400),
            restart_at in proptest::option::of(0usize..400)) {
            let mut delivered: Vec<i64> = (0..n as i64).filter(|&i| !drops[i as usize]).collect();
            if delivered.is_empty() { delivered.push(0); }
            for &s in &swaps {
                let i = s % delivered.len();
                let j = (i + 1 + s % 9).min(delivered.len() - 1);
                delivered.swap(i, j);
            }
            if let Some(r) = restart_at {
                // A restart: the rest is 20,000 numbers on.
                for d in delivered.iter_mut().skip(r) { *d += 20_000; }
            }
            let mut t = Tracked::default();
            let (mut lost_sum, mut recovered_sum) = (0u64, 0u64);
            let mut before = SequenceFigures::default();
            for (k, &d) in delivered.iter().enumerate() {
                t.update(start.wrapping_add(d as u16));
                if closes[k % closes.len()] || k == delivered.len() - 1 {
                    let now = t.figures();
                    let lost = (now.lost + now.recovered) as i64
                        - (before.lost + before.recovered) as i64;
                    prop_assert!(lost >= 0, "interval lost {}", lost);
                    lost_sum += lost as u64;
                    recovered_sum += now.recovered - before.recovered;
                    t.0.mark_interval(&mut t.1);
                    before = now;
                }
            }
            prop_assert_eq!(lost_sum - recovered_sum, t.figures().lost);
            prop_assert!(t.figures().recovered <= t.figures().reordered);
        }
    }

    /// 1 2 4 | 3 5: the gap at 3 was counted in the first interval; 3 fills it in the
    /// second, which counts it recovered and loses nothing.
    #[test]
    fn a_late_packet_fills_an_earlier_intervals_gap() {
        let mut t = run(&[1, 2, 4]);
        let first = t.figures();
        assert_eq!((first.lost, first.recovered), (1, 0));
        t.0.mark_interval(&mut t.1);
        t.update(3);
        t.update(5);
        let second = t.figures();
        assert_eq!((second.lost, second.recovered), (0, 1));
        // The second interval: lost = -1 + 1 = 0, recovered 1.
        assert_eq!(
            (second.lost + second.recovered) - (first.lost + first.recovered),
            0
        );
    }
}
