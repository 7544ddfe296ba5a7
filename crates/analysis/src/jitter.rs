//! Interarrival jitter, RFC 3550 A.8.

/// The running jitter estimate of one stream, with its maximum and mean.
#[derive(Clone, Debug, Default)]
pub struct InterarrivalJitter {
    prev: Option<(i64, u32)>,
    /// Current estimate J, in RTP clock units.
    j: f64,
    max: f64,
    /// Largest estimate since [`InterarrivalJitter::take_interval_max`] (live records).
    interval_max: f64,
    sum: f64,
    samples: u64,
}

impl InterarrivalJitter {
    /// Feeds one packet in arrival order: D = (R_i - R_j) - (S_i - S_j) in RTP clock units,
    /// J += (|D| - J) / 16. The first packet (and the first after a reset) only sets the
    /// reference. The timestamp difference is taken modulo 2^32 as a signed value, so wrap and
    /// backward timestamps (B-frames) are handled as A.8 intends.
    pub fn update(&mut self, arrival_ns: i64, rtp_timestamp: u32, clock_rate: u32) {
        if let Some((prev_ns, prev_ts)) = self.prev {
            let arrival = arrival_ns.saturating_sub(prev_ns) as f64 * f64::from(clock_rate) / 1e9;
            let media = f64::from(rtp_timestamp.wrapping_sub(prev_ts) as i32);
            let d = arrival - media;
            self.j += (d.abs() - self.j) / 16.0;
            self.max = self.max.max(self.j);
            self.interval_max = self.interval_max.max(self.j);
            self.sum += self.j;
            self.samples += 1;
        }
        self.prev = Some((arrival_ns, rtp_timestamp));
    }

    /// Forgets the reference packet (after a sequence restart the timestamps start anew).
    pub fn reset_reference(&mut self) {
        self.prev = None;
    }

    /// Current estimate in clock units.
    pub fn current(&self) -> f64 {
        self.j
    }
    /// Largest estimate so far, in clock units.
    pub fn max(&self) -> f64 {
        self.max
    }
    /// Largest estimate since the last call, in clock units; starts the next interval.
    pub fn take_interval_max(&mut self) -> f64 {
        std::mem::take(&mut self.interval_max)
    }
    /// Mean of the estimates over every packet after the first, in clock units.
    pub fn mean(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.sum / self.samples as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_paced_stream_has_no_jitter() {
        let mut j = InterarrivalJitter::default();
        for i in 0..100i64 {
            j.update(i * 40_000_000, (i * 3600) as u32, 90_000);
        }
        assert_eq!(j.max(), 0.0);
    }

    #[test]
    fn one_late_packet_by_hand() {
        let mut j = InterarrivalJitter::default();
        j.update(0, 0, 90_000);
        // 10 ms late: D = 900 units, J = 900/16.
        j.update(50_000_000, 3600, 90_000);
        assert!((j.current() - 56.25).abs() < 1e-9);
        // Back on time: D = -900 again relative to the late one: J += (900 - 56.25)/16.
        j.update(80_000_000, 7200, 90_000);
        assert!((j.current() - (56.25 + (900.0 - 56.25) / 16.0)).abs() < 1e-9);
        assert!((j.mean() - (56.25 + j.current()) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn timestamp_wrap_is_not_a_jump() {
        let mut j = InterarrivalJitter::default();
        j.update(0, u32::MAX - 1799, 90_000);
        j.update(20_000_000, (u32::MAX - 1799).wrapping_add(1800), 90_000);
        assert!(j.current().abs() < 1e-9, "{}", j.current());
    }
}
