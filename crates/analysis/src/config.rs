//! What discovery accepts and how RTP clocks are chosen.

use crate::clock::ClockSource;
use crate::group::MonitorGroups;
use crate::mdi::MdiMeter;
use crate::stream::Delivery;
use crate::ts::TsLimits;
use std::net::IpAddr;

/// Settings of the analysis. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisConfig {
    /// Payload types that may start an RTP stream (bit n = PT n).
    pub rtp_payload_types: u128,
    /// Consecutive sequence numbers (or TS-framed datagrams) needed to confirm a flow.
    pub probation: u8,
    /// Clock rate per payload type in Hz; 0 = the default for that payload type.
    pub clock_rates: [u32; 128],
    /// Most streams (SSRCs) tracked on one 4-tuple; more are skipped as `ssrc_limit`.
    pub max_ssrcs_per_tuple: usize,
    /// Limits of the TR 101 290 checks on MPEG-TS flows.
    pub ts: TsLimits,
    /// Monitor groups.
    pub groups: MonitorGroups,
    /// Length of the MDI intervals, ns (1 s).
    pub mdi_interval_ns: i64,
    /// Most 4-tuples tracked at once; new ones past it are not tracked (a live probe's cap;
    /// unlimited offline).
    pub max_flows: usize,
    /// The state budget, bytes: past it new flows (4-tuples, SSRCs) are refused and counted,
    /// existing ones go on being measured (unlimited here; the binary sets a quarter of
    /// physical memory by default).
    pub max_state_bytes: usize,
}

/// Default payload types: dynamic 96-127, and the static video types 26 (JPEG), 32 (MPV),
/// 33 (MP2T), 34 (H263) (RFC 3551 table 5).
pub const DEFAULT_PAYLOAD_TYPES: u128 =
    (u128::MAX << 96) | (1 << 26) | (1 << 32) | (1 << 33) | (1 << 34);

/// Most packets a candidate may hold while it waits for confirmation.
pub const MAX_PROBATION: u8 = 16;

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            rtp_payload_types: DEFAULT_PAYLOAD_TYPES,
            probation: 3,
            clock_rates: [0; 128],
            max_ssrcs_per_tuple: 64,
            ts: TsLimits::default(),
            groups: MonitorGroups::default(),
            mdi_interval_ns: 1_000_000_000,
            max_flows: usize::MAX,
            max_state_bytes: usize::MAX,
        }
    }
}

impl AnalysisConfig {
    /// True when `pt` may start an RTP stream.
    pub fn accepts_payload_type(&self, pt: u8) -> bool {
        pt < 128 && self.rtp_payload_types & (1u128 << pt) != 0
    }

    /// A new flow's monitor group (by its destination) and MDI meter.
    pub fn delivery(&self, dst: IpAddr) -> Delivery {
        let group = self.groups.lookup(dst);
        let rate = group
            .and_then(|g| self.groups.get(g))
            .map(|g| g.media_rate_bps);
        Delivery {
            group,
            mdi: MdiMeter::new(self.mdi_interval_ns, rate),
        }
    }

    /// The RTP clock rate for a payload type: the configured one, else RFC 3551's for static
    /// types, else 90 kHz (video) for dynamic ones.
    pub fn clock_rate(&self, pt: u8) -> u32 {
        self.clock(pt).0
    }

    /// The RTP clock rate for a payload type and where it comes from: the config, RFC 3551's
    /// tables 4 and 5 for static types, else 90 kHz assumed (a stream estimates a better one
    /// from its timestamps, [`crate::clock`]).
    pub fn clock(&self, pt: u8) -> (u32, ClockSource) {
        let configured = self.clock_rates[usize::from(pt & 0x7f)];
        if configured != 0 {
            return (configured, ClockSource::Config);
        }
        let rfc3551 = match pt {
            // Table 4: audio.
            0 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 13 | 15 | 18 => 8_000,
            6 => 16_000,
            10 | 11 => 44_100,
            16 => 11_025,
            17 => 22_050,
            // MPA (table 4) and the video types of table 5.
            14 | 25 | 26 | 28 | 31 | 32 | 33 | 34 => 90_000,
            _ => return (90_000, ClockSource::Assumed),
        };
        (rfc3551, ClockSource::Rfc3551)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = AnalysisConfig::default();
        for pt in [26, 32, 33, 34, 96, 111, 127] {
            assert!(c.accepts_payload_type(pt), "{pt}");
        }
        for pt in [0, 8, 25, 35, 95, 200] {
            assert!(!c.accepts_payload_type(pt), "{pt}");
        }
        assert_eq!(c.clock_rate(96), 90_000);
        assert_eq!(c.clock_rate(8), 8_000);
        let mut c = c;
        c.clock_rates[111] = 48_000;
        assert_eq!(c.clock_rate(111), 48_000);
    }
}
