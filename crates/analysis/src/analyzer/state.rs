//! The state budget (issue 18): what the analysis holds, in bytes, against
//! `AnalysisConfig::max_state_bytes`. The flow cap counts 4-tuples, but one 4-tuple may carry
//! 64 SSRCs and each stream of MPEG-TS its own TS analysis, so only bytes bound memory.
//!
//! Measuring walks every flow, so it is not done per packet: the count is exact after each
//! recount (every live tick, the first new flow, every 64 new flows past half the budget and
//! every [`RECOUNT_EVERY`] below it), and between recounts
//! each admitted flow adds the mean cost of a flow at the last recount (at least
//! [`MIN_FLOW_BYTES`]), and each new PID of a TS flow its state (crate::budget: an
//! existing flow cannot grow past the budget either). A flow that would pass the budget by that estimate makes an exact
//! recount first; while the budget stays full, new flows are refused without one until
//! [`RECOUNT_EVERY`] more have asked (flows that expire live free room at ticks).

use super::{Analyzer, TupleState};
use std::mem::size_of;

/// New flows admitted or refused between two recounts.
pub(super) const RECOUNT_EVERY: u32 = 4_096;
/// The least a new flow is assumed to cost between recounts: an RTP stream and its 4-tuple.
const MIN_FLOW_BYTES: usize =
    size_of::<crate::stream::RtpStream>() + size_of::<super::flow_table::Tuple>() + 16;

/// The budget's bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StateBudget {
    /// The largest exact count.
    pub(super) peak: usize,
    /// Mean bytes a flow at the last recount.
    per_flow: usize,
    /// New flows asked for since the last recount.
    since: u32,
    /// A recount was made (the first new flow makes one: the mean flow is not known before).
    counted: bool,
    /// The last recount found the budget full: refuse without recounting until
    /// [`RECOUNT_EVERY`] more flows have asked.
    full: bool,
    /// Datagrams refused by the budget, over the run, and since the last tick.
    pub(super) refused: u64,
    pub(super) refused_interval: u64,
}

impl Analyzer {
    /// What the analysis holds now, bytes: every table, flow and buffer, as allocated. The
    /// large vectors (tuples, streams, flows) count what they hold, not their capacity: a
    /// vector that doubled has its new half reserved, not touched (large blocks are mapped
    /// and grown by `mremap`: `streamprobe`'s allocator), so it is not resident.
    pub fn state_bytes(&self) -> usize {
        let a = crate::ALLOCATION;
        let table = self.table.slots.capacity() * 8
            + self.table.tuples.len() * size_of::<super::flow_table::Tuple>()
            + self
                .table
                .tuples
                .iter()
                .map(|t| match &t.state {
                    TupleState::Probation(p) => {
                        size_of::<super::discovery::Probation>()
                            + a
                            + p.held.capacity() * size_of::<crate::packet::MediaPacket>()
                            + p.held_ts.iter().map(|b| b.len() + a).sum::<usize>()
                    }
                    _ => 0,
                })
                .sum::<usize>();
        let sets = self.ssrc_sets.capacity() * size_of::<Vec<(u32, u32)>>()
            + self
                .ssrc_sets
                .iter()
                .map(|s| s.capacity() * 8 + a)
                .sum::<usize>();
        let streams = self.streams.len() * size_of::<crate::stream::RtpStream>()
            + self.streams.iter().map(|s| s.heap_bytes()).sum::<usize>();
        let udp = self.udp_flows.len() * size_of::<crate::stream::UdpFlow>()
            + self.udp_flows.iter().map(|f| f.heap_bytes()).sum::<usize>();
        let live = (self.live_streams.len() + self.live_udp.len())
            * size_of::<crate::interval::LiveState>();
        let rtcp = self.rtcp.capacity()
            * (size_of::<((std::net::IpAddr, std::net::IpAddr, u32), u64)>() + 1);
        size_of::<Analyzer>()
            + table
            + sets
            + streams
            + udp
            + live
            + rtcp
            + self.reassembler.heap_bytes()
    }

