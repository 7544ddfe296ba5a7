//! Where an RTP stream's clock rate comes from (definitions.md, "Clock rate"): the config,
//! RFC 3551's table for static payload types, or, for dynamic ones, an estimate from the RTP
//! timestamps' advance against arrival time, snapped to a common media clock once two
//! estimates in a row agree; until then (and when they never do) 90 kHz is assumed.

/// The clock rate's source, as reports name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// `[rtp] clock_rates` in the config.
    Config,
    /// RFC 3551 section 6, table 4 and 5 (static payload types).
    Rfc3551,
    /// Seen in an SDP of the capture (RTSP sessions; not read yet).
    Sdp,
    /// From the timestamps' advance against arrival time.
    Estimated,
    /// 90 kHz, nothing better known (a dynamic payload type whose estimate is not settled).
    Assumed,
}

impl ClockSource {
    /// The name in reports (`clock_rate_source`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::Config => "config",
            ClockSource::Rfc3551 => "rfc3551",
            ClockSource::Sdp => "sdp",
            ClockSource::Estimated => "estimated",
            ClockSource::Assumed => "assumed",
        }
    }
}

/// The media clocks an estimate snaps to, Hz.
pub const COMMON_CLOCKS: [u32; 6] = [8_000, 16_000, 32_000, 44_100, 48_000, 90_000];

/// How far an estimate may be from a common clock and still be it: 4 %, under half the
/// 8.8 % between 44.1 and 48 kHz (video sent in I-frame bursts arrives up to ~100 ms off its
/// timestamps, 5 % of a 2 s span).
const SNAP_TOLERANCE: f64 = 0.04;

/// The shortest span an estimate is taken over, ns: video timestamps advance a frame at a
/// time and its packets come in bursts, so a shorter span is off by more.
const MIN_SPAN_NS: i64 = 1_000_000_000;

/// An estimate in progress (in the stream's cold state, read at checkpoints only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockEstimate {
    /// The first packet's arrival and RTP timestamp.
    pub first: Option<(i64, u32)>,
    /// The common clock the previous checkpoint snapped to.
    last_snap: Option<u32>,
}

impl ClockEstimate {
    /// An estimate from this packet on (a stream's first, or its first after a restart: the
    /// snaps of the sequence before do not count).
    pub fn starting_at(arrival_ns: i64, timestamp: u32) -> Self {
        ClockEstimate {
            first: Some((arrival_ns, timestamp)),
            last_snap: None,
        }
    }

    /// A checkpoint at a packet (`arrival_ns`, `timestamp`) in sequence: the common clock,
    /// once this estimate and the one before it snap to the same one.
    pub fn checkpoint(&mut self, arrival_ns: i64, timestamp: u32) -> Option<u32> {
        let (t0, ts0) = self.first?;
        let span = arrival_ns - t0;
        if span < MIN_SPAN_NS {
            return None;
        }
        let advance = f64::from(timestamp.wrapping_sub(ts0));
        let rate = advance * 1e9 / span as f64;
        let snap = COMMON_CLOCKS
            .into_iter()
            .find(|&c| (rate - f64::from(c)).abs() <= f64::from(c) * SNAP_TOLERANCE);
        let settled = snap.filter(|&s| self.last_snap == Some(s));
        self.last_snap = snap;
        settled
    }
}

/// Whether a stream's jitter packet count is a checkpoint for the estimate: 64, 128, 256 ...
/// 8,192 packets (a power of two, so the per-packet test is one mask on a counter the packet
/// updates anyway).
#[inline(always)]
pub fn is_checkpoint(samples: u64) -> bool {
    (64..=8_192).contains(&samples) && samples.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 50 packets a second of 20 ms audio at `clock` Hz, arrival jittered by up to 3 ms:
    /// the checkpoint at which the estimate settles, and on what.
    fn settle(clock: u32) -> Option<(u64, u32)> {
        let mut e = ClockEstimate::default();
        let step = clock / 50;
        for k in 0..10_000u64 {
            let at = k as i64 * 20_000_000 + ((k * 7919) % 3_000_000) as i64;
            let ts = 1_000u32.wrapping_add((k as u32).wrapping_mul(step));
            if k == 0 {
                e.first = Some((at, ts));
            }
            if is_checkpoint(k) {
                if let Some(c) = e.checkpoint(at, ts) {
                    return Some((k, c));
                }
            }
        }
        None
    }

    #[test]
    fn audio_clocks_are_found_within_a_few_seconds() {
        for clock in [8_000, 16_000, 44_100, 48_000] {
            assert_eq!(settle(clock), Some((128, clock)), "{clock}");
        }
    }

    /// A clock that is none of the common ones is never settled: 90 kHz stays assumed.
    #[test]
    fn an_uncommon_clock_is_not_snapped() {
        assert_eq!(settle(24_000), None);
    }

    /// Video: 25 frames a second of 10 packets each, one timestamp per frame.
    #[test]
    fn video_at_90_khz_is_found() {
        let mut e = ClockEstimate::default();
        let mut settled = None;
        for k in 0..2_000u64 {
            let frame = k / 10;
            let at = frame as i64 * 40_000_000 + (k % 10) as i64 * 1_000_000;
            let ts = (frame as u32) * 3_600;
            if k == 0 {
                e.first = Some((at, ts));
            }
            if is_checkpoint(k) && settled.is_none() {
                settled = e.checkpoint(at, ts).map(|c| (k, c));
            }
        }
        // 256 packets (1 s) give the first estimate, 512 (2 s) confirm it.
        assert_eq!(settled, Some((512, 90_000)));
    }
}
