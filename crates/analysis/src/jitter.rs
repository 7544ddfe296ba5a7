//! Interarrival jitter, RFC 3550 A.8.

/// `prev_ns` before the first packet and after a reset.
const NO_REFERENCE: i64 = i64::MIN;

/// The running jitter estimate of one stream, with its mean and its largest value in the
/// interval: what every packet updates (48 bytes). The largest value over the whole stream
/// changes once per interval, so the caller keeps it apart (see
/// [`InterarrivalJitter::take_interval_max`]).
#[derive(Clone, Debug)]
pub struct InterarrivalJitter {
    /// Arrival of the reference packet, or [`NO_REFERENCE`].
    prev_ns: i64,
    /// Current estimate J, in RTP clock units.
    j: f64,
    /// Largest estimate since [`InterarrivalJitter::take_interval_max`].
    interval_max: f64,
    sum: f64,
    samples: u64,
    /// RTP timestamp of the reference packet.
    prev_ts: u32,
    /// The payload's clock rate, Hz.
    clock_rate: u32,
}

impl InterarrivalJitter {
    /// A stream's jitter, its payload clocked at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        InterarrivalJitter {
            prev_ns: NO_REFERENCE,
            j: 0.0,
            interval_max: 0.0,
            sum: 0.0,
            samples: 0,
            prev_ts: 0,
            clock_rate,
        }
    }

    /// The payload's clock rate, Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Feeds one packet in arrival order: D = (R_i - R_j) - (S_i - S_j) in RTP clock units,
    /// J += (|D| - J) / 16. The first packet (and the first after a reset) only sets the
    /// reference. The timestamp difference is taken modulo 2^32 as a signed value, so wrap and
    /// backward timestamps (B-frames) are handled as A.8 intends.
    #[inline(always)]
    pub fn update(&mut self, arrival_ns: i64, rtp_timestamp: u32) {
        if self.prev_ns != NO_REFERENCE {
            let arrival =
                arrival_ns.saturating_sub(self.prev_ns) as f64 * f64::from(self.clock_rate) / 1e9;
            let media = f64::from(rtp_timestamp.wrapping_sub(self.prev_ts) as i32);
            let d = arrival - media;
            self.j += (d.abs() - self.j) / 16.0;
            self.interval_max = self.interval_max.max(self.j);
            self.sum += self.j;
            self.samples += 1;
        }
        // A capture's clock at i64::MIN is no real time: keep it from reading as "none".
        self.prev_ns = arrival_ns.max(NO_REFERENCE + 1);
        self.prev_ts = rtp_timestamp;
    }

    /// Estimates so far (packets after the first, since the last clock change).
    #[inline(always)]
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The clock rate was found to be `clock_rate`: the estimates so far were made with a
    /// wrong one and are dropped; the reference packet stays.
    pub fn restart_with_clock(&mut self, clock_rate: u32) {
        *self = InterarrivalJitter {
            prev_ns: self.prev_ns,
            prev_ts: self.prev_ts,
            ..InterarrivalJitter::new(clock_rate)
        };
    }

    /// Forgets the reference packet (after a sequence restart the timestamps start anew).
    pub fn reset_reference(&mut self) {
        self.prev_ns = NO_REFERENCE;
    }

    /// Current estimate in clock units.
    pub fn current(&self) -> f64 {
        self.j
    }
    /// Largest estimate so far, in clock units, given `peak`, what
    /// [`InterarrivalJitter::take_interval_max`] kept.
    pub fn max(&self, peak: f64) -> f64 {
        peak.max(self.interval_max)
    }
    /// Largest estimate since the last call, in clock units; starts the next interval and
    /// keeps the stream's largest in `peak`.
    pub fn take_interval_max(&mut self, peak: &mut f64) -> f64 {
        let max = std::mem::take(&mut self.interval_max);
        *peak = peak.max(max);
        max
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
        let mut j = InterarrivalJitter::new(90_000);
        for i in 0..100i64 {
            j.update(i * 40_000_000, (i * 3600) as u32);
        }
        assert_eq!(j.max(0.0), 0.0);
    }

    #[test]
    fn one_late_packet_by_hand() {
        let mut j = InterarrivalJitter::new(90_000);
        j.update(0, 0);
        // 10 ms late: D = 900 units, J = 900/16.
        j.update(50_000_000, 3600);
        assert!((j.current() - 56.25).abs() < 1e-9);
        // Back on time: D = -900 again relative to the late one: J += (900 - 56.25)/16.
        j.update(80_000_000, 7200);
        assert!((j.current() - (56.25 + (900.0 - 56.25) / 16.0)).abs() < 1e-9);
        assert!((j.mean() - (56.25 + j.current()) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn timestamp_wrap_is_not_a_jump() {
        let mut j = InterarrivalJitter::new(90_000);
        j.update(0, u32::MAX - 1799);
        j.update(20_000_000, (u32::MAX - 1799).wrapping_add(1800));
        assert!(j.current().abs() < 1e-9, "{}", j.current());
    }

    #[test]
    fn the_largest_estimate_survives_intervals() {
        let mut j = InterarrivalJitter::new(90_000);
        let mut peak = 0.0;
        j.update(0, 0);
        j.update(50_000_000, 3600);
        let first = j.take_interval_max(&mut peak);
        assert!((first - 56.25).abs() < 1e-9);
        // The next interval is calmer: its own maximum is smaller, the stream's is not.
        j.update(90_000_000, 7200);
        let second = j.take_interval_max(&mut peak);
        assert!(second < first && second > 0.0, "{second}");
        assert_eq!(j.max(peak), first);
        assert_eq!(j.take_interval_max(&mut peak), 0.0);
    }
}