    /// An exact count now.
    pub(super) fn recount_state(&mut self) {
        let bytes = self.state_bytes();
        // Per stream or UDP flow: a new one is charged the mean, its 4-tuple's share
        // included (charging per 4-tuple and stream both would undercount: most 4-tuples of a
        // flood carry many streams).
        // On probation there are 4-tuples and no streams yet: then per 4-tuple.
        let flows = (self.streams.len() + self.udp_flows.len()).max(self.table.tuples.len());
        self.ledger.set(bytes);
        let b = &mut self.budget;
        b.peak = b.peak.max(bytes);
        b.per_flow = (bytes / flows.max(1)).max(MIN_FLOW_BYTES);
        b.since = 0;
        b.full = false;
        b.counted = true;
    }

    /// Whether a new flow may be set up; when not, its datagram is counted as refused.
    pub(super) fn admit_flow(&mut self) -> bool {
        let budget = self.config.max_state_bytes;
        if budget == usize::MAX {
            return true;
        }
        self.budget.since += 1;
        let per_flow = self.budget.per_flow.max(MIN_FLOW_BYTES);
        let over = |ledger: &crate::budget::Ledger| ledger.bytes() + per_flow > budget;
        // Far below the budget the running count's drift cannot matter: no recount then;
        // past half of it, a recount every 64 new flows keeps the mean flow's cost true.
        let near = self.ledger.bytes() > budget / 2;
        let due = if near { 64 } else { RECOUNT_EVERY };
        if !self.budget.counted
            || (near && self.budget.since >= due)
            || (over(&self.ledger) && !self.budget.full)
        {
            self.recount_state();
            self.budget.full = over(&self.ledger);
        }
        let per_flow = self.budget.per_flow.max(MIN_FLOW_BYTES);
        if !self.ledger.charge(per_flow) {
            let b = &mut self.budget;
            b.refused += 1;
            b.refused_interval += 1;
            return false;
        }
        true
    }

    /// Whether the state is at its budget (bounded maps stop taking new keys).
    pub(super) fn state_full(&self) -> bool {
        self.config.max_state_bytes != usize::MAX
            && self.ledger.bytes() + MIN_FLOW_BYTES > self.config.max_state_bytes
    }
}

#[cfg(test)]
mod tests {
    use crate::{AnalysisConfig, Analyzer};
    use testbed::pcap_writer::udp_frame;
    use testbed::rng::SplitMix64;
    use wire::LinkType;

    /// Flows that exist cannot grow past the budget either: 60 MPEG-TS flows of datagrams
    /// with random PIDs (thousands each) under a 2 MiB budget. Their new PIDs are refused
    /// and counted once it is full; what is held stays within a few per cent of it (the
    /// running count is charged per PID, the exact one counts every buffer).
    #[test]
    fn existing_flows_cannot_grow_past_the_budget() {
        let budget = 2 << 20;
        let config = AnalysisConfig {
            max_state_bytes: budget,
            ..AnalysisConfig::default()
        };
        let mut analyzer = Analyzer::new(config);
        let mut rng = SplitMix64::new(7);
        let mut t = 1_700_000_000_000_000_000i64;
        for round in 0..60u8 {
            for flow in 0..60u8 {
                let mut payload = Vec::new();
                for _ in 0..7 {
                    let pid = 32 + (rng.next_u64() % 8000) as u16;
                    let mut p = vec![0x47, (pid >> 8) as u8, pid as u8, 0x10 | (round & 15)];
                    p.resize(188, 0xff);
                    payload.extend(p);
                }
                let f = udp_frame([10, 0, 0, flow + 1], 4000, [239, 1, 1, 1], 5000, &payload);
                analyzer.on_frame(t, LinkType::Ethernet, &f, f.len() as u32);
                t += 100_000;
            }
        }
        let held = analyzer.state_bytes();
        let r = analyzer.finish();
        let refused: u64 = r
            .flows
            .iter()
            .filter_map(|f| f.ts.as_ref())
            .map(|ts| ts.refused_pid_packets)
            .sum();
        assert!(refused > 10_000, "{refused}");
        assert!(held <= budget + budget / 20, "{held}");
        assert!(r.capture.state_bytes_peak as usize <= budget + budget / 20);
    }
}
