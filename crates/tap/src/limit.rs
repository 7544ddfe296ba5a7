//! The mirror's rate limit: a token bucket in packet time, and the meter that gives the
//! default rate (twice what the flow sent over the last whole second it sent in: a silent
//! second leaves the limit as it was).
//!
//! Both run on the datagrams' arrival times, not the sender's clock: the same capture gives
//! the same drops at any replay speed and however the sender thread is scheduled, and live
//! the arrival time is the wall clock. Tokens are counted in integers (nano-bits: a second
//! of `rate` bit/s adds `rate * 10^9`), so the figures are exact and reproducible.

const NS: i64 = 1_000_000_000;
/// The bucket holds this much of its rate (a flow's bursts, an I-frame, pass whole).
pub const BURST_NS: i64 = 250_000_000;
/// And at least this many bytes: the largest UDP payload always fits.
pub const MIN_BURST_BYTES: u64 = 65_536;
/// The default rate is never below this (a quiet second must not starve the next).
pub const MIN_RATE_BPS: u64 = 1_000_000;

/// A token bucket over arrival times.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_bps: u64,
    /// Tokens, nano-bits.
    tokens: u128,
    /// Capacity, nano-bits.
    capacity: u128,
    /// Arrival time of the last datagram offered.
    last_ns: Option<i64>,
}

fn capacity_of(rate_bps: u64) -> u128 {
    let burst_bytes =
        (u128::from(rate_bps) * BURST_NS as u128 / NS as u128 / 8).max(u128::from(MIN_BURST_BYTES));
    burst_bytes * 8 * NS as u128
}

impl TokenBucket {
    /// A full bucket for `rate_bps`.
    pub fn new(rate_bps: u64) -> TokenBucket {
        let capacity = capacity_of(rate_bps);
        TokenBucket {
            rate_bps,
            tokens: capacity,
            capacity,
            last_ns: None,
        }
    }

    /// The rate, bit/s.
    pub fn rate_bps(&self) -> u64 {
        self.rate_bps
    }

    /// A new rate from now on; the tokens held stay, up to the new capacity.
    pub fn set_rate(&mut self, rate_bps: u64) {
        self.rate_bps = rate_bps;
        self.capacity = capacity_of(rate_bps);
        self.tokens = self.tokens.min(self.capacity);
    }

