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
    /// Higher than every number so far (possibly after a gap).
    InOrder,
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

/// Sequence state of one RTP stream.
#[derive(Clone, Debug, Default)]
pub struct SequenceTracker {
    started: bool,
    highest: i64,
    lowest: i64,
    /// Bit i set = (highest - i) received. Covers MAX_MISORDER, the farthest a late packet is.
    window: u128,
    unique: u64,
    bad_seq: Option<u16>,
    closed_expected: u64,
    closed_lost: u64,
    duplicates: u64,
    reordered: u64,
    restarts: u64,
    gaps: u64,
}

impl SequenceTracker {
    /// Accounts one arrival.
    pub fn update(&mut self, seq: u16) -> SeqVerdict {
        if !self.started {
            self.start_space(seq);
            return SeqVerdict::First;
        }
        let forward = seq.wrapping_sub(self.highest as u16);
        if forward == 0 {
            self.duplicates += 1;
            return SeqVerdict::Duplicate;
        }
        if forward < MAX_DROPOUT {
            self.window = if forward >= WINDOW_BITS {
                0
            } else {
                self.window << forward
            };
            self.window |= 1;
            self.highest += i64::from(forward);
            self.gaps += u64::from(forward - 1);
            self.unique += 1;
            self.bad_seq = None;
            return SeqVerdict::InOrder;
        }
        let back = 0u16.wrapping_sub(forward);
        if back <= MAX_MISORDER {
            self.bad_seq = None;
            let bit = 1u128 << back;
            if self.window & bit != 0 {
                self.duplicates += 1;
                return SeqVerdict::Duplicate;
            }
            self.window |= bit;
            self.unique += 1;
            self.reordered += 1;
            self.lowest = self.lowest.min(self.highest - i64::from(back));
            return SeqVerdict::Late;
        }
        // A.1: a big jump is believed only when the next packet follows it.
        if self.bad_seq == Some(seq) {
            self.closed_expected += self.space_expected();
            self.closed_lost += self.space_lost();
            self.restarts += 1;
            self.start_space(seq.wrapping_sub(1));
            self.update(seq);
            return SeqVerdict::Restart;
        }
        self.bad_seq = Some(seq.wrapping_add(1));
        SeqVerdict::Stray
    }

    fn start_space(&mut self, seq: u16) {
        self.started = true;
        self.highest = BASE + i64::from(seq);
        self.lowest = self.highest;
        self.window = 1;
        self.unique = 1;
        self.bad_seq = None;
    }

    fn space_expected(&self) -> u64 {
        (self.highest - self.lowest + 1) as u64
    }

    fn space_lost(&self) -> u64 {
        self.space_expected().saturating_sub(self.unique)
    }

    /// Highest - lowest + 1 over every sequence space.
    pub fn expected(&self) -> u64 {
        if self.started {
            self.closed_expected + self.space_expected()
        } else {
            0
        }
    }
    /// Numbers in [lowest, highest] never received, over every sequence space.
    pub fn lost(&self) -> u64 {
        if self.started {
            self.closed_lost + self.space_lost()
        } else {
            0
        }
    }
    /// Second and later copies of a number.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
    /// New numbers that arrived after a higher one.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }
    /// Numbers skipped by in-order arrivals when they arrived: each missing number counts
    /// once, whether it comes later (out of order) or never (RFC 4445's media loss).
    pub fn gaps(&self) -> u64 {
        self.gaps
    }
    /// Confirmed restarts (A.1 bad_seq logic).
    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(seqs: &[u16]) -> SequenceTracker {
        let mut t = SequenceTracker::default();
        for &s in seqs {
            t.update(s);
        }
        t
    }

    #[test]
    fn loss_duplicate_reorder() {
        let t = run(&[1, 2, 4, 5, 5, 3, 7, 8]);
        assert_eq!(
            (t.expected(), t.lost(), t.duplicates(), t.reordered()),
            (8, 1, 1, 1)
        );
        // 3 and 6 were missing when 4 and 7 came; 3 came late.
        assert_eq!(t.gaps(), 2);
    }

    #[test]
    fn late_packet_before_the_first_widens_the_range() {
        let t = run(&[10, 11, 9, 12]);
        assert_eq!((t.expected(), t.lost(), t.reordered()), (4, 0, 1));
    }

    #[test]
    fn wraps_around() {
        let t = run(&[65534, 65535, 0, 2, 1]);
        assert_eq!((t.expected(), t.lost(), t.reordered()), (5, 0, 1));
    }

    #[test]
    fn restart_needs_two_packets_and_gap_is_not_loss() {
        let mut t = run(&[100, 101, 102]);
        assert_eq!(t.update(40_000), SeqVerdict::Stray);
        assert_eq!(t.update(40_001), SeqVerdict::Restart);
        t.update(40_003);
        assert_eq!((t.restarts(), t.expected(), t.lost()), (1, 3 + 4, 1));
        // A single stray packet is ignored.
        let mut u = run(&[100, 101]);
        assert_eq!(u.update(9_000), SeqVerdict::Stray);
        assert_eq!(u.update(102), SeqVerdict::InOrder);
        assert_eq!((u.restarts(), u.expected(), u.lost()), (0, 3, 0));
    }

    #[test]
    fn duplicate_of_a_late_packet() {
        let t = run(&[1, 3, 2, 2, 3]);
        assert_eq!((t.lost(), t.duplicates(), t.reordered()), (0, 2, 1));
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
            prop_assert_eq!(t.lost(), lost);
            prop_assert_eq!(t.duplicates(), copies);
            prop_assert_eq!(t.expected(), n as u64);
            // reordered = arrivals below the running maximum, not counting copies.
            let mut max = -1i64; let mut late = 0u64;
            for &d in &delivered { if d < max { late += 1 } else { max = d } }
            prop_assert_eq!(t.reordered(), late);
        }
    }
}