    /// Whether a `len`-byte datagram arriving at `arrival_ns` may be sent (its tokens are
    /// then spent); false: over the rate, to be dropped.
    pub fn take(&mut self, arrival_ns: i64, len: usize) -> bool {
        if let Some(last) = self.last_ns {
            let dt = arrival_ns.saturating_sub(last).max(0) as u128;
            self.tokens = (self.tokens + dt * u128::from(self.rate_bps)).min(self.capacity);
        }
        self.last_ns = Some(self.last_ns.map_or(arrival_ns, |l| l.max(arrival_ns)));
        let cost = len as u128 * 8 * NS as u128;
        if cost <= self.tokens {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// The flow's rate over whole seconds of arrival time (aligned as the interval records are):
/// UDP payload bytes, as `bitrate_bps` counts them.
#[derive(Clone, Debug, Default)]
pub struct RateMeter {
    /// Start of the second being counted; None before the first datagram.
    second: Option<i64>,
    /// Whether that second is whole (the first datagram's second is not).
    whole: bool,
    bytes: u64,
    /// The last whole second's rate, bit/s; None until one has passed.
    measured_bps: Option<u64>,
}

impl RateMeter {
    /// Counts a datagram; the measured rate when a second has just ended.
    pub fn add(&mut self, arrival_ns: i64, len: usize) -> Option<u64> {
        let start = arrival_ns - arrival_ns.rem_euclid(NS);
        let mut ended = None;
        match self.second {
            None => {
                self.second = Some(start);
                self.whole = false;
            }
            Some(s) if start > s => {
                if self.whole {
                    // The second that just ended, or nothing when the flow was silent for
                    // one or more whole seconds since.
                    let bps = if start == s + NS { self.bytes * 8 } else { 0 };
                    self.measured_bps = Some(bps);
                    ended = Some(bps);
                } else if start > s + NS {
                    // The first second was partial, and the flow silent for a whole second.
                    self.measured_bps = Some(0);
                    ended = Some(0);
                }
                self.second = Some(start);
                self.whole = true;
                self.bytes = 0;
            }
            Some(_) => {}
        }
        self.bytes += len as u64;
        ended
    }

    /// The last whole second's rate, bit/s.
    pub fn measured_bps(&self) -> Option<u64> {
        self.measured_bps
    }
}

/// The default limit for a measured rate: twice it, at least [`MIN_RATE_BPS`].
pub fn default_rate(measured_bps: u64) -> u64 {
    measured_bps.saturating_mul(2).max(MIN_RATE_BPS)
}

/// A mirror's limit as the sender applies it: the configured rate, or the default one
/// ([`default_rate`] of the meter's last whole second).
#[derive(Clone, Debug)]
pub struct MirrorLimit {
    configured: Option<u64>,
    /// None with the default rate until a whole second has been measured.
    bucket: Option<TokenBucket>,
    meter: RateMeter,
}

impl MirrorLimit {
    /// `configured` bit/s, or None for the default rate.
    pub fn new(configured: Option<u64>) -> MirrorLimit {
        MirrorLimit {
            configured,
            bucket: configured.map(TokenBucket::new),
            meter: RateMeter::default(),
        }
    }

    /// Whether a `len`-byte datagram arriving at `arrival_ns` is sent (its tokens spent);
    /// false: over the limit, to be dropped.
    pub fn admit(&mut self, arrival_ns: i64, len: usize) -> bool {
        if let Some(bps) = self.meter.add(arrival_ns, len) {
            // A silent second (0) leaves the limit as it was: a flow that paused comes back
            // at its rate, and twice 0 would cut it to MIN_RATE_BPS for the second after
            // (an 8 Mbit/s flow would lose 616 of its 760 datagrams).
            if self.configured.is_none() && bps > 0 {
                let rate = default_rate(bps);
                match &mut self.bucket {
                    Some(b) => b.set_rate(rate),
                    None => self.bucket = Some(TokenBucket::new(rate)),
                }
            }
        }
        self.bucket.as_mut().is_none_or(|b| b.take(arrival_ns, len))
    }

    /// The limit in force, bit/s; None: nothing measured yet, nothing dropped for rate.
    pub fn limit_bps(&self) -> Option<u64> {
        self.bucket.as_ref().map(TokenBucket::rate_bps)
    }

    /// The last whole second's rate, bit/s.
    pub fn measured_bps(&self) -> Option<u64> {
        self.meter.measured_bps()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_passes_its_burst_then_its_rate() {
        // 800 kbit/s = 100 kB/s; burst max(25 kB, 64 KiB) = 65,536 bytes.
        let mut b = TokenBucket::new(800_000);
        let sent = (0..60).filter(|_| b.take(0, 1316)).count();
        assert_eq!(sent, 65_536 / 1316);
        // 2.64 ms later exactly one more 1316-byte datagram's tokens have come.
        let left = 65_536 - 49 * 1316;
        let wait = (1316 - left) as i64 * 8 * NS / 800_000;
        assert!(!b.take(wait - 1, 1316));
        assert!(b.take(wait, 1316));
        assert!(!b.take(wait, 1316));
    }

    #[test]
    fn the_meter_measures_whole_seconds_only() {
        let mut m = RateMeter::default();
        let t0 = 10 * NS + NS / 2;
        assert_eq!(m.add(t0, 1000), None, "the first, partial second");
        assert_eq!(m.add(11 * NS, 500), None);
        assert_eq!(m.add(11 * NS + 1, 500), None);
        assert_eq!(m.add(12 * NS, 10), Some(8000), "second 11: 1000 bytes");
        assert_eq!(m.add(14 * NS, 10), Some(0), "second 13 was silent");
        assert_eq!(m.measured_bps(), Some(0));
        assert_eq!(default_rate(0), MIN_RATE_BPS);
        assert_eq!(default_rate(3_000_000), 6_000_000);
    }

    /// `datagrams` of `len` bytes evenly over second `second`; how many the limit passed.
    fn second_of(limit: &mut MirrorLimit, second: i64, datagrams: i64, len: usize) -> usize {
        (0..datagrams)
            .filter(|i| limit.admit(second * NS + i * NS / datagrams, len))
            .count()
    }

    #[test]
    fn a_silent_second_keeps_the_default_limit_in_force() {
        // 760 datagrams of 1316 bytes a second: 8,001,280 bit/s.
        let mut limit = MirrorLimit::new(None);
        assert_eq!(
            second_of(&mut limit, 10, 760, 1316),
            760,
            "partial: no limit"
        );
        assert_eq!(limit.limit_bps(), None);
        assert_eq!(
            second_of(&mut limit, 11, 760, 1316),
            760,
            "nothing measured yet"
        );
        assert_eq!(second_of(&mut limit, 12, 760, 1316), 760);
        assert_eq!(limit.limit_bps(), Some(16_002_560));
        // Second 13 silent; the flow resumes at 14: the limit stays twice its rate.
        assert_eq!(second_of(&mut limit, 14, 760, 1316), 760);
        assert_eq!(limit.measured_bps(), Some(0));
        assert_eq!(limit.limit_bps(), Some(16_002_560));
        // A slower second that is not silent does lower it (to at least 1 Mbit/s).
        assert_eq!(second_of(&mut limit, 15, 38, 1316), 38);
        assert_eq!(second_of(&mut limit, 16, 1, 1316), 1);
        assert_eq!(limit.limit_bps(), Some(MIN_RATE_BPS));
    }
}
